package push

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// FuzzNotify sends the webhook notifications with arbitrary headers and body: it must never
// panic or answer 5xx (the store here does not fail), a refusal must be Google's error
// JSON carrying its status, and a refused notification must store and enqueue nothing.
func FuzzNotify(f *testing.F) {
	ch := liveChannel
	f.Add(ch.ID, ch.Token, "add", "17", ch.ResourceID, []byte(activityBody(1, "CHANGE_GROUP_SETTING", "g@example.com", "")))
	f.Add(ch.ID, ch.Token, "add", "18", ch.ResourceID, []byte(activityBody(2, "ADD_GROUP_MEMBER", "g@example.com", "u@example.com")))
	f.Add(ch.ID, ch.Token, ResourceStateSync, "1", ch.ResourceID, []byte(nil))
	f.Add(ch.ID, ch.Token, "add", "-1", ch.ResourceID, []byte("{}"))
	f.Add(ch.ID, "wrong", "add", "17", ch.ResourceID, []byte("{}"))
	f.Add("unknown", ch.Token, "add", "17", ch.ResourceID, []byte("{}"))
	f.Add(ch.ID, ch.Token, "add", "17", "other", []byte("{}"))
	f.Add(ch.ID, ch.Token, "add", "17", ch.ResourceID, []byte(`{"kind":"admin#reports#activity","id":{"applicationName":"drive"}}`))
	f.Add(ch.ID, ch.Token, "add", "17", ch.ResourceID, []byte(`[`))
	f.Fuzz(func(t *testing.T, id, token, state, number, resource string, body []byte) {
		fx := newFixture(t)
		r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
		for name, v := range map[string]string{HeaderChannelID: id, HeaderChannelToken: token,
			HeaderResourceState: state, HeaderMessageNumber: number, HeaderResourceID: resource} {
			r.Header[name] = []string{v}
		}
		w := fx.serve(r)
		if w.Code == http.StatusOK {
			if state == ResourceStateSync && (fx.store.eventCount() > 0 || len(fx.queue.Accepted()) > 0) {
				t.Fatalf("a sync message stored or enqueued work")
			}
			return
		}
		if w.Code >= 500 {
			t.Fatalf("answered %d: %s", w.Code, w.Body)
		}
		var e struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != w.Code || e.Error.Message == "" {
			t.Fatalf("refusal %d is not Google's error JSON: %s", w.Code, w.Body)
		}
		if fx.store.eventCount() > 0 || len(fx.queue.Accepted()) > 0 {
			t.Fatalf("refused with %d but stored %d events and enqueued %d tasks", w.Code, fx.store.eventCount(), len(fx.queue.Accepted()))
		}
		if names := fx.store.stateNames(); len(names) != 1 || names[0] != greep.StateChannels {
			t.Fatalf("refused with %d but wrote state %v", w.Code, names)
		}
	})
}
