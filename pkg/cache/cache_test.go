package cache

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

func TestCheckKey(t *testing.T) {
	for _, k := range []string{"g1", "a@example.com", "ümlaut", "__x", strings.Repeat("k", MaxKeyBytes)} {
		if err := CheckKey("k", k); err != nil {
			t.Errorf("CheckKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "\xff", "a\nb", "__x__", strings.Repeat("k", MaxKeyBytes+1)} {
		if err := CheckKey("k", k); greep.ErrorCode(err) != greep.EINVALID {
			t.Errorf("CheckKey(%.20q) = %v, want EINVALID", k, err)
		}
	}
}

func TestNormalizeMembers(t *testing.T) {
	in := []greep.Member{
		{ID: "2", Email: "B@x", Role: "MEMBER"},
		{Email: "ext@y", Role: "MEMBER"},
		{ID: "1", Email: "a@x", Role: "MEMBER"},
		{ID: "2", Email: "b@x", Role: "OWNER"}, // same id: the later entry wins
		{Email: "EXT@y", Role: "MANAGER"},      // same email, no id
	}
	got, err := NormalizeMembers(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []greep.Member{{ID: "1", Email: "a@x", Role: "MEMBER"}, {ID: "2", Email: "b@x", Role: "OWNER"}, {Email: "EXT@y", Role: "MANAGER"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := NormalizeMembers([]greep.Member{{Role: "MEMBER"}}); greep.ErrorCode(err) != greep.EINVALID {
		t.Errorf("member without id or email: %v", err)
	}
}

func TestPageSize(t *testing.T) {
	for in, want := range map[int]int{-1: DefaultPageSize, 0: DefaultPageSize, 7: 7, MaxPageSize + 1: MaxPageSize} {
		if got := PageSize(greep.Page{Limit: in}); got != want {
			t.Errorf("PageSize(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestSnapshotCodec(t *testing.T) {
	ms := []greep.Member{{ID: "1", Email: "a@x", Role: "OWNER", Type: "USER", Status: "ACTIVE"}, {Email: "ext@y", Type: "EXTERNAL"}}
	b := EncodeSnapshot(42, ms)
	v, got, err := DecodeSnapshot(b)
	if err != nil || v != 42 || !reflect.DeepEqual(got, ms) {
		t.Fatalf("round trip: %d %+v %v", v, got, err)
	}
	// Every truncation and a few corruptions fail cleanly.
	for i := range b {
		if _, _, err := DecodeSnapshot(b[:i]); err == nil {
			t.Errorf("decoding %d of %d bytes succeeded", i, len(b))
		}
	}
	bad := append([]byte{SnapshotFormat}, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f)
	if _, _, err := DecodeSnapshot(bad); err == nil {
		t.Error("a huge member count decoded")
	}
	if _, _, err := DecodeSnapshot(append(b, 0)); err == nil {
		t.Error("trailing bytes decoded")
	}
}

func TestTimeKeyOrder(t *testing.T) {
	times := []time.Time{{}, time.Unix(-5, 0), time.Unix(0, 0), time.Unix(0, 1), time.Unix(1, 0), time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)}
	for i := 1; i < len(times); i++ {
		if string(TimeKey(times[i-1])) >= string(TimeKey(times[i])) {
			t.Errorf("TimeKey(%v) >= TimeKey(%v)", times[i-1], times[i])
		}
	}
}
