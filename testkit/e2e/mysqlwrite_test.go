package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// myDB is the MariaDB database of the interruption tests: hp's connections
// to it are the only ones whose current database it is.
const myDB = "hp_e2e_myw"

func myw(t *testing.T, sql string) string {
	t.Helper()
	return strings.TrimSpace(mysqlOut(t, sql))
}

// hpConnections lists the ids of the connections hp has open to db.
func hpConnections(t *testing.T, db string) []string {
	return strings.Fields(myw(t, "SELECT id FROM information_schema.processlist WHERE db = '"+db+"' AND id <> CONNECTION_ID()"))
}

// hpInserting is the id of hp's connection to db while it runs an
// INSERT, or "" if none did for about a second. The server polls its
// process list every millisecond or two: a statement is visible only
// while it runs, and a client started per poll on a loaded machine once
// missed a whole load of 150,000 rows.
func hpInserting(t *testing.T, db string) string {
	out := myw(t, `delimiter //
	BEGIN NOT ATOMIC
		DECLARE c BIGINT DEFAULT NULL;
		DECLARE n INT DEFAULT 0;
		WHILE c IS NULL AND n < 500 DO
			SET c = (SELECT id FROM information_schema.processlist WHERE db = '`+db+`' AND info LIKE 'INSERT INTO%' LIMIT 1);
			IF c IS NULL THEN DO SLEEP(0.002); SET n = n + 1; END IF;
		END WHILE;
		SELECT c;
	END //`)
	if out == "NULL" {
		return ""
	}
	return out
}

// pluginChild is the pid of hp's child process running the named plugin.
func pluginChild(pid int, plugin string) int {
	for _, c := range children(pid) {
		if cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(c), "cmdline")); strings.Contains(string(cmd), "hp-plugin-"+plugin) {
			return c
		}
	}
	return 0
}

// waitNoConnections waits until every connection hp had to db has
// ended, so that no transaction can still commit when the table is read.
func waitNoConnections(t *testing.T, db string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(hpConnections(t, db)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("hp's connections to MariaDB are still open: %s", myw(t, "SELECT id, command, state, LEFT(info, 60) FROM information_schema.processlist WHERE db = '"+db+"'"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInterruptedWritesIntoMariaDB: replace, append and merge into a
// MariaDB table, interrupted mid-load by SIGINT to hp, SIGKILL of hp,
// SIGKILL of the MariaDB plugin and KILL of its connection on the server,
// leave the table exactly as it was, or, where the write had committed,
// exactly as the write leaves it. hp once printed "nothing was published"
// over a table that had lost a third of its rows.
func TestInterruptedWritesIntoMariaDB(t *testing.T) {
	t.Parallel() // its own database (myDB), whose connections alone it kills
	bin := testkit.Build(t, "gen", "mysql")
	myw(t, "DROP DATABASE IF EXISTS "+myDB+"; CREATE DATABASE "+myDB)
	t.Cleanup(func() { _ = mysqlOutQuiet("DROP DATABASE IF EXISTS " + myDB) })
	const rows = 150000
	env := []string{"HP_GEN_DSN=gen://?rows=" + strconv.Itoa(rows), "HP_MY_DSN=mysql://root@127.0.0.1:3306/" + myDB}
	faults := []struct {
		name string
		do   func(t *testing.T, hp, plugin int, conn string)
	}{
		{"SIGINT hp", func(t *testing.T, hp, _ int, _ string) { _ = syscall.Kill(hp, syscall.SIGINT) }},
		{"SIGKILL hp", func(t *testing.T, hp, _ int, _ string) { _ = syscall.Kill(hp, syscall.SIGKILL) }},
		{"SIGKILL plugin", func(t *testing.T, _, plugin int, _ string) { _ = syscall.Kill(plugin, syscall.SIGKILL) }},
		{"KILL connection", func(t *testing.T, _, _ int, conn string) { myw(t, "KILL "+conn) }},
	}
	for _, mode := range []string{"replace", "append", "merge"} {
		for _, f := range faults {
			t.Run(mode+"/"+f.name, func(t *testing.T) {
				table := myDB + ".t_" + mode
				myw(t, "DROP TABLE IF EXISTS "+table+"; CREATE TABLE "+table+" (id BIGINT PRIMARY KEY, value DOUBLE, label LONGTEXT, ts DATETIME(6));"+
					"INSERT INTO "+table+" SELECT -seq, seq / 3, 'old', '1999-01-01' FROM seq_1_to_500;"+
					"INSERT INTO "+table+" SELECT seq, seq / 3, 'old', '1999-01-01' FROM seq_2000001_to_2000500")
				fingerprint := func() string {
					return myw(t, "SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', id, value, label, ts))) FROM "+table)
				}
				before := fingerprint()
				args := []string{"cp", "snap", "gen.narrow", "my.t_" + mode, "--write-mode", mode}
				if mode == "merge" {
					args = append(args, "--primary-keys", "id")
				}
				r := startHP(t, bin, env, 2*time.Minute, args...)
				conn := r.until(t, "inserted", func() string { return hpInserting(t, myDB) })
				pid := r.cmd.Process.Pid
				f.do(t, pid, pluginChild(pid, "mysql"), conn)
				code, _ := r.wait(t)
				waitNoConnections(t, myDB)
				after := fingerprint()
				if code == 0 {
					// The write committed before the fault: all of it.
					want := map[string]int{"replace": rows, "append": rows + 1000, "merge": rows + 1000}[mode]
					if n := strings.Fields(after)[0]; n != strconv.Itoa(want) {
						t.Fatalf("exit 0 but the table has %s rows, want %d", n, want)
					}
					return
				}
				if after != before {
					t.Fatalf("exit %d and the table changed: %s rows before, %s after\n%s", code, before, after, r.stderr.String())
				}
				if f.name == "SIGINT hp" && !strings.Contains(r.stderr.String(), "rolled back") {
					t.Errorf("hp's message on SIGINT does not say the table write was rolled back:\n%s", r.stderr.String())
				}
			})
		}
	}
}

// mysqlOutQuiet runs a statement for cleanup, ignoring failures.
func mysqlOutQuiet(sql string) error {
	return exec.Command("mysql", "-h127.0.0.1", "-P3306", "-uroot", "-e", sql).Run()
}

// TestInterruptedDeltaIntoMariaDB: a delta into a MariaDB table killed
// mid-load, then run to completion, leaves the table holding exactly the
// source's rows: the mark comes only from what a committed run wrote, so
// no row is skipped.
func TestInterruptedDeltaIntoMariaDB(t *testing.T) {
	t.Parallel() // its own table and database, whose connections alone it kills
	bin := testkit.Build(t, "postgres", "mysql")
	const src = "hp_e2e_myw_delta"
	deltaTable(t, src, 150000)
	myw(t, "DROP DATABASE IF EXISTS "+myDB+"_d; CREATE DATABASE "+myDB+"_d")
	t.Cleanup(func() { _ = mysqlOutQuiet("DROP DATABASE IF EXISTS " + myDB + "_d") })
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=mysql://root@127.0.0.1:3306/" + myDB + "_d"}
	args := []string{"cp", "delta", "pg." + src, "my.t", "--delta-driver", "updated_at", "--primary-keys", "id"}
	r := startHP(t, bin, env, 2*time.Minute, args...)
	r.until(t, "inserted", func() string { return hpInserting(t, myDB+"_d") })
	time.Sleep(300 * time.Millisecond)
	_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL)
	_, _ = r.wait(t)
	waitNoConnections(t, myDB+"_d")
	if res := bin.Run(t, env, args...); res.Code != 0 {
		t.Fatalf("the next delta: exit %d\n%s", res.Code, res.Stderr)
	}
	want := pgExec(t, "SELECT count(*), sum(id), sum(length(v)) FROM "+src+" WHERE updated_at IS NOT NULL")
	got := strings.ReplaceAll(myw(t, "SELECT count(*), sum(id), sum(length(v)) FROM "+myDB+"_d.t"), "\t", "|")
	if got != want {
		t.Fatalf("the target holds %s (count|sum(id)|sum(length(v))), the source %s", got, want)
	}
}

// TestInterruptedCreateIntoMariaDB: MariaDB cannot create a table inside
// the data's transaction, so hp creates a missing one first; a load
// interrupted by SIGINT to hp or by KILL of its connection drops it again
// (the drop once ran on the dead connection and left the table behind).
func TestInterruptedCreateIntoMariaDB(t *testing.T) {
	t.Parallel() // its own database, whose connections alone it kills
	bin := testkit.Build(t, "gen", "mysql")
	db := myDB + "_c"
	myw(t, "DROP DATABASE IF EXISTS "+db+"; CREATE DATABASE "+db)
	t.Cleanup(func() { _ = mysqlOutQuiet("DROP DATABASE IF EXISTS " + db) })
	env := []string{"HP_GEN_DSN=gen://?rows=150000", "HP_MY_DSN=mysql://root@127.0.0.1:3306/" + db}
	for _, fault := range []string{"SIGINT hp", "KILL connection"} {
		r := startHP(t, bin, env, 2*time.Minute, "cp", "snap", "gen.narrow", "my.t_new")
		conn := r.until(t, "inserted ("+fault+")", func() string { return hpInserting(t, db) })
		if fault == "SIGINT hp" {
			_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGINT)
		} else {
			myw(t, "KILL "+conn)
		}
		if code, _ := r.wait(t); code == 0 {
			t.Fatalf("%s: exit 0, the load was not interrupted", fault)
		}
		waitNoConnections(t, db)
		if n := myw(t, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '"+db+"' AND table_name = 't_new'"); n != "0" {
			t.Fatalf("%s: the table hp created for the interrupted load is still there", fault)
		}
	}
}

// TestSourceFailureWaitsForCreatedTableDrop: a snapshot into a MariaDB
// table hp creates, whose source dies mid-load, exits only once the
// plugin has rolled back and dropped that table, even when the drop must
// wait (here for another session's metadata lock) longer than hp gives a
// plugin it stops: hp once stopped the plugin right after the failure,
// cutting such a clean-up short.
func TestSourceFailureWaitsForCreatedTableDrop(t *testing.T) {
	t.Parallel() // its own database
	bin := testkit.Build(t, "gen", "mysql")
	const db = "hp_e2e_myabort"
	myw(t, "DROP DATABASE IF EXISTS "+db+"; CREATE DATABASE "+db)
	t.Cleanup(func() { _ = mysqlOutQuiet("DROP DATABASE IF EXISTS " + db) })
	env := []string{"HP_GEN_DSN=gen://?rows=500000000", "HP_MY_DSN=mysql://root@127.0.0.1:3306/" + db}
	r := startHP(t, bin, env, 2*time.Minute, "cp", "snap", "gen.narrow", "my.t")
	exists := func() string {
		return myw(t, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '"+db+"' AND table_name = 't'")
	}
	r.until(t, "created the table", func() string {
		if exists() == "1" {
			return "yes"
		}
		return ""
	})
	lock := exec.Command("mysql", "-h127.0.0.1", "-P3306", "-uroot", db, "-e", "START TRANSACTION; SELECT COUNT(*) FROM t; DO SLEEP(4); COMMIT")
	if err := lock.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Wait() }()
	r.until(t, "waited for the lock", func() string {
		return myw(t, "SELECT id FROM information_schema.processlist WHERE db = '"+db+"' AND info LIKE 'DO SLEEP%'")
	})
	pid := r.cmd.Process.Pid
	_ = syscall.Kill(pluginChild(pid, "gen"), syscall.SIGKILL)
	code, _ := r.wait(t)
	if code == 0 {
		t.Fatalf("exit 0 from a snapshot whose source was killed:\n%s", r.stderr.String())
	}
	if n := exists(); n != "0" {
		t.Fatalf("hp exited (%d) before the plugin dropped the table it created:\n%s", code, r.stderr.String())
	}
}
