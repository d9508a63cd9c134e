package bolt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// checkExisting reports whether path exists, refusing what bbolt would silently take as a
// new database: an empty file. A store file emptied by an operator's mistake or a broken
// copy holds the history, findings, queued tasks and page-token key; starting afresh over
// it would lose them without a word, so a new store is made only where no file exists.
// It also refuses files too short for their pages (checkFileSize).
func checkExisting(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return true, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	if fi.Size() == 0 {
		return true, errors.New("the file is empty (0 bytes), not a greep store; Greep makes a new store only where no file exists: restore the file, or remove it to start afresh with a full sync")
	}
	return true, checkFileSize(path)
}

// checkLayout refuses a bbolt database of another program: one whose top-level buckets
// include none of Greep's. A database with no buckets at all holds nothing and is taken
// as new (a first Open that died before creating the buckets leaves one).
func (s *Store) checkLayout(path string) error {
	var foreign []string
	ours := false
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			if slices.ContainsFunc(allBuckets, func(b []byte) bool { return string(b) == string(name) }) {
				ours = true
			} else if len(foreign) < 5 {
				foreign = append(foreign, fmt.Sprintf("%q", name))
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	if len(foreign) > 0 && !ours {
		return fmt.Errorf("open store %s: a bbolt database of another program, not a greep store (its buckets: %s); Greep will not write into it", path, strings.Join(foreign, ", "))
	}
	return nil
}
