package reports

import (
	"fmt"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func policy(t *testing.T, p Policy) Policy {
	t.Helper()
	p, err := p.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ch(id, app, state string, created time.Time, life time.Duration) greep.Channel {
	return greep.Channel{ID: id, Application: app, State: state, CreatedAt: created, Expiration: created.Add(life), Token: "tok-" + id}
}

func kinds(actions []Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.Kind+":"+a.Application+":"+a.Channel.ID)
	}
	return out
}

func TestPlanCases(t *testing.T) {
	p := policy(t, Policy{Applications: []string{"admin"}})
	h := time.Hour
	cases := []struct {
		name     string
		channels []greep.Channel
		now      time.Time
		want     []string
	}{
		{"nothing yet", nil, t0, []string{"create:admin:"}},
		{"fresh channel", []greep.Channel{ch("a", "admin", StateLive, t0, 6*h)}, t0.Add(h), nil},
		{"just before renewal", []greep.Channel{ch("a", "admin", StateLive, t0, 6*h)}, t0.Add(288*time.Minute - time.Second), nil},
		{"renewal due at 80%", []greep.Channel{ch("a", "admin", StateLive, t0, 6*h)}, t0.Add(288 * time.Minute), []string{"create:admin:a"}},
		{"watch in flight", []greep.Channel{ch("a", "admin", StateLive, t0, 6*h), ch("b", "admin", StatePending, t0.Add(5*h), 6*h)},
			t0.Add(5*h + time.Minute), nil},
		{"watch stuck past its timeout", []greep.Channel{ch("a", "admin", StateLive, t0, 6*h), ch("b", "admin", StatePending, t0.Add(5*h), 6*h)},
			t0.Add(5*h + 3*time.Minute), []string{"create:admin:a"}},
		{"overlap not over", []greep.Channel{ch("a", "admin", StateLive, t0, 6*h), ch("b", "admin", StateLive, t0.Add(5*h), 6*h)},
			t0.Add(5*h + 4*time.Minute), nil},
		{"overlap over: stop the old", []greep.Channel{ch("a", "admin", StateLive, t0, 6*h), ch("b", "admin", StateLive, t0.Add(5*h), 6*h)},
			t0.Add(5*h + 5*time.Minute), []string{"stop:admin:a"}},
		{"old already stopped", []greep.Channel{ch("a", "admin", StateStopped, t0, 6*h), ch("b", "admin", StateLive, t0.Add(5*h), 6*h)},
			t0.Add(5*h + 10*time.Minute), nil},
		{"everything expired", []greep.Channel{ch("a", "admin", StateLive, t0, 6*h)}, t0.Add(7 * h), []string{"create:admin:"}},
		{"failed watch is no channel", []greep.Channel{ch("a", "admin", StateFailed, t0, 6*h)}, t0.Add(h), []string{"create:admin:"}},
		{"other application ignored", []greep.Channel{ch("a", "groups", StateLive, t0, 6*h)}, t0.Add(h), []string{"create:admin:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := kinds(p.Plan(c.channels, c.now))
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("Plan = %v, want %v", got, c.want)
			}
		})
	}
}

// Two live channels left by a race (two watch calls for one renewal) end as one: the
// older is stopped, never the newest.
func TestPlanStopsExtraChannelsButNeverTheNewest(t *testing.T) {
	p := policy(t, Policy{Applications: []string{"admin"}})
	chs := []greep.Channel{
		ch("a", "admin", StateLive, t0, 6*time.Hour),
		ch("c", "admin", StateLive, t0.Add(time.Hour), 6*time.Hour),
		ch("b", "admin", StateLive, t0.Add(time.Hour), 6*time.Hour),
	}
	got := kinds(p.Plan(chs, t0.Add(2*time.Hour)))
	if want := "[stop:admin:a stop:admin:b]"; fmt.Sprint(got) != want {
		t.Errorf("Plan = %v, want %v", got, want)
	}
}

func TestPolicyValidation(t *testing.T) {
	for _, bad := range []Policy{
		{Lifetime: 7 * time.Hour},
		{Lifetime: -time.Hour},
		{RenewAfter: 1},
		{RenewAfter: -0.5},
		{Overlap: -time.Second},
		{Lifetime: time.Hour, RenewAfter: 0.95, Overlap: 5 * time.Minute},
	} {
		if _, err := bad.WithDefaults(); err == nil {
			t.Errorf("WithDefaults(%+v) accepted", bad)
		}
	}
	p, err := Policy{}.WithDefaults()
	if err != nil || p.Lifetime != MaxLifetime || len(p.Applications) != 2 {
		t.Errorf("defaults %+v, %v", p, err)
	}
}

func TestPrune(t *testing.T) {
	p := policy(t, Policy{})
	chs := []greep.Channel{
		ch("old", "admin", StateStopped, t0, 6*time.Hour),
		ch("recent", "admin", StateStopped, t0.Add(20*time.Hour), 6*time.Hour),
		ch("live", "admin", StateLive, t0.Add(28*time.Hour), 6*time.Hour),
	}
	got := p.Prune(chs, t0.Add(31*time.Hour))
	if len(got) != 2 || got[0].ID != "recent" || got[1].ID != "live" {
		t.Errorf("Prune kept %v", got)
	}
	if chs[0].ID != "old" {
		t.Errorf("Prune changed its argument")
	}
}

// TestSimulatedDay runs the planner over a day with 6-hour channels, executing each action
// after a queue delay the way the worker would, and checks that every application always
// has a live channel (minute by minute), that every replaced channel is stopped before it
// expires, and that renewals happen about every 4.8 hours, not more. Ticks as rare as
// hourly still leave no gap: a renewal is due 1.2 hours before the channel expires.
func TestSimulatedDay(t *testing.T) {
	for _, tick := range []time.Duration{time.Minute, 10 * time.Minute, time.Hour} {
		t.Run("tick "+tick.String(), func(t *testing.T) {
			simulateDay(t, tick, 45*time.Second)
		})
	}
}

func simulateDay(t *testing.T, tick, queueDelay time.Duration) {
	p := policy(t, Policy{})
	var channels []greep.Channel
	type pending struct {
		at time.Time
		a  Action
	}
	var queued []pending
	seq := 0
	creates, stops := 0, 0
	stoppedBeforeExpiry := map[string]bool{}
	nextTick := t0
	end := t0.Add(24 * time.Hour)
	for now := t0; !now.After(end); now = now.Add(time.Second) {
		// Tasks run after the queue's delay, re-checking as the handlers do.
		var rest, later []pending
		for _, q := range queued {
			if now.Before(q.at) {
				rest = append(rest, q)
				continue
			}
			switch q.a.Kind {
			case Create:
				seq++
				channels = append(channels, greep.Channel{
					ID: fmt.Sprintf("%s-%d", q.a.Application, seq), Application: q.a.Application,
					State: StateLive, CreatedAt: now, Expiration: now.Add(p.Lifetime),
				})
				creates++
				// The renew handler hands the replaced channel's stop to the queue,
				// delayed by the overlap, so stopping does not wait for a tick.
				if q.a.Channel.ID != "" {
					later = append(later, pending{now.Add(p.Overlap), Action{Kind: Stop, Application: q.a.Application, Channel: q.a.Channel}})
				}
			case Stop:
				for i := range channels {
					if channels[i].ID == q.a.Channel.ID && Live(channels[i], now) {
						channels[i].State = StateStopped
						stoppedBeforeExpiry[channels[i].ID] = true
						stops++
					}
				}
			}
		}
		queued = append(rest, later...)
		if !now.Before(nextTick) {
			nextTick = now.Add(tick)
			for _, a := range p.Plan(channels, now) {
				// The worker names tasks after what they replace or stop, so a second
				// tick before the first task ran enqueues nothing new.
				dup := false
				for _, q := range queued {
					if q.a.Kind == a.Kind && q.a.Application == a.Application && q.a.Channel.ID == a.Channel.ID {
						dup = true
					}
				}
				if !dup {
					queued = append(queued, pending{now.Add(queueDelay), a})
				}
			}
		}
		if now.Sub(t0) > tick+queueDelay && now.Second() == 0 {
			for _, app := range p.Applications {
				live := false
				for _, c := range channels {
					live = live || (c.Application == app && Live(c, now))
				}
				if !live {
					t.Fatalf("%v: %s has no live channel", now.Sub(t0), app)
				}
			}
		}
		channels = p.Prune(channels, now)
	}
	// Per application: the first channel plus one per 4.8 h.
	if want := 2 * 5; creates != want {
		t.Errorf("%d channels created in a day, want %d", creates, want)
	}
	for _, c := range channels {
		if c.State == StateLive && !end.Before(c.Expiration) {
			t.Errorf("channel %s expired without being stopped", c.ID)
		}
	}
	if stops != creates-2 {
		t.Errorf("%d channels stopped, want %d (all but the current one per application)", stops, creates-2)
	}
}
