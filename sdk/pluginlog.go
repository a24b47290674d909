package sdk

import (
	"io"
	"log/slog"
	"strings"
)

// newPluginLogHandler logs JSON lines in the shape go-plugin parses on the
// host side (@level, @message, @timestamp), so a plugin's log records keep
// their level and attributes when hp forwards them into its own log.
// TestStatsAndPluginLogs in testkit/e2e checks the round trip through go-plugin.
func newPluginLogHandler(w io.Writer) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				// go-plugin parses exactly this layout (microseconds); a
				// record it cannot parse would reach hp as one raw
				// debug line, its level and attributes lost.
				a = slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				a.Key = "@level"
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				a.Key = "@message"
			}
			return a
		},
	})
}
