package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// A group's record in the groups bucket is binary, not JSON:
//
//	groupFormat | id | email | aliases | nonEditableAliases | name | description |
//	varint directMembersCount | etag | TimeKey(syncedAt) | TimeKey(membersSyncedAt) |
//	membersETag | varint generation
//
// in fields.go's encodings. A member run reads its group's record, and a sweep reads each group's once more before its
// call: decoding the JSON was most of both reads. Records written before are JSON
// (their first byte is '{') and are read as such until the group is next put.
const groupFormat = 1

var errCorruptGroup = errors.New("corrupt group record")

func encodeGroup(g greep.Group) []byte {
	n := 1 + 2*timeKeyLen + 8*binary.MaxVarintLen64 + len(g.ID) + len(g.Email) + len(g.Name) +
		len(g.Description) + len(g.ETag) + len(g.MembersETag)
	for _, a := range g.Aliases {
		n += binary.MaxVarintLen64 + len(a)
	}
	for _, a := range g.NonEditableAliases {
		n += binary.MaxVarintLen64 + len(a)
	}
	b := make([]byte, 0, n)
	b = append(b, groupFormat)
	b = appendString(b, g.ID)
	b = appendString(b, g.Email)
	b = appendStrings(b, g.Aliases)
	b = appendStrings(b, g.NonEditableAliases)
	b = appendString(b, g.Name)
	b = appendString(b, g.Description)
	b = binary.AppendVarint(b, g.DirectMembersCount)
	b = appendString(b, g.ETag)
	b = append(b, cache.TimeKey(g.SyncedAt)...)
	b = append(b, cache.TimeKey(g.MembersSyncedAt)...)
	b = appendString(b, g.MembersETag)
	return binary.AppendVarint(b, g.Generation)
}

// decodeGroup decodes a group's record of either format. b may be bbolt's memory: the
// strings are copied out of it, into one allocation.
func decodeGroup(b []byte) (greep.Group, error) {
	var g greep.Group
	if len(b) > 0 && b[0] == '{' {
		err := json.Unmarshal(b, &g)
		return g, err
	}
	if len(b) == 0 || b[0] != groupFormat {
		return g, errCorruptGroup
	}
	r := fieldReader{b: b, s: string(b), i: 1}
	g.ID = r.string()
	g.Email = r.string()
	g.Aliases = r.strings()
	g.NonEditableAliases = r.strings()
	g.Name = r.string()
	g.Description = r.string()
	g.DirectMembersCount = r.varint()
	g.ETag = r.string()
	g.SyncedAt = r.time()
	g.MembersSyncedAt = r.time()
	g.MembersETag = r.string()
	g.Generation = r.varint()
	if r.bad || r.i != len(b) {
		return greep.Group{}, errCorruptGroup
	}
	return g, nil
}

// getGroupRecord reads a group's record as stored: its member version is the one
// getGroup reads only beside a members value of the earlier format.
func getGroupRecord(gb *bbolt.Bucket, id []byte, g *greep.Group) (bool, error) {
	data := gb.Get(id)
	if data == nil {
		return false, nil
	}
	v, err := decodeGroup(data)
	if err != nil {
		return false, greep.Errorf(greep.EINTERNAL, "decode group %q: %v", id, err)
	}
	*g = v
	return true, nil
}

func putGroupRecord(gb *bbolt.Bucket, g greep.Group) error {
	return putEncoded(gb, []byte(g.ID), "group "+g.ID, encodeGroup(g))
}
