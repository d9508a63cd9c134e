package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultTimeScale runs the simulated clock (and so queue rates, backoffs, debounce) this
// many times faster than the wall clock.
const DefaultTimeScale = 200

// Config sizes and places a scenario run.
type Config struct {
	// The generated tenant.
	Users, Groups int
	Seed          int64
	// Changes is how many changes DroppedPushes makes, one group each (0: 40% of the
	// groups).
	Changes int
	// KillSeed draws the points at which Kills kills greep local.
	KillSeed uint64
	// TimeScale is the simulated clock's speed (0: DefaultTimeScale).
	TimeScale float64
	// QueuesFile is queues.yaml and RulesFile the shipped rules (deploy/remediation.yaml);
	// relative paths are looked for in the working directory and its parents.
	QueuesFile, RulesFile string
	// DataDir is the store's directory: emptied first and kept (to inspect) when set; a
	// temporary directory, removed after a clean run, when empty.
	DataDir string
	// TempDir is where temporary directories go (os.TempDir() when empty).
	TempDir string
	// GreepBinary is the greep executable Kills runs (`greep local`).
	GreepBinary string
	// Wait bounds each wait for an outcome (0: derived from the size, see wait).
	Wait time.Duration
	// Logf, when set, is told of each step (a test's t.Logf).
	Logf func(format string, args ...any)
}

func (c Config) withDefaults() (Config, error) {
	if c.Groups < 1 || c.Users < 1 {
		return c, fmt.Errorf("faults: a tenant needs users and groups, not %d and %d", c.Users, c.Groups)
	}
	if c.TimeScale <= 0 {
		c.TimeScale = DefaultTimeScale
	}
	if c.Changes <= 0 {
		c.Changes = max(1, c.Groups*2/5)
	}
	if c.QueuesFile == "" {
		c.QueuesFile = "queues.yaml"
	}
	if c.RulesFile == "" {
		c.RulesFile = "deploy/remediation.yaml"
	}
	var err error
	if c.QueuesFile, err = findFile(c.QueuesFile); err != nil {
		return c, err
	}
	if c.RulesFile, err = findFile(c.RulesFile); err != nil {
		return c, err
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c, nil
}

// wait bounds one wait for an outcome: a run that converges returns as soon as it does,
// so the bound only decides how long a broken run takes to say so. 60 s ran out for
// 100 groups with the race detector at load average 30 (3 minutes now); the work (tasks, store
// transactions, the oracle's reads of the truth) grows with the tenant, and so does the
// bound. paced is the simulated time the slowest lane of the wait needs at its rate: the
// bound is never under three times its wall time.
func (c Config) wait(paced time.Duration) time.Duration {
	if c.Wait > 0 {
		return c.Wait
	}
	d := time.Duration(float64(3*time.Minute) * max(1, float64(c.Groups)/100))
	return max(d, time.Duration(3*float64(paced)/c.TimeScale))
}

// findFile resolves a relative path against the working directory and its parents, so
// the scenarios find the repository's files from a package's test directory as from the
// repository's root.
func findFile(path string) (string, error) {
	if filepath.IsAbs(path) {
		return path, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, path)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("faults: %s not found in the working directory or its parents", path)
		}
		dir = parent
	}
}

// dataDir returns the store's directory and how to remove it: Config.DataDir emptied
// (kept after), or a new temporary directory.
func (c Config) dataDir(name string) (dir string, remove func(), err error) {
	if c.DataDir != "" {
		if err := os.RemoveAll(c.DataDir); err != nil {
			return "", nil, err
		}
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return "", nil, err
		}
		return c.DataDir, func() {}, nil
	}
	dir, err = os.MkdirTemp(c.TempDir, "greep-faults-"+name+"-data-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// problems collects the invariants a run found broken.
type problems []string

func (p *problems) add(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

// list is the problems as a Report holds them: empty, not nil, when there are none.
func (p problems) list() []string { return append([]string{}, p...) }

// poll calls check every 50 ms until it reports done, and fails with its last
// explanation after within (or when ctx ends).
func poll(ctx context.Context, within time.Duration, what string, check func() (bool, string)) error {
	deadline := time.Now().Add(within)
	for {
		done, why := check()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not reached within %s: %s", what, within, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (%s)", what, ctx.Err(), why)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func describe(diffs []string) string {
	if len(diffs) == 0 {
		return "no difference"
	}
	return fmt.Sprintf("%d+ differences:\n  %s", len(diffs), strings.Join(diffs, "\n  "))
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
}
