package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// pgiApp prefixes the application_name of each subtest's hp sessions in
// pg_stat_activity, apart from other tests' and subtests'.
const pgiApp = "hp_e2e_pgi"

// TestPostgresWriteInterrupted: replace, append and merge into a
// PostgreSQL table, interrupted mid-COPY by SIGINT to hp, SIGKILL of hp,
// SIGKILL of the postgres plugin and pg_terminate_backend of its session
// (during COPY, or during a merge's INSERT from the stage),
// leave the table exactly as it was, or, where the write had committed,
// exactly as the write leaves it.
func TestPostgresWriteInterrupted(t *testing.T) {
	t.Parallel() // its own schema, and it signals and terminates only its own processes and sessions (application_name)
	bin := testkit.Build(t, "gen", "postgres")
	const schema, rows = "hp_e2e_pgi", 100000
	// A row trigger pauses every thousandth row, so that a load lasts
	// about a second and can be interrupted midway.
	pgExec(t, "drop schema if exists "+schema+" cascade; create schema "+schema+`;
		create function `+schema+`.slow() returns trigger language plpgsql as $$
		begin if new.id % 1000 = 0 then perform pg_sleep(0.01); end if; return new; end $$`)
	pgCleanup(t, "drop schema if exists "+schema+" cascade")
	sessions := func(t *testing.T, app, running string) []string {
		q := "select pid from pg_stat_activity where application_name = '" + app + "'"
		if running != "" {
			q += " and state = 'active' and (" + running + ")"
		}
		return strings.Fields(pgExec(t, q))
	}
	faults := []struct {
		name string
		do   func(t *testing.T, hp, plugin int, backend string)
	}{
		{"SIGINT hp", func(t *testing.T, hp, _ int, _ string) { _ = syscall.Kill(hp, syscall.SIGINT) }},
		{"SIGKILL hp", func(t *testing.T, hp, _ int, _ string) { _ = syscall.Kill(hp, syscall.SIGKILL) }},
		{"SIGKILL plugin", func(t *testing.T, _, plugin int, _ string) { _ = syscall.Kill(plugin, syscall.SIGKILL) }},
		{"terminate backend", func(t *testing.T, _, _ int, pid string) { pgExec(t, "select pg_terminate_backend("+pid+")") }},
	}
	// The subtests run in parallel, each on its own table and sessions
	// (application_name): they mostly wait on hp, the trigger and polls.
	var interrupted atomic.Int32 // runs the fault ended before they committed
	t.Cleanup(func() {           // after the parallel subtests
		if n := interrupted.Load(); !t.Failed() && n < 6 {
			t.Errorf("only %d of 12 writes were interrupted before committing: the loads are too quick to test", n)
		}
	})
	for _, mode := range []string{"replace", "append", "merge"} {
		for i, f := range faults {
			table := fmt.Sprintf("%s.t_%s_%d", schema, mode, i)
			app := fmt.Sprintf("%s_%s_%d", pgiApp, mode, i)
			args := func(n int) []string {
				a := []string{"cp", "snap", "gen.narrow", "pg." + table, "--write-mode", mode}
				if mode == "merge" {
					a = append(a, "--primary-keys", "id")
				}
				return a
			}
			env := func(n int) []string {
				return []string{"HP_GEN_DSN=gen://?rows=" + strconv.Itoa(n), "HP_PG_DSN=" + pgDSN + "&application_name=" + app}
			}
			t.Run(mode+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				// The table before: 1000 rows written by hp (which creates it:
				// a merge's with the primary key), some changed.
				pgExec(t, "drop table if exists "+table)
				if res := bin.Run(t, env(1000), args(1000)...); res.Code != 0 {
					t.Fatalf("preparing %s: exit %d\n%s", table, res.Code, res.Stderr)
				}
				pgExec(t, "update "+table+" set label = 'old' where id % 3 = 0; create trigger slow before insert on "+table+
					" for each row execute function "+schema+".slow()")
				fingerprint := func() string {
					return pgExec(t, "select count(*), coalesce(sum(hashtext(x::text)::bigint), 0) from "+table+" x")
				}
				before := fingerprint()
				r := startHP(t, bin, env(rows), time.Minute, args(rows)...)
				backend := r.until(t, "copied", func() string {
					if pids := sessions(t, app, "query like 'COPY%' or query like 'INSERT%'"); len(pids) > 0 {
						return pids[0]
					}
					return ""
				})
				pid := r.cmd.Process.Pid
				f.do(t, pid, pluginChild(pid, "postgres"), backend)
				code, _ := r.wait(t)
				// Every session of hp has ended: nothing can commit later.
				for deadline := time.Now().Add(20 * time.Second); len(sessions(t, app, "")) > 0; time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("hp's sessions are still open: %s", pgExec(t, "select pid, state, left(query, 60) from pg_stat_activity where application_name = '"+app+"'"))
					}
				}
				after := fingerprint()
				if code == 0 {
					want := map[string]int{"replace": rows, "append": rows + 1000, "merge": rows}[mode]
					if n := strings.Split(after, "|")[0]; n != strconv.Itoa(want) {
						t.Fatalf("exit 0 but the table has %s rows, want %d", n, want)
					}
					return
				}
				interrupted.Add(1)
				if after != before {
					t.Fatalf("exit %d and the table changed: %s (rows|hash) before, %s after\n%s", code, before, after, r.stderr.String())
				}
			})
		}
	}
}
