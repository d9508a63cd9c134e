package alert_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/alert"
	"github.com/greephq/greep/pkg/cache/memory"
	"github.com/greephq/greep/pkg/greep"
)

// sink records what a manager announces, synchronously.
type sink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *sink) Send(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, text)
}

func (s *sink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

var failedFinding = []greep.Finding{{ID: "f1", Group: "g@example.com", Rule: "r", State: greep.FindingFailed, Detail: "403"}}

// Instances judging one store (App Engine's cron lands on any instance; two may judge at
// once) announce each occurrence once and its recovery once between them.
func TestOneMessagePerOccurrenceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	out := &sink{}
	instances := []*alert.Manager{alert.NewManager(alert.Config{}, store, out), alert.NewManager(alert.Config{}, store, out), alert.NewManager(alert.Config{}, store, out)}
	in := alert.Inputs{Now: t0, Started: t0, FailedFindings: failedFinding}
	judgeAll := func() {
		var wg sync.WaitGroup
		for _, m := range instances {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := m.Update(ctx, in); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	for range 3 {
		judgeAll()
		in.Now = in.Now.Add(time.Minute)
	}
	for _, m := range instances {
		if firing, err := m.Firing(ctx); err != nil || len(firing) != 1 || !firing[0].Since.Equal(t0) {
			t.Fatalf("firing %+v, %v: want the one alert since its first judgement", firing, err)
		}
	}
	in.FailedFindings = nil
	judgeAll()
	judgeAll()
	ms := out.messages()
	if len(ms) != 2 || !strings.Contains(ms[0], "Greep alert: ") || !strings.Contains(ms[1], "resolved") {
		t.Errorf("messages %q: want one on occurrence and one on recovery", ms)
	}
}

// While the store refuses updates (the store-writes alert's own case) the alert is still
// announced, once; when the store takes updates again, it is not announced again, and
// its recovery is announced once.
func TestAnnouncedOnceWhileTheStoreFails(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	out := &sink{}
	m := alert.NewManager(alert.Config{}, store, out)
	in := alert.Inputs{Now: t0, Started: t0, StoreFailureAt: t0, StoreFailure: "put record: no space left on device"}
	store.Intercept(func(op string) error {
		if op == "UpdateState" {
			return errors.New("no space left on device")
		}
		return nil
	})
	for range 2 {
		if err := m.Update(ctx, in); err == nil {
			t.Fatal("an update the store refused reported no error")
		}
		in.Now = in.Now.Add(time.Second)
	}
	if firing, err := m.Firing(ctx); err != nil || len(firing) != 1 {
		t.Errorf("firing while the store takes no updates: %+v, %v; want the alert announced", firing, err)
	}
	store.Intercept(nil)
	if err := m.Update(ctx, in); err != nil {
		t.Fatal(err)
	}
	if firing, err := m.Firing(ctx); err != nil || len(firing) != 1 || firing[0].Kind != alert.KindStoreWrites {
		t.Fatalf("firing %+v, %v: want the store alert recorded once the store takes it", firing, err)
	}
	in.Now = in.Now.Add(time.Hour)
	if err := m.Update(ctx, in); err != nil {
		t.Fatal(err)
	}
	ms := out.messages()
	if len(ms) != 2 || !strings.Contains(ms[0], "no space left on device") || !strings.Contains(ms[1], "resolved") {
		t.Errorf("messages %q: want one on occurrence and one on recovery", ms)
	}
}
