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
		if err != nil || s.Generation == 0 {
			continue
		}
		line := ProgressLine(p, s.Mode, s.Running(), terminal)
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

// ProgressLine renders one progress report: with a bar for a terminal.
func ProgressLine(p syncplan.Progress, mode string, running, bar bool) string {
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
	fmt.Fprintf(&b, "%s: %d/%d%s groups", state, p.Done, p.Total, more)
	fmt.Fprintf(&b, ", %d calls (%.1f/s)", p.Calls, p.CallRate())
	if running {
		if eta, ok := p.ETA(); ok {
			fmt.Fprintf(&b, ", about %s left", eta.Round(time.Second))
		}
	} else {
		fmt.Fprintf(&b, " in %s", p.Elapsed().Round(time.Second))
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
