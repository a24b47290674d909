package run

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/runread"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// publishRun snapshots the gen source into out.orders and returns the run.
func (f *fixture) publishRun(t *testing.T) *Summary {
	t.Helper()
	s, err := Snapshot(context.Background(), f.env, f.plan(t, KindSnap, Spec{Source: "src.all_types", Target: "out.orders", MaxFileRows: 40}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// copies lists the source runs the runs of out.copy were copied from,
// oldest first.
func (f *fixture) copies(t *testing.T) []string {
	t.Helper()
	st, err := store.NewLocal(f.out)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := runread.Runs(context.Background(), st, "copy")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range runs {
		out = append(out, strings.TrimPrefix(r.Manifest.Source.Object, "orders@"))
		if r.Manifest.Format != "parquet" || r.Manifest.TotalRows != 100 {
			t.Errorf("copy %s: %s, %d rows", r.Manifest.RunID, r.Manifest.Format, r.Manifest.TotalRows)
		}
	}
	return out
}

func (f *fixture) deltaRuns(t *testing.T) (*DeltaSummary, error) {
	t.Helper()
	return Delta(context.Background(), f.env, f.plan(t, KindDelta, Spec{Source: "out.orders", Target: "out.copy", Format: "parquet", CSVHeader: true}))
}

// TestDeltaOfRunsLoadsEachRunOnce: a delta of published runs copies the
// runs newer than the last one copied, each once: a second delta copies
// nothing, a run that fails to copy (a damaged file) stops the delta after
// the runs before it, and the next delta copies it and only it.
func TestDeltaOfRunsLoadsEachRunOnce(t *testing.T) {
	f := newFixture(t, "100")
	var ids []string
	for range 2 {
		ids = append(ids, f.publishRun(t).RunID)
	}
	s, err := f.deltaRuns(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 2 || s.Rows != 200 || s.HighWaterMark != ids[1] || !slices.Equal(f.copies(t), ids) {
		t.Fatalf("first delta: %+v, copies %v", s, f.copies(t))
	}
	if s, err = f.deltaRuns(t); err != nil || len(s.Runs) != 0 || s.HighWaterMark != ids[1] {
		t.Fatalf("second delta: %+v %v", s, err)
	}
	for range 2 {
		ids = append(ids, f.publishRun(t).RunID)
	}
	// Damage a file of the last run: the delta copies the run before it,
	// then stops, its state on that run.
	victim := filepath.Join(f.out, "orders", ids[3], "part-00002.csv.gz")
	good, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(good)
	bad[len(bad)/2] ^= 0x55
	if err := os.WriteFile(victim, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = f.deltaRuns(t)
	if !errors.Is(err, runread.ErrDamaged) || !strings.Contains(err.Error(), victim) || !strings.Contains(err.Error(), "state stays at "+ids[2]) {
		t.Fatalf("damaged run: %v", err)
	}
	if got := f.copies(t); !slices.Equal(got, ids[:3]) {
		t.Fatalf("copies after the failure: %v, want %v", got, ids[:3])
	}
	if err := os.WriteFile(victim, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err = f.deltaRuns(t); err != nil || len(s.Runs) != 1 || s.HighWaterMark != ids[3] {
		t.Fatalf("delta after the repair: %+v %v", s, err)
	}
	if got := f.copies(t); !slices.Equal(got, ids) {
		t.Fatalf("copies: %v, want %v", got, ids)
	}
	// The state is the target's, and records the last run copied.
	data, err := os.ReadFile(filepath.Join(f.out, "copy", delta.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	st, err := delta.ParseState(data)
	if err != nil || st.LastRunID != ids[3] || st.Driver != runsDriver || st.Lock != nil {
		t.Fatalf("state: %+v %v", st, err)
	}
}

// TestDeltaOfRunsResolvesARunInDoubt: a delta that died after publishing a
// copy but before recording it leaves its lock naming the run; the next
// delta finds the copy among the target's runs and does not copy it again.
func TestDeltaOfRunsResolvesARunInDoubt(t *testing.T) {
	f := newFixture(t, "100")
	first := f.publishRun(t).RunID
	if _, err := f.deltaRuns(t); err != nil {
		t.Fatal(err)
	}
	second := f.publishRun(t).RunID
	if _, err := f.deltaRuns(t); err != nil {
		t.Fatal(err)
	}
	// Roll the state back to the first run, locked by a dead process
	// loading the second.
	path := filepath.Join(f.out, "copy", delta.StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := delta.ParseState(data)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := delta.ThisHost()
	st.LastRunID = first
	st.Lock = &delta.Lock{RunID: second, Host: host, PID: deadPID(t), Since: f.env.Now(), Expires: f.env.Now().Add(lockTTL)}
	if err := os.WriteFile(path, st.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := f.deltaRuns(t)
	if err != nil || len(s.Runs) != 0 {
		t.Fatalf("delta after the run in doubt: %+v %v", s, err)
	}
	if got := f.copies(t); !slices.Equal(got, []string{first, second}) {
		t.Fatalf("copies: %v", got)
	}
	data, _ = os.ReadFile(path)
	if st, err = delta.ParseState(data); err != nil || st.LastRunID != second {
		t.Fatalf("state after the run in doubt: %+v %v", st, err)
	}
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}
