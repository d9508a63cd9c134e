package bolt

import (
	"encoding/binary"
	"time"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// A group's value in the members bucket holds its member version (Google's etag and
// when the list was read) with its snapshot:
//
//	membersFormat | uvarint len(etag) | etag | cache.TimeKey(syncedAt) | cache.AppendSnapshot
//
// so a member run writes one value, not the group's record too: one random page fewer a
// run, and no group JSON to decode and encode again. Values written before this format
// (cache.SnapshotFormat first) hold only the snapshot; their group's record holds the
// version (membersETag, membersSyncedAt), as it did. Once a group's value is in this
// format, its record's version fields are stale and never read.
const membersFormat = 2

// membersVersion is the version a members value carries; ok is false for a value of the
// earlier format.
type membersVersion struct {
	etag     string
	syncedAt time.Time
	ok       bool
}

// apply sets g's member version to v's when v has one.
func (v membersVersion) apply(g *greep.Group) {
	if v.ok {
		g.MembersETag, g.MembersSyncedAt = v.etag, v.syncedAt
	}
}

// encodeMembers encodes a group's members value.
func encodeMembers(etag string, syncedAt time.Time, version uint64, ms []greep.Member) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(etag)+timeKeyLen+cache.SnapshotSize(ms))
	b = append(b, membersFormat)
	b = appendString(b, etag)
	b = append(b, cache.TimeKey(syncedAt)...)
	return cache.AppendSnapshot(b, version, ms)
}

// decodeMembersVersion reads a members value's version and returns the snapshot that
// follows it (the whole value, for the earlier format). b may be bbolt's memory: the
// etag is copied, the snapshot is not.
func decodeMembersVersion(b []byte) (membersVersion, []byte, error) {
	if len(b) == 0 || b[0] != membersFormat {
		return membersVersion{}, b, nil
	}
	r := fieldReader{b: b, i: 1}
	v := membersVersion{etag: r.string(), syncedAt: r.time(), ok: true}
	if r.bad {
		return membersVersion{}, nil, cache.ErrCorruptSnapshot
	}
	return v, b[r.i:], nil
}

// decodeMembers decodes a members value of either format.
func decodeMembers(b []byte) (membersVersion, []greep.Member, error) {
	v, snap, err := decodeMembersVersion(b)
	if err != nil {
		return membersVersion{}, nil, err
	}
	_, ms, err := cache.DecodeSnapshot(snap)
	return v, ms, err
}
