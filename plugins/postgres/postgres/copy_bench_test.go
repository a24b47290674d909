package postgres

import (
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
	db := openDB(b)
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
	testkit.BenchRead(b, New(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn()}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}}, want)
}
