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

func localStore(t *testing.T) *store.Local {
	t.Helper()
	st, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// goneProcess returns the pid of a process that has exited.
func goneProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// lockedBy writes a state whose live lock names host and pid.
func lockedBy(t *testing.T, st *store.Local, key, host string, pid int, now time.Time) {
	t.Helper()
	s := State{Driver: "id", DriverType: "int64", HighWaterMark: "7",
		Lock: &Lock{RunID: "crashed", Host: host, PID: pid, Since: now.Add(-time.Minute), Expires: now.Add(time.Hour)}}
	if err := st.PutIfVersion(context.Background(), key, s.Marshal(), ""); err != nil {
		t.Fatal(err)
	}
}

// TestLockOfAProcessThatIsGone: a live lock of a process on this host
// that no longer exists is taken over; one of a running process, or of
// another host, is not, and the error says what frees it.
func TestLockOfAProcessThatIsGone(t *testing.T) {
	if _, checkable := ThisHost(); !checkable {
		t.Skip("no hostname: pids cannot be checked")
	}
	ctx := context.Background()
	st := localStore(t)
	now := time.Now()
	host, _ := ThisHost()
	req := Request{Driver: "id", RunID: "next", TTL: time.Hour, Now: now, Target: "out.x"}

	lockedBy(t, st, "gone/_state.json", host, goneProcess(t), now)
	h, err := Acquire(ctx, st, "gone/_state.json", "u", req)
	if err != nil {
		t.Fatalf("the lock of a process that is gone was not taken over: %v", err)
	}
	if h.TookOver == nil || h.TookOver.RunID != "crashed" || h.RunID() != "next" || h.State.HighWaterMark != "7" {
		t.Fatalf("took over %+v, now held by %q, state %+v", h.TookOver, h.RunID(), h.State)
	}

	live := exec.Command("sleep", "30")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.Process.Kill(); _ = live.Wait() }()
	lockedBy(t, st, "live/_state.json", host, live.Process.Pid, now)
	_, err = Acquire(ctx, st, "live/_state.json", "u", req)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "still running") || strings.Contains(err.Error(), "hp state unlock") {
		t.Fatalf("the lock of a running process: %v", err)
	}

	lockedBy(t, st, "far/_state.json", "another-host.example", goneProcess(t), now)
	_, err = Acquire(ctx, st, "far/_state.json", "u", req)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "hp state unlock out.x --force") {
		t.Fatalf("the lock of another host: %v", err)
	}
}

// TestLockExpiresWithTheDeadline: a run under a deadline (Lambda's) holds
// its lock until that deadline, not for the whole TTL.
func TestLockExpiresWithTheDeadline(t *testing.T) {
	st := localStore(t)
	now := time.Now()
	deadline := now.Add(15 * time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	h, err := Acquire(ctx, st, "x/_state.json", "u", Request{Driver: "id", RunID: "r1", TTL: 6 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.State.Lock.Expires; !got.Equal(deadline.UTC()) {
		t.Fatalf("lock expires at %s, want the deadline %s", got, deadline.UTC())
	}
	// Past the deadline the next run takes it over.
	if _, err := Acquire(context.Background(), st, "x/_state.json", "u", Request{Driver: "id", RunID: "r2", TTL: 6 * time.Hour, Now: deadline.Add(time.Second)}); err != nil {
		t.Fatalf("after the deadline: %v", err)
	}
}

// TestTheLockNamesThePublishedRun: the state's last run is the run the
// lock named, also for later chunks.
func TestTheLockNamesThePublishedRun(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	now := time.Now()
	h, err := Acquire(ctx, st, "x/_state.json", "u", Request{Driver: "id", RunID: "r1", TTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Advance(ctx, "id", "int64", sdk.Int64Value(5), "m1", now); err != nil {
		t.Fatal(err)
	}
	if h.State.LastRunID != "r1" {
		t.Fatalf("last run %q, the lock was r1", h.State.LastRunID)
	}
	if err := h.Begin(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	data, _, err := st.GetVersion(ctx, "x/_state.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseState(data)
	if err != nil || s.Lock == nil || s.Lock.RunID != "r2" {
		t.Fatalf("the stored lock during the second chunk: %+v (%v)", s, err)
	}
	if err := h.Advance(ctx, "id", "int64", sdk.Int64Value(9), "m2", now); err != nil || h.State.LastRunID != "r2" {
		t.Fatalf("second chunk: last run %q (%v)", h.State.LastRunID, err)
	}
	_ = h.Release()
}

// TestStateIsBoundToItsSource: the first run records its source; a run
// of another source into the same state is refused with how to reset.
func TestStateIsBoundToItsSource(t *testing.T) {
	ctx := context.Background()
	st := localStore(t)
	now := time.Now()
	orders := &Source{Connection: "pg", Object: "public.orders"}
	h, err := Acquire(ctx, st, "x/_state.json", "u", Request{Driver: "id", Source: orders, RunID: "r1", TTL: time.Hour, Now: now, Target: "out.x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Advance(ctx, "id", "int64", sdk.Int64Value(5), "m1", now); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	data, _, _ := st.GetVersion(ctx, "x/_state.json")
	if s, err := ParseState(data); err != nil || s.Source == nil || *s.Source != *orders {
		t.Fatalf("the state records source %+v (%v)", s, err)
	}
	other := &Source{Connection: "pg", Object: "public.customers"}
	_, err = Acquire(ctx, st, "x/_state.json", "u", Request{Driver: "id", Source: other, RunID: "r2", TTL: time.Hour, Now: now, Target: "out.x"})
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "pg.public.orders") || !strings.Contains(err.Error(), "hp state reset out.x --yes") {
		t.Fatalf("another source: %v", err)
	}
	h, err = Acquire(ctx, st, "x/_state.json", "u", Request{Driver: "id", Source: orders, RunID: "r3", TTL: time.Hour, Now: now, Target: "out.x"})
	if err != nil {
		t.Fatalf("the same source: %v", err)
	}
	_ = h.Release()
}
