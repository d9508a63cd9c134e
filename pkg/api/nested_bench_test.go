package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/api"
	"github.com/greephq/greep/pkg/auth"
	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/greep"
)

// The nested group of issue 18's load test: nested@example.com holds 4 groups of 5 groups
// of 1,000 users each, 20,000 users in all, reached only through nesting.
const (
	nestedGroup = "nested@example.com"
	nestedMid   = 4
	nestedLeaf  = 5
	nestedUsers = 1000
)

// writeNested fills the embedded store at path with the nested group.
func writeNested(path string) (*bolt.Store, error) {
	s, err := bolt.Open(path)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	put := func(id, email string, ms []greep.Member) error {
		g := greep.Group{ID: id, Email: email, Name: email, DirectMembersCount: int64(len(ms)), ETag: `"` + id + `"`, SyncedAt: at}
		if err := s.PutGroups(ctx, []greep.Group{g}); err != nil {
			return err
		}
		return s.ReplaceMembers(ctx, id, ms, `"`+id+`"`, at)
	}
	nest := func(id, email string) greep.Member {
		return greep.Member{ID: id, Email: email, Role: "MEMBER", Type: greep.TypeGroup, Status: "ACTIVE"}
	}
	var top []greep.Member
	u := 0
	for i := range nestedMid {
		var mid []greep.Member
		for j := range nestedLeaf {
			var leaf []greep.Member
			for range nestedUsers {
				leaf = append(leaf, greep.Member{ID: fmt.Sprintf("nu%05d", u), Email: fmt.Sprintf("nested%05d@example.com", u), Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"})
				u++
			}
			id, email := fmt.Sprintf("g-leaf-%d-%d", i, j), fmt.Sprintf("leaf-%d-%d@example.com", i, j)
			if err := put(id, email, leaf); err != nil {
				s.Close()
				return nil, err
			}
			mid = append(mid, nest(id, email))
		}
		id, email := fmt.Sprintf("g-mid-%d", i), fmt.Sprintf("mid-%d@example.com", i)
		if err := put(id, email, mid); err != nil {
			s.Close()
			return nil, err
		}
		top = append(top, nest(id, email))
	}
	if err := put("g-nested", nestedGroup, top); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// TestWriteNestedStore writes the nested group's store for the load test against a built
// binary (docs/api.md, "Nested groups under load"); it runs only when asked:
//
//	GREEP_NESTED_STORE=/dev/shm/greep-nested.db go test ./pkg/api -run TestWriteNestedStore
func TestWriteNestedStore(t *testing.T) {
	path := os.Getenv("GREEP_NESTED_STORE")
	if path == "" {
		t.Skip("GREEP_NESTED_STORE names the store file to write")
	}
	s, err := writeNested(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := s.Members(context.Background(), "g-leaf-0-0")
	if err != nil || len(ms) != nestedUsers {
		t.Fatalf("leaf members: %d, %v", len(ms), err)
	}
}

// BenchmarkNestedExpansion: a page of the nested group's 20,000 transitive members, /v1
// (transitive=true) and Directory-compatible (includeDerivedMembership), from 8 keep-alive
// connections in this process; the load test with 200 clients is in docs/api.md.
func BenchmarkNestedExpansion(b *testing.B) {
	s, err := writeNested(b.TempDir() + "/nested.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, err := auth.NewStaticToken(apiToken)
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.New(api.Config{Store: s, Auth: a})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	defer srv.Close()
	base := "http://" + l.Addr().String()
	b.Run("v1-transitive", func(b *testing.B) {
		benchmarkPath(b, base, "/v1/groups/"+nestedGroup+"/members?transitive=true")
	})
	b.Run("directory-derived", func(b *testing.B) {
		benchmarkPath(b, base, "/admin/directory/v1/groups/"+nestedGroup+"/members?includeDerivedMembership=true")
	})
}
