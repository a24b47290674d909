package mysql_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// BenchmarkReadLineitem reads a TPC-H-style lineitem table in-process and
// discards the batches: the plugin's side of a table read, without gRPC.
// HP_BENCH_MYSQL_TABLE names an existing table in the test database
// (scripts/bench.sh loads hp_bench_lineitem); otherwise 200,000 rows are
// loaded (testkit.LineitemSQL) into a fresh database.
func BenchmarkReadLineitem(b *testing.B) {
	table := os.Getenv("HP_BENCH_MYSQL_TABLE")
	db, dbName := database(b)
	dsn := testDSN()
	if table == "" {
		table = dbName + ".lineitem"
		q, err := testkit.LineitemSQL("mysql", table, 200_000)
		if err != nil {
			b.Fatal(err)
		}
		// One statement at a time: the connection does not allow several.
		execAll(b, db, strings.Split(strings.TrimSuffix(strings.TrimSpace(q), ";"), ";\n")...)
	}
	var want int64
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&want); err != nil {
		b.Fatal(err)
	}
	ref := &sdk.ObjectRef{Name: table}
	if s, n, ok := strings.Cut(table, "."); ok {
		ref = &sdk.ObjectRef{Schema: s, Name: n}
	}
	c := mysql.New()
	cpu0 := testkit.CPUTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Object: ref}})
		if err != nil {
			b.Fatal(err)
		}
		var rows int64
		for rr.Next() {
			rows += rr.RecordBatch().NumRows()
		}
		err = rr.Err()
		rr.Release()
		if err != nil {
			b.Fatal(err)
		}
		if rows != want {
			b.Fatalf("read %d rows of %d", rows, want)
		}
	}
	b.ReportMetric(float64(want*int64(b.N))/b.Elapsed().Seconds(), "rows/s")
	// CPU time tells more than wall time on a machine shared with other work.
	b.ReportMetric((testkit.CPUTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
