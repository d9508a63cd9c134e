package local

import (
	"runtime/debug"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func memoryLimit() int64 { return debug.SetMemoryLimit(-1) }

// Apps started side by side share the first one's settings, and the process gets Go's
// own back only when the last one closes.
func TestGCTuningSharedAndRestored(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	percent, limit := gcPercent(), memoryLimit()
	first := TuneGC(Config{GCPercent: 300, MemoryLimitMiB: 2048})
	second := TuneGC(Config{GCPercent: 500, MemoryLimitMiB: 4096})
	if p, l := gcPercent(), memoryLimit(); p != 300 || l != 2048<<20 {
		t.Fatalf("two Apps: GOGC %d, limit %d; want the first's 300 and %d", p, l, 2048<<20)
	}
	first()
	first() // a second call does nothing
	if p, l := gcPercent(), memoryLimit(); p != 300 || l != 2048<<20 {
		t.Errorf("one App still running: GOGC %d, limit %d; want 300 and %d", p, l, 2048<<20)
	}
	second()
	if p, l := gcPercent(), memoryLimit(); p != percent || l != limit {
		t.Errorf("every App closed: GOGC %d, limit %d; want Go's own back (%d, %d)", p, l, percent, limit)
	}
}

// GOGC and GOMEMLIMIT set by the operator win; a zero setting leaves Go's own.
func TestGCTuningLeavesWhatTheEnvironmentSet(t *testing.T) {
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "")
	percent, limit := gcPercent(), memoryLimit()
	restore := TuneGC(Config{GCPercent: 300})
	if p, l := gcPercent(), memoryLimit(); p != percent || l != limit {
		t.Errorf("GOGC set, no limit asked: GOGC %d, limit %d; want both unchanged (%d, %d)", p, l, percent, limit)
	}
	restore()
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "512MiB")
	restore = TuneGC(Config{GCPercent: 300, MemoryLimitMiB: 2048})
	if p, l := gcPercent(), memoryLimit(); p != 300 || l != limit {
		t.Errorf("GOMEMLIMIT set: GOGC %d, limit %d; want 300 and the limit unchanged (%d)", p, l, limit)
	}
	restore()
}

func TestConfigRefusesNegativeGCSettings(t *testing.T) {
	for _, c := range []Config{{GCPercent: -1}, {MemoryLimitMiB: -1}} {
		cfg := Defaults()
		cfg.GCPercent, cfg.MemoryLimitMiB = c.GCPercent, c.MemoryLimitMiB
		if err := cfg.Validate(); err == nil {
			t.Errorf("GOGC %d, limit %d MiB: accepted", c.GCPercent, c.MemoryLimitMiB)
		}
	}
	cfg := Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
