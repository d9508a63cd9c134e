// Package history turns the change feed's records that no webhook event describes (what
// a resync or a later full sync found) into history events, so the history, its paging,
// export and retention stay one mechanism over one store (docs/api.md, "History").
package history

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// A change a resync or a later full sync found is on the change feed with its cause and
// no actor; the Projector copies those records into the history as events. Push records
// are not copied: the webhook's event already records the same change, with its actor.

// State names the projector's progress document.
const State = "history/changes"

// projectPage is how many change records one feed read of the projector takes.
const projectPage = 1000

// Store is what the projector needs of the store; greep.Store implements it.
type Store interface {
	Changes(ctx context.Context, q greep.ChangeQuery) ([]greep.Change, uint64, error)
	ChangeLog(ctx context.Context) (greep.ChangeLog, error)
	AddEvents(ctx context.Context, events []greep.Event) (int, error)
	State(ctx context.Context, name string) ([]byte, error)
	UpdateState(ctx context.Context, name string, fn func(cur []byte) ([]byte, error)) error
}

// projection is the progress document: the feed cursor copied up to, and whether the
// baseline (the first full sync) is over.
type projection struct {
	Cursor uint64 `json:"cursor,string"`
	// Live is set by the first push or resync record: the full sync records before it are the cache's first picture of the tenant, not changes.
	Live bool `json:"live"`
}

// Projector copies change records into the history. Safe for concurrent use.
type Projector struct {
	store Store
	mu    sync.Mutex // one catch-up at a time in this process; events dedupe across processes
}

// NewProjector returns the projector over s, or nil when s keeps no change feed (a nil
// Projector's CatchUp does nothing).
func NewProjector(s any) *Projector {
	hs, ok := s.(Store)
	if !ok {
		return nil
	}
	return &Projector{store: hs}
}

// CatchUp copies the change records written since the last catch-up into the history.
// The read API calls it before a history read, so what it answers includes every sync's
// finding committed before the read; the directory worker calls it before it prunes the
// feed, so no record leaves the feed before the history has it.
func (p *Projector) CatchUp(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var st projection
	b, err := p.store.State(ctx, State)
	switch {
	case greep.ErrorCode(err) == greep.ENOTFOUND:
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &st); err != nil {
			return err
		}
	}
	for {
		changes, next, err := p.store.Changes(ctx, greep.ChangeQuery{Since: st.Cursor, Limit: projectPage})
		if greep.ErrorCode(err) == greep.EGONE {
			// Records pruned before any history read copied them are lost to the
			// history (docs/api.md says so); go on from what is left.
			l, lerr := p.store.ChangeLog(ctx)
			if lerr != nil {
				return lerr
			}
			st.Cursor = l.Pruned
			continue
		}
		if err != nil {
			return err
		}
		if next == st.Cursor {
			return nil
		}
		var events []greep.Event
		for _, c := range changes {
			if c.Cause == greep.CausePush || c.Cause == greep.CauseResync {
				st.Live = true
			}
			if e, ok := ChangeEvent(c, st.Live); ok {
				events = append(events, e)
			}
		}
		if len(events) > 0 {
			if _, err := p.store.AddEvents(ctx, events); err != nil {
				return err
			}
		}
		st.Cursor = next
		if err := p.save(ctx, st); err != nil {
			return err
		}
	}
}

// save writes st unless another process went further.
func (p *Projector) save(ctx context.Context, st projection) error {
	return p.store.UpdateState(ctx, State, func(cur []byte) ([]byte, error) {
		var old projection
		if cur != nil && json.Unmarshal(cur, &old) == nil && old.Cursor > st.Cursor {
			return cur, nil
		}
		st.Live = st.Live || old.Live
		return json.Marshal(st)
	})
}

// ChangeEvent is the history event of a change record, named as the Reports API names
// the same change; false for a record the history does not take.
func ChangeEvent(c greep.Change, live bool) (greep.Event, bool) {
	switch c.Cause {
	case greep.CauseResync:
	case greep.CauseFullSync:
		if !live {
			return greep.Event{}, false
		}
	default:
		return greep.Event{}, false // push (the webhook's event has it) or unlabelled
	}
	cursor := strconv.FormatUint(c.Cursor, 10)
	e := greep.Event{ID: "change:" + cursor, Time: c.Time, Group: c.Group, Member: c.Member, Cause: c.Cause, Cursor: cursor}
	var before, after greep.ChangeValue
	if c.Before != nil {
		before = *c.Before
	}
	if c.After != nil {
		after = *c.After
	}
	field := func(setting, old, new string) {
		e.Event, e.Setting, e.OldValue, e.NewValue = "UPDATE_GROUP_MEMBER", setting, old, new
	}
	switch c.Kind {
	case greep.ChangeAdded:
		e.Event = "ADD_GROUP_MEMBER"
	case greep.ChangeRemoved:
		e.Event = "REMOVE_GROUP_MEMBER"
	case greep.ChangeRoleChanged:
		field("role", before.Role, after.Role)
	case greep.ChangeTypeChanged:
		field("type", before.Type, after.Type)
	case greep.ChangeStatusChanged:
		field("status", before.Status, after.Status)
	case greep.ChangeEmailChanged:
		field("email", before.Email, after.Email)
	case greep.ChangeGroupCreated:
		e.Event = "CREATE_GROUP"
	case greep.ChangeGroupDeleted:
		e.Event = "DELETE_GROUP"
	case greep.ChangeGroupRenamed:
		e.Event, e.Setting, e.OldValue, e.NewValue = "CHANGE_GROUP_EMAIL", "email", before.Email, after.Email
	default:
		return greep.Event{}, false
	}
	return e, true
}
