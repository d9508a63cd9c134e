package reports_test

import (
	"context"
	"testing"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/reports"
)

// TestForgetLostLetsTickRecreate: a live channel made for another webhook address is
// marked lost, and the next tick plans its successor; with the endpoint restarted every
// live channel is lost.
func TestForgetLostLetsTickRecreate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.worker.Renew(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.worker.Renew(ctx, "groups"); err != nil {
		t.Fatal(err)
	}
	_, err := greep.UpdateStateJSON(ctx, e.store, greep.StateChannels, func(chs *[]greep.Channel) error {
		for i := range *chs {
			if (*chs)[i].Application == "admin" {
				(*chs)[i].Address = "http://127.0.0.1:1/push/notify"
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.worker.ForgetLost(ctx, false); err != nil || n != 1 {
		t.Fatalf("ForgetLost(false) = %d, %v; want 1 (the admin channel)", n, err)
	}
	if err := e.worker.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.runTasks(t)
	live := map[string]int{}
	for _, ch := range e.channels(t) {
		if reports.Live(ch, e.sim.Now()) {
			live[ch.Application]++
		}
	}
	if live["admin"] != 1 || live["groups"] != 1 {
		t.Fatalf("live channels per application %v, want one each (%+v)", live, e.channels(t))
	}
	if n, err := e.worker.ForgetLost(ctx, true); err != nil || n != 2 {
		t.Fatalf("ForgetLost(true) = %d, %v; want 2", n, err)
	}
	for _, ch := range e.channels(t) {
		if reports.Live(ch, e.sim.Now()) {
			t.Errorf("channel %s still live after its endpoint restarted", ch.ID)
		}
	}
}
