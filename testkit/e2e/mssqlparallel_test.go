package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// TestParallelSQLServerEqualsWhole: hp cp snap --parallel 3 from SQL
// Server (the mssql plugin and the real driver against the TDS test
// server) publishes exactly the rows of a serial snap, every row once:
// three disjoint key-range slices that cover the table, each read in a
// SNAPSHOT transaction begun while the plan holds the table lock.
func TestParallelSQLServerEqualsWhole(t *testing.T) {
	t.Parallel() // its own TDS server
	bin := testkit.Build(t, "mssql")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	const table = "[dbo].[slc]"
	mssqlTable(db, table, [][]any{{"id", "bigint", false, 8, 19, 0}, {"v", "nvarchar", true, 40, 0, 0}}, "id")
	var rows [][]any
	for i := int64(1); i <= 5000; i++ {
		// Gaps in the keys, and a few keys past int's range.
		id := i*7 - 3
		if i > 4990 {
			id = 1<<33 + i
		}
		var v any = fmt.Sprintf("row %d", id)
		if i%11 == 0 {
			v = nil
		}
		rows = append(rows, []any{id, v})
	}
	db.ServeKeyTable(table, []tds.Column{{Name: "id", Type: tds.BigInt}, {Name: "v", Type: tds.NVarChar, Length: 20, Nullable: true}}, rows)
	db.Handle("SELECT CAST(snapshot_isolation_state AS int) FROM sys.databases WHERE database_id = DB_ID()",
		tds.Response{Columns: []tds.Column{{Type: tds.Int, Nullable: true}}, Rows: [][]any{{int64(1)}}})
	db.Handle("SET LOCK_TIMEOUT 60000", tds.Response{})
	pin := "SELECT COUNT_BIG(*) FROM (SELECT TOP (1) 1 AS x FROM " + table + ") hp_pin"
	db.Handle(pin, tds.Response{Columns: []tds.Column{{Type: tds.BigInt}}, Rows: [][]any{{int64(1)}}})
	db.Handle("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", tds.Response{})

	var digests []string
	for _, n := range []string{"1", "3"} {
		db.ResetQueries()
		out := t.TempDir()
		res := bin.Run(t, []string{"HP_MS_DSN=" + db.DSN("etl", "pw", "Sales"), "HP_OUT_DSN=" + out}, "cp", "snap", "ms.dbo.slc", "out.x", "--parallel", n)
		if res.Code != 0 {
			t.Fatalf("--parallel %s: exit %d\n%s", n, res.Code, res.Stderr)
		}
		got := runRows(t, out, "csv")
		if len(got) != 5000 {
			t.Fatalf("--parallel %s: %d rows, want 5000", n, len(got))
		}
		digests = append(digests, digest(got))
		var slices, snapshots []string
		begun := map[uint64]byte{}
		for _, q := range db.Queries() {
			switch {
			case q.SQL == "BEGIN TRANSACTION":
				begun[q.Session] = q.Isolation
			case q.SQL == pin && begun[q.Session] == 5:
				snapshots = append(snapshots, q.SQL)
			case strings.HasPrefix(q.SQL, "SELECT [id], [v] FROM "+table):
				slices = append(slices, strings.TrimPrefix(q.SQL, "SELECT [id], [v] FROM "+table))
			}
		}
		want := map[string]int{"1": 1, "3": 3}[n]
		if len(slices) != want || (n == "3" && len(snapshots) != 3) || (n == "1" && len(snapshots) != 0) {
			t.Fatalf("--parallel %s: reads %q, %d snapshots", n, slices, len(snapshots))
		}
		if n == "3" && !strings.Contains(slices[1], "CAST(") {
			// Bounds past int's range go out as bigint, not numeric.
			t.Fatalf("slices %q: no bigint bound", slices)
		}
	}
	if digests[0] != digests[1] {
		t.Fatal("--parallel 3 published other rows than --parallel 1")
	}

	// A database without snapshot isolation: the same rows, no table lock,
	// and a warning that the slices are not one point in time.
	db.Handle("SELECT CAST(snapshot_isolation_state AS int) FROM sys.databases WHERE database_id = DB_ID()",
		tds.Response{Columns: []tds.Column{{Type: tds.Int, Nullable: true}}, Rows: [][]any{{int64(0)}}})
	db.ResetQueries()
	out := t.TempDir()
	res := bin.Run(t, []string{"HP_MS_DSN=" + db.DSN("etl", "pw", "Sales"), "HP_OUT_DSN=" + out}, "cp", "snap", "ms.dbo.slc", "out.x", "--parallel", "3")
	if res.Code != 0 {
		t.Fatalf("without snapshot isolation: exit %d\n%s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "does not allow snapshot isolation")
	if got := runRows(t, out, "csv"); digest(got) != digests[0] {
		t.Fatalf("without snapshot isolation: %d rows, other than the serial snap's", len(got))
	}
	for _, q := range db.Queries() {
		if strings.Contains(q.SQL, "TABLOCK") || q.SQL == pin {
			t.Fatalf("sent %q without snapshot isolation", q.SQL)
		}
	}
}
