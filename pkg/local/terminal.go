package local

import (
	"fmt"
	"io"
	"sync"
)

// Terminal is the one writer of a terminal shared by the progress line and the log: a log
// line clears the progress line, is written above it, and the progress line is redrawn
// below, so neither is glued onto the other. Give it to the logger (it is a
// zapcore.WriteSyncer) and to Run as out.
type Terminal struct {
	mu   sync.Mutex
	out  io.Writer
	line string // the progress line on screen, "" if none
}

// NewTerminal returns a Terminal writing to out (a terminal).
func NewTerminal(out io.Writer) *Terminal { return &Terminal{out: out} }

// clear is a carriage return and ANSI "erase to the end of the line".
const clear = "\r\x1b[K"

// Write writes log output (whole lines, as zap writes them) above the progress line.
func (t *Terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.line != "" {
		if _, err := io.WriteString(t.out, clear); err != nil {
			return 0, err
		}
	}
	n, err := t.out.Write(p)
	if err != nil {
		return n, err
	}
	if len(p) > 0 && p[len(p)-1] != '\n' {
		// A line left open would be overwritten by the redraw: close it.
		if _, err := io.WriteString(t.out, "\n"); err != nil {
			return n, err
		}
	}
	if t.line != "" {
		_, err = io.WriteString(t.out, t.line)
	}
	return n, err
}

// Progress replaces the progress line.
func (t *Terminal) Progress(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprint(t.out, clear+line)
	t.line = line
}

// EndProgress leaves the progress line on screen and moves below it, so what follows
// starts on a line of its own.
func (t *Terminal) EndProgress() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.line != "" {
		fmt.Fprintln(t.out)
		t.line = ""
	}
}

// Sync has nothing to flush: every write goes straight to out.
func (t *Terminal) Sync() error { return nil }
