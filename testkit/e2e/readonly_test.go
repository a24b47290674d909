package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestReadsNeverWrite: hp cp snap --query and --where, and hp query, cannot
// change the source; hp query --allow-writes can.
func TestReadsNeverWrite(t *testing.T) {
	t.Parallel() // its own table
	bin := testkit.Build(t)
	victim := fmt.Sprintf("hp_e2e_ro_victim_%d", time.Now().UnixNano())
	pgExec(t, fmt.Sprintf(`create table %[1]s (id int primary key, note text);
		insert into %[1]s select g, 'row ' || g from generate_series(1, 5) g;
		create function %[1]s_wipe() returns boolean language sql as 'delete from %[1]s; select true'`, victim))
	pgCleanup(t, fmt.Sprintf("drop table if exists %[1]s; drop function if exists %[1]s_wipe()", victim))
	count := func() string { t.Helper(); return pgExec(t, "select count(*) from "+victim) }
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + t.TempDir()}
	for _, c := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"snap --query delete", []string{"cp", "snap", "pg." + victim, "out.q1", "--query", "delete from " + victim + " returning id"}, "read-only transaction"},
		{"snap --where writes", []string{"cp", "snap", "pg." + victim, "out.q2", "--where", victim + "_wipe()"}, "read-only transaction"},
		{"snap --where escapes", []string{"cp", "snap", "pg." + victim, "out.q3", "--where", "1=1) UNION ALL (SELECT 1, current_user"}, "not a single predicate"},
		{"query delete", []string{"query", "pg", "delete from " + victim}, "--allow-writes"},
		{"query cte delete", []string{"query", "pg", "with d as (delete from " + victim + " returning id) select * from d"}, "--allow-writes"},
	} {
		res := bin.Run(t, env, c.args...)
		if res.Code == 0 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("%s: exit %d, want a failure naming %q\n%s", c.name, res.Code, c.want, res.Stderr)
		}
		if n := count(); n != "5" {
			t.Fatalf("%s: the victim has %s rows, want 5", c.name, n)
		}
	}
	// A plain query read still works; --allow-writes runs a write.
	if res := bin.Run(t, env, "query", "pg", "select count(*) from "+victim); res.Code != 0 || strings.TrimSpace(res.Stdout) != "5" {
		t.Fatalf("query read: exit %d, out %q\n%s", res.Code, res.Stdout, res.Stderr)
	}
	res := bin.Run(t, env, "query", "pg", "delete from "+victim+" where id <= 2", "--allow-writes")
	if res.Code != 0 || !strings.Contains(res.Stderr, "2 rows affected") {
		t.Fatalf("query --allow-writes: exit %d\n%s", res.Code, res.Stderr)
	}
	if n := count(); n != "3" {
		t.Fatalf("after --allow-writes: the victim has %s rows, want 3", n)
	}
}

// TestQueryUnconstrainedNumeric: query results of unconstrained numeric
// (sum, avg, max, casts) print exactly, whatever their digits.
func TestQueryUnconstrainedNumeric(t *testing.T) {
	t.Parallel() // its own table
	bin := testkit.Build(t)
	tbl := fmt.Sprintf("hp_e2e_qnum_%d", time.Now().UnixNano())
	pgExec(t, fmt.Sprintf(`create table %[1]s (amount numeric(12,2), free numeric);
		insert into %[1]s values (10.25, 1e-30), (0.10, 123456789012345678901234567890123456789012.5)`, tbl))
	pgCleanup(t, "drop table if exists "+tbl)
	const list = "sum(amount), avg(amount), max(free), 1.5::numeric, sum(free)"
	q := "select " + list + " from " + tbl
	want := pgExec(t, "select concat_ws(',', "+list+") from "+tbl)
	res := bin.Run(t, []string{"HP_PG_DSN=" + pgDSN}, "query", "pg", q)
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != want {
		t.Fatalf("exit %d, got %q, want %q\n%s", res.Code, strings.TrimSpace(res.Stdout), want, res.Stderr)
	}
}
