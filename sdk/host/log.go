package host

import (
	"context"
	"io"
	"log/slog"

	hclog "github.com/hashicorp/go-hclog"
)

// newPluginLogger gives go-plugin an hclog logger that forwards every
// record (go-plugin's own and the plugin's parsed stderr lines) into hp's
// slog logger, tagged with the plugin's name.
func newPluginLogger(l *slog.Logger, name string) hclog.Logger {
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "plugin", Output: io.Discard, Level: hclog.Trace})
	il.RegisterSink(&slogSink{l: l.With("plugin", name)})
	return il
}

type slogSink struct{ l *slog.Logger }

func (s *slogSink) Accept(_ string, level hclog.Level, msg string, args ...any) {
	var lv slog.Level
	switch level {
	case hclog.Trace, hclog.Debug:
		lv = slog.LevelDebug
	case hclog.Info:
		lv = slog.LevelInfo
	case hclog.Warn:
		lv = slog.LevelWarn
	default:
		lv = slog.LevelError
	}
	if !s.l.Enabled(context.Background(), lv) {
		return
	}
	s.l.Log(context.Background(), lv, msg, args...)
}
