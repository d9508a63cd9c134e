package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// greep local over an emptied greep.db stops with the file named instead of starting a
// new store (and a full sync) over it; a data directory without the file gets a new one.
func TestOpenStoreRefusesAnEmptyFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "greep.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.DataDir = dir
	s, err := openStore(context.Background(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("an empty greep.db was opened as a new store")
	}
	if !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("error %q does not name the file and say it is empty", err)
	}
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Errorf("the refused file was touched: %v, %v", fi, err)
	}

	cfg.DataDir = filepath.Join(dir, "fresh")
	s, err = openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
