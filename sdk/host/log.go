package host

import (
	"context"
	"io"
	"log/slog"
	"slices"

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

// Accept forwards one record. go-plugin's own records (logger name
// "plugin", e.g. "plugin process exited") are demoted to debug: hp reports
// plugin failures itself, with more context. Records the plugin logged
// (name "plugin.<binary>") keep their level.
func (s *slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	var lv slog.Level
	switch {
	case name == "plugin":
		lv = slog.LevelDebug
	case level == hclog.Trace || level == hclog.Debug:
		lv = slog.LevelDebug
	case level == hclog.Info:
		lv = slog.LevelInfo
	case level == hclog.Warn:
		lv = slog.LevelWarn
	default:
		lv = slog.LevelError
	}
	if !s.l.Enabled(context.Background(), lv) {
		return
	}
	s.l.Log(context.Background(), lv, msg, dropKeys(args, "plugin", "timestamp")...)
}

// dropKeys removes key/value pairs that would clash with hp's own
// attributes (go-plugin adds the binary path as "plugin").
func dropKeys(args []any, keys ...string) []any {
	out := args[:0:0]
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && slices.Contains(keys, k) {
			continue
		}
		out = append(out, args[i], args[i+1])
	}
	return out
}
