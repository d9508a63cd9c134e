package wait_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/greephq/greep/internal/wait"
)

func TestPollReturnsOnceTheCheckPasses(t *testing.T) {
	calls := 0
	err := wait.Poll(time.Minute, func() error {
		if calls++; calls < 5 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if err != nil || calls != 5 {
		t.Errorf("err %v after %d calls, want nil after 5", err, calls)
	}
}

func TestPollGivesTheLastErrorAfterTheLimit(t *testing.T) {
	calls := 0
	err := wait.Poll(20*time.Millisecond, func() error { calls++; return fmt.Errorf("still %d", calls) })
	if err == nil || err.Error() != fmt.Sprintf("still %d", calls) || calls < 2 {
		t.Errorf("err %v after %d calls: want the last check's error after more than one", err, calls)
	}
}

// fakeT records a Fatalf instead of stopping the test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
}

func TestForFailsNamingWhat(t *testing.T) {
	f := &fakeT{TB: t}
	wait.For(f, 10*time.Millisecond, "the queue drained", func() bool { return false })
	if f.failed != "not within 10ms: the queue drained" {
		t.Errorf("failure %q", f.failed)
	}
	f = &fakeT{TB: t}
	wait.Until(f, time.Minute, func() error { return nil })
	if f.failed != "" {
		t.Errorf("a passing check failed: %q", f.failed)
	}
}
