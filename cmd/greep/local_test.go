package main

import (
	"io"
	"testing"

	"go.uber.org/zap/zapcore"
)

// Go's profiles are off unless --pprof asks for them.
func TestLocalPprofFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--pprof"}, true}} {
		cfg, _, err := localConfig(c.args, io.Discard, zapcore.AddSync(io.Discard))
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if cfg.Pprof != c.want {
			t.Errorf("%q: Pprof %v, want %v", c.args, cfg.Pprof, c.want)
		}
	}
}
