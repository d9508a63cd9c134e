package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/syncplan"
)

// Run starts the App, prints where it listens, shows the sync's progress on out until
// ctx ends (Ctrl-C), then stops cleanly.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	app, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "greep local listening on %s\n", app.URL)
	fmt.Fprintf(out, "  read API token: %s   (curl -H 'Authorization: Bearer %s' %s/v1/status)\n", app.APIToken, app.APIToken, app.URL)
	if app.Sim != nil {
		fmt.Fprintf(out, "  embedded simulator: %s (%d users, %d groups, time ×%g)\n", app.SimURL, cfg.SimUsers, cfg.SimGroups, cfg.TimeScale)
	}
	_, shared := out.(*Terminal)
	app.ShowProgress(ctx, out, shared || isTerminal(out))
	fmt.Fprintln(out, "stopping: finishing the tasks in flight")
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return app.Close(stopCtx)
}

// ShowProgress writes the sweep's progress to out until ctx ends: a progress bar redrawn
// in place on a terminal, a plain line every few seconds (and on every phase change)
// otherwise, so logs stay readable. On a terminal, log lines written through the same
// Terminal (out, if it is one) appear above the bar.
func (a *App) ShowProgress(ctx context.Context, out io.Writer, terminal bool) {
	every := 5 * time.Second
	var term *Terminal
	if terminal {
		every = 250 * time.Millisecond
		var ok bool
		if term, ok = out.(*Terminal); !ok {
			term = NewTerminal(out)
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	// Between sweeps nothing moves: look only every restEvery, so an idle process is not
	// woken four times a second for a line that does not change.
	const restEvery = 5 * time.Second
	var lastLine string
	for {
		select {
		case <-ctx.Done():
			if term != nil {
				term.EndProgress()
			}
			return
		case <-t.C:
		}
		p, s, err := a.Directory.Progress(ctx)
		if s.Running() {
			t.Reset(every)
		} else {
			t.Reset(max(every, restEvery))
		}
		if err != nil || s.Generation == 0 {
			continue
		}
		line := WallProgressLine(p, s.Mode, s.Running(), terminal, a.cfg.TimeScale)
		if line == lastLine {
			continue
		}
		if term != nil {
			term.Progress(line)
		} else {
			fmt.Fprintln(out, line)
		}
		lastLine = line
	}
}

// ProgressLine renders one progress report, with a bar for a terminal, its rates and
// durations in the sweep's own clock.
func ProgressLine(p syncplan.Progress, mode string, running, bar bool) string {
	return progressLine(p, mode, running, bar, 0)
}

// WallProgressLine is ProgressLine for a sweep whose clock runs timeScale times faster
// than the wall clock: rates and durations are given in wall time, and a simulated clock
// that differs is named, so "2.1/s" at ×60 is not mistaken for the real rate.
func WallProgressLine(p syncplan.Progress, mode string, running, bar bool, timeScale float64) string {
	if timeScale <= 0 {
		timeScale = 1
	}
	return progressLine(p, mode, running, bar, timeScale)
}

// progressLine renders a report; timeScale 0 keeps the sweep's clock unnamed.
func progressLine(p syncplan.Progress, mode string, running, bar bool, timeScale float64) string {
	var b strings.Builder
	if bar {
		const width = 30
		n := int(p.Fraction() * width)
		b.WriteString("[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "] ")
	}
	state := mode
	if !running {
		state = mode + " done"
	}
	more := "" // the total grows until the listing is done
	if !p.ListingDone {
		more = "+"
	}
	scale, rate := 1.0, "/s"
	if timeScale > 0 {
		scale, rate = timeScale, " calls/s wall"
	}
	wall := func(d time.Duration) time.Duration { return time.Duration(float64(d) / scale).Round(time.Second) }
	fmt.Fprintf(&b, "%s: %d/%d%s groups", state, p.Done, p.Total, more)
	fmt.Fprintf(&b, ", %d calls (%.1f%s)", p.Calls, p.CallRate()*scale, rate)
	if running {
		if eta, ok := p.ETA(); ok {
			fmt.Fprintf(&b, ", about %s left", wall(eta))
		}
	} else {
		fmt.Fprintf(&b, " in %s", wall(p.Elapsed()))
	}
	if timeScale > 0 && timeScale != 1 {
		fmt.Fprintf(&b, "; simulated clock ×%g", timeScale)
	}
	return b.String()
}

// isTerminal reports whether out is a character device (a terminal), without a
// dependency: a pipe or a file gets plain lines.
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
