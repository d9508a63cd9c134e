package api

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/greephq/greep/pkg/greep"
)

// History from every source (docs/api.md, "History"): a change a resync or a later full
// sync found is on the change feed with its cause and no actor; the projector copies those
// records into the history as events, so the history, its paging tokens, its export and
// its 400-day retention stay one mechanism over one store. Push records are not copied:
// the webhook's event already records the same change, with its actor.

// historyState names the projector's progress document.
const historyState = "history/changes"

// projectPage is how many change records one feed read of the projector takes.
const projectPage = 1000

// historyStore is what the projector needs of the store; greep.Store implements it.
type historyStore interface {
	feedStore
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

type historyProjector struct {
	store historyStore
	mu    sync.Mutex // one catch-up at a time in this process; events dedupe across processes
}

func newHistoryProjector(s Store) *historyProjector {
	hs, ok := s.(historyStore)
	if !ok {
		return nil
	}
	return &historyProjector{store: hs}
}

// catchUp copies the change records written since the last catch-up into the history;
// a history read calls it first, so what it answers includes every sync's finding
// committed before the read.
func (p *historyProjector) catchUp(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var st projection
	b, err := p.store.State(ctx, historyState)
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
			if e, ok := changeEvent(c, st.Live); ok {
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
func (p *historyProjector) save(ctx context.Context, st projection) error {
	return p.store.UpdateState(ctx, historyState, func(cur []byte) ([]byte, error) {
		var old projection
		if cur != nil && json.Unmarshal(cur, &old) == nil && old.Cursor > st.Cursor {
			return cur, nil
		}
		st.Live = st.Live || old.Live
		return json.Marshal(st)
	})
}

// changeEvent is the history event of a change record, named as the Reports API names
// the same change; false for a record the history does not take.
func changeEvent(c greep.Change, live bool) (greep.Event, bool) {
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
