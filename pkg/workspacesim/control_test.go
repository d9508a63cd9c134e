package workspacesim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/workspacesim"
)

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("POST %s: %s is not JSON: %v", url, b, err)
	}
	return resp.StatusCode, out
}

// errorMessage digs the message out of Google's error JSON.
func errorMessage(t *testing.T, body map[string]any) string {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("not Google's error shape: %v", body)
	}
	errs, _ := e["errors"].([]any)
	if len(errs) != 1 {
		t.Fatalf("no errors[] in %v", body)
	}
	return e["message"].(string)
}

func TestControlAPI(t *testing.T) {
	srv, cl := start(t, workspacesim.Config{Users: 10, Groups: 12, Seed: 4})
	g := truth(t, srv, "").Groups[0]

	code, body := post(t, srv.URL+"/sim/v1/mutations", `[{"op":"addMember","group":"`+g.Email+`","member":"`+srv.Sim.Sentinel()+`","role":"manager"}]`)
	if code != 200 {
		t.Fatalf("mutation: %d %v", code, body)
	}
	m, err := cl.Directory.Members.Get(g.Email, srv.Sim.Sentinel()).Do()
	if err != nil || m.Role != "MANAGER" {
		t.Fatalf("the mutation did not land: %+v %v", m, err)
	}

	for _, c := range []struct{ path, body, want string }{
		{"/sim/v1/mutations", `{"op":"addMember"}`, "array"},
		{"/sim/v1/mutations", `[{"op":"explode","group":"x@example.com"}]`, "unknown op"},
		{"/sim/v1/mutations", `[{"op":"addMember","group":"` + g.Email + `"}]`, "needs a member"},
		{"/sim/v1/mutations", `[{"op":"addMember","group":"nope@example.com","member":"a@b.example"}]`, "Not Found"},
		{"/sim/v1/mutations", `[{"op":"addMember","group":"` + g.Email + `","member":"x@y.example","colour":"red"}]`, "unknown field"},
		{"/sim/v1/mutations", `[{"op":"setSettings","group":"` + g.Email + `","settings":{"whoCanJoin":"EVERYBODY"}}]`, "whoCanJoin"},
		{"/sim/v1/clock", `{"advance":"soon"}`, "positive Go duration"},
		{"/sim/v1/clock", `{"advance":"-1h"}`, "positive Go duration"},
		{"/sim/v1/clock", `not json`, "Invalid JSON"},
		{"/sim/v1/faults", `{"rateLimited":2}`, "within [0, 1]"},
		{"/sim/v1/mutations", `[` + strings.Repeat(`{"op":"x"},`, 200000) + `{}]`, "larger than"},
	} {
		code, body := post(t, srv.URL+c.path, c.body)
		if code/100 != 4 {
			t.Fatalf("POST %s %.60s: %d, want a 4xx", c.path, c.body, code)
		}
		if msg := errorMessage(t, body); !strings.Contains(msg, c.want) {
			t.Fatalf("POST %s %.60s: message %q does not say %q", c.path, c.body, msg, c.want)
		}
	}

	before := srv.Sim.Now()
	if code, body := post(t, srv.URL+"/sim/v1/clock", `{"advance":"24h"}`); code != 200 {
		t.Fatalf("clock: %d %v", code, body)
	}
	if d := srv.Sim.Now().Sub(before); d < 24*time.Hour || d > 25*time.Hour {
		t.Fatalf("clock moved %v", d)
	}

	resp, err := http.Get(srv.URL + "/sim/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st workspacesim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Calls["directory.members.get"] != 1 {
		t.Fatalf("stats calls %v", st.Calls)
	}

	resp, err = http.Get(srv.URL + "/sim/v1/truth?group=missing@example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("truth of a missing group: %s", resp.Status)
	}
}

func TestUnknownPathsAndMethodsAnswerGoogleErrors(t *testing.T) {
	srv, _ := start(t, workspacesim.Config{})
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/admin/directory/v1/nothing", 404},
		{"DELETE", "/admin/directory/v1/groups", 405},
		{"GET", "/sim/v1/mutations", 405},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+srv.Sim.Admin())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Fatalf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
		errorMessage(t, body)
	}
	// No bearer token: 401 required.
	resp, err := http.Get(srv.URL + "/admin/directory/v1/groups?customer=my_customer")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no token: %s", resp.Status)
	}
}
