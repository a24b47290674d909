package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// tail keeps the last lines written to it, for error messages about a
// plugin that died.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimSpace(t.part[:i]))
		t.part = t.part[i+1:]
		line = summarize(line)
		if line == "" {
			continue
		}
		if len(line) > 300 {
			line = line[:300] + "…"
		}
		t.lines = append(t.lines, line)
		if len(t.lines) > t.max {
			t.lines = t.lines[1:]
		}
	}
	return len(p), nil
}

// Lines returns the kept lines, oldest first.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if len(t.part) > 0 {
		out = append(out, string(t.part))
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
