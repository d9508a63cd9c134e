package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
)

// discard is a ResponseWriter that keeps nothing, so a handler benchmark measures the
// handler and not a recorder's buffer.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// benchmarkHandler serves path in a loop in this goroutine: the server's own CPU and
// allocations per request, without a network or a client.
func benchmarkHandler(b *testing.B, h http.Handler, path string) {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r) // warm the caches
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkPages compares one 200-member page on both surfaces and a user's transitive
// groups, handler only.
func BenchmarkPages(b *testing.B) {
	a, err := auth.NewStaticToken(token)
	if err != nil {
		b.Fatal(err)
	}
	s, err := newServer(Config{Store: fixture(), Auth: a})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("v1", func(b *testing.B) { benchmarkHandler(b, s.router, "/v1/groups/big@example.com/members") })
	b.Run("directory", func(b *testing.B) {
		benchmarkHandler(b, s.router, "/admin/directory/v1/groups/big@example.com/members")
	})
	b.Run("user-transitive", func(b *testing.B) {
		benchmarkHandler(b, s.router, "/v1/users/user0501@example.com/groups?transitive=true")
	})
}

// BenchmarkPagesBolt is BenchmarkPages on the embedded store, as greep local serves.
func BenchmarkPagesBolt(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	src, ctx := fixture(), context.Background()
	for tok := ""; ; {
		gs, next, err := src.Groups(ctx, greep.Page{Token: tok, Limit: 200})
		if err != nil {
			b.Fatal(err)
		}
		for _, g := range gs {
			ms, _ := src.Members(ctx, g.ID)
			if err := st.PutGroups(ctx, []greep.Group{g}); err != nil {
				b.Fatal(err)
			}
			if err := st.ReplaceMembers(ctx, g.ID, ms, g.MembersETag, g.MembersSyncedAt); err != nil {
				b.Fatal(err)
			}
		}
		if tok = next; tok == "" {
			break
		}
	}
	a, err := auth.NewStaticToken(token)
	if err != nil {
		b.Fatal(err)
	}
	s, err := newServer(Config{Store: st, Auth: a})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("v1", func(b *testing.B) { benchmarkHandler(b, s.router, "/v1/groups/big@example.com/members") })
	b.Run("directory", func(b *testing.B) {
		benchmarkHandler(b, s.router, "/admin/directory/v1/groups/big@example.com/members")
	})
	b.Run("user-transitive", func(b *testing.B) {
		benchmarkHandler(b, s.router, "/v1/users/user0501@example.com/groups?transitive=true")
	})
}
