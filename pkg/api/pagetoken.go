package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sync"
)

// Page tokens are opaque to clients and bound to the query that produced them: a token is
// base64url(cursor || mac), mac = HMAC-SHA256(key, query || 0 || cursor) truncated to 16
// bytes. A token edited, or replayed against another group, filter or route, fails the MAC
// and is refused with 400, so a client cannot page into data its query does not select.
type pageTokens struct {
	key  []byte
	pool sync.Pool
}

const macLen = 16

func newPageTokens(key []byte) *pageTokens {
	t := &pageTokens{key: key}
	t.pool.New = func() any { return hmac.New(sha256.New, t.key) }
	return t
}

func (t *pageTokens) mac(query, cursor string) []byte {
	h := t.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(query))
	h.Write([]byte{0})
	h.Write([]byte(cursor))
	sum := h.Sum(nil)
	t.pool.Put(h)
	return sum[:macLen]
}

// encode returns the token for cursor within query; "" for the empty cursor (no next page).
func (t *pageTokens) encode(query, cursor string) string {
	if cursor == "" {
		return ""
	}
	b := make([]byte, 0, len(cursor)+macLen)
	b = append(b, cursor...)
	b = append(b, t.mac(query, cursor)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decode returns the cursor of a token made for query; "" for the empty token.
func (t *pageTokens) decode(query, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	if len(token) > 4096 {
		return "", errInvalid("Invalid pageToken: too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) <= macLen {
		return "", errInvalid("Invalid pageToken")
	}
	cursor := string(b[:len(b)-macLen])
	if !hmac.Equal(b[len(b)-macLen:], t.mac(query, cursor)) {
		return "", errInvalid("Invalid pageToken: it was not issued for this query")
	}
	return cursor, nil
}
