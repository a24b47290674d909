package host

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestExitReportsLastOutput: a plugin that writes a last line and exits
// at once is reported with that line, whether it went through the SDK's
// log (the process's stderr) or through os.Stderr (which go-plugin
// carries over gRPC after the handshake). The exit races the reading of
// both, so the case is repeated.
func TestExitReportsLastOutput(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "exiter")
	const runs = 20
	missing := map[string]int{}
	for range runs {
		h := New([]Dir{{Path: dir}}, DiscoverOptions{}, slog.New(slog.DiscardHandler))
		inst, err := h.ByName(context.Background(), "exiter")
		if err != nil {
			h.Close()
			t.Fatal(err)
		}
		_, err = inst.Check(context.Background(), sdk.Connection{DSN: "endless://"})
		h.Close()
		var exit *ExitError
		if !errors.As(err, &exit) || !strings.Contains(err.Error(), "exit status 3") {
			t.Fatalf("Check of a plugin that exits: %v, want an ExitError with exit status 3", err)
		}
		for _, line := range []string{"exiter: logged before exiting", "exiter: last words on stderr"} {
			if !strings.Contains(err.Error(), line) {
				missing[line]++
			}
		}
	}
	for line, n := range missing {
		t.Errorf("%d of %d crash reports lack the plugin's last line %q", n, runs, line)
	}
}

// TestStdoutBeforeHandshake: a plugin that prints before the handshake is
// refused with that cause, naming the plugin and the line, not with
// go-plugin's guess at a wrong architecture.
func TestStdoutBeforeHandshake(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "early")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, slog.New(slog.DiscardHandler))
	defer h.Close()
	_, err := h.ByName(context.Background(), "early")
	if err == nil {
		t.Fatal("a plugin that printed before its handshake was started")
	}
	for _, want := range []string{`plugin "early"`, "wrote to stdout before the handshake", "early: hello before the handshake"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "architecture") {
		t.Errorf("error %q blames the architecture", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStdoutAfterHandshakeWarns: what a running plugin prints to stdout
// is not dropped but logged as a warning naming the plugin.
func TestStdoutAfterHandshakeWarns(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "chatty")
	var logs syncBuffer
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, slog.New(slog.NewTextHandler(&logs, nil)))
	defer h.Close()
	inst, err := h.ByName(context.Background(), "chatty")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Check(context.Background(), sdk.Connection{DSN: "endless://"}); err != nil {
		t.Fatal(err)
	}
	// The line travels over go-plugin's stdio stream, after the call.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "a stray line on stdout") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var warning string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "a stray line on stdout") {
			warning = l
		}
	}
	if !strings.Contains(warning, "level=WARN") || !strings.Contains(warning, "plugin=chatty") || !strings.Contains(warning, "stdout") {
		t.Fatalf("no warning naming the plugin for its stdout; log:\n%s", logs.String())
	}
}

// TestInfoClaimingCapabilitiesRefused: the SDK fills in Info.Capabilities
// and Info.ProtocolVersion; a plugin whose connector sets them does not
// start, and says why.
func TestInfoClaimingCapabilitiesRefused(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "claims")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, slog.New(slog.DiscardHandler))
	defer h.Close()
	_, err := h.ByName(context.Background(), "claims")
	if err == nil || !strings.Contains(err.Error(), `plugin "claims"`) || !strings.Contains(err.Error(), "sets Info.Capabilities") {
		t.Fatalf("starting a plugin whose Info sets Capabilities: %v", err)
	}
}
