package e2e

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestParallelDeltaPostgres: hp cp delta --parallel 3 publishes, range by
// range (--delta-size), exactly what --parallel 1 publishes, one run per
// range, with the same marks; after inserts and updates the next runs
// agree again, and every row's latest version is published. A --query
// delta cannot be split.
func TestParallelDeltaPostgres(t *testing.T) {
	t.Parallel() // its own table
	bin := testkit.Build(t, "postgres")
	const table = "public.hp_e2e_slices20_pdelta"
	deltaTable(t, table, 40000)
	outs := map[string]string{"1": t.TempDir(), "3": t.TempDir()}
	both := func(round string) {
		t.Helper()
		var sums []deltaSummary
		for _, n := range []string{"1", "3"} {
			s := runDelta(t, bin, []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + outs[n]},
				"pg."+table, "out.d", "--delta-driver", "updated_at", "--primary-keys", "id", "--delta-size", "10d", "--parallel", n)
			sums = append(sums, s)
		}
		a, b := sums[0], sums[1]
		if a.Rows != b.Rows || a.HighWaterMark != b.HighWaterMark || len(a.Runs) != len(b.Runs) {
			t.Fatalf("%s: --parallel 1 %+v, --parallel 3 %+v", round, a, b)
		}
		for i := range a.Runs {
			if a.Runs[i].Rows != b.Runs[i].Rows {
				t.Fatalf("%s: run %d has %d rows with --parallel 3, %d with --parallel 1", round, i, b.Runs[i].Rows, a.Runs[i].Rows)
			}
		}
		if p1, p3 := published(t, outs["1"]), published(t, outs["3"]); !reflect.DeepEqual(p1, p3) {
			t.Fatalf("%s: --parallel 3 published other rows than --parallel 1 (%d ids, %d ids)", round, len(p3), len(p1))
		}
		if round == "first" && (a.Rows != 40000 || len(a.Runs) < 3) {
			t.Fatalf("first: %d rows in %d runs, want 40000 in several", a.Rows, len(a.Runs))
		}
	}
	both("first")
	pgExec(t, "insert into "+table+" select g, 'v' || g, 1, now() from generate_series(40001, 40500) g;"+
		"update "+table+" set v = 'changed', updated_at = now() where id % 100 = 0")
	both("second")
	src, pub := sourceRows(t, table), published(t, outs["3"])
	if len(pub) != len(src) {
		t.Fatalf("published %d ids, the table holds %d with a driver", len(pub), len(src))
	}
	for id, want := range src {
		if got := latest(pub[id]); got != want {
			t.Fatalf("id %s: published %v, the table holds %q", id, pub[id], want)
		}
	}
	res := bin.Run(t, []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + t.TempDir()}, "cp", "delta", "pg.x", "out.q",
		"--query", "select * from "+table, "--delta-driver", "updated_at", "--parallel", "2")
	if res.Code != 2 {
		t.Fatalf("--query with --parallel 2: exit %d, want 2\n%s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "--parallel 2 cannot split a --query read")
}

// latest is the version with the newest driver (the last field, an ISO
// 8601 UTC time).
func latest(versions []string) string {
	best := ""
	for _, v := range versions {
		if best == "" || v[strings.LastIndex(v, "|"):] > best[strings.LastIndex(best, "|"):] {
			best = v
		}
	}
	return best
}

// TestParallelDeltaSliceFailureKeepsTheMark: a slice of a --parallel 4
// delta dies mid-way: the run fails, nothing is published and the mark
// does not move, so the next run extracts every row once.
func TestParallelDeltaSliceFailureKeepsTheMark(t *testing.T) {
	t.Parallel() // its own table and sessions (application_name)
	bin := testkit.Build(t, "postgres")
	const table, app = "public.hp_e2e_slices20_pdfail", "hp_e2e_slices20_pdfail"
	deltaTable(t, table, 100000)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN + "&application_name=" + app, "HP_OUT_DSN=" + out}
	args := []string{"pg." + table, "out.d", "--delta-driver", "updated_at", "--parallel", "4"}
	// Every 100th row sleeps 10 ms: each slice COPYs for about 2.5 s, long
	// enough to be terminated mid-read on a loaded machine (at every 500th
	// a slice could end first: exit 0).
	r := startHP(t, bin, env, 2*time.Minute, append([]string{"cp", "delta"}, append(args, "--where", "id % 100 <> 0 OR pg_sleep(0.01) IS NOT NULL")...)...)
	failOneOfFourSlices(t, r, app)
	testkit.Contains(t, "stderr", r.stderr.String(), "slice", "of 4", "high-water mark stays")
	if m := findManifests(t, out); len(m) != 0 {
		t.Fatalf("a failed delta published %v", m)
	}
	s := runDelta(t, bin, env, args...)
	if s.Rows != 100000 || len(s.Runs) != 1 {
		t.Fatalf("the run after the failure: %+v, want all 100000 rows in one run", s)
	}
	got := published(t, out)
	if len(got) != 100000 {
		t.Fatalf("published %d ids, want 100000", len(got))
	}
	for id, v := range got {
		if len(v) != 1 {
			t.Fatalf("id %s published %d times", id, len(v))
		}
	}
}

// TestParallelDeltaMariaDB: on MariaDB (key-range slices under one LOCK
// TABLES ... READ) hp cp delta --parallel 3 publishes, chunk by chunk, the
// runs --parallel 1 publishes.
func TestParallelDeltaMariaDB(t *testing.T) {
	t.Parallel() // its own table
	bin := testkit.Build(t, "mysql")
	const table = "hp_e2e_slices20_mydelta"
	mysqlOut(t, "drop table if exists "+table+"; create table "+table+" (id bigint primary key, v varchar(20), at datetime(6));"+
		"insert into "+table+" select seq, concat('v', seq), '2024-01-01' + interval seq second from seq_1_to_20000")
	t.Cleanup(func() {
		_ = exec.Command("mysql", "-h127.0.0.1", "-P3306", "-uroot", "test", "-e", "drop table if exists "+table).Run()
	})
	var sums []deltaSummary
	var pubs []map[string][]string
	for _, n := range []string{"1", "3"} {
		out := t.TempDir()
		sums = append(sums, runDelta(t, bin, []string{"HP_MY_DSN=" + myDSN, "HP_OUT_DSN=" + out},
			"my."+table, "out.d", "--delta-driver", "at", "--delta-size", "1h", "--parallel", n))
		pubs = append(pubs, published(t, out))
	}
	a, b := sums[0], sums[1]
	if a.Rows != 20000 || b.Rows != a.Rows || b.HighWaterMark != a.HighWaterMark || len(a.Runs) != 6 || len(b.Runs) != len(a.Runs) {
		t.Fatalf("--parallel 1 %+v, --parallel 3 %+v", a, b)
	}
	if !reflect.DeepEqual(pubs[0], pubs[1]) || len(pubs[1]) != 20000 {
		t.Fatalf("--parallel 3 published %d ids, --parallel 1 %d, not the same", len(pubs[1]), len(pubs[0]))
	}
}
