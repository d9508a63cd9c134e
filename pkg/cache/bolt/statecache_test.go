package bolt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// A document read while it is written is the old one or the new one, and once a read
// has seen the new one no later read sees the old: readers race a writer that counts
// up, and each reader's values never go down; after the writer, every read has the last.
func TestStateReadsNeverGoBack(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	const writes = 300
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := -1
			for {
				select {
				case <-done:
					return
				default:
				}
				b, err := s.State(ctx, "n")
				if errors.Is(err, greep.ErrNotFound) {
					if last >= 0 {
						errs <- fmt.Errorf("the document is gone after %d was read", last)
						return
					}
					continue
				}
				n, err := strconv.Atoi(string(b))
				if err != nil {
					errs <- err
					return
				}
				if n < last {
					errs <- fmt.Errorf("read %d after %d", n, last)
					return
				}
				last = n
			}
		}()
	}
	for i := range writes {
		if err := s.UpdateState(ctx, "n", func([]byte) ([]byte, error) { return []byte(strconv.Itoa(i + 1)), nil }); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range 2 { // the first read may fill the cache, the second is served from it
		if b, err := s.State(ctx, "n"); err != nil || string(b) != strconv.Itoa(writes) {
			t.Fatalf("after the writes: %q, %v; want %d", b, err, writes)
		}
	}
}

// An absence is cached too, and a write ends it; a write that fails leaves the document
// as it was; a caller that changes what it read changes nothing stored.
func TestStateCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	for range 2 {
		if _, err := s.State(ctx, "doc"); !errors.Is(err, greep.ErrNotFound) {
			t.Fatalf("a missing document: %v, want not found", err)
		}
	}
	if err := s.UpdateState(ctx, "doc", func([]byte) ([]byte, error) { return []byte(`{"a":1}`), nil }); err != nil {
		t.Fatal(err)
	}
	b, err := s.State(ctx, "doc")
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("after the write: %q, %v", b, err)
	}
	b[0] = 'X'
	failed := errors.New("refused")
	if err := s.UpdateState(ctx, "doc", func([]byte) ([]byte, error) { return nil, failed }); !errors.Is(err, failed) {
		t.Fatalf("a refused write: %v", err)
	}
	if b, err := s.State(ctx, "doc"); err != nil || string(b) != `{"a":1}` {
		t.Fatalf("after a refused write and a caller's change: %q, %v", b, err)
	}
	if err := s.UpdateState(ctx, "doc", func([]byte) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.State(ctx, "doc"); !errors.Is(err, greep.ErrNotFound) {
		t.Fatalf("a deleted document: %v, want not found", err)
	}
}

// The cache holds at most maxCachedStates documents, and none over maxCachedStateSize.
func TestStateCacheIsBounded(t *testing.T) {
	var c stateCache
	for i := range 3 * maxCachedStates {
		c.put(c.begin(), strconv.Itoa(i), []byte("x"), true)
		if len(c.m) > maxCachedStates {
			t.Fatalf("%d documents cached, the bound is %d", len(c.m), maxCachedStates)
		}
	}
	c.put(c.begin(), "big", make([]byte, maxCachedStateSize+1), true)
	if _, _, ok := c.get("big"); ok {
		t.Error("a document over the size bound was cached")
	}
	c.startWrite("w")
	seq := c.begin()
	c.put(seq, "w", []byte("old"), true)
	if _, _, ok := c.get("w"); ok {
		t.Error("a document read during its write was kept")
	}
	c.endWrite("w")
	c.put(seq, "w", []byte("old"), true)
	if _, _, ok := c.get("w"); ok {
		t.Error("a document read before a write ended was kept after it")
	}
}
