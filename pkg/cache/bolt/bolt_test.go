package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/greephq/greep/pkg/cache/storetest"
	"github.com/greephq/greep/pkg/greep"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) greep.Store {
		s, err := Open(filepath.Join(t.TempDir(), "greep.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// openTemp opens a store in a fresh file, closed when the test ends, holding groups.
func openTemp(t testing.TB, groups ...greep.Group) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if len(groups) > 0 {
		if err := s.PutGroups(context.Background(), groups); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// reopen closes s and opens the store at path again, closed when the test ends.
func reopen(t *testing.T, s *Store, path string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// What was committed is there after the file is closed and opened again.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "greep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ms := []greep.Member{{ID: "1", Email: "a@example.com", Role: "OWNER", Type: greep.TypeUser, Status: "ACTIVE"}}
	if err := s.PutGroups(ctx, []greep.Group{{ID: "g", Email: "g@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceMembers(ctx, "g", ms, "e", time.Now()); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	got, err := s.Members(ctx, "g")
	if err != nil || !reflect.DeepEqual(got, ms) {
		t.Errorf("after reopening: %+v, %v", got, err)
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.db")
	s, err := Open(valid)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 200 {
		if err := s.PutRecord(ctx, "k", strings.Repeat("x", i+1), make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	data, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}

	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"garbage", "not a greep store or corrupt", garbage},
		{"text", "", []byte("this is not a database\n")},
		{"empty-meta", "", make([]byte, 16<<10)},
		{"truncated", "truncated", data[:len(data)/2]},
		{"meta-only", "truncated", data[:2*4096]},
		// bbolt initialises an empty file as a new database; the store it held was lost.
		{"empty", "the file is empty", nil},
		{"foreign", "another program", foreignBolt(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".db")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the file or say %q", err, tc.want)
			}
		})
	}
}

// foreignBolt is a bbolt database another program wrote: none of Greep's buckets.
func foreignBolt(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("sessions"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Damage past the meta pages shows only when a page is read: the call fails with an
// error and the process goes on.
func TestCorruptPagesGiveErrors(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "greep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := s.PutRecord(ctx, "k", strings.Repeat("r", i+1), make([]byte, 500)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	junk := make([]byte, fi.Size()-4*4096)
	for i := range junk {
		junk[i] = 0xA5
	}
	if _, err := f.WriteAt(junk, 4*4096); err != nil { // keep both meta pages intact
		t.Fatal(err)
	}
	f.Close()

	s, err = Open(path)
	if err != nil {
		t.Logf("Open refused the damaged file: %v", err)
		return
	}
	defer s.Close()
	err = s.Records(ctx, "k", func(string, []byte) error { return nil })
	if err == nil {
		t.Fatal("reading damaged pages gave no error")
	}
	t.Logf("reading damaged pages: %v", err)
}

// A second process on the same file is told so instead of hanging.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "greep.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Another handle in this process takes the flock like another process would.
	_, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		t.Skip("flock is not exclusive within one process here")
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Open: %v", err)
	}
}

// BenchmarkOrigin loads the origin tenant (45,000 groups, ~373,000 memberships) and
// reads from it:
//
//	go test -run '^$' -bench Origin -benchtime 1x ./pkg/cache/bolt        (load)
//	go test -run '^$' -bench Origin ./pkg/cache/bolt                       (and reads)
func BenchmarkOrigin(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) greep.Store {
		s, err := Open(filepath.Join(b.TempDir(), "greep.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if fi, err := os.Stat(s.db.Path()); err == nil {
				b.Logf("store file: %.1f MB", float64(fi.Size())/(1<<20))
			}
			s.Close()
		})
		return s
	}, storetest.BenchOptions{})
}

// The read cache never serves a list older than the last completed write, however reads
// and writes interleave.
func TestReadCacheFreshness(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, greep.Group{ID: "g", Email: "g@example.com"})
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.Members(ctx, "g"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 200 {
		want := fmt.Sprint("u", i)
		if err := s.ReplaceMembers(ctx, "g", []greep.Member{{ID: want}}, "", time.Now()); err != nil {
			t.Fatal(err)
		}
		ms, err := s.Members(ctx, "g")
		if err != nil || len(ms) != 1 || ms[0].ID != want {
			t.Fatalf("after writing %s: read %+v, %v", want, ms, err)
		}
		ms[0].ID = "scribbled" // a caller's copy: must not reach the cache
	}
	close(done)
	readers.Wait()
	if err := s.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Members(ctx, "g"); !errors.Is(err, greep.ErrNotFound) {
		t.Errorf("Members after DeleteGroup: %v", err)
	}
}

// A bbolt file with no buckets holds nothing (a first Open killed before it made the
// buckets leaves one), so it is taken as a new store rather than refused.
func TestOpenTakesBucketlessFileAsNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "greep.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutRecord(context.Background(), "k", "r", []byte("v")); err != nil {
		t.Fatal(err)
	}
}
