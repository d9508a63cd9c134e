package datastore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/cache"
	"github.com/greephq/greep/pkg/greep"
)

// These run without the emulator: how lists are cut into chunks and chunk keys parsed.

func TestChunk(t *testing.T) {
	var ms []greep.Member
	for i := range 1201 {
		ms = append(ms, greep.Member{ID: fmt.Sprint(i), Email: fmt.Sprintf("u%d@example.com", i)})
	}
	// Long addresses: the byte bound cuts before the count bound does.
	long := strings.Repeat("x", 1000)
	for i := range 600 {
		ms = append(ms, greep.Member{ID: fmt.Sprint("L", i), Email: fmt.Sprintf("%s%d@example.com", long, i), Role: long})
	}
	chunks := chunk(7, ms)
	var got []greep.Member
	for i, c := range chunks {
		v, part, err := cache.DecodeSnapshot(c.Data)
		if err != nil || v != 7 {
			t.Fatalf("chunk %d: version %d, %v", i, v, err)
		}
		if len(part) > chunkMembers {
			t.Errorf("chunk %d holds %d members", i, len(part))
		}
		size := len(c.Data)
		for _, k := range c.Keys {
			size += len(k)
		}
		if size > chunkBytes+8<<10 {
			t.Errorf("chunk %d is %d bytes", i, size)
		}
		if len(c.Keys) != 2*len(part) {
			t.Errorf("chunk %d: %d keys for %d members", i, len(c.Keys), len(part))
		}
		got = append(got, part...)
	}
	if len(got) != len(ms) {
		t.Fatalf("chunks hold %d members, want %d", len(got), len(ms))
	}
	for i := range ms {
		if got[i] != ms[i] {
			t.Fatalf("member %d = %+v, want %+v", i, got[i], ms[i])
		}
	}
	if len(chunk(1, nil)) != 0 {
		t.Error("an empty list has chunks")
	}
}

func TestParseChunkKey(t *testing.T) {
	s := &Store{}
	for _, id := range []string{"0123abc", "with/slash", "a/b/c"} {
		k := s.chunkKey(id, 42, 3)
		g, v, ok := parseChunkKey(k.Name)
		if !ok || g != id || v != 42 {
			t.Errorf("parseChunkKey(%q) = %q, %d, %v", k.Name, g, v, ok)
		}
	}
	for _, bad := range []string{"", "x", "/1/2", "g/notanumber/1", "g/1"} {
		if _, _, ok := parseChunkKey(bad); ok {
			t.Errorf("parseChunkKey(%q) succeeded", bad)
		}
	}
}
