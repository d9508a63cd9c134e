package graph

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// tenant is a nesting described as group id -> direct members; "g:" ids are groups.
type tenant map[string][]string

func (tn tenant) direct(calls *atomic.Int64) DirectFunc {
	return func(_ context.Context, id string) ([]greep.Member, error) {
		if calls != nil {
			calls.Add(1)
		}
		ms, ok := tn[id]
		if !ok {
			return nil, greep.Errorf(greep.ENOTFOUND, "group %s", id)
		}
		out := make([]greep.Member, len(ms))
		for i, m := range ms {
			t := greep.TypeUser
			if m[:2] == "g:" {
				t = greep.TypeGroup
			}
			out[i] = greep.Member{ID: m, Email: m + "@x.test", Type: t, Role: "MEMBER"}
		}
		return out, nil
	}
}

func (tn tenant) memberOf(calls *atomic.Int64) MemberOfFunc {
	return func(_ context.Context, key string) ([]string, error) {
		if calls != nil {
			calls.Add(1)
		}
		var out []string
		for g, ms := range tn {
			for _, m := range ms {
				if m == key {
					out = append(out, g)
				}
			}
		}
		return out, nil
	}
}

func ids(ms []greep.Member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestMembers(t *testing.T) {
	tn := tenant{
		"g:a": {"u1", "g:b", "u2"},
		"g:b": {"u2", "u3", "g:c", "g:gone"},
		"g:c": {"u4", "g:a"}, // cycle back to the root
		"g:d": {"u9"},        // unreachable
	}
	var calls atomic.Int64
	got, err := Members(context.Background(), "g:a", tn.direct(&calls))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"u1", "u2", "u3", "u4"}; !reflect.DeepEqual(ids(got), want) {
		t.Errorf("members = %v, want %v", ids(got), want)
	}
	// a, b, c and the unknown nested group, each looked up once despite the cycle.
	if n := calls.Load(); n != 4 {
		t.Errorf("%d lookups, want 4", n)
	}
}

func TestMembersKeepsNearestEntry(t *testing.T) {
	direct := func(_ context.Context, id string) ([]greep.Member, error) {
		switch id {
		case "root":
			return []greep.Member{{ID: "n", Type: greep.TypeGroup}, {ID: "u", Email: "u@x", Role: "OWNER", Type: greep.TypeUser}}, nil
		case "n":
			return []greep.Member{{ID: "u", Email: "u@x", Role: "MEMBER", Type: greep.TypeUser}}, nil
		}
		return nil, greep.Errorf(greep.ENOTFOUND, "no")
	}
	got, err := Members(context.Background(), "root", direct)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Role != "OWNER" {
		t.Errorf("got %+v, want the root's OWNER entry only", got)
	}
}

func TestMembersUnknownRoot(t *testing.T) {
	_, err := Members(context.Background(), "g:none", tenant{}.direct(nil))
	if !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("err = %v, want not found", err)
	}
}

func TestMembersPropagatesErrors(t *testing.T) {
	boom := errors.New("boom")
	direct := func(_ context.Context, id string) ([]greep.Member, error) {
		if id == "root" {
			var ms []greep.Member
			for i := range 20 {
				ms = append(ms, greep.Member{ID: fmt.Sprint("g", i), Type: greep.TypeGroup})
			}
			return ms, nil
		}
		if id == "g7" {
			return nil, boom
		}
		return nil, nil
	}
	if _, err := Members(context.Background(), "root", direct); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
}

func TestMembersCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	direct := func(ctx context.Context, id string) ([]greep.Member, error) {
		if id == "root" {
			return []greep.Member{{ID: "a", Type: greep.TypeGroup}, {ID: "b", Type: greep.TypeGroup}}, nil
		}
		return nil, ctx.Err()
	}
	if _, err := Members(ctx, "root", direct); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestAncestors(t *testing.T) {
	tn := tenant{
		"g:a": {"u1", "g:b"},
		"g:b": {"u2", "g:c"},
		"g:c": {"u1", "g:a"}, // cycle
		"g:d": {"u3"},
		"g:e": {"g:d"},
	}
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"u1", []string{"g:a", "g:b", "g:c"}},
		{"u3", []string{"g:d", "g:e"}},
		{"g:a", []string{"g:b", "g:c"}}, // the cycle does not list g:a itself
		{"nobody", nil},
	} {
		var calls atomic.Int64
		got, err := Ancestors(context.Background(), tc.key, tn.memberOf(&calls))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Ancestors(%s) = %v, want %v", tc.key, got, tc.want)
		}
		if n := calls.Load(); n != int64(len(tc.want)+1) {
			t.Errorf("Ancestors(%s): %d lookups, want %d", tc.key, n, len(tc.want)+1)
		}
	}
}

// A long chain and a wide fan-out both expand fully.
func TestDeepAndWide(t *testing.T) {
	tn := tenant{}
	for i := range 500 {
		tn[fmt.Sprint("g:", i)] = []string{fmt.Sprint("u", i), fmt.Sprint("g:", i+1)}
	}
	got, err := Members(context.Background(), "g:0", tn.direct(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 500 {
		t.Errorf("chain: %d members, want 500", len(got))
	}
	anc, err := Ancestors(context.Background(), "u499", tn.memberOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(anc) != 500 {
		t.Errorf("chain: %d ancestors, want 500", len(anc))
	}
}
