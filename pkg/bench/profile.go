package bench

import (
	"os"
	"runtime/pprof"
)

// startProfile starts a CPU profile written to file ("" profiles nothing) and returns
// what stops it; stopping twice is harmless, so a scenario can stop at the end of its
// window and defer the stop for its early returns.
func startProfile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	stopped := false
	return func() {
		if !stopped {
			stopped = true
			pprof.StopCPUProfile()
			f.Close()
		}
	}, nil
}
