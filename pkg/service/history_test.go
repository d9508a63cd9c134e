package service_test

import (
	"strings"
	"testing"
	"time"
)

// The history's retention comes from GREEP_HISTORY_RETENTION unless the flag says
// otherwise; a value that is no duration is refused by name, not taken as the default.
func TestHistoryRetentionFromTheEnvironment(t *testing.T) {
	ok := []string{"--project", "p", "--location", "l", "--admin-subject", "a@x.com"}
	t.Setenv("GREEP_HISTORY_RETENTION", "720h")
	c, _, err := parse(t, ok...)
	if err != nil || c.History.Retention != 720*time.Hour {
		t.Errorf("from the environment: %v, %v; want 720h", c.History.Retention, err)
	}
	c, _, err = parse(t, append(ok, "--history-retention", "48h")...)
	if err != nil || c.History.Retention != 48*time.Hour {
		t.Errorf("the flag over the environment: %v, %v; want 48h", c.History.Retention, err)
	}
	t.Setenv("GREEP_HISTORY_RETENTION", "400d")
	if _, _, err := parse(t, ok...); err == nil || !strings.Contains(err.Error(), "GREEP_HISTORY_RETENTION") {
		t.Errorf("GREEP_HISTORY_RETENTION=400d: error %v, want one naming the variable", err)
	}
}
