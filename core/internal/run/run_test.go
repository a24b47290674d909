package run

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/engine"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

var (
	genOnce sync.Once
	genDir  string
	genErr  error
)

// genPlugins builds the gen connector once: the run layer is tested
// against a real plugin process, as hp runs it.
func genPlugins(t *testing.T) string {
	t.Helper()
	genOnce.Do(func() {
		genDir, genErr = os.MkdirTemp("", "hp-run-test-")
		if genErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(genDir, "hp-plugin-gen"), "github.com/halfpipe-io/halfpipe/plugins/gen").CombinedOutput()
		if err != nil {
			genErr = errors.New(string(out))
		}
	})
	if genErr != nil {
		t.Fatalf("building the gen plugin: %v", genErr)
	}
	return genDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if genDir != "" {
		os.RemoveAll(genDir)
	}
	os.Exit(code)
}

// fixture is an Env with the gen plugin and connections src (gen, rows
// rows) and out (a local directory).
type fixture struct {
	env   Env
	conns config.Store
	out   string
}

func newFixture(t *testing.T, rows string) *fixture {
	t.Helper()
	dir := genPlugins(t)
	h := host.New([]host.Dir{{Path: dir, Origin: "test"}}, host.DiscoverOptions{}, slog.New(slog.DiscardHandler))
	t.Cleanup(h.Close)
	f := &fixture{out: t.TempDir()}
	vars := map[string]string{"HP_SRC_DSN": "gen://?rows=" + rows, "HP_OUT_DSN": f.out, "HP_CONFIG_DIR": t.TempDir()}
	f.conns = config.Store{Path: filepath.Join(vars["HP_CONFIG_DIR"], "connections.yaml"), LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	f.env = Env{Host: func() *host.Host { return h }, Logger: slog.New(slog.DiscardHandler), Version: "test", Now: time.Now}
	return f
}

// withDefaults gives s the flags' defaults where it has none.
func withDefaults(s Spec) Spec {
	if s.Format == "" {
		s.Format = "csv"
	}
	if s.CSVDelimiter == "" {
		s.CSVDelimiter = ","
	}
	if s.MaxFileBytes == "" {
		s.MaxFileBytes = "0"
	}
	if s.Layout == "" {
		s.Layout = "default"
	}
	if s.RowGroupRows == 0 {
		s.RowGroupRows = DefaultRowGroupRows
	}
	if !s.CSVHeader && s.Format == "csv" {
		s.CSVHeader = true
	}
	return s
}

func (f *fixture) plan(t *testing.T, kind Kind, s Spec) *Plan {
	t.Helper()
	p, err := NewPlan(kind, withDefaults(s), &f.conns, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// manifests reads every manifest under the output directory.
func (f *fixture) manifests(t *testing.T) []*manifest.Manifest {
	t.Helper()
	var out []*manifest.Manifest
	err := filepath.Walk(f.out, func(path string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(path, "manifest.json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		m, err := manifest.Parse(b)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSnapshotPublishesFilesAndManifest(t *testing.T) {
	f := newFixture(t, "2500")
	s, err := Snapshot(context.Background(), f.env, f.plan(t, KindSnap, Spec{Source: "src.narrow", Target: "out.x/orders", MaxFileRows: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Rows != 2500 || s.Files != 3 || s.ManifestURL == "" || s.Source != "src.narrow" || s.Target != "out.x/orders" {
		t.Fatalf("summary %+v", s)
	}
	ms := f.manifests(t)
	if len(ms) != 1 || ms[0].TotalRows != 2500 || len(ms[0].Files) != 3 || ms[0].RunID != s.RunID || ms[0].Source.Object != "narrow" {
		t.Fatalf("manifests %+v", ms)
	}
}

// A cancelled snapshot publishes nothing: no manifest, no files left.
func TestSnapshotCancelledPublishesNothing(t *testing.T) {
	f := newFixture(t, "5000000")
	ctx, cancel := context.WithCancel(context.Background())
	p := f.plan(t, KindSnap, Spec{Source: "src.narrow", Target: "out.big", MaxFileRows: 100000})
	// Cancel once rows flow and the first files are written.
	f.env.Progress = func(ctx context.Context, st *engine.Stats, _ *atomic.Int64) func() {
		go func() {
			for st.Files.Load() < 2 && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		return func() {}
	}
	_, err := Snapshot(ctx, f.env, p)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was published") {
		t.Fatalf("cancelled snapshot: %v", err)
	}
	var left []string
	_ = filepath.Walk(f.out, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("a cancelled run left %v", left)
	}
}

// Deltas publish one run per range and advance the mark; a second delta
// with nothing new publishes nothing and keeps the mark.
func TestDeltaAdvancesTheMark(t *testing.T) {
	f := newFixture(t, "3000")
	spec := Spec{Source: "src.narrow", Target: "out.orders", Delta: DeltaSpec{Driver: "id", DeltaSize: "1000"}}
	s, err := Delta(context.Background(), f.env, f.plan(t, KindDelta, spec))
	if err != nil {
		t.Fatal(err)
	}
	if s.Rows != 3000 || len(s.Runs) != 3 || s.HighWaterMark != "3000" || s.MoreToDo {
		t.Fatalf("first delta %+v", s)
	}
	st, err := store.NewLocal(f.out)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := st.GetVersion(context.Background(), "orders/"+delta.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	state, err := delta.ParseState(data)
	if err != nil || state.HighWaterMark != "3000" || state.Lock != nil || state.Source == nil || state.Source.Connection != "src" {
		t.Fatalf("state %+v, %v", state, err)
	}
	again, err := Delta(context.Background(), f.env, f.plan(t, KindDelta, spec))
	if err != nil {
		t.Fatal(err)
	}
	if again.Rows != 0 || len(again.Runs) != 0 || again.HighWaterMark != "3000" {
		t.Fatalf("second delta %+v", again)
	}
	if n := len(f.manifests(t)); n != 3 {
		t.Fatalf("%d manifests, want 3", n)
	}
}

// Each range is a run with its own events, as the CLI shows them.
func TestDeltaTellsOfEachRange(t *testing.T) {
	f := newFixture(t, "2000")
	var ranges []string
	f.env.Events = func(ev Event) {
		if ev.Summary != nil {
			ranges = append(ranges, ev.Range)
		}
	}
	if _, err := Delta(context.Background(), f.env, f.plan(t, KindDelta, Spec{Source: "src.narrow", Target: "out.o",
		Delta: DeltaSpec{Driver: "id", DeltaSize: "1000"}})); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ranges, ";") != "id in [1, 1001];id in (1001, 2000]" {
		t.Fatalf("ranges %q", ranges)
	}
}

func TestPlanRefusesWhatCannotRun(t *testing.T) {
	f := newFixture(t, "10")
	for _, c := range []struct {
		kind Kind
		spec Spec
		want string
	}{
		{KindDelta, Spec{Source: "src.narrow", Target: "out.o"}, "needs --delta-driver"},
		{KindDelta, Spec{Source: "src.narrow", Target: "stdout", Delta: DeltaSpec{Driver: "id"}}, "not stdout"},
		{KindDelta, Spec{Source: "src.narrow", Target: "out.o", Delta: DeltaSpec{Driver: "id", StartDate: "2024-01-01", StartSequence: "1"}}, "not both"},
		{KindSnap, Spec{Source: "src.narrow", Target: "out.o", Format: "xml"}, "--format"},
		{KindSnap, Spec{Source: "src.narrow", Target: "out.o", CSVDelimiter: ";;"}, "exactly one character"},
		{KindSnap, Spec{Source: "src.narrow", Target: "out.o", WriteMode: "merge"}, "apply to a table target"},
		{KindSnap, Spec{Source: "nosuch.t", Target: "out.o"}, "source:"},
		{KindSnap, Spec{Source: "src.narrow", Target: "out.o", Format: "parquet", CSVHeader: true, CSVNull: `\N`}, "--csv-null applies to --format csv, not parquet"},
		{KindSnap, Spec{Source: "src.narrow", Target: "out.o", Format: "jsonl", CSVHeader: true, CSVDelimiter: ";"}, "--csv-delimiter applies to --format csv, not jsonl"},
		{KindSnap, Spec{Source: "src.narrow", Target: "out.o", Format: "parquet", CSVHeader: false}, "--csv-header applies to --format csv"},
		{KindSnap, Spec{Source: "src.narrow", Target: "out.o", Format: "csv", RowGroupRows: 5}, "--parquet-row-group-rows applies to --format parquet, not csv"},
	} {
		_, err := NewPlan(c.kind, withDefaults(c.spec), &f.conns, time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%s %+v: %v, want an invalid argument saying %q", c.kind, c.spec, err, c.want)
		}
	}
}
