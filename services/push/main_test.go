package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	t.Setenv("GREEP_DEBOUNCE", "")
	if _, err := parseConfig(nil); err == nil || !strings.Contains(err.Error(), "--project") {
		t.Errorf("missing project: %v", err)
	}
	for _, bad := range []string{"0s", "-1m", "soon"} {
		if _, err := parseConfig([]string{"--project", "p", "--location", "l", "--debounce", bad}); err == nil || !strings.Contains(err.Error(), "--debounce") {
			t.Errorf("--debounce %s: %v", bad, err)
		}
	}
	c, err := parseConfig([]string{"--project", "p", "--location", "l"})
	if err != nil || c.Debounce != 2*time.Minute {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	t.Setenv("GREEP_DEBOUNCE", "30s")
	if c, err := parseConfig([]string{"--project", "p", "--location", "l"}); err != nil || c.Debounce != 30*time.Second {
		t.Errorf("GREEP_DEBOUNCE: %+v, %v", c, err)
	}
}
