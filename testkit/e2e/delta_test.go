package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// deltaTable creates a source table whose driver has microsecond
// timestamps; rows 1..n are a minute apart, and three rows have a NULL
// driver.
func deltaTable(t *testing.T, name string, n int) {
	t.Helper()
	pgExec(t, fmt.Sprintf(`drop table if exists %[1]s;
		create table %[1]s (id bigint primary key, v text, amount numeric(20,6), updated_at timestamptz(6));
		insert into %[1]s select g, 'v' || g, g / 7.0, timestamptz '2024-03-30 22:00:00.000001+00' + g * interval '1 minute 0.000001 second'
			from generate_series(1, %[2]d) g;
		insert into %[1]s values (-1, 'no driver', 0, null), (-2, 'no driver', 0, null), (-3, 'no driver', 0, null)`, name, n))
	pgCleanup(t, "drop table if exists "+name)
}

type deltaSummary struct {
	Runs []struct {
		Rows        int64  `json:"rows"`
		ManifestURL string `json:"manifest_url"`
	} `json:"runs"`
	Rows          int64  `json:"rows"`
	HighWaterMark string `json:"high_water_mark"`
	NullDriver    int64  `json:"null_driver_rows"`
	MoreToDo      bool   `json:"more_to_do"`
}

func runDelta(t *testing.T, bin *testkit.Binaries, env []string, args ...string) deltaSummary {
	t.Helper()
	res := bin.Run(t, env, append([]string{"cp", "delta", "--compression", "none", "--output", "json"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("hp cp delta %v: exit %d\n%s", args, res.Code, res.Stderr)
	}
	var s deltaSummary
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
		t.Fatalf("summary %q: %v", res.Stdout, err)
	}
	return s
}

// published reads every row of every run published under dir (CSV files
// listed by the manifests), as id → versions "v|amount|updated_at".
func published(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, mpath := range findManifests(t, dir) {
		raw, _ := os.ReadFile(mpath)
		var m manifestDoc
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for _, f := range m.Files {
			text, err := os.ReadFile(filepath.Join(dir, f.Path))
			if err != nil {
				t.Fatalf("manifest %s lists %s: %v", mpath, f.Path, err)
			}
			recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs[1:] {
				out[r[0]] = append(out[r[0]], strings.Join(r[1:], "|"))
			}
		}
	}
	return out
}

// sourceRows reads the table as the checker expects: id → "v|amount|ts",
// rows with a NULL driver left out.
func sourceRows(t *testing.T, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	text := pgExec(t, fmt.Sprintf(`select id || ',' || v || '|' || trim(to_char(amount, 'FM99999999999990.000000')) || '|' ||
		to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') from %s where updated_at is not null`, table))
	for _, line := range strings.Split(text, "\n") {
		id, rest, _ := strings.Cut(line, ",")
		out[id] = rest
	}
	return out
}

// checkUnion compares the union of all published rows, deduplicated by
// key keeping the newest driver value, with the source; with exactlyOnce,
// no version of a row may have been published twice.
func checkUnion(t *testing.T, dir, table string, exactlyOnce bool) {
	t.Helper()
	got := published(t, dir)
	want := sourceRows(t, table)
	for id, w := range want {
		versions := got[id]
		if len(versions) == 0 {
			t.Errorf("row %s (%s) was never published", id, w)
			continue
		}
		sort.Slice(versions, func(a, b int) bool { return tsOf(versions[a]) < tsOf(versions[b]) })
		if latest := versions[len(versions)-1]; latest != w {
			t.Errorf("row %s: latest published version %q, source has %q", id, latest, w)
		}
		if exactlyOnce {
			seen := map[string]bool{}
			for _, v := range versions {
				if seen[v] {
					t.Errorf("row %s version %q published twice", id, v)
				}
				seen[v] = true
			}
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("row %s published but not in the source (a NULL-driver row?)", id)
		}
	}
}

func tsOf(version string) string { return version[strings.LastIndexByte(version, '|')+1:] }

func TestDeltaPostgresToFiles(t *testing.T) {
	t.Parallel() // its own table and directory
	bin := testkit.Build(t)
	const table = "hp_e2e_delta"
	deltaTable(t, table, 1000)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg.public." + table, "out.lake/orders", "--delta-driver", "updated_at", "--primary-keys", "id"}

	// First run: everything with a driver; NULL drivers counted.
	s := runDelta(t, bin, env, args...)
	if s.Rows != 1000 || s.NullDriver != 3 || s.HighWaterMark != "2024-03-31T14:40:00.001001Z" {
		t.Fatalf("first run: %+v", s)
	}

	// Inserts and updates, one a single microsecond above the mark.
	pgExec(t, `insert into `+table+` select g, 'new' || g, g, timestamptz '2024-04-01 00:00:00+00' + g * interval '1 second' from generate_series(1001, 1200) g;
		update `+table+` set v = 'changed', updated_at = timestamptz '2024-04-02 00:00:00+00' + id * interval '1 microsecond' where id between 1 and 50;
		insert into `+table+` values (5000, 'just above', 1, timestamptz '2024-03-31 14:40:00.001002+00')`)
	s = runDelta(t, bin, env, args...)
	if s.Rows != 251 || len(s.Runs) != 1 {
		t.Fatalf("second run: %+v", s)
	}
	checkUnion(t, out, table, true)

	// Nothing new: no run, the mark stays.
	if s2 := runDelta(t, bin, env, args...); s2.Rows != 0 || len(s2.Runs) != 0 || s2.HighWaterMark != s.HighWaterMark {
		t.Fatalf("idle run: %+v", s2)
	}

	// The manifest records the range and keys.
	raw, err := os.ReadFile(strings.TrimPrefix(s.Runs[0].ManifestURL, "file://"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Mode  string         `json:"mode"`
		Delta map[string]any `json:"delta"`
	}
	_ = json.Unmarshal(raw, &m)
	if m.Mode != "delta" || m.Delta["low"] != "2024-03-31T14:40:00.001001Z" || m.Delta["low_inclusive"] != false ||
		m.Delta["high"] != s.HighWaterMark || m.Delta["high_inclusive"] != true || fmt.Sprint(m.Delta["primary_keys"]) != "[id]" ||
		m.Delta["null_driver_rows"] != float64(3) || m.Delta["driver_type"] != "timestamp" {
		t.Fatalf("manifest: mode %s, delta %v", m.Mode, m.Delta)
	}

	// A row committed late with a driver value below the mark is missed
	// without --lookback and caught with it; the overlap is deduplicable.
	pgExec(t, `insert into `+table+` values (6000, 'late', 2, timestamptz '2024-04-02 00:00:00+00')`)
	if s3 := runDelta(t, bin, env, args...); s3.Rows != 0 {
		t.Fatalf("a run without lookback read %d rows below its mark", s3.Rows)
	}
	s4 := runDelta(t, bin, env, append(args, "--lookback", "1s")...)
	if s4.Rows != 51 {
		t.Fatalf("lookback run: %+v", s4)
	}
	checkUnion(t, out, table, false)

	// Chunks, stopped by --max-duration after the first and finished by
	// the next run.
	pgExec(t, `insert into `+table+` select g, 'chunked' || g, g, timestamptz '2024-04-03 00:00:00+00' + (g - 10000) * interval '1 hour' from generate_series(10000, 10071) g`)
	s5 := runDelta(t, bin, env, append(args, "--delta-size", "1d", "--max-duration", "1ns")...)
	if !s5.MoreToDo || len(s5.Runs) != 1 || s5.Rows != 1 {
		t.Fatalf("max-duration run: %+v", s5)
	}
	s6 := runDelta(t, bin, env, append(args, "--delta-size", "1d")...)
	if s6.MoreToDo || len(s6.Runs) != 3 || s6.Rows != 71 || s6.HighWaterMark != "2024-04-05T23:00:00Z" {
		t.Fatalf("continuing run: %+v", s6)
	}
	checkUnion(t, out, table, false)
	if res := bin.Run(t, env, "verify", "out.lake/orders"); res.Code != 0 {
		t.Fatalf("verify: %s%s", res.Stdout, res.Stderr)
	}
}

func TestDeltaSequenceDriverAndBadInput(t *testing.T) {
	t.Parallel() // its own table and directory
	bin := testkit.Build(t)
	const table = "hp_e2e_delta_seq"
	deltaTable(t, table, 1000)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg." + table, "out.seq", "--delta-driver", "id"}
	s := runDelta(t, bin, env, append(args, "--start-sequence", "500", "--delta-size", "200")...)
	if s.Rows != 501 || len(s.Runs) != 3 || s.HighWaterMark != "1000" {
		t.Fatalf("sequence run: %+v", s)
	}
	got := published(t, out)
	if len(got) != 501 || got["499"] != nil || got["500"] == nil {
		t.Fatalf("published %d ids (499: %v, 500: %v)", len(got), got["499"], got["500"])
	}

	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no driver", []string{"pg." + table, "out.seq"}, 2, "--delta-driver"},
		{"another driver than the state's", []string{"pg." + table, "out.seq", "--delta-driver", "updated_at"}, 2, `tracks driver "id"`},
		{"float driver", []string{"pg." + table, "out.f", "--delta-driver", "v", "--query", "select id, random() as v from " + table}, 2, "floats are not exact"},
		{"duration on a number", []string{"pg." + table, "out.seq", "--delta-driver", "id", "--lookback", "5m"}, 2, "numeric driver takes a number"},
		{"start date on a number", []string{"pg." + table, "out.new", "--delta-driver", "id", "--start-date", "2024-01-01"}, 2, "--start-date is for time drivers"},
		{"unknown column", []string{"pg." + table, "out.new2", "--delta-driver", "nope"}, 2, "nope"},
		{"stdout target", []string{"pg." + table, "stdout", "--delta-driver", "id"}, 2, "not stdout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := bin.Run(t, env, append([]string{"cp", "delta"}, c.args...)...)
			if res.Code != c.code {
				t.Fatalf("exit %d, want %d: %s", res.Code, c.code, res.Stderr)
			}
			testkit.Contains(t, "stderr", res.Stderr, c.want)
		})
	}
	// Failed first runs leave no state behind.
	for _, obj := range []string{"new", "new2", "f"} {
		if _, err := os.Stat(filepath.Join(out, obj, "_state.json")); !os.IsNotExist(err) {
			t.Errorf("a failed first run left %s/_state.json (%v)", obj, err)
		}
	}
}

// TestDeltaToS3FailuresAndLocking: a failed run publishes nothing and
// leaves the mark where it was, so the rerun extracts the same range; a
// second run while one is in progress is refused.
func TestDeltaToS3FailuresAndLocking(t *testing.T) {
	t.Parallel() // its own table and S3 server; the run in progress is held by the proxy, not by a timer
	bin := testkit.Build(t)
	const table = "hp_e2e_delta_s3"
	deltaTable(t, table, 300)
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	proxy := testkit.StartFaultProxy(t, srv.Endpoint)
	env := append(srv.Env(), "HP_PG_DSN="+pgDSN, "HP_S3_DSN=s3://lake/raw?endpoint="+proxy.URL)
	args := []string{"pg." + table, "s3.orders", "--delta-driver", "updated_at", "--primary-keys", "id"}
	state := func() string {
		return string(srv.Objects(t, "lake", "raw/orders/_state.json")["raw/orders/_state.json"])
	}

	s := runDelta(t, bin, env, args...)
	if s.Rows != 300 {
		t.Fatalf("first run: %+v", s)
	}
	before := state()
	pgExec(t, `update `+table+` set v = 'changed', updated_at = now() where id <= 10`)

	isData := func(r *http.Request) bool { return testkit.IsPut(r) && strings.Contains(r.URL.Path, ".csv") }
	proxy.Inject(testkit.Fault{Match: isData, Status: http.StatusBadRequest, Code: "BadDigest"})
	res := bin.Run(t, env, append([]string{"cp", "delta", "--compression", "none"}, args...)...)
	proxy.Clear()
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1: %s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "nothing of it was committed", "high-water mark stays at "+s.HighWaterMark)
	if after := state(); after != before {
		t.Fatalf("state after a failed run:\n%s\nbefore:\n%s", after, before)
	}
	if n := len(srv.Objects(t, "lake", "raw/orders/")); n != 3 { // the first run's file and manifest, and the state
		t.Fatalf("%d objects after the failed run, want 3", n)
	}

	// A run in progress holds the state: a second is refused at once and
	// publishes nothing. The first run's data upload is held until the
	// second has been refused (a fixed delay let the first finish before
	// the second started on a loaded machine).
	base := proxy.Hits()
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	defer release()
	proxy.Inject(testkit.Fault{Match: isData, Times: 1, Hold: hold})
	first := bin.Command(t.Context(), t, env, append([]string{"cp", "delta", "--compression", "none"}, args...)...)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for proxy.Hits() == base {
		time.Sleep(10 * time.Millisecond)
	}
	res = bin.Run(t, env, append([]string{"cp", "delta", "--compression", "none"}, args...)...)
	if res.Code != 1 {
		t.Fatalf("concurrent run: exit %d, want 1: %s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "another run holds the delta state")
	release()
	if err := first.Wait(); err != nil {
		t.Fatalf("the first run failed: %v\n%s", err, firstErr.String())
	}
	dir := download(t, srv, "lake", "raw/orders/")
	if ms := findManifests(t, dir); len(ms) != 2 {
		t.Fatalf("%d manifests, want 2 (the concurrent run must publish nothing)", len(ms))
	}
	checkUnion(t, dir, table, true)
}

// TestDeltaHalfpipeMigration: with --layout halfpipe and no state, the
// high-water mark comes from the original Halfpipe's .man names, and the
// new files keep that naming.
func TestDeltaHalfpipeMigration(t *testing.T) {
	t.Parallel() // its own table and directory
	bin := testkit.Build(t)
	const table = "hp_e2e_delta_hp"
	deltaTable(t, table, 1000)
	out := t.TempDir()
	for _, name := range []string{
		"lake/orders-19000101T000000-20240330T230000-20240330T230500_000001.man",
		"lake/orders-20240330T230000-20240331T000000-20240331T000500_000001.man",
		"lake/orders-20240330T230000-20240331T000000-20240331T000500_000001.csv.gz",
		"lake/big_orders-20240330T230000-20250101T000000-20250101T000500_000001.man",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(out, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), []byte("FileName\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg." + table, "out.lake/orders", "--delta-driver", "updated_at", "--layout", "halfpipe"}
	res := bin.Run(t, env, append([]string{"cp", "delta", "--compression", "none", "--output", "json"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "high-water mark taken from the original Halfpipe", "20240331T000000")
	var s deltaSummary
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil || s.Rows != 881 {
		t.Fatalf("rows after the Halfpipe mark: %+v (%v)", s, err)
	}
	entries, _ := os.ReadDir(filepath.Join(out, "lake"))
	var mans, csvs int
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "orders-20240331T000000-20240331T144000-") && strings.HasSuffix(n, "_000001.man") {
			mans++
		}
		if strings.HasPrefix(n, "orders-20240331T000000-20240331T144000-") && strings.HasSuffix(n, "_000001.csv") {
			csvs++
		}
	}
	if mans != 1 || csvs != 1 {
		t.Fatalf("new files do not keep Halfpipe's names: %v", entries)
	}
	// From now on the state, with the exact mark, takes over.
	pgExec(t, `insert into `+table+` values (7000, 'after', 1, timestamptz '2024-03-31 14:40:00.001002+00')`)
	if s2 := runDelta(t, bin, env, args...); s2.Rows != 1 || s2.HighWaterMark != "2024-03-31T14:40:00.001002Z" {
		t.Fatalf("second run: %+v", s2)
	}
}

// TestDeltaIntoATable: into a database table, the mark is the table's own
// max(driver) and rows merge on the keys, so reruns and overlaps are
// idempotent.
func TestDeltaIntoATable(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t)
	const table, target = "hp_e2e_delta_src", "hp_e2e_delta_tgt"
	deltaTable(t, table, 500)
	pgExec(t, "drop table if exists "+target)
	pgCleanup(t, "drop table if exists "+target)
	env := []string{"HP_PG_DSN=" + pgDSN}
	args := []string{"pg." + table, "pg.public." + target, "--delta-driver", "updated_at", "--primary-keys", "id"}
	same := func() {
		t.Helper()
		q := `select count(*) from (select id, v, amount, updated_at from %s where updated_at is not null
			except select id, v, amount, updated_at from %s) d`
		if diff := pgExec(t, fmt.Sprintf(q, table, target)+" union all "+fmt.Sprintf("select count(*) - count(distinct id) from %s", target)); diff != "0\n0" {
			t.Fatalf("target differs from the source: %q", diff)
		}
		if n := pgExec(t, "select count(*) from "+target); n != pgExec(t, "select count(*) from "+table+" where updated_at is not null") {
			t.Fatalf("target has %s rows", n)
		}
	}
	if s := runDelta(t, bin, env, args...); s.Rows != 500 {
		t.Fatalf("first run: %+v", s)
	}
	same()
	pgExec(t, `update `+table+` set v = 'changed', updated_at = updated_at + interval '1 day' where id % 10 = 0;
		insert into `+table+` values (9000, 'new', 1, timestamptz '2030-01-01 00:00:00.000009+00')`)
	if s := runDelta(t, bin, env, args...); s.Rows != 51 || s.HighWaterMark != "2030-01-01T00:00:00.000009Z" {
		t.Fatalf("second run: %+v", s)
	}
	same()
	// A rerun that re-reads a long window changes nothing.
	if s := runDelta(t, bin, env, append(args, "--lookback", "100000d")...); s.Rows != 501 {
		t.Fatalf("lookback rerun: %+v", s)
	}
	same()
}

// TestDeltaExactBoundaries: a timestamptz driver across a DST change with
// microsecond-distinct rows, and a bigint driver beyond 2^53 — every row
// exactly once over several runs whose marks land between neighbours one
// microsecond (or one) apart.
func TestDeltaExactBoundaries(t *testing.T) {
	t.Parallel() // its own tables and directory
	bin := testkit.Build(t)
	pgExec(t, `drop table if exists hp_e2e_dst; drop table if exists hp_e2e_big;
		create table hp_e2e_dst (id int primary key, v text, amount numeric(20,6), updated_at timestamptz(6));
		create table hp_e2e_big (id bigint primary key, v text)`)
	pgCleanup(t, "drop table if exists hp_e2e_dst; drop table if exists hp_e2e_big")
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	// Europe/London springs forward at 2024-03-31 01:00 UTC; rows are
	// written in local time on both sides of it.
	batches := []string{
		`set time zone 'Europe/London'; insert into hp_e2e_dst values
			(1, 'a', 1, '2024-03-31 00:59:59.999998'), (2, 'b', 2, '2024-03-31 00:59:59.999999'), (3, null, null, null)`,
		`set time zone 'Europe/London'; insert into hp_e2e_dst values
			(4, 'c', 3, '2024-03-31 02:00:00'), (5, 'd', 4, '2024-03-31 02:00:00.000001'), (6, 'e', 5, '2024-03-31 01:59:59.999999+00')`,
		`set time zone 'America/New_York'; insert into hp_e2e_dst values (7, 'f', 6, '2024-11-03 01:30:00-04'), (8, 'g', 7, '2024-11-03 01:30:00-05')`,
	}
	var marks []string
	for _, b := range batches {
		pgExec(t, b)
		s := runDelta(t, bin, env, "pg.hp_e2e_dst", "out.dst", "--delta-driver", "updated_at", "--primary-keys", "id")
		marks = append(marks, s.HighWaterMark)
	}
	want := []string{"2024-03-31T00:59:59.999999Z", "2024-03-31T01:59:59.999999Z", "2024-11-03T06:30:00Z"}
	if fmt.Sprint(marks) != fmt.Sprint(want) {
		t.Fatalf("marks %v, want %v", marks, want)
	}
	checkUnion(t, out, "hp_e2e_dst", true)

	// 2^53 + 1 is the first integer a float64 cannot hold.
	var ids []string
	for _, b := range [][]int64{{1 << 53, 1<<53 + 1}, {1<<53 + 2, 1<<53 + 3}, {1<<62 + 1, 1<<63 - 1}} {
		var vals []string
		for _, id := range b {
			vals = append(vals, fmt.Sprintf("(%d, 'x')", id))
			ids = append(ids, fmt.Sprint(id))
		}
		pgExec(t, "insert into hp_e2e_big values "+strings.Join(vals, ", "))
		s := runDelta(t, bin, env, "pg.hp_e2e_big", "out.big", "--delta-driver", "id")
		if s.Rows != 2 || s.HighWaterMark != ids[len(ids)-1] {
			t.Fatalf("bigint run: %+v, want 2 rows up to %s", s, ids[len(ids)-1])
		}
	}
	got := published(t, out)
	for _, id := range ids {
		if len(got[id]) != 1 {
			t.Errorf("id %s published %d times", id, len(got[id]))
		}
	}
}

// TestDeltaCorruptStateAndCrash: a corrupt state is refused with a clear
// error and nothing published; a run stopped by SIGTERM or by its plugin
// dying leaves the mark unchanged and releases its lock.
func TestDeltaCorruptStateAndCrash(t *testing.T) {
	t.Parallel() // its own table and directory; it signals only its own hp and plugin
	bin := testkit.Build(t)
	const table = "hp_e2e_delta_crash"
	deltaTable(t, table, 200)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg." + table, "out.c", "--delta-driver", "updated_at", "--compression", "none"}
	s := runDelta(t, bin, env, args...)
	statePath := filepath.Join(out, "c", "_state.json")
	good, _ := os.ReadFile(statePath)

	if err := os.WriteFile(statePath, []byte(`{"state_version": 1, "driver": "updated_at", "driver_type": "timestamp", "high_water_mark": "soon"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res := bin.Run(t, env, append([]string{"cp", "delta"}, args...)...)
	if res.Code == 0 {
		t.Fatal("a corrupt state was accepted")
	}
	testkit.Contains(t, "stderr", res.Stderr, statePath, "high_water_mark", "hp state set or reset")
	if ms := findManifests(t, out); len(ms) != 1 {
		t.Fatalf("%d manifests after refusing a corrupt state", len(ms))
	}
	if err := os.WriteFile(statePath, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// Many new rows, so that the run is still reading when it is stopped
	// (a run that finished first would exit 0 and fail the test); the
	// same 300,000 as TestDeltaCrashedRunLockTakenOver.
	pgExec(t, `insert into `+table+` select g, 'more', g, now() + g * interval '1 microsecond' from generate_series(1000, 300000) g`)
	for _, how := range []string{"SIGTERM", "plugin killed"} {
		r, plugin := startDelta(t, bin, env, args)
		if how == "SIGTERM" {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
		} else {
			_ = syscall.Kill(plugin, syscall.SIGKILL)
		}
		if code, _ := r.wait(t); code == 0 {
			t.Fatalf("%s: exit 0\n%s", how, r.stderr.String())
		}
		testkit.Contains(t, how+" stderr", r.stderr.String(), "high-water mark stays at "+s.HighWaterMark)
		if now, _ := os.ReadFile(statePath); string(now) != string(good) {
			t.Fatalf("%s: the state changed:\n%s\nwas:\n%s", how, now, good)
		}
	}
	// The rerun extracts the complete range.
	if s2 := runDelta(t, bin, env, args...); s2.Rows != 300000-1000+1 {
		t.Fatalf("rerun: %+v", s2)
	}
}

// startDelta starts a delta and waits until it is writing a data file (not
// merely its state);
// it returns the running hp and its plugin's pid.
func startDelta(t *testing.T, bin *testkit.Binaries, env, args []string) (*runningHP, int) {
	t.Helper()
	r := startHP(t, bin, env, 2*time.Minute, append([]string{"cp", "delta"}, args...)...)
	cmd := r.cmd
	out := strings.TrimPrefix(envValue(env, "HP_OUT_DSN"), "file://")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, f := range allFiles(t, out) {
			if b := filepath.Base(f); strings.Contains(b, "part-") && strings.Contains(b, ".tmp-") {
				if kids := children(cmd.Process.Pid); len(kids) == 1 {
					return r, kids[0]
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no data written after 30s: %s", r.stderr.String())
	return nil, 0
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// TestDeltaStateElsewhere: --state keeps the state apart from the output,
// locally or in S3.
func TestDeltaStateElsewhere(t *testing.T) {
	t.Parallel() // its own table, directories and S3 server
	bin := testkit.Build(t)
	const table = "hp_e2e_delta_state"
	deltaTable(t, table, 100)
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	out, states := t.TempDir(), t.TempDir()
	env := append(srv.Env(), "HP_PG_DSN="+pgDSN, "HP_OUT_DSN="+out)
	for _, state := range []string{"file://" + states + "/orders.json", "s3://lake/states/orders.json?endpoint=" + srv.Endpoint} {
		obj := "out.a"
		if strings.HasPrefix(state, "s3") {
			obj = "out.b"
		}
		args := []string{"pg." + table, obj, "--delta-driver", "updated_at", "--state", state}
		if s := runDelta(t, bin, env, args...); s.Rows != 100 {
			t.Fatalf("%s: first run %+v", state, s)
		}
		if s := runDelta(t, bin, env, args...); s.Rows != 0 {
			t.Fatalf("%s: second run read %d rows: the state was not kept", state, s.Rows)
		}
		res := bin.Run(t, env, "state", "show", obj, "--state", state, "--output", "json")
		if res.Code != 0 || !strings.Contains(res.Stdout, `"high_water_mark": "2024-03-30T23:40:00.000101Z"`) {
			t.Fatalf("hp state show --state %s: exit %d\n%s%s", state, res.Code, res.Stdout, res.Stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(states, "orders.json")); err != nil {
		t.Fatalf("no local state: %v", err)
	}
	if len(srv.Objects(t, "lake", "states/orders.json")) != 1 {
		t.Fatal("no state in S3")
	}
	for _, dir := range []string{"a", "b"} {
		if _, err := os.Stat(filepath.Join(out, dir, "_state.json")); !os.IsNotExist(err) {
			t.Fatalf("a state was written beside the output in %s", dir)
		}
	}
}
