package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// BenchmarkCopyLineitem reads a TPC-H-style lineitem table through COPY
// BINARY in-process and discards the batches: the plugin's side of a
// table read, without gRPC. HP_BENCH_PG_TABLE names an existing table
// (scripts/bench.sh loads hp_bench_lineitem); otherwise 200,000 rows are
// loaded (testkit.LineitemSQL) into a fresh table.
func BenchmarkCopyLineitem(b *testing.B) {
	table := os.Getenv("HP_BENCH_PG_TABLE")
	db, err := sql.Open("pgx", dsn())
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		testkit.NeedService(b, "PostgreSQL", err)
	}
	defer db.Close()
	if table == "" {
		table = fmt.Sprintf("hp_bench_%d", time.Now().UnixNano())
		q, err := testkit.LineitemSQL("postgres", table, 200_000)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
		defer db.Exec("DROP TABLE " + table)
	}
	var want int64
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&want); err != nil {
		b.Fatal(err)
	}
	c := New()
	cpu0 := testkit.CPUTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn()}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}})
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
