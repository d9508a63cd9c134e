package local_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/greephq/greep/pkg/local"
)

// TestTerminalWritesLogsAboveTheProgress: a log line clears the progress line, is
// written on its own line, and the progress is redrawn below it.
func TestTerminalWritesLogsAboveTheProgress(t *testing.T) {
	var b strings.Builder
	term := local.NewTerminal(&b)
	term.Progress("[##..] 2/4 groups")
	if _, err := term.Write([]byte("INFO something happened\n")); err != nil {
		t.Fatal(err)
	}
	term.Write([]byte("WARN no newline"))
	term.Progress("[####] 4/4 groups")
	term.EndProgress()
	term.Write([]byte("after\n"))
	want := "\r\x1b[K[##..] 2/4 groups" +
		"\r\x1b[KINFO something happened\n[##..] 2/4 groups" +
		"\r\x1b[KWARN no newline\n[##..] 2/4 groups" +
		"\r\x1b[K[####] 4/4 groups\n" +
		"after\n"
	if b.String() != want {
		t.Errorf("terminal output\n%q\nwant\n%q", b.String(), want)
	}
}

// TestTerminalLinesStayWhole: log lines and progress redraws from many goroutines never
// interleave inside a line.
func TestTerminalLinesStayWhole(t *testing.T) {
	var b strings.Builder
	term := local.NewTerminal(&b)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); term.Write([]byte("LOG line\n")) }()
		go func() { defer wg.Done(); term.Progress("PROGRESS") }()
	}
	wg.Wait()
	for _, part := range strings.Split(strings.ReplaceAll(b.String(), "\n", "\r\x1b[K"), "\r\x1b[K") {
		if part != "" && part != "LOG line" && part != "PROGRESS" {
			t.Errorf("a line was cut or glued: %q", part)
		}
	}
}
