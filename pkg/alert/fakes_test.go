package alert_test

import (
	"context"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type countingPoster struct {
	mu  sync.Mutex
	n   int
	err error
}

func (p *countingPoster) Post(context.Context, string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	return p.err
}

func (p *countingPoster) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// errorLog collects a logger's entries.
type errorLog struct {
	once sync.Once
	logs *observer.ObservedLogs
	core zapcore.Core
}

func (e *errorLog) logger() *zap.Logger {
	e.once.Do(func() { e.core, e.logs = observer.New(zapcore.DebugLevel) })
	return zap.New(e.core)
}

func (e *errorLog) has(msg string) bool {
	for _, l := range e.logs.All() {
		if strings.Contains(l.Message, msg) {
			return true
		}
	}
	return false
}
