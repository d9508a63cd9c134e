package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
)

type body struct {
	Group string `json:"group"`
}

func TestHandle(t *testing.T) {
	for _, c := range []struct {
		name   string
		body   string
		err    error
		status int
		reason string
		ran    bool
	}{
		{"done", `{"group":"g"}`, nil, 204, "", true},
		{"too large", `{"group":"` + strings.Repeat("x", queue.MaxBody) + `"}`, nil, 413, "requestTooLarge", false},
		{"unknown key", `{"group":"g","extra":1}`, nil, 400, "invalid", false},
		{"not JSON", `{"group":`, nil, 400, "invalid", false},
		{"invalid", `{"group":"g"}`, fmt.Errorf("refresh: %w", greep.Errorf(greep.EINVALID, "no group")), 400, "invalid", true},
		{"retry", `{"group":"g"}`, fmt.Errorf("list: %w", &queue.RetryError{Status: 429, Reason: "rateLimitExceeded", Err: errors.New("quota")}), 429, "rateLimitExceeded", true},
		{"failed", `{"group":"g"}`, errors.New("datastore down"), 500, "backendError", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got queue.Run
			var gotBody body
			ran := false
			h := queue.Handle(zap.NewNop(), func(ctx context.Context, run queue.Run, b body) error {
				ran, got, gotBody = true, run, b
				return c.err
			})
			r := httptest.NewRequest(http.MethodPost, "/tasks/x", strings.NewReader(c.body))
			r = r.WithContext(queue.WithInfo(r.Context(), queue.Info{Queue: "sweep", Name: "t1"}))
			w := httptest.NewRecorder()
			h(w, r)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if ran != c.ran {
				t.Fatalf("fn ran: %v, want %v", ran, c.ran)
			}
			if ran && (got.Queue != "sweep" || got.Name != "t1" || got.Path != "/tasks/x" || string(got.Body) != c.body || gotBody.Group != "g") {
				t.Errorf("run %+v body %+v", got, gotBody)
			}
			if c.status == 204 {
				if w.Body.Len() != 0 {
					t.Errorf("204 with body %s", w.Body)
				}
				return
			}
			var b googleerror.Body
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if b.Error.Code != c.status || len(b.Error.Errors) != 1 || b.Error.Errors[0].Reason != c.reason {
				t.Errorf("body %s, want %d %s", w.Body, c.status, c.reason)
			}
			if c.name == "invalid" && b.Error.Message != "no group" {
				t.Errorf("message %q, want the greep error's", b.Error.Message)
			}
		})
	}
}
