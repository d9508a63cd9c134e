package googleerror_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
)

func decode(t *testing.T, w *httptest.ResponseRecorder) googleerror.Body {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil || len(raw) != 1 || len(raw["error"]) != 3 {
		t.Fatalf("body %s: not {\"error\":{code,message,errors}} (%v)", w.Body, err)
	}
	var b googleerror.Body
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	googleerror.Write(w, http.StatusTooManyRequests, "rateLimitExceeded", `quota "x" spent`)
	b := decode(t, w)
	if w.Code != 429 || b.Error.Code != 429 || b.Error.Message != `quota "x" spent` ||
		len(b.Error.Errors) != 1 || b.Error.Errors[0] != (googleerror.Item{Reason: "rateLimitExceeded", Message: `quota "x" spent`, Domain: "global"}) {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
}

func TestWriteErr(t *testing.T) {
	for _, c := range []struct {
		err     error
		status  int
		reason  string
		message string
	}{
		{greep.Errorf(greep.EINVALID, "bad %s", "key"), 400, "invalid", "bad key"},
		{greep.Errorf(greep.EUNAUTHORIZED, "no token"), 401, "authError", "no token"},
		{greep.Errorf(greep.EFORBIDDEN, "not yours"), 403, "forbidden", "not yours"},
		{fmt.Errorf("get: %w", greep.Errorf(greep.ENOTFOUND, "group g")), 404, "notFound", "group g"},
		{greep.Errorf(greep.ECONFLICT, "exists"), 409, "duplicate", "exists"},
		{greep.Errorf(greep.ETOOLARGE, "over 1 MiB"), 413, "requestTooLarge", "over 1 MiB"},
		// Internal details never reach the client.
		{greep.Errorf(greep.EINTERNAL, "datastore at 10.0.0.1 down"), 500, "backendError", "internal error"},
		{errors.New("dial tcp 10.0.0.1: refused"), 500, "backendError", "internal error"},
	} {
		w := httptest.NewRecorder()
		googleerror.WriteErr(w, c.err)
		b := decode(t, w)
		if w.Code != c.status || b.Error.Code != c.status || b.Error.Message != c.message ||
			len(b.Error.Errors) != 1 || b.Error.Errors[0].Reason != c.reason || b.Error.Errors[0].Message != c.message {
			t.Errorf("%v: %d %s, want %d %s %q", c.err, w.Code, w.Body, c.status, c.reason, c.message)
		}
	}
}
