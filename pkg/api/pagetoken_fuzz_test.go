package api

import (
	"testing"

	"github.com/greephq/greep/pkg/greep"
)

// FuzzPageToken checks page tokens both ways: any token a client sends decodes to a
// cursor or is refused as invalid (400), never a panic; a token Greep issues decodes back
// to its cursor under its own query and is refused under any other.
func FuzzPageToken(f *testing.F) {
	pt := newPageTokens([]byte("fuzz-key-0123456789abcdef"))
	f.Add("groups|members|g@example.com", "cursor-1", "", "groups|members|h@example.com")
	f.Add("q", "\x00\xff", pt.encode("q", "\x00\xff"), "q2")
	f.Add("", "a", "AAAAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("q", "c", "!!", "q")
	f.Fuzz(func(t *testing.T, query, cursor, token, otherQuery string) {
		if c, err := pt.decode(query, token); err != nil {
			if greep.ErrorCode(err) != greep.EINVALID {
				t.Fatalf("decode(%q): error %v is not an invalid-argument error", token, err)
			}
		} else if token == "" && c != "" {
			t.Fatalf("the empty token decoded to %q", c)
		}

		tok := pt.encode(query, cursor)
		if cursor == "" {
			if tok != "" {
				t.Fatalf("the empty cursor encoded to %q", tok)
			}
			return
		}
		if len(tok) > 4096 {
			return // refused as too long; cursors Greep issues are far shorter
		}
		got, err := pt.decode(query, tok)
		if err != nil || got != cursor {
			t.Fatalf("round trip of %q under %q: %q, %v", cursor, query, got, err)
		}
		if otherQuery != query {
			if _, err := pt.decode(otherQuery, tok); err == nil {
				t.Fatalf("token of %q accepted under %q", query, otherQuery)
			}
		}
	})
}
