package service

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/greephq/greep/pkg/history"
)

// History is how long the history keeps its events. Every service that reads or prunes
// it takes the same setting (the directory service prunes by it, the api service refuses
// ranges beyond it), so it has one flag and one environment variable.
type History struct {
	Retention time.Duration
	envErr    error
}

// Flags registers --history-retention, defaulting from GREEP_HISTORY_RETENTION (a Go
// duration such as 9600h) or history.DefaultRetention (400 days).
func (h *History) Flags(fs *flag.FlagSet) {
	h.Retention = history.DefaultRetention
	if v := os.Getenv("GREEP_HISTORY_RETENTION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			h.envErr = fmt.Errorf("GREEP_HISTORY_RETENTION %q: want a duration such as 9600h (400 days)", v)
		}
		h.Retention = d
	}
	fs.DurationVar(&h.Retention, "history-retention", h.Retention, "how long the history keeps events, e.g. 9600h for 400 days (env GREEP_HISTORY_RETENTION)")
}

// Validate refuses an unreadable environment value and a retention that is not positive.
func (h History) Validate() error {
	if h.envErr != nil {
		return h.envErr
	}
	if h.Retention <= 0 {
		return fmt.Errorf("--history-retention %v: must be positive", h.Retention)
	}
	return nil
}
