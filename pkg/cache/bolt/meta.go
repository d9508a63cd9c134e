package bolt

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's file header, as bbolt v1 lays it out: two meta pages, each a 16-byte page
// header then the meta (little-endian on every platform Greep runs on).
const (
	boltMagic      = 0xED0CDAED
	pageHeaderSize = 16
	metaSize       = 64 // magic … checksum
)

// checkFileSize refuses a file too short for the pages its newest valid meta page
// declares. bbolt maps the file and reads those pages while opening it; a page past the
// end of the file faults, and Go cannot recover a fault in mapped memory, so the check
// must come before bbolt.Open. Files with no valid meta page are left to bbolt, which
// reports them.
func checkFileSize(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var best *boltMeta
	for off := int64(0); ; {
		m, ok := readMeta(f, off)
		if ok && (best == nil || m.txid > best.txid) {
			best = &m
		}
		if off != 0 || !ok {
			break
		}
		off = int64(m.pageSize) // the second meta page follows the first
	}
	if best == nil {
		return nil
	}
	need := int64(best.pgid) * int64(best.pageSize)
	if best.freelist >= best.pgid || need > fi.Size() || need < 0 {
		return fmt.Errorf("the file is truncated or corrupt (%d bytes; its pages need %d)", fi.Size(), need)
	}
	return nil
}

type boltMeta struct {
	pageSize       uint32
	freelist, pgid uint64
	txid           uint64
}

func readMeta(r io.ReaderAt, off int64) (boltMeta, bool) {
	var b [pageHeaderSize + metaSize]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return boltMeta{}, false
	}
	m := b[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:56])
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint64(m[56:]) != h.Sum64() {
		return boltMeta{}, false
	}
	meta := boltMeta{pageSize: le.Uint32(m[8:]), freelist: le.Uint64(m[32:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	return meta, meta.pageSize >= 512
}
