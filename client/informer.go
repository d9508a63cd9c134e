package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// InformerConfig says which groups to keep and whom to tell of their changes.
type InformerConfig struct {
	// Groups are the groups to keep, by email (or id). A group that does not exist yet
	// is kept empty, and filled once the feed says it was created.
	Groups []string
	// The callbacks run one at a time, in feed order, each change once: a record the
	// copy already reflects (the feed may repeat what a list already showed) calls
	// nothing. group is the key the group was asked for by. They run with the copy
	// locked, so they must not call the Informer.
	OnAdd    func(group string, m greep.Member)
	OnRemove func(group string, m greep.Member)
	OnUpdate func(group string, old, new greep.Member)
	// OnList, when set, is called after every list (the first, after a 410, each
	// recheck) with each kept group's whole list, after the callbacks for its
	// differences: a sink that can set a whole group at once converges here even if it
	// missed callbacks (a syncer restarted against a target that kept old state).
	OnList func(group string, members []greep.Member)
	// Wait is the long poll's wait (default 30 s).
	Wait time.Duration
	// Recheck compares the copy with a fresh list this often, calling back for any
	// difference (default 10 min; negative never).
	Recheck time.Duration
	// Backoff is the first wait after a failed call (default 1 s, doubling to 30 s).
	Backoff time.Duration
	// Logf, when set, hears of failures and relists.
	Logf func(format string, args ...any)
}

// Informer keeps an in-memory copy of chosen groups' members: it lists them, then
// follows the change feed from the lists' cursor, reconnecting from its cursor after a
// failure, listing again when the cursor is past retention (410), and checking itself
// against a fresh list now and then.
type Informer struct {
	c   *Client
	cfg InformerConfig

	mu      sync.Mutex
	groups  map[string]*kept // by the key asked for
	cursor  uint64
	synced  chan struct{}
	relists int
	drift   int
}

type kept struct {
	key, id, email string
	members        map[string]greep.Member // by memberKey
}

// NewInformer returns an informer; Run starts it.
func NewInformer(c *Client, cfg InformerConfig) *Informer {
	if cfg.Wait <= 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.Recheck == 0 {
		cfg.Recheck = 10 * time.Minute
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.OnAdd == nil {
		cfg.OnAdd = func(string, greep.Member) {}
	}
	if cfg.OnRemove == nil {
		cfg.OnRemove = func(string, greep.Member) {}
	}
	if cfg.OnUpdate == nil {
		cfg.OnUpdate = func(string, greep.Member, greep.Member) {}
	}
	inf := &Informer{c: c, cfg: cfg, groups: map[string]*kept{}, synced: make(chan struct{})}
	for _, g := range cfg.Groups {
		inf.groups[g] = &kept{key: g, members: map[string]greep.Member{}}
	}
	return inf
}

// memberKey is what makes two records name the same member: its id, else its email.
func memberKey(m greep.Member) string {
	if m.ID != "" {
		return "i:" + m.ID
	}
	return "e:" + strings.ToLower(m.Email)
}

// Run lists, then follows the feed until ctx ends, and returns ctx's error. Run again
// after it returned, it follows on from its cursor.
func (inf *Informer) Run(ctx context.Context) error {
	backoff := inf.cfg.Backoff
	fail := func(what string, err error) error {
		inf.logf("greep informer: %s: %v (again in %s)", what, err, backoff)
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(2*backoff, 30*time.Second)
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// A second Run goes on from the cursor the first reached.
	listed, lastList := inf.Stats().Lists > 0, time.Now()
	for ctx.Err() == nil {
		if !listed || (inf.cfg.Recheck > 0 && time.Since(lastList) >= inf.cfg.Recheck) {
			if err := inf.list(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				if err := fail("list", err); err != nil {
					return err
				}
				continue
			}
			listed, lastList, backoff = true, time.Now(), inf.cfg.Backoff
		}
		page, err := inf.c.Changes(ctx, ChangesRequest{Since: inf.Cursor(), Wait: inf.cfg.Wait, MaxResults: 1000})
		switch {
		case ctx.Err() != nil:
		case IsGone(err):
			inf.logf("greep informer: cursor %d is past the feed's retention: listing again", inf.Cursor())
			listed = false
		case err != nil:
			if err := fail("follow", err); err != nil {
				return err
			}
		default:
			backoff = inf.cfg.Backoff
			inf.apply(page)
		}
	}
	return ctx.Err()
}

// list reads every kept group and brings the copy to it, calling back for each
// difference, then follows from the lowest of the lists' cursors: changes between that
// and a later list are replayed and, already reflected, call nothing.
func (inf *Informer) list(ctx context.Context) error {
	type listing struct {
		g       Group
		found   bool
		members []greep.Member
		cursor  uint64
	}
	lists := map[string]listing{}
	var from uint64
	first := true
	for _, key := range inf.cfg.Groups {
		var l listing
		ms, cursor, err := inf.c.Members(ctx, key)
		switch {
		case IsNotFound(err):
			// Unknown now. Take a cursor, then look again: if the group is still unknown,
			// its creation (should it come) is after the cursor.
			var at uint64
			if _, at, err = inf.c.Groups(ctx); err != nil {
				return err
			}
			ms, cursor, err = inf.c.Members(ctx, key)
			if IsNotFound(err) {
				cursor = at
				break
			}
			if err != nil {
				return err
			}
			l.found, l.members = true, ms
			if l.g, err = inf.c.Group(ctx, key); err != nil && !IsNotFound(err) {
				return err
			}
		case err != nil:
			return err
		default:
			l.found, l.members = true, ms
			if l.g, err = inf.c.Group(ctx, key); err != nil && !IsNotFound(err) {
				return err
			}
		}
		l.cursor = cursor
		lists[key] = l
		if first || cursor < from {
			from, first = cursor, false
		}
	}
	inf.mu.Lock()
	defer inf.mu.Unlock()
	relist := inf.relists > 0 || inf.cursor > 0
	for key, l := range lists {
		k := inf.groups[key]
		if l.found {
			k.id, k.email = l.g.ID, l.g.Email
		}
		want := make(map[string]greep.Member, len(l.members))
		for _, m := range l.members {
			want[memberKey(m)] = m
		}
		n := inf.converge(k, want)
		if relist {
			inf.drift += n
		}
		if inf.cfg.OnList != nil {
			inf.cfg.OnList(key, slices.Clone(l.members))
		}
	}
	inf.relists++
	inf.cursor = from
	select {
	case <-inf.synced:
	default:
		close(inf.synced)
	}
	return nil
}

// converge makes k's members want, calling back for each difference; it returns how many.
func (inf *Informer) converge(k *kept, want map[string]greep.Member) int {
	n := 0
	for _, id := range slices.Sorted(mapKeys(k.members)) {
		if _, ok := want[id]; !ok {
			m := k.members[id]
			delete(k.members, id)
			inf.cfg.OnRemove(k.key, m)
			n++
		}
	}
	for _, id := range slices.Sorted(mapKeys(want)) {
		if inf.put(k, want[id]) {
			n++
		}
	}
	return n
}

// put stores m in k, calling OnAdd or OnUpdate; it reports whether anything changed.
func (inf *Informer) put(k *kept, m greep.Member) bool {
	id := memberKey(m)
	old, ok := k.members[id]
	if ok && old == m {
		return false
	}
	k.members[id] = m
	if ok {
		inf.cfg.OnUpdate(k.key, old, m)
	} else {
		inf.cfg.OnAdd(k.key, m)
	}
	return true
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// apply brings the copy up to date with a page of the feed.
func (inf *Informer) apply(page ChangesPage) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	for _, c := range page.Changes {
		if c.Cursor <= inf.cursor {
			continue // a page from an older request: already applied
		}
		inf.cursor = c.Cursor
		k := inf.kept(c)
		if k == nil {
			continue
		}
		switch c.Kind {
		case greep.ChangeGroupCreated, greep.ChangeGroupRenamed:
			if c.After != nil {
				k.id, k.email = c.After.ID, c.After.Email
			}
		case greep.ChangeGroupDeleted:
			inf.converge(k, nil)
		case greep.ChangeRemoved:
			if c.Before == nil {
				continue
			}
			id := memberKey(c.Before.Member())
			if m, ok := k.members[id]; ok {
				delete(k.members, id)
				inf.cfg.OnRemove(k.key, m)
			}
		default: // added and the field changes: the member is now c.After
			if c.After == nil {
				continue
			}
			if b := c.Before; b != nil && memberKey(b.Member()) != memberKey(c.After.Member()) {
				delete(k.members, memberKey(b.Member()))
			}
			inf.put(k, c.After.Member())
		}
	}
	inf.cursor = max(inf.cursor, page.NextCursor)
}

// kept finds the kept group a record is about, by id, else by email (a group created
// after the list).
func (inf *Informer) kept(c greep.Change) *kept {
	for _, k := range inf.groups {
		if k.id != "" && k.id == c.GroupID {
			return k
		}
	}
	for _, k := range inf.groups {
		if k.id == "" && (strings.EqualFold(k.key, c.Group) || k.key == c.GroupID) {
			return k
		}
	}
	return nil
}

// Members returns the copy of a kept group (by the key it was asked for), by member key.
func (inf *Informer) Members(group string) []greep.Member {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	k := inf.groups[group]
	if k == nil {
		return nil
	}
	out := make([]greep.Member, 0, len(k.members))
	for _, id := range slices.Sorted(mapKeys(k.members)) {
		out = append(out, k.members[id])
	}
	return out
}

// Cursor is the feed position the copy reflects.
func (inf *Informer) Cursor() uint64 {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	return inf.cursor
}

// Stats are the informer's counts: lists made, and differences a later list found that
// the feed had not delivered (0 when the feed is whole).
type Stats struct{ Lists, Drift int }

// Stats returns the informer's counts.
func (inf *Informer) Stats() Stats {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	return Stats{Lists: inf.relists, Drift: inf.drift}
}

// WaitSynced waits for the first list.
func (inf *Informer) WaitSynced(ctx context.Context) error {
	select {
	case <-inf.synced:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("greep informer: not synced"), ctx.Err())
	}
}

func (inf *Informer) logf(format string, args ...any) {
	if inf.cfg.Logf != nil {
		inf.cfg.Logf(format, args...)
	}
}
