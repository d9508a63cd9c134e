package bolt

import (
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// While a group's write is in flight the cache neither serves the list it holds nor
// keeps one read meanwhile: a reader between the commit and the end of the write would
// otherwise pair the group's new version with its old members (the read API then kept
// that pair for good, and a pushed member never showed).
func TestReadCacheStepsAsideDuringAWrite(t *testing.T) {
	var c readCache
	old := []greep.Member{{ID: "1", Email: "a@example.com"}}
	c.put(c.begin(), "g", old)
	if _, ok := c.get("g"); !ok {
		t.Fatal("a filled entry is not served")
	}

	c.startWrite("g")
	if ms, ok := c.get("g"); ok {
		t.Fatalf("the list of a group being written is served: %v", ms)
	}
	seq := c.begin() // a reader that misses during the write, and reads the old list
	c.put(seq, "g", old)
	if _, ok := c.get("g"); ok {
		t.Fatal("a list read during the write was kept")
	}
	c.put(c.begin(), "other", old)
	if _, ok := c.get("other"); !ok {
		t.Fatal("another group's list is not kept while g is written")
	}

	c.endWrite("g")
	c.put(seq, "g", old) // that reader fills only after the write ended
	if ms, ok := c.get("g"); ok {
		t.Fatalf("a list read before the write ended was kept after it: %v", ms)
	}
	fresh := []greep.Member{{ID: "1", Email: "a@example.com"}, {ID: "2", Email: "b@example.com"}}
	c.put(c.begin(), "g", fresh)
	if ms, ok := c.get("g"); !ok || len(ms) != 2 {
		t.Fatalf("after the write, a fresh read is not kept: %v %v", ms, ok)
	}

	// Two writes of one group at once: it stays aside until both ended.
	c.startWrite("g")
	c.startWrite("g")
	c.endWrite("g")
	if _, ok := c.get("g"); ok {
		t.Fatal("served while a second write of the group is in flight")
	}
	c.endWrite("g")
	c.put(c.begin(), "g", fresh)
	if _, ok := c.get("g"); !ok {
		t.Fatal("not kept after both writes ended")
	}
}
