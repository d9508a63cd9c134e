package cache

import (
	"reflect"
	"strings"
	"testing"

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
