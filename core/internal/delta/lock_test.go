package delta

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

var testSrc = Source{Connection: "pg", Object: "public.orders"}

func localStore(t *testing.T) *store.Local {
	t.Helper()
	st, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// goneProcess returns the pid of a process that has exited and been reaped.
func goneProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// putState writes a state document as another run would have left it.
func putState(t *testing.T, st store.Versioned, key string, s *State) {
	t.Helper()
	ctx := context.Background()
	_, v, err := st.GetVersion(ctx, key)
	if err != nil && !errors.Is(err, store.ErrNotExist) {
		t.Fatal(err)
	}
	if err := st.PutIfVersion(ctx, key, s.Marshal(), v); err != nil {
		t.Fatal(err)
	}
}

func readState(t *testing.T, st store.Versioned, key string) *State {
	t.Helper()
	data, _, err := st.GetVersion(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseState(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A first run whose lock lapsed must not remove the state that the run
// which took over has advanced meanwhile.
func TestAFailedFirstRunRemovesOnlyItsOwnState(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	slow, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "run1", time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "run2", time.Hour, now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	high := mustParse(t, "int64", "42")
	if err := other.Advance(ctx, "updated_at", "int64", high, "run2", "m2", now); err != nil {
		t.Fatal(err)
	}
	if err := other.Release(); err != nil {
		t.Fatal(err)
	}
	if err := slow.Release(); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("release of the lapsed first run: %v", err)
	}
	if s := readState(t, st, "x/_state.json"); s.HighWaterMark != "42" || s.LastRunID != "run2" {
		t.Fatalf("state after the lapsed run released: %+v", s)
	}
	// Alone, a failed first run leaves no state behind.
	lone, err := Acquire(ctx, st, "y/_state.json", "u", "out.x", testSrc, "updated_at", "run3", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := lone.Release(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.GetVersion(ctx, "y/_state.json"); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("state of a failed first run: %v", err)
	}
}

func TestLockOfAProcessThatIsGone(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	now := time.Now().UTC()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	dead := goneProcess(t)
	crashed := &Lock{RunID: "crashed", Host: host, PID: dead, Since: now, Expires: now.Add(6 * time.Hour)}
	putState(t, st, "x/_state.json", &State{Source: &testSrc, Driver: "updated_at", Lock: crashed})
	h, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "run2", time.Hour, now)
	if err != nil {
		t.Fatalf("lock of a dead pid on this host: %v", err)
	}
	if h.TookOver == nil || h.TookOver.RunID != "crashed" {
		t.Fatalf("took over %+v", h.TookOver)
	}
	if l := readState(t, st, "x/_state.json").Lock; l.RunID != "run2" || l.PID != os.Getpid() {
		t.Fatalf("lock after take-over: %+v", l)
	}
	_ = h.Release()

	// The same pid on another host proves nothing: refused, and the
	// message names the command that frees it.
	elsewhere := &Lock{RunID: "remote", Host: host + "-elsewhere", PID: dead, Since: now, Expires: now.Add(6 * time.Hour)}
	putState(t, st, "x/_state.json", &State{Source: &testSrc, Driver: "updated_at", Lock: elsewhere})
	_, err = Acquire(ctx, st, "x/_state.json", "file:///x/_state.json", "out.x", testSrc, "updated_at", "run3", time.Hour, now)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "hp state unlock --force out.x`") {
		t.Fatalf("lock of another host: %v", err)
	}

	// A live holder on this host is waited for, not unlocked.
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	running := &Lock{RunID: "running", Host: host, PID: sleeper.Process.Pid, Since: now, Expires: now.Add(6 * time.Hour)}
	putState(t, st, "x/_state.json", &State{Source: &testSrc, Driver: "updated_at", Lock: running})
	_, err = Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "run4", time.Hour, now)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "still running") || strings.Contains(err.Error(), "unlock") {
		t.Fatalf("lock of a live pid: %v", err)
	}
}

func TestLockExpiresWithTheDeadline(t *testing.T) {
	st := localStore(t)
	now := time.Now().UTC()
	deadline := now.Add(90 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "lambda", 6*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	l := readState(t, st, "x/_state.json").Lock
	if !l.Expires.Equal(deadline.UTC().Truncate(time.Nanosecond)) && !l.Expires.Equal(deadline.UTC()) {
		t.Fatalf("lock expires %s, the deadline is %s", l.Expires, deadline)
	}
	// Another host's run is refused before the deadline and takes over
	// after it.
	l.Host += "-elsewhere"
	putState(t, st, "x/_state.json", &State{Source: &testSrc, Driver: "updated_at", Lock: l})
	if _, err := Acquire(context.Background(), st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "next", time.Hour, deadline.Add(-time.Second)); !errors.Is(err, ErrLocked) {
		t.Fatalf("before the deadline: %v", err)
	}
	if _, err := Acquire(context.Background(), st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "next", time.Hour, deadline.Add(time.Second)); err != nil {
		t.Fatalf("after the deadline: %v", err)
	}
}

func TestLockIsHeldByThePublishedRun(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	now := time.Now().UTC()
	h, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "run-a", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Begin(ctx, "run-b"); err != nil {
		t.Fatal(err)
	}
	if got := readState(t, st, "x/_state.json").Lock.RunID; got != "run-b" || h.RunID() != "run-b" {
		t.Fatalf("lock held by %q while run-b is published", got)
	}
	if err := h.Advance(ctx, "updated_at", "int64", mustParse(t, "int64", "1"), "run-c", "m", now); err == nil {
		t.Fatal("advanced for a run that does not hold the lock")
	}
	if err := h.Advance(ctx, "updated_at", "int64", mustParse(t, "int64", "1"), "run-b", "m", now); err != nil {
		t.Fatal(err)
	}
	if s := readState(t, st, "x/_state.json"); s.LastRunID != s.Lock.RunID {
		t.Fatalf("last run %q, lock %q", s.LastRunID, s.Lock.RunID)
	}
}

func TestStateIsBoundToItsSource(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	now := time.Now().UTC()
	h, err := Acquire(ctx, st, "x/_state.json", "file:///x/_state.json", "out.x", testSrc, "updated_at", "r1", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Advance(ctx, "updated_at", "int64", mustParse(t, "int64", "7"), "r1", "m", now); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if s := readState(t, st, "x/_state.json"); s.Source == nil || *s.Source != testSrc {
		t.Fatalf("recorded source %+v", s.Source)
	}
	for _, other := range []Source{{Connection: "pg", Object: "public.customers"}, {Connection: "my", Object: "public.orders"}} {
		_, err := Acquire(ctx, st, "x/_state.json", "file:///x/_state.json", "out.x", other, "updated_at", "r2", time.Hour, now)
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "tracks pg.public.orders, not "+other.String()) ||
			!strings.Contains(err.Error(), "hp state reset out.x --yes") {
			t.Fatalf("delta of %s into a state of %s: %v", other.String(), testSrc.String(), err)
		}
	}
	// A state of an older hp records no source: it is adopted.
	putState(t, st, "y/_state.json", &State{Driver: "updated_at", DriverType: "int64", HighWaterMark: "3"})
	h, err = Acquire(ctx, st, "y/_state.json", "u", "out.x", testSrc, "updated_at", "r3", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if s := readState(t, st, "y/_state.json"); s.Source == nil || *s.Source != testSrc {
		t.Fatalf("adopted source %+v", s.Source)
	}
	_ = h.Release()
}

// TestLambdaChecksNoPid: in AWS Lambda, sandboxes may share a hostname and
// pids, so a live lock is never taken over because its pid is absent here;
// it lapses with its deadline instead.
func TestLambdaChecksNoPid(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	now := time.Now()
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no hostname")
	}
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "hp-test")
	t.Setenv("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/06/[$LATEST]abc")
	// Another sandbox's live lock, as hp before this change wrote it (the
	// shared hostname) and as it writes it now (the sandbox).
	for _, holder := range []string{host, "aws-lambda:hp-test/2026/12/06/[$LATEST]other"} {
		putState(t, st, "x/_state.json", &State{Driver: "id", DriverType: "int64", Source: &testSrc,
			Lock: &Lock{RunID: "other-sandbox", Host: holder, PID: goneProcess(t), Since: now, Expires: now.Add(time.Minute)}})
		_, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "id", "r1", time.Hour, now)
		if !errors.Is(err, ErrLocked) || strings.Contains(err.Error(), "still running on this host") {
			t.Fatalf("a live lock of %s was taken over in Lambda: %v", holder, err)
		}
	}
	// Past its deadline the lock lapses; the new one names this sandbox.
	h, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "id", "r1", time.Hour, now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.State.Lock.Host; got != "aws-lambda:hp-test/2026/12/06/[$LATEST]abc" {
		t.Fatalf("the lock names host %q", got)
	}
}
