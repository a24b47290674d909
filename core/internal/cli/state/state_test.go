package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/state"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

func hp(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, env, args...)
}

// stateFile is where hp cp delta keeps the state of out.x/orders.
func stateFile(dir string) string { return filepath.Join(dir, "x", "orders", delta.StateFile) }

func stateURL(dir string) string { return "file://" + filepath.ToSlash(stateFile(dir)) }

func writeState(t *testing.T, dir string, s delta.State) {
	t.Helper()
	p := stateFile(dir)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, s.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readState(t *testing.T, dir string) *delta.State {
	t.Helper()
	data, err := os.ReadFile(stateFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	s, err := delta.ParseState(data)
	if err != nil {
		t.Fatalf("%v:\n%s", err, data)
	}
	return s
}

func lock(expires time.Duration) *delta.Lock {
	now := time.Now().UTC().Truncate(time.Second)
	return &delta.Lock{RunID: "20260301T100000Z-deadbeef", Host: "worker-7", PID: 4242, Since: now.Add(-time.Hour), Expires: now.Add(expires)}
}

func marked() delta.State {
	return delta.State{Driver: "updated_at", DriverType: "timestamp", HighWaterMark: "2026-03-01T10:00:00Z",
		LastRunID: "20260301T090000Z-0badf00d", LastManifest: "file:///lake/x/orders/20260301T090000Z-0badf00d/_manifest.json",
		UpdatedAt: time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)}
}

func TestShowWithoutState(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	for _, output := range []string{"text", "json"} {
		code, out, errOut := hp(t, env, "state", "show", "out.x/orders", "--output", output)
		if code != 1 || out != "" || !strings.Contains(errOut, "no delta state at "+stateURL(dir)) {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", output, code, out, errOut)
		}
	}
}

func TestSetOnAFreshTargetThenShow(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	code, _, errOut := hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "20260301T100000", "--driver", "updated_at", "--driver-type", "timestamp")
	if code != 0 || !strings.Contains(errOut, "none → 2026-03-01T10:00:00Z") || !strings.Contains(errOut, stateURL(dir)) {
		t.Fatalf("set: exit %d, stderr %q", code, errOut)
	}
	s := readState(t, dir)
	if s.Driver != "updated_at" || s.DriverType != "timestamp" || s.HighWaterMark != "2026-03-01T10:00:00Z" || s.Lock != nil || s.UpdatedAt.IsZero() {
		t.Fatalf("state written: %+v", s)
	}

	code, out, errOut := hp(t, env, "state", "show", "out.x/orders")
	if code != 0 {
		t.Fatalf("show: exit %d, %s", code, errOut)
	}
	for _, want := range []string{
		"state:            " + stateURL(dir),
		"driver:           updated_at (timestamp)",
		"high-water mark:  2026-03-01T10:00:00Z",
		"last run:         -",
		"lock:             none",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = hp(t, env, "state", "show", "out.x/orders", "--output", "json")
	got, err := delta.ParseState([]byte(out))
	if code != 0 || err != nil || got.HighWaterMark != "2026-03-01T10:00:00Z" || got.Driver != "updated_at" {
		t.Fatalf("json: exit %d, %v:\n%s", code, err, out)
	}
	if !strings.Contains(out, `"high_water_mark": "2026-03-01T10:00:00Z"`) {
		t.Errorf("json is not the state document:\n%s", out)
	}

	// Driver and type now come from the state; the old mark is printed.
	code, _, errOut = hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "2026-02-01T00:00:00Z")
	if code != 0 || !strings.Contains(errOut, "2026-03-01T10:00:00Z → 2026-02-01T00:00:00Z") || !strings.Contains(errOut, "moved back") {
		t.Fatalf("second set: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "2026-04-01T00:00:00Z", "--driver", "updated_at", "--driver-type", "timestamp")
	if code != 0 || !strings.Contains(errOut, "moved forward") {
		t.Fatalf("matching driver: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "5", "--driver", "id")
	if code != 2 || !strings.Contains(errOut, `tracks driver "updated_at", not "id"`) || !strings.Contains(errOut, "reset") {
		t.Fatalf("other driver: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "5", "--driver-type", "int64")
	if code != 2 || !strings.Contains(errOut, "as timestamp, not int64") {
		t.Fatalf("other type: exit %d, stderr %q", code, errOut)
	}
	if s := readState(t, dir); s.HighWaterMark != "2026-04-01T00:00:00Z" {
		t.Fatalf("refused sets changed the state: %+v", s)
	}
}

func TestSetAtTheStoreRoot(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	code, _, errOut := hp(t, env, "state", "set", "out.events", "--high-water-mark", "1000", "--driver", "id", "--driver-type", "int64")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "events", delta.StateFile)); err != nil {
		t.Fatal(err)
	}
}

func TestSetValidatesTheValueAndFlags(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--high-water-mark", "abc", "--driver", "id", "--driver-type", "int64"}, "not a valid int64 for driver id"},
		{[]string{"--high-water-mark", "-1", "--driver", "id", "--driver-type", "uint64"}, "uint64"},
		{[]string{"--high-water-mark", "2026-03-01T10:00:00Z", "--driver", "d", "--driver-type", "date"}, "not a valid date"},
		{[]string{"--high-water-mark", "1e5", "--driver", "n", "--driver-type", "decimal"}, "decimal"},
		{[]string{"--high-water-mark", "1.5", "--driver", "n", "--driver-type", "float64"}, `--driver-type "float64"`},
		{[]string{"--high-water-mark", "1"}, "give --driver COL and --driver-type"},
		{[]string{"--high-water-mark", "1", "--driver", "id"}, "give --driver COL and --driver-type"},
		{[]string{"--driver", "id", "--driver-type", "int64"}, "needs --high-water-mark"},
	} {
		code, _, errOut := hp(t, env, append([]string{"state", "set", "out.x/orders"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q (want exit 2 mentioning %q)", tc.args, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(stateFile(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused set wrote a state: %v", err)
	}

	// A state written before the source reported a type needs one.
	writeState(t, dir, delta.State{Driver: "id"})
	code, _, errOut := hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "7")
	if code != 2 || !strings.Contains(errOut, "--driver-type") {
		t.Fatalf("untyped state: exit %d, %q", code, errOut)
	}
	code, _, errOut = hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "7", "--driver-type", "int64")
	if s := readState(t, dir); code != 0 || s.DriverType != "int64" || s.HighWaterMark != "7" {
		t.Fatalf("exit %d, %q, %+v", code, errOut, s)
	}
}

func TestSetRefusedWhileLockedUnlessForced(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	s := marked()
	s.Lock = lock(time.Hour)
	writeState(t, dir, s)
	before, _ := os.ReadFile(stateFile(dir))

	code, _, errOut := hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "2026-03-02T00:00:00Z")
	if code != 1 || !strings.Contains(errOut, "20260301T100000Z-deadbeef") || !strings.Contains(errOut, "worker-7") ||
		!strings.Contains(errOut, "--force") || !strings.Contains(errOut, stateURL(dir)) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if after, _ := os.ReadFile(stateFile(dir)); string(after) != string(before) {
		t.Fatalf("a refused set changed the state:\n%s", after)
	}

	code, _, errOut = hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "2026-03-02T00:00:00Z", "--force")
	if code != 0 {
		t.Fatalf("--force: exit %d, %s", code, errOut)
	}
	got := readState(t, dir)
	if got.HighWaterMark != "2026-03-02T00:00:00Z" || got.Lock == nil || got.Lock.RunID != s.Lock.RunID || got.LastRunID != s.LastRunID {
		t.Fatalf("forced set: %+v (the lock and last run stay)", got)
	}

	// An expired lock does not stop a set.
	s.Lock = lock(-time.Minute)
	writeState(t, dir, s)
	if code, _, errOut := hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "2026-03-03T00:00:00Z"); code != 0 {
		t.Fatalf("expired lock: exit %d, %s", code, errOut)
	}
}

func TestShowsTheLock(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	s := marked()
	s.Lock = lock(time.Hour)
	writeState(t, dir, s)
	code, out, _ := hp(t, env, "state", "show", "out.x/orders")
	if code != 0 || !strings.Contains(out, "lock:             held by run 20260301T100000Z-deadbeef on worker-7 (pid 4242)") ||
		!strings.Contains(out, "(live: ") || !strings.Contains(out, "last run:         20260301T090000Z-0badf00d") ||
		!strings.Contains(out, "updated at:       2026-03-01T09:05:00Z") {
		t.Fatalf("live: exit %d:\n%s", code, out)
	}
	s.Lock = lock(-time.Hour)
	writeState(t, dir, s)
	code, out, _ = hp(t, env, "state", "show", "out.x/orders")
	if code != 0 || !strings.Contains(out, "expired at") || strings.Contains(out, "live") {
		t.Fatalf("expired: exit %d:\n%s", code, out)
	}
	code, out, _ = hp(t, env, "state", "show", "out.x/orders", "--output", "json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || doc["lock"] == nil {
		t.Fatalf("json: exit %d, %v:\n%s", code, err, out)
	}
}

func TestUnlock(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}

	code, _, errOut := hp(t, env, "state", "unlock", "out.x/orders")
	if code != 1 || !strings.Contains(errOut, "no delta state at "+stateURL(dir)) {
		t.Fatalf("no state: exit %d, %q", code, errOut)
	}

	s := marked()
	s.Lock = lock(-time.Minute)
	writeState(t, dir, s)
	code, _, errOut = hp(t, env, "state", "unlock", "out.x/orders")
	if code != 0 || !strings.Contains(errOut, "run 20260301T100000Z-deadbeef on worker-7 (pid 4242)") || !strings.Contains(errOut, "expired at") {
		t.Fatalf("expired: exit %d, %q", code, errOut)
	}
	if got := readState(t, dir); got.Lock != nil || got.HighWaterMark != s.HighWaterMark || !got.UpdatedAt.Equal(s.UpdatedAt) {
		t.Fatalf("after unlock: %+v", got)
	}

	code, _, errOut = hp(t, env, "state", "unlock", "out.x/orders")
	if code != 0 || !strings.Contains(errOut, "no lock is held") {
		t.Fatalf("no lock: exit %d, %q", code, errOut)
	}

	s.Lock = lock(time.Hour)
	writeState(t, dir, s)
	code, _, errOut = hp(t, env, "state", "unlock", "out.x/orders")
	if code != 1 || !strings.Contains(errOut, "--force") || !strings.Contains(errOut, "worker-7") {
		t.Fatalf("live: exit %d, %q", code, errOut)
	}
	if got := readState(t, dir); got.Lock == nil {
		t.Fatal("a refused unlock cleared the lock")
	}
	code, _, errOut = hp(t, env, "state", "unlock", "out.x/orders", "--force")
	if code != 0 || !strings.Contains(errOut, "forced") || !strings.Contains(errOut, "20260301T100000Z-deadbeef") {
		t.Fatalf("forced: exit %d, %q", code, errOut)
	}
	if got := readState(t, dir); got.Lock != nil || got.HighWaterMark != s.HighWaterMark {
		t.Fatalf("after forced unlock: %+v", got)
	}
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

func TestUnlockOfAHolderThatIsGone(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	s := marked()
	s.Lock = lock(time.Hour)
	s.Lock.Host, s.Lock.PID = host, goneProcess(t)
	writeState(t, dir, s)
	code, out, _ := hp(t, env, "state", "show", "out.x/orders")
	if code != 0 || !strings.Contains(out, "no longer running on this host") {
		t.Fatalf("show: exit %d:\n%s", code, out)
	}
	code, _, errOut := hp(t, env, "state", "unlock", "out.x/orders")
	if code != 0 || !strings.Contains(errOut, "no longer running") || strings.Contains(errOut, "forced") {
		t.Fatalf("unlock without --force: exit %d, %q", code, errOut)
	}
	if got := readState(t, dir); got.Lock != nil || got.HighWaterMark != s.HighWaterMark {
		t.Fatalf("after unlock: %+v", got)
	}
	// A holder still running on this host is not unlocked, and the
	// message says to wait or stop it rather than to force.
	s.Lock.PID = os.Getpid()
	writeState(t, dir, s)
	code, _, errOut = hp(t, env, "state", "unlock", "out.x/orders")
	if code != 1 || !strings.Contains(errOut, "still running on this host") {
		t.Fatalf("live holder on this host: exit %d, %q", code, errOut)
	}
}

func TestShowPrintsTheSource(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	s := marked()
	s.Source = &delta.Source{Connection: "pg", Object: "public.orders"}
	writeState(t, dir, s)
	code, out, _ := hp(t, env, "state", "show", "out.x/orders")
	if code != 0 || !strings.Contains(out, "source:           pg.public.orders\n") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = hp(t, env, "state", "show", "out.x/orders", "--output", "json")
	if code != 0 || !strings.Contains(out, `"connection": "pg"`) || !strings.Contains(out, `"object": "public.orders"`) {
		t.Fatalf("json: exit %d:\n%s", code, out)
	}
}

func TestReset(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	writeState(t, dir, marked())

	code, _, errOut := hp(t, env, "state", "reset", "out.x/orders")
	if code != 2 || !strings.Contains(errOut, "--yes") || !strings.Contains(errOut, "--start-date") || !strings.Contains(errOut, stateURL(dir)) {
		t.Fatalf("without --yes: exit %d, %q", code, errOut)
	}
	readState(t, dir)

	code, _, errOut = hp(t, env, "state", "reset", "out.x/orders", "--yes")
	if code != 0 || !strings.Contains(errOut, "removed the delta state "+stateURL(dir)) || !strings.Contains(errOut, "2026-03-01T10:00:00Z") {
		t.Fatalf("reset: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(stateFile(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state still there: %v", err)
	}
	if code, _, _ := hp(t, env, "state", "show", "out.x/orders"); code != 1 {
		t.Fatalf("show after reset: exit %d", code)
	}
	code, _, errOut = hp(t, env, "state", "reset", "out.x/orders", "--yes")
	if code != 1 || !strings.Contains(errOut, "nothing to reset") {
		t.Fatalf("reset twice: exit %d, %q", code, errOut)
	}

	// A live lock: refused, then with --force the mark goes and the lock stays.
	s := marked()
	s.Lock = lock(time.Hour)
	writeState(t, dir, s)
	code, _, errOut = hp(t, env, "state", "reset", "out.x/orders", "--yes")
	if code != 1 || !strings.Contains(errOut, "--force") {
		t.Fatalf("live lock: exit %d, %q", code, errOut)
	}
	code, _, errOut = hp(t, env, "state", "reset", "out.x/orders", "--yes", "--force")
	if code != 0 || !strings.Contains(errOut, "unlock") {
		t.Fatalf("forced: exit %d, %q", code, errOut)
	}
	got := readState(t, dir)
	if got.HighWaterMark != "" || got.LastRunID != "" || got.Lock == nil || got.Lock.RunID != s.Lock.RunID || got.Driver != "updated_at" {
		t.Fatalf("after a forced reset: %+v", got)
	}

	// An expired lock goes with the rest.
	s.Lock = lock(-time.Hour)
	writeState(t, dir, s)
	if code, _, errOut := hp(t, env, "state", "reset", "out.x/orders", "--yes"); code != 0 {
		t.Fatalf("expired lock: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(stateFile(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state still there: %v", err)
	}
}

func TestUnreadableState(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	p := stateFile(dir)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`{"state_version": 1, "driver": "id", "driver_type": "int64", "high_water_mark": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"show", "unlock"} {
		code, _, errOut := hp(t, env, "state", cmd, "out.x/orders")
		if code != 1 || !strings.Contains(errOut, "cannot be read") || !strings.Contains(errOut, stateURL(dir)) {
			t.Errorf("%s: exit %d, %q", cmd, code, errOut)
		}
	}
	code, _, errOut := hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "12")
	if code != 2 || !strings.Contains(errOut, "cannot be read") {
		t.Fatalf("set without a driver: exit %d, %q", code, errOut)
	}
	code, _, errOut = hp(t, env, "state", "set", "out.x/orders", "--high-water-mark", "12", "--driver", "id", "--driver-type", "int64")
	if s := readState(t, dir); code != 0 || !strings.Contains(errOut, "replaced the unreadable") || s.HighWaterMark != "12" {
		t.Fatalf("repair: exit %d, %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	env := map[string]string{"HP_OUT_DSN": t.TempDir(), "HP_PG_DSN": "postgres://u:secret@h/db"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"state", "show"}, "takes one <conn>.<object>"},
		{[]string{"state", "unlock", "out.a", "out.b"}, "takes one"},
		{[]string{"state", "show", "out"}, "<connection>.<object>"},
		{[]string{"state", "show", "out./"}, "names no object"},
		{[]string{"state", "show", "nosuch.x"}, "HP_NOSUCH_DSN"},
		{[]string{"state", "show", "pg.x"}, "not a file or s3 target"},
		{[]string{"state", "show", "stdout.x"}, "not a file or s3 target"},
		{[]string{"state", "show", "out.x", "--output", "yaml"}, "yaml"},
	} {
		code, _, errOut := hp(t, env, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "secret") {
			t.Errorf("%v: exit %d, stderr %q (want exit 2 mentioning %q)", tc.args, code, errOut, tc.want)
		}
	}
}

// racing changes the state once, between a command's read and its write,
// as a delta run starting at that moment would.
type racing struct {
	store.Store
	v      store.Versioned
	change func()
}

func (r *racing) GetVersion(ctx context.Context, key string) ([]byte, string, error) {
	data, version, err := r.v.GetVersion(ctx, key)
	if r.change != nil {
		r.change()
		r.change = nil
	}
	return data, version, err
}

func (r *racing) DeleteIfVersion(ctx context.Context, key string, version string) error {
	return r.v.DeleteIfVersion(ctx, key, version)
}

func (r *racing) PutIfVersion(ctx context.Context, key string, data []byte, version string) error {
	return r.v.PutIfVersion(ctx, key, data, version)
}

func TestAConcurrentChangeIsNotOverwritten(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(context.Context, *state.Options) error
		opts state.Options
	}{
		{"set", state.Set, state.Options{HighWaterMark: "2020-01-01T00:00:00Z"}},
		{"unlock", state.Unlock, state.Options{}},
		{"reset", state.Reset, state.Options{Yes: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := marked()
			s.Lock = lock(-time.Minute)
			writeState(t, dir, s)
			theirs := marked()
			theirs.HighWaterMark = "2026-03-05T00:00:00Z"
			theirs.Lock = lock(time.Hour)
			env := map[string]string{"HP_OUT_DSN": dir}
			io, _, _, _ := cliutil.Test()
			o := tc.opts
			o.IO, o.Target, o.Output, o.Now = io, "out.x/orders", "text", time.Now
			o.Conns = &config.Store{Path: filepath.Join(t.TempDir(), "connections.yaml"), LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			o.OpenStore = func(_ context.Context, c config.Connection) (store.Store, error) {
				l, err := store.NewLocal(c.DSN)
				if err != nil {
					return nil, err
				}
				return &racing{Store: l, v: l, change: func() { writeState(t, dir, theirs) }}, nil
			}
			err := tc.run(context.Background(), &o)
			if !errors.Is(err, store.ErrConflict) || cliutil.ExitCode(err) != cliutil.ExitFailed ||
				!strings.Contains(err.Error(), stateURL(dir)) || !strings.Contains(err.Error(), "nothing was written") {
				t.Fatalf("err = %v (exit %d)", err, cliutil.ExitCode(err))
			}
			if got := readState(t, dir); got.HighWaterMark != theirs.HighWaterMark || got.Lock == nil || got.Lock.Expires.Before(time.Now()) {
				t.Fatalf("the concurrent change was overwritten: %+v", got)
			}
		})
	}
}
