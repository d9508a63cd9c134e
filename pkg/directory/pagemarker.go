package directory

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// pageMarker is what a groups.list page left of its sweep: how many groups it counted into
// the total, which (so a stalled sweep can re-issue the member reads of those without a
// done marker) and the next page's token (so it can re-issue a lost page). A sweep's
// markers are the truth its counters and its lost work are recovered from.
type pageMarker struct {
	Count  int      `json:"n"`
	Groups []string `json:"groups,omitempty"`
	Next   string   `json:"next,omitempty"`
	// Last is set on the listing's last page; without it (and without Next) the marker
	// was written before markers named their next page, and its successor is unknown.
	Last bool `json:"last,omitempty"`
}

func (m pageMarker) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("page marker: %w", err)
	}
	return b, nil
}

// parsePageMarker reads a marker as encode writes it, or as markers were written before
// they named their groups: the bare count.
func parsePageMarker(data []byte) (pageMarker, error) {
	if n, err := strconv.Atoi(string(data)); err == nil {
		if n < 0 {
			return pageMarker{}, fmt.Errorf("page marker: negative count %d", n)
		}
		return pageMarker{Count: n}, nil
	}
	var m pageMarker
	if err := json.Unmarshal(data, &m); err != nil {
		return pageMarker{}, fmt.Errorf("page marker: %w", err)
	}
	if m.Count < 0 || (m.Groups != nil && len(m.Groups) != m.Count) {
		return pageMarker{}, fmt.Errorf("page marker: count %d with %d groups", m.Count, len(m.Groups))
	}
	if m.Last && m.Next != "" {
		return pageMarker{}, fmt.Errorf("page marker: the last page names a next page")
	}
	return m, nil
}
