package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

func TestMembersValueRoundTrip(t *testing.T) {
	ms := []greep.Member{{ID: "1", Email: "a@example.com", Role: "OWNER", Type: greep.TypeUser, Status: "ACTIVE"}}
	for _, at := range []time.Time{
		{},
		time.Date(2026, 12, 5, 1, 2, 3, 4, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -3600)),
	} {
		for _, etag := range []string{"", `"etag/with\x00bytes"`} {
			v, got, err := decodeMembers(encodeMembers(etag, at, 7, ms))
			if err != nil || !v.ok || v.etag != etag || !v.syncedAt.Equal(at) || v.syncedAt.IsZero() != at.IsZero() || !reflect.DeepEqual(got, ms) {
				t.Errorf("encode(%q, %v) read back as %+v, %+v, %v", etag, at, v, got, err)
			}
		}
	}
	// The earlier format: a snapshot alone, with no version.
	v, got, err := decodeMembers(cache.EncodeSnapshot(3, ms))
	if err != nil || v.ok || !reflect.DeepEqual(got, ms) {
		t.Errorf("a snapshot of the earlier format read as %+v, %+v, %v", v, got, err)
	}
}

// FuzzDecodeMembers: any value gives members or an error, never a panic; what decodes
// encodes to a value that reads back the same.
func FuzzDecodeMembers(f *testing.F) {
	ms := []greep.Member{{ID: "1", Email: "a@example.com", Role: "OWNER", Type: greep.TypeUser, Status: "ACTIVE"}}
	f.Add(encodeMembers("e", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), 1, ms))
	f.Add(encodeMembers("", time.Time{}, 0, nil))
	f.Add(cache.EncodeSnapshot(1, ms))
	f.Add([]byte{membersFormat, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, got, err := decodeMembers(b)
		if err != nil || !v.ok {
			return
		}
		// Varints may be written longer than need be, so compare what they mean.
		again := encodeMembers(v.etag, v.syncedAt, snapshotVersion(t, b), got)
		v2, got2, err := decodeMembers(again)
		if err != nil || v2.etag != v.etag || !v2.syncedAt.Equal(v.syncedAt) || !reflect.DeepEqual(got2, got) || snapshotVersion(t, again) != snapshotVersion(t, b) {
			t.Fatalf("%x decoded to %+v %+v, which encodes as %x, read back as %+v %+v %v", b, v, got, again, v2, got2, err)
		}
	})
}

// snapshotVersion is the version field of a members value of this format.
func snapshotVersion(t *testing.T, b []byte) uint64 {
	_, snap, err := decodeMembersVersion(b)
	if err != nil {
		t.Fatal(err)
	}
	version, _, err := cache.DecodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	return version
}

// A member run writes the group's members value alone: the group's record is not
// rewritten (it was a second random page a run), and the version reads back from the
// members value.
func TestReplaceMembersLeavesTheGroupRecord(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, greep.Group{ID: "g", Email: "g@example.com"})
	before := rawValue(t, s, bGroups, "g")
	at := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	if err := s.ReplaceMembers(ctx, "g", []greep.Member{{ID: "1", Email: "a@example.com"}}, "e1", at); err != nil {
		t.Fatal(err)
	}
	if after := rawValue(t, s, bGroups, "g"); !bytes.Equal(before, after) {
		t.Errorf("the group's record was rewritten:\n%s\n%s", before, after)
	}
	for name, read := range map[string]func() (greep.Group, error){
		"Group": func() (greep.Group, error) { return s.Group(ctx, "g") },
		"Groups": func() (greep.Group, error) {
			gs, _, err := s.Groups(ctx, greep.Page{})
			if err != nil || len(gs) != 1 {
				return greep.Group{}, err
			}
			return gs[0], nil
		},
	} {
		g, err := read()
		if err != nil || g.MembersETag != "e1" || !g.MembersSyncedAt.Equal(at) {
			t.Errorf("%s: %+v, %v; want version e1 at %v", name, g, err, at)
		}
	}
	// PutGroups keeps the version.
	if err := s.PutGroups(ctx, []greep.Group{{ID: "g", Email: "g@example.com", Name: "G"}}); err != nil {
		t.Fatal(err)
	}
	if g, err := s.Group(ctx, "g"); err != nil || g.Name != "G" || g.MembersETag != "e1" {
		t.Errorf("after PutGroups: %+v, %v", g, err)
	}
}

// A store written before the members value held the version: its group records hold it,
// and are read so until the group's next member run.
func TestMembersValueOfEarlierStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "greep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	ms := []greep.Member{{ID: "1", Email: "a@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}}
	g := greep.Group{ID: "g", Email: "g@example.com", MembersETag: "old", MembersSyncedAt: at}
	rec, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bGroups).Put([]byte("g"), rec); err != nil {
			return err
		}
		if err := tx.Bucket(bByEmail).Put(key("g@example.com", "g"), nil); err != nil {
			return err
		}
		return tx.Bucket(bMembers).Put([]byte("g"), cache.EncodeSnapshot(1, ms))
	}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	if got, err := s.MemberOf(ctx, "1"); err != nil || !reflect.DeepEqual(got, []string{"g"}) {
		t.Errorf("MemberOf(1) = %v, %v; want [g] from the earlier snapshot", got, err)
	}
	if got, err := s.Group(ctx, "g"); err != nil || got.MembersETag != "old" || !got.MembersSyncedAt.Equal(at) {
		t.Errorf("Group = %+v, %v; want the record's version", got, err)
	}
	// A read older than the stored one changes nothing; a newer one moves the version.
	if err := s.ReplaceMembersFrom(ctx, "g", greep.MembersVersion{ETag: "old", SyncedAt: at}, nil, "new", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Group(ctx, "g"); err != nil || got.MembersETag != "new" || !got.MembersSyncedAt.Equal(at.Add(time.Hour)) {
		t.Errorf("after a member run: %+v, %v; want version new", got, err)
	}
	if got, err := s.MemberOf(ctx, "1"); err != nil || len(got) != 0 {
		t.Errorf("MemberOf(1) after an empty list = %v, %v", got, err)
	}
}

func rawValue(t *testing.T, s *Store, bucket []byte, k string) []byte {
	t.Helper()
	var v []byte
	if err := s.db.View(func(tx *bbolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucket).Get([]byte(k)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}
