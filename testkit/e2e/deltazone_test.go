package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestDeltaPostgresSessionZones: deltas driven by a timestamp without
// time zone, run over connections whose session TimeZone is not UTC (set
// in the DSN, by ALTER ROLE and by ALTER DATABASE), publish every row
// exactly once. The range once compared the column with a timestamptz
// literal, shifting it by the zone: rows between the old and the new mark
// were never extracted.
func TestDeltaPostgresSessionZones(t *testing.T) {
	t.Parallel() // its own role, database and tables
	bin := testkit.Build(t, "postgres")
	sfx := strconv.Itoa(os.Getpid())
	role, db := "hp_e2e_zone_role_"+sfx, "hp_e2e_zone_db_"+sfx
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, table string) (dsn string, exec func(sql string))
	}{
		{"dsn Europe/Berlin", func(t *testing.T, table string) (string, func(string)) {
			return pgDSN + "&timezone=Europe/Berlin", func(q string) { pgExec(t, q) }
		}},
		{"dsn America/Los_Angeles", func(t *testing.T, table string) (string, func(string)) {
			return pgDSN + "&timezone=America/Los_Angeles", func(q string) { pgExec(t, q) }
		}},
		{"role Asia/Kathmandu", func(t *testing.T, table string) (string, func(string)) {
			pgExec(t, fmt.Sprintf(`drop role if exists %[1]s; create role %[1]s login; alter role %[1]s set timezone = 'Asia/Kathmandu'`, role))
			pgCleanup(t, "drop table if exists "+table+"; drop role if exists "+role)
			return strings.Replace(pgDSN, "postgres@", role+"@", 1), func(q string) { pgExec(t, q+"; grant select on "+table+" to "+role) }
		}},
		{"database America/Los_Angeles", func(t *testing.T, table string) (string, func(string)) {
			pgExec(t, "drop database if exists "+db)
			pgExec(t, "create database "+db)
			pgExec(t, "alter database "+db+" set timezone = 'America/Los_Angeles'")
			pgCleanup(t, "drop database if exists "+db+" with (force)")
			dsn := strings.Replace(pgDSN, "/test?", "/"+db+"?", 1)
			return dsn, func(q string) {
				if out, err := exec.Command("psql", dsn, "-v", "ON_ERROR_STOP=1", "-qc", q).CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			table := "hp_e2e_delta_zone_" + sfx
			dsn, run := c.setup(t, table)
			t.Cleanup(func() { _ = exec.Command("psql", dsn, "-qc", "drop table if exists "+table).Run() })
			// 7-minute steps from 2024-10-26 22:00 UTC cross Europe's and
			// America's autumn clock changes.
			rows := func(from, to int) string {
				return fmt.Sprintf(`insert into %s select g, 'v' || g, timestamp '2024-10-26 22:00:00.000001' + g * interval '7 min' from generate_series(%d, %d) g`, table, from, to)
			}
			run(fmt.Sprintf(`drop table if exists %[1]s; create table %[1]s (id bigint primary key, v text, updated_at timestamp(6)); %[2]s`, table, rows(1, 300)))
			out := t.TempDir()
			env := []string{"HP_PG_DSN=" + dsn, "HP_OUT_DSN=" + out}
			args := []string{"pg.public." + table, "out.lake", "--delta-driver", "updated_at", "--primary-keys", "id"}
			if s := runDelta(t, bin, env, args...); s.Rows != 300 {
				t.Fatalf("first run: %+v", s)
			}
			run(rows(301, 600))
			if s := runDelta(t, bin, env, args...); s.Rows != 300 {
				t.Fatalf("second run: %+v", s)
			}
			exactlyOnce(t, published(t, out), 600)
		})
	}
}

// TestDeltaMariaDBSessionZones: MariaDB converts TIMESTAMP values by the
// session's time_zone, so hp reads in UTC whatever zone the rows were
// written in; deltas driven by TIMESTAMP and DATETIME columns written by
// clients in other zones publish every row exactly once, and a DSN asking
// for another session zone is refused instead of shifting the range.
func TestDeltaMariaDBSessionZones(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "mysql")
	mysqlOut(t, "SELECT 1")
	for _, driver := range []string{"ts", "dt"} {
		for _, zone := range []string{"+05:45", "-08:00"} {
			t.Run(driver+" "+zone, func(t *testing.T) {
				table := fmt.Sprintf("hp_e2e_myzone_%s_%d_%s", driver, os.Getpid(), strings.NewReplacer("+", "p", "-", "m", ":", "").Replace(zone))
				rows := func(from, to int) string {
					return fmt.Sprintf(`SET time_zone = '%s'; INSERT INTO %s SELECT seq, CONCAT('v', seq), '2024-10-26 22:00:00.000001' + INTERVAL seq * 7 MINUTE,
						'2024-10-26 22:00:00.000001' + INTERVAL seq * 7 MINUTE FROM seq_%d_to_%d`, zone, table, from, to)
				}
				mysqlOut(t, fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id BIGINT PRIMARY KEY, v TEXT, ts TIMESTAMP(6) NULL, dt DATETIME(6)); %[2]s", table, rows(1, 300)))
				t.Cleanup(func() { mysqlOut(t, "DROP TABLE IF EXISTS "+table) })
				out := t.TempDir()
				args := []string{"my.test." + table, "out.lake", "--delta-driver", driver, "--primary-keys", "id"}
				res := bin.Run(t, []string{"HP_MY_DSN=" + myDSN + "?time_zone=" + strings.NewReplacer("'", "%27", "+", "%2B", ":", "%3A").Replace("'"+zone+"'"), "HP_OUT_DSN=" + out},
					append([]string{"cp", "delta", "--compression", "none"}, args...)...)
				if res.Code != 2 || !strings.Contains(res.Stderr, "time_zone") {
					t.Fatalf("a DSN with session zone %s: exit %d\n%s", zone, res.Code, res.Stderr)
				}
				env := []string{"HP_MY_DSN=" + myDSN, "HP_OUT_DSN=" + out}
				if s := runDelta(t, bin, env, args...); s.Rows != 300 {
					t.Fatalf("first run: %+v", s)
				}
				mysqlOut(t, rows(301, 600))
				if s := runDelta(t, bin, env, args...); s.Rows != 300 {
					t.Fatalf("second run: %+v", s)
				}
				exactlyOnce(t, published(t, out), 600)
			})
		}
	}
}

// exactlyOnce checks that ids 1..n were each published once.
func exactlyOnce(t *testing.T, got map[string][]string, n int) {
	t.Helper()
	for id := 1; id <= n; id++ {
		if k := len(got[strconv.Itoa(id)]); k != 1 {
			t.Errorf("row %d published %d times", id, k)
		}
	}
	if len(got) != n {
		t.Errorf("%d rows published, want %d", len(got), n)
	}
}
