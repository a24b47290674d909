package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// BenchmarkCopyLineitem reads a TPC-H-style lineitem table through COPY
// BINARY in-process and discards the batches: the plugin's side of a
// table read, without gRPC. HP_BENCH_PG_TABLE names an existing table
// (scripts/bench.sh loads hp_bench_lineitem); otherwise 200,000 rows are
// loaded into a fresh table.
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
		if _, err := db.Exec(`CREATE TABLE ` + table + ` AS SELECT g::bigint AS l_orderkey, (g % 200000)::int AS l_partkey,
			((g % 50) + 1)::numeric(15,2) AS l_quantity, ((g % 100000) / 100.0 + 900)::numeric(15,2) AS l_extendedprice,
			(array['A','N','R'])[g % 3 + 1]::char(1) AS l_returnflag, date '1992-01-01' + (g % 2500) AS l_shipdate,
			'DELIVER IN PERSON'::char(25) AS l_shipinstruct, md5(g::text) AS l_comment
			FROM generate_series(1, 200000) g`); err != nil {
			b.Fatal(err)
		}
		defer db.Exec("DROP TABLE " + table)
	}
	var want int64
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&want); err != nil {
		b.Fatal(err)
	}
	c := New()
	cpu0 := cpuTime(b)
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
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the user and system time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
