package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// tail keeps the last lines a plugin wrote, for error messages about a
// plugin that died. Its lines come from several streams (stderr, and
// stdout and stderr forwarded over gRPC); each writes through its own
// [tail.writer], so that lines of different streams never run together.
type tail struct {
	mu      sync.Mutex
	max     int
	lines   []string
	writers []*tailWriter
}

// tailWriter splits one stream into lines for a tail, passing each
// complete line to also, when set, as well.
type tailWriter struct {
	t    *tail
	part []byte
	also func(line string)
}

// writer returns a new stream into t.
func (t *tail) writer(also func(line string)) *tailWriter {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := &tailWriter{t: t, also: also}
	t.writers = append(t.writers, w)
	return w
}

func (w *tailWriter) Write(p []byte) (int, error) {
	t := w.t
	var done []string
	t.mu.Lock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimSpace(w.part[:i]))
		w.part = w.part[i+1:]
		if line != "" {
			done = append(done, line)
		}
		t.addLocked(line)
	}
	t.mu.Unlock()
	if w.also != nil {
		for _, l := range done {
			w.also(l)
		}
	}
	return len(p), nil
}

func (t *tail) addLocked(line string) {
	line = summarize(line)
	if line == "" {
		return
	}
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[1:]
	}
}

// Lines returns the kept lines, oldest first, then any unfinished line
// of each stream.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	for _, w := range t.writers {
		if len(w.part) > 0 {
			out = append(out, string(w.part))
		}
	}
	return out
}

// summarize shortens a plugin's JSON log line to "level: message (error)"
// and drops debug chatter; other lines (panics, plain prints) are kept.
func summarize(line string) string {
	if line == "" || line[0] != '{' {
		return line
	}
	var rec map[string]any
	if json.Unmarshal([]byte(line), &rec) != nil {
		return line
	}
	level, _ := rec["@level"].(string)
	if level == "debug" || level == "trace" {
		return ""
	}
	msg := fmt.Sprintf("%s: %v", level, rec["@message"])
	if e, ok := rec["error"]; ok {
		msg += fmt.Sprintf(" (%v)", e)
	}
	return msg
}
