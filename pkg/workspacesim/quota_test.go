package workspacesim_test

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/workspacesim"
)

func TestShortWindowQuotaPerUser(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 10, QuotaPerMinute: 5,
		Start: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)})
	for i := range 5 {
		if _, err := cl.Directory.Groups.List().Customer("my_customer").Do(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := cl.Directory.Groups.List().Customer("my_customer").Do()
	apiErr(t, err, 403, "userRateLimitExceeded")

	// Another user has a window of its own, and so has another API.
	other := clientsFor(t, srv, "someone-else@"+srv.Sim.Domain())
	if _, err := other.Directory.Groups.List().Customer("my_customer").Do(); err != nil {
		t.Fatalf("another user: %v", err)
	}
	g := truth(t, srv, "").Groups[0]
	if _, err := cl.Settings.Groups.Get(g.Email).Do(); err != nil {
		t.Fatalf("another API: %v", err)
	}

	srv.Sim.Advance(time.Minute)
	if _, err := cl.Directory.Groups.List().Customer("my_customer").Do(); err != nil {
		t.Fatalf("next minute: %v", err)
	}
	st := srv.Sim.Stats()
	if st.Rejected.RateLimit != 1 || st.Calls["directory.groups.list"] != 8 || st.UsedToday["directory"] != 7 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDailyPenaltyHoldsUntilMidnightPacific(t *testing.T) {
	// 20:00 UTC on 10 March 2026 is 13:00 PDT; the quota day ends at 07:00 UTC.
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 10, QuotaPerMinute: -1,
		QuotaPerDay: map[string]int64{workspacesim.APIDirectory: 3},
		Start:       time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)})
	list := func() error {
		_, err := cl.Directory.Groups.List().Customer("my_customer").Do()
		return err
	}
	for i := range 3 {
		if err := list(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	apiErr(t, list(), 403, "dailyLimitExceeded")
	// Every Directory call fails, not just the one that crossed; other APIs do not.
	_, err := cl.Directory.Users.Get(srv.Sim.Admin()).Do()
	apiErr(t, err, 403, "dailyLimitExceeded")
	g := truth(t, srv, "").Groups[0]
	if _, err := cl.Settings.Groups.Get(g.Email).Do(); err != nil {
		t.Fatalf("groups settings during the directory penalty: %v", err)
	}

	srv.Sim.Advance(10*time.Hour + 50*time.Minute) // 06:50 UTC: 23:50 PDT, same quota day
	apiErr(t, list(), 403, "dailyLimitExceeded")

	srv.Sim.Advance(11 * time.Minute) // past midnight Pacific
	if err := list(); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
	if st := srv.Sim.Stats(); st.UsedToday["directory"] != 1 || st.Rejected.DailyLimit != 3 {
		t.Fatalf("stats after the reset: %+v", st)
	}
}

func TestInjectedFaults(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 10})
	for _, c := range []struct {
		f      workspacesim.Faults
		code   int
		reason string
	}{
		{workspacesim.Faults{RateLimited: 1}, 429, "rateLimitExceeded"},
		{workspacesim.Faults{InternalError: 1}, 500, "backendError"},
		{workspacesim.Faults{Unavailable: 1}, 503, "backendError"},
	} {
		if err := srv.Sim.SetFaults(c.f); err != nil {
			t.Fatal(err)
		}
		_, err := cl.Directory.Groups.List().Customer("my_customer").Do()
		apiErr(t, err, c.code, c.reason)
	}
	if err := srv.Sim.SetFaults(workspacesim.Faults{Slow: 1, SlowDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Directory.Groups.List().Customer("my_customer").Do(); err != nil {
		t.Fatalf("slow call: %v", err)
	}
	if st := srv.Sim.Stats(); st.Rejected.Injected != 3 || st.UsedToday["directory"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := srv.Sim.SetFaults(workspacesim.Faults{RateLimited: 0.7, Unavailable: 0.7}); err == nil {
		t.Fatal("fault rates adding up to more than 1 were accepted")
	}
}
