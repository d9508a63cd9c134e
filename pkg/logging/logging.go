// Package logging builds Greep's zap loggers: JSON with the field names Cloud Logging reads
// (severity, message, time) in production, and a readable console form on a terminal.
package logging

import (
	"context"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a logger for production (JSON for Cloud Logging) unless human is set.
func New(human bool, level zapcore.Level) *zap.Logger {
	return NewTo(zapcore.Lock(os.Stderr), human, level)
}

// NewTo is New writing to w: greep local's terminal, shared with its progress line.
func NewTo(w zapcore.WriteSyncer, human bool, level zapcore.Level) *zap.Logger {
	var enc zapcore.Encoder
	if human {
		cfg := zap.NewDevelopmentEncoderConfig()
		cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(cfg)
	} else {
		enc = zapcore.NewJSONEncoder(zapcore.EncoderConfig{
			TimeKey:        "time",
			LevelKey:       "severity",
			NameKey:        "logger",
			CallerKey:      "caller",
			MessageKey:     "message",
			StacktraceKey:  "stack_trace",
			LineEnding:     zapcore.DefaultLineEnding,
			EncodeLevel:    severity,
			EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
			EncodeDuration: zapcore.StringDurationEncoder,
			EncodeCaller:   zapcore.ShortCallerEncoder,
		})
	}
	return zap.New(zapcore.NewCore(enc, w, level), zap.AddCaller())
}

// severity writes zap levels as Cloud Logging's LogSeverity names.
func severity(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	switch l {
	case zapcore.DebugLevel:
		enc.AppendString("DEBUG")
	case zapcore.InfoLevel:
		enc.AppendString("INFO")
	case zapcore.WarnLevel:
		enc.AppendString("WARNING")
	case zapcore.ErrorLevel:
		enc.AppendString("ERROR")
	case zapcore.DPanicLevel, zapcore.PanicLevel:
		enc.AppendString("CRITICAL")
	default:
		enc.AppendString("EMERGENCY")
	}
}

type loggerKey struct{}

// WithLogger stores l in ctx.
func WithLogger(ctx context.Context, l *zap.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// FromContext returns the logger stored in ctx, or a no-op logger.
func FromContext(ctx context.Context) *zap.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*zap.Logger); ok {
		return l
	}
	return zap.NewNop()
}
