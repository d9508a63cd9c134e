package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// InstrumentStore returns s counting its failed writes in
// greep_store_errors_total. Answers that are part of the contract (not found, conflict)
// and cancelled contexts are not failures; an error returned by the caller's own update
// function is the caller's, not the store's. Methods greep.Store gains later pass through
// uncounted until they are added here.
func (m *Metrics) InstrumentStore(s greep.Store) greep.Store {
	for _, op := range storeOps {
		m.storeErrors.WithLabelValues(op)
	}
	return &countingStore{Store: s, m: m}
}

// storeOps are the operations counted, listed so a scrape shows each at zero.
var storeOps = []string{"PutGroups", "DeleteGroup", "ReplaceMembers", "PutUsers", "PutSettings", "AddEvents",
	"UpdateFinding", "UpdateState", "AddCount", "CreateRecord", "PutRecord", "DeleteRecord", "DeleteRecords", "Commit"}

type countingStore struct {
	greep.Store
	m *Metrics
}

// Of returns the metrics s was instrumented with, so the parts built on an instrumented
// store share its registry.
func Of(s greep.Store) (*Metrics, bool) {
	c, ok := s.(*countingStore)
	if !ok {
		return nil, false
	}
	return c.m, true
}

func (c *countingStore) check(ctx context.Context, op string, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	switch greep.ErrorCode(err) {
	case greep.ENOTFOUND, greep.ECONFLICT:
		return err
	}
	c.m.ObserveStoreError(op, err)
	return err
}

// own tells an update function's error from the store's: it remembers what fn returned.
type own struct{ err error }

func (o *own) is(err error) bool { return o.err != nil && errors.Is(err, o.err) }

func (c *countingStore) PutGroups(ctx context.Context, gs []greep.Group) error {
	return c.check(ctx, "PutGroups", c.Store.PutGroups(ctx, gs))
}

func (c *countingStore) DeleteGroup(ctx context.Context, id string) error {
	return c.check(ctx, "DeleteGroup", c.Store.DeleteGroup(ctx, id))
}

func (c *countingStore) ReplaceMembers(ctx context.Context, groupID string, ms []greep.Member, etag string, at time.Time) error {
	return c.check(ctx, "ReplaceMembers", c.Store.ReplaceMembers(ctx, groupID, ms, etag, at))
}

func (c *countingStore) ReplaceMembersFrom(ctx context.Context, groupID string, from greep.MembersVersion, ms []greep.Member, etag string, at time.Time) error {
	return c.check(ctx, "ReplaceMembersFrom", c.Store.ReplaceMembersFrom(ctx, groupID, from, ms, etag, at))
}

func (c *countingStore) PutUsers(ctx context.Context, us []greep.User) error {
	return c.check(ctx, "PutUsers", c.Store.PutUsers(ctx, us))
}

func (c *countingStore) PutSettings(ctx context.Context, s greep.GroupSettings) error {
	return c.check(ctx, "PutSettings", c.Store.PutSettings(ctx, s))
}

func (c *countingStore) AddEvents(ctx context.Context, es []greep.Event) (int, error) {
	n, err := c.Store.AddEvents(ctx, es)
	return n, c.check(ctx, "AddEvents", err)
}

func (c *countingStore) UpdateFinding(ctx context.Context, id string, fn func(*greep.Finding) error) (greep.Finding, error) {
	var o own
	f, err := c.Store.UpdateFinding(ctx, id, func(f *greep.Finding) error { o.err = fn(f); return o.err })
	if o.is(err) {
		return f, err
	}
	return f, c.check(ctx, "UpdateFinding", err)
}

func (c *countingStore) UpdateState(ctx context.Context, name string, fn func([]byte) ([]byte, error)) error {
	var o own
	err := c.Store.UpdateState(ctx, name, func(cur []byte) ([]byte, error) {
		b, err := fn(cur)
		o.err = err
		return b, err
	})
	if o.is(err) {
		return err
	}
	return c.check(ctx, "UpdateState", err)
}

func (c *countingStore) AddCount(ctx context.Context, name string, delta int64) (int64, error) {
	n, err := c.Store.AddCount(ctx, name, delta)
	return n, c.check(ctx, "AddCount", err)
}

func (c *countingStore) CreateRecord(ctx context.Context, kind, id string, data []byte) error {
	return c.check(ctx, "CreateRecord", c.Store.CreateRecord(ctx, kind, id, data))
}

func (c *countingStore) PutRecord(ctx context.Context, kind, id string, data []byte) error {
	return c.check(ctx, "PutRecord", c.Store.PutRecord(ctx, kind, id, data))
}

func (c *countingStore) DeleteRecord(ctx context.Context, kind, id string) error {
	return c.check(ctx, "DeleteRecord", c.Store.DeleteRecord(ctx, kind, id))
}

func (c *countingStore) DeleteRecords(ctx context.Context, kind string, ids []string) error {
	return c.check(ctx, "DeleteRecords", c.Store.DeleteRecords(ctx, kind, ids))
}
