package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/client"
	"github.com/greephq/greep/internal/wait"
	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
)

func TestRetriesThenErrorsAsValues(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		switch n := calls.Add(1); {
		case r.URL.Path == "/v1/groups/missing@example.com":
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"code":404,"message":"Resource Not Found: groupKey missing@example.com","errors":[{"reason":"notFound","message":"x"}]}}`))
		case n == 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		case n == 2:
			w.WriteHeader(503)
		default:
			w.Write([]byte(`{"id":"g1","email":"eng@example.com"}`))
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithStaticToken("tok"), client.WithRetries(3, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Group(context.Background(), "eng@example.com")
	if err != nil || g.ID != "g1" || calls.Load() != 3 {
		t.Errorf("after a 429 and a 503: %+v %v (%d calls)", g, err, calls.Load())
	}
	before := calls.Load()
	_, err = c.Group(context.Background(), "missing@example.com")
	var e *client.Error
	if !client.IsNotFound(err) || !errors.As(err, &e) || e.Reason != "notFound" || e.Message == "" {
		t.Errorf("404: %v", err)
	}
	if calls.Load() != before+1 {
		t.Errorf("a 404 was retried")
	}
	if _, err := client.New("ftp://x"); err == nil {
		t.Error("a non-http URL was accepted")
	}
}

// A cursor past retention makes the informer list again; the list's differences reach
// the callbacks once each.
func TestInformerListsAgainOnGone(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := func(id string) greep.Member {
		return greep.Member{ID: id, Email: id + "@example.com", Role: "MEMBER", Type: "USER", Status: "ACTIVE"}
	}
	if err := st.PutGroups(ctx, []greep.Group{{ID: "g1", Email: "eng@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.ReplaceMembers(ctx, "g1", []greep.Member{m("a"), m("b")}, "e", time.Now()); err != nil {
		t.Fatal(err)
	}
	a, _ := auth.NewStaticToken("tok")
	h, err := api.New(api.Config{Store: st, Auth: a, AnswerTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, _ := client.New(srv.URL, client.WithStaticToken("tok"))

	var r replica
	cfg := r.config([]string{"eng@example.com", "later@example.com"})
	cfg.Wait = time.Second
	inf := client.NewInformer(c, cfg)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- inf.Run(rctx) }()
	defer func() { cancel(); <-done }()
	if err := inf.WaitSynced(ctxTimeout(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(r.members("eng@example.com")) == 2 })

	// A group created after the list is followed from its creation.
	if err := st.PutGroups(ctx, []greep.Group{{ID: "g2", Email: "later@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.ReplaceMembers(ctx, "g2", []greep.Member{m("x")}, "e", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(inf.Members("later@example.com")) == 1 })

	// The informer is at the head; prune everything past it and write a change: its
	// cursor is now gone, and only a list shows the change.
	pruneAll := func() {
		for {
			n, err := st.PruneChanges(ctx, time.Now().Add(time.Hour), 1000)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}
	waitFor(t, func() bool {
		l, _ := st.ChangeLog(ctx)
		return inf.Cursor() == l.Head
	})
	cancel()
	<-done
	if err := st.ReplaceMembers(ctx, "g1", []greep.Member{m("b"), m("c")}, "e2", time.Now()); err != nil {
		t.Fatal(err)
	}
	pruneAll()
	rctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2() // runs first; the deferred wait above then gets this Run's end
	go func() { done <- inf.Run(rctx2) }()
	waitFor(t, func() bool {
		return reflect.DeepEqual(r.members("eng@example.com"), []greep.Member{m("b"), m("c")})
	})
	if st := inf.Stats(); st.Lists != 2 || st.Drift != 2 {
		t.Errorf("stats %+v: want a second list that found 2 differences", st)
	}
	for _, f := range r.faults {
		t.Error(f)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	wait.For(t, time.Minute, "the condition", cond)
}
