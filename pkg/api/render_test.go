package api

import (
	"encoding/json"
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// A page renders the blocks it spans and no more, and what it renders is each member's
// JSON.
func TestPagesRenderOnlyTheirBlocks(t *testing.T) {
	var ms []greep.Member
	for i := range 3*renderBlock + 10 {
		ms = append(ms, user(i))
	}
	snap := newSnapshot("v", ms)
	rendered := func(f *fragments) (n int) {
		for _, b := range f.b {
			if b != nil {
				n++
			}
		}
		return n
	}
	page := snap.v1Page(renderBlock-5, renderBlock+5)
	if got := rendered(&snap.v1); got != 2*renderBlock {
		t.Errorf("a page across two blocks rendered %d members, want %d", got, 2*renderBlock)
	}
	var m greep.Member
	if err := json.Unmarshal(page[5], &m); err != nil || m != snap.members[renderBlock] {
		t.Errorf("member %d rendered as %s (%v)", renderBlock, page[5], err)
	}
	if end := snap.v1Page(len(ms), len(ms)); len(end) != 0 {
		t.Errorf("the empty page past the end: %d members", len(end))
	}
	if rendered(&snap.dir) != 0 {
		t.Error("the Directory rendering was made for a /v1 page")
	}
	snap.dirMember(len(ms) - 1)
	if got := rendered(&snap.dir); got != 10 {
		t.Errorf("the last member rendered %d Directory members, want the last block's 10", got)
	}
}
