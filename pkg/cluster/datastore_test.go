package cluster

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	ds "cloud.google.com/go/datastore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/greephq/greep/internal/freeport"
)

// A restart of either emulator keeps what was committed before it, and a second restart
// keeps what was committed between the two (each start reads the newest export).
func TestDatastoreRestartKeepsItsData(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the Datastore emulators")
	}
	if _, err := exec.LookPath("gcloud"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gcloud (the Datastore emulator) is missing under CI")
		}
		t.Skip("gcloud is missing")
	}
	for _, kind := range []string{EmulatorDatastore, EmulatorFirestore} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			host, err := freeport.Addr()
			if err != nil {
				t.Fatal(err)
			}
			d, err := newDatastore(kind, t.TempDir(), host, "greep-restart")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.run(ctx, 3*time.Minute); err != nil {
				t.Fatal(err)
			}
			defer d.shutdown(30 * time.Second)
			client, err := ds.NewClient(ctx, "greep-restart", option.WithEndpoint(host), option.WithoutAuthentication(),
				option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			type entity struct{ N int }
			put := func(name string) {
				t.Helper()
				if _, err := client.Put(ctx, ds.NameKey("K", name, nil), &entity{N: len(name)}); err != nil {
					t.Fatal(err)
				}
			}
			put("before-first")
			if err := d.restart(ctx, 3*time.Minute); err != nil {
				t.Fatal(err)
			}
			put("between")
			if err := d.restart(ctx, 3*time.Minute); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"before-first", "between"} {
				var e entity
				// The client reconnects on its own; its first calls may meet the restart.
				if err := client.Get(ctx, ds.NameKey("K", name, nil), &e); err != nil || e.N != len(name) {
					t.Errorf("%s after the restarts: %+v, %v", name, e, err)
				}
			}
		})
	}
}
