package workspacesim_test

import (
	"net/http"
	"strings"
	"testing"

	reports "google.golang.org/api/admin/reports/v1"
	"google.golang.org/api/googleapi"
)

// rawPatch sends a body the Go client would never send and returns what the client's
// own error check makes of the answer.
func rawPatch(t *testing.T, url, token, body string) error {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return googleapi.CheckResponse(resp)
}

func params(ps []*reports.ActivityEventsParameters) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		m[p.Name] = p.Value
	}
	return m
}
