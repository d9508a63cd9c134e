package syncplan

import (
	"sort"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// Why a resync refreshes a group.
const (
	ReasonNew     = "new"     // not in the cache, or its members were never read
	ReasonChanged = "changed" // etag or directMembersCount differ from the cached snapshot
	ReasonDue     = "due"     // its members would pass the maximum age before the next resync
	ReasonSlice   = "slice"   // the rolling slice: among the oldest of an unchanged page
)

// Resync says how often the resync runs and how old a group's members may get. Push
// notifications can be lost and an etag comparison only finds changes Google reports, so
// besides changed groups every resync re-reads a rolling slice of the oldest: with MaxAge
// = k × Every, about 1/k of each page, so every group is re-read within MaxAge.
type Resync struct {
	Every  time.Duration
	MaxAge time.Duration // 0: no rolling slice, only changed groups
}

// Selection is one group a resync refreshes. Group is the listing's view (fresh etag and
// count), which the member read is checked against.
type Selection struct {
	Group  greep.Group
	Reason string
}

// Select picks, from one groups.list page, the groups whose members the resync re-reads.
// cached holds the cache's view of the listed groups by id (missing: not cached).
func (r Resync) Select(listed []greep.Group, cached map[string]greep.Group, now time.Time) []Selection {
	var out []Selection
	var unchanged []greep.Group
	due := 0
	for _, g := range listed {
		c, ok := cached[g.ID]
		switch {
		case !ok || c.MembersSyncedAt.IsZero():
			out = append(out, Selection{g, ReasonNew})
		case g.ETag != c.MembersETag || g.DirectMembersCount != c.DirectMembersCount:
			out = append(out, Selection{g, ReasonChanged})
		case r.MaxAge > 0 && now.Sub(c.MembersSyncedAt)+r.Every > r.MaxAge:
			out = append(out, Selection{g, ReasonDue})
			due++
		default:
			g.MembersSyncedAt = c.MembersSyncedAt
			unchanged = append(unchanged, g)
		}
	}
	quota := r.sliceQuota(len(listed)) - due
	if quota <= 0 {
		return out
	}
	// Oldest first; a group read since the last resync is not worth a call yet.
	sort.SliceStable(unchanged, func(i, j int) bool {
		return unchanged[i].MembersSyncedAt.Before(unchanged[j].MembersSyncedAt)
	})
	for _, g := range unchanged {
		if quota == 0 || now.Sub(g.MembersSyncedAt) < r.Every {
			break
		}
		g.MembersSyncedAt = time.Time{}
		out = append(out, Selection{g, ReasonSlice})
		quota--
	}
	return out
}

// sliceQuota is the share of a page of n groups re-read each resync so that every group is
// re-read within MaxAge: n × Every / MaxAge, rounded up.
func (r Resync) sliceQuota(n int) int {
	if r.MaxAge <= 0 || r.Every <= 0 || n == 0 {
		return 0
	}
	q := (int64(n)*int64(r.Every) + int64(r.MaxAge) - 1) / int64(r.MaxAge)
	if q > int64(n) {
		return n
	}
	return int(q)
}
