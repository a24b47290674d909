package mysql_test

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// BenchmarkReadLineitem reads a TPC-H-style lineitem table in-process and
// discards the batches: the plugin's side of a table read, without gRPC.
// HP_BENCH_MYSQL_TABLE names an existing table in the test database
// (scripts/bench.sh loads hp_bench_lineitem); otherwise 200,000 rows are
// loaded into a fresh database.
func BenchmarkReadLineitem(b *testing.B) {
	table := os.Getenv("HP_BENCH_MYSQL_TABLE")
	db, dbName := database(b)
	dsn := testDSN()
	if table == "" {
		table = dbName + ".lineitem"
		for _, q := range []string{
			"SET SESSION cte_max_recursion_depth = 1000000",
			"SET SESSION max_recursive_iterations = 1000000",
		} {
			_, _ = db.Exec(q) // one of the two exists, MySQL's or MariaDB's
		}
		if _, err := db.Exec(`CREATE TABLE ` + table + ` (l_orderkey bigint not null primary key, l_partkey int,
			l_quantity decimal(15,2), l_extendedprice decimal(15,2), l_returnflag char(1), l_shipdate date,
			l_shipinstruct char(25), l_comment varchar(44))`); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO ` + table + ` WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 200000)
			SELECT g, g % 200000, g % 50 + 1, (g % 100000) / 100.0 + 900, elt(g % 3 + 1, 'A', 'N', 'R'),
			date '1992-01-01' + interval (g % 2500) day, 'DELIVER IN PERSON', md5(g) FROM s`); err != nil {
			b.Fatal(err)
		}
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
	cpu0 := cpuTime(b)
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
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
