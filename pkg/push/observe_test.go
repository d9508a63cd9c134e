package push

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

type notifications struct {
	mu  sync.Mutex
	got []string
}

func (n *notifications) ObserveNotification(channel, outcome, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, channel+" "+outcome+" "+reason)
}

func TestObserverHearsEveryOutcome(t *testing.T) {
	f := newFixture(t)
	obs := &notifications{}
	f.h.observer = obs
	body := activityBody(1, "ADD_GROUP_MEMBER", "eng@example.com", "alice@example.com")

	f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", body))
	forged := notification(liveChannel, "ADD_GROUP_MEMBER", body)
	forged.Header.Set(HeaderChannelToken, "guessed")
	f.serve(forged)
	f.store.failAdd(errors.New("disk full"))
	f.serve(notification(liveChannel, "ADD_GROUP_MEMBER", activityBody(2, "ADD_GROUP_MEMBER", "eng@example.com", "bob@example.com")))

	want := []string{
		liveChannel.ID + " accepted ",
		liveChannel.ID + " refused forbidden",
		liveChannel.ID + " failed backendError",
	}
	if !slices.Equal(obs.got, want) {
		t.Errorf("observed %q, want %q", obs.got, want)
	}
}
