package mysql_test

import (
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
	testkit.BenchRead(b, mysql.New(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn}, Source: sdk.Source{Object: ref}}, want)
}
