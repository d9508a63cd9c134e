package wiring

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/cache/datastore"
	"github.com/greephq/greep/pkg/greep"
)

// Store kinds.
const (
	StoreEmbedded  = "embedded"  // a bbolt file
	StoreDatastore = "datastore" // Cloud Datastore (DATASTORE_EMULATOR_HOST for its emulator)
)

// StoreConfig says where a process keeps its state.
type StoreConfig struct {
	Kind    string // StoreEmbedded or StoreDatastore
	File    string // the embedded store's file (its directory is created)
	Project string // the Datastore project
}

// OpenStore opens the store of c: the one way production and greep local open one.
func OpenStore(ctx context.Context, c StoreConfig) (greep.Store, error) {
	switch c.Kind {
	case StoreDatastore:
		s, err := datastore.Open(ctx, c.Project, "")
		if err != nil {
			return nil, fmt.Errorf("datastore store: %w", err)
		}
		return s, nil
	case StoreEmbedded:
		if err := os.MkdirAll(filepath.Dir(c.File), 0o700); err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		s, err := bolt.Open(c.File)
		if err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("store %q: want %s or %s", c.Kind, StoreEmbedded, StoreDatastore)
	}
}
