package callbudget_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/greephq/greep/pkg/callbudget"
)

type observer struct {
	mu  sync.Mutex
	got []string
}

func (o *observer) ObserveCall(api, method, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, api+" "+method+" "+outcome)
}

func TestObserveCountsEveryCallWithItsOutcome(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/directory/v1/groups/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	obs := &observer{}
	res := &reserver{}
	hc := &http.Client{Transport: callbudget.Wrap(res, callbudget.Observe(obs))(http.DefaultTransport)}
	ctx := context.Background()

	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/admin/directory/v1/groups"},
		{http.MethodGet, "/admin/directory/v1/groups/missing"},
		{http.MethodGet, "/admin/directory/v1/groups/g1/members"},
		{http.MethodPatch, "/groups/v1/groups/g1%40example.com"},
		{http.MethodPost, "/admin/reports/v1/activity/users/all/applications/admin/watch"},
	} {
		req, _ := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		resp.Body.Close()
	}
	res.refuse = errors.New("budget spent")
	if err := get(ctx, hc, srv.URL+"/admin/directory/v1/users"); err == nil {
		t.Fatal("a refused reservation let the call through")
	}
	want := []string{
		"directory directory.groups.list ok",
		"directory directory.groups.get 404",
		"directory directory.members.list ok",
		"groupssettings groupssettings.groups.patch ok",
		"reports reports.activities.watch ok",
		"directory directory.users.list refused",
	}
	if !slices.Equal(obs.got, want) {
		t.Errorf("observed\n%q\nwant\n%q", obs.got, want)
	}

	srv.Close()
	res.refuse = nil
	if err := get(ctx, hc, srv.URL+"/admin/directory/v1/groups"); err == nil {
		t.Fatal("a call to a closed server succeeded")
	}
	if last := obs.got[len(obs.got)-1]; last != "directory directory.groups.list transport" {
		t.Errorf("a call without an answer was observed as %q", last)
	}
}
