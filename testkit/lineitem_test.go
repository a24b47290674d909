package testkit_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestLineitemSQL loads the benchmark's table shape into both servers and
// checks that they hold the same rows.
func TestLineitemSQL(t *testing.T) {
	const table, rows = "hp_test_lineitem", 2500
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			testkit.NeedService(t, name, err)
		}
		return strings.TrimSpace(string(out))
	}
	pg := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	my := []string{"-h127.0.0.1", "-P3306", "-uroot", "test", "-N", "-e"}
	for _, db := range []string{"postgres", "mysql"} {
		q, err := testkit.LineitemSQL(db, table, rows)
		if err != nil {
			t.Fatal(err)
		}
		if db == "postgres" {
			run("psql", pg, "-qv", "ON_ERROR_STOP=1", "-c", q)
		} else {
			run("mysql", append(my, q)...)
		}
	}
	t.Cleanup(func() {
		_ = exec.Command("psql", pg, "-qc", "drop table if exists "+table).Run()
		_ = exec.Command("mysql", append(my, "drop table if exists "+table)...).Run()
	})
	// One digest of every row's text on each side.
	const cols = "l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity, l_extendedprice, l_discount, l_tax, l_returnflag, l_linestatus, l_shipdate, l_commitdate, l_receiptdate, trim(l_shipinstruct), trim(l_shipmode), l_comment"
	pgSum := run("psql", pg, "-Atc", "select count(*), md5(string_agg(concat_ws('|', "+cols+"), ',' order by l_orderkey)) from "+table)
	mySum := run("mysql", append(my, "set session group_concat_max_len = 1<<30; select concat(count(*), '|', md5(group_concat(concat_ws('|', "+cols+") order by l_orderkey separator ','))) from "+table)...)
	if pgSum != mySum || !strings.HasPrefix(pgSum, "2500|") {
		t.Fatalf("PostgreSQL %s, MariaDB %s", pgSum, mySum)
	}
	if _, err := testkit.LineitemSQL("oracle", table, 1); err == nil {
		t.Error("an unknown dialect gave SQL")
	}
}
