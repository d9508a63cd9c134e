package cluster

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/local"
	"github.com/greephq/greep/pkg/syncplan"
)

// ShowProgress writes the sync's progress to out until ctx ends, as greep local does (its
// lines, local.ProgressLine): redrawn in place on a terminal, a line on each change
// every few seconds otherwise. It reads the sync state the directory service writes to
// Datastore.
func (c *Cluster) ShowProgress(ctx context.Context, out io.Writer, terminal bool) {
	store, err := c.Store(ctx)
	if err != nil {
		c.logf("progress: %v", err)
		return
	}
	defer store.Close()
	every := 5 * time.Second
	if terminal {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last, mode string
	for {
		select {
		case <-ctx.Done():
			if terminal && last != "" {
				fmt.Fprintln(out)
			}
			return
		case <-t.C:
		}
		var st greep.SyncState
		if ok, err := greep.LoadState(ctx, store, greep.StateSync, &st); err != nil || !ok || st.StartedAt.IsZero() {
			continue
		}
		running := st.State != "idle" && st.State != ""
		if running {
			mode = st.State
		} else if mode == "" {
			mode = "sync"
		}
		p := syncplan.Progress{
			// The sync state carries no listing flag: a running sync's total may grow.
			ListingDone: !running, Started: st.StartedAt, Now: time.Now(),
			Total: st.GroupsTotal, Done: st.GroupsDone, Calls: st.Calls,
		}
		if !running {
			p.Now = latest(st.LastFullSyncAt, st.LastResyncAt)
		}
		line := local.ProgressLine(p, mode, running, terminal)
		if line == last {
			continue
		}
		if terminal {
			fmt.Fprintf(out, "\r%s\x1b[K", line)
		} else {
			fmt.Fprintln(out, line)
		}
		last = line
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
