package api

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/greephq/greep/pkg/greep"
)

// StatePageTokenKey is the state document holding the page-token key shared by every
// instance of the read API.
const StatePageTokenKey = "api-page-token-key"

// SharedPageTokenKey returns the page-token key kept in the store, creating it on first
// use, so that every App Engine instance signs and checks tokens alike without a secret
// in app.yaml. The first writer wins; the others read its key.
func SharedPageTokenKey(ctx context.Context, s greep.StateStore) ([]byte, error) {
	var key []byte
	err := s.UpdateState(ctx, StatePageTokenKey, func(cur []byte) ([]byte, error) {
		if len(cur) >= 32 {
			key = cur
			return cur, nil
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		return key, nil
	})
	if err != nil {
		return nil, fmt.Errorf("page token key: %w", err)
	}
	return key, nil
}
