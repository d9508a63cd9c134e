package main

import (
	"context"
	"errors"

	"github.com/greephq/greep/pkg/greep"
)

// openDatastore opens the production store. pkg/cache/datastore is not in the tree yet;
// until it is, the service runs with --store embedded only.
func openDatastore(ctx context.Context) (greep.Store, error) {
	return nil, errors.New("--store datastore: pkg/cache/datastore is not built yet; use --store embedded")
}
