package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

func TestDue(t *testing.T) {
	open := greep.Finding{State: greep.FindingOpen, Detail: "whoCanViewGroup is ANYONE_CAN_VIEW"}
	pending := greep.Finding{State: greep.FindingOpen, Detail: DetailPatchQueued + ": whoCanViewGroup=ALL_MEMBERS_CAN_VIEW"}
	for _, tc := range []struct {
		name  string
		f     greep.Finding
		patch bool
		want  bool
	}{
		{"new open finding", open, false, true},
		{"re-detected open finding", withNotified(open, greep.FindingOpen), false, false},
		{"waiting for its patch", pending, false, false},
		{"fixed by Greep's patch, never announced", greep.Finding{State: greep.FindingFixed}, true, true},
		{"fixed by a person, never announced", greep.Finding{State: greep.FindingFixed}, false, false},
		{"fixed after being announced", greep.Finding{State: greep.FindingFixed, NotifiedState: greep.FindingOpen}, false, true},
		{"fixed, already announced", greep.Finding{State: greep.FindingFixed, NotifiedState: greep.FindingFixed}, true, false},
		{"failed", greep.Finding{State: greep.FindingFailed}, false, true},
		{"exempt", greep.Finding{State: greep.FindingExempt}, false, false},
	} {
		if got := Due(tc.f, tc.patch); got != tc.want {
			t.Errorf("%s: Due = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func withNotified(f greep.Finding, s string) greep.Finding { f.NotifiedState = s; return f }

func TestPostFailsOnNon2xx(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
	}))
	defer srv.Close()
	err := (&Poster{URL: srv.URL}).Post(context.Background(), "hi")
	if err == nil || !strings.Contains(err.Error(), "invalid_payload") {
		t.Fatalf("err = %v", err)
	}
	if err := (&Poster{URL: "http://127.0.0.1:1"}).Post(context.Background(), "hi"); err == nil {
		t.Fatal("unreachable endpoint: want an error")
	}
}

func TestText(t *testing.T) {
	f := greep.Finding{Group: "g@x.com", Rule: "group-not-public", Field: "whoCanViewGroup", State: greep.FindingFixed,
		Before: "ANYONE_CAN_VIEW", After: "ALL_MEMBERS_CAN_VIEW", ChangedBy: "bob@x.com"}
	got := Text(f)
	for _, want := range []string{"g@x.com", "group-not-public", "ANYONE_CAN_VIEW", "ALL_MEMBERS_CAN_VIEW", "bob@x.com"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
