// Command lineitem prints the SQL that loads the benchmark's TPC-H-style
// lineitem table: lineitem -db postgres|mysql -rows N | psql ...
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/halfpipe-io/halfpipe/testkit"
)

func main() {
	db := flag.String("db", "postgres", "postgres or mysql")
	rows := flag.Int("rows", 5_000_000, "rows to generate")
	table := flag.String("table", "hp_bench_lineitem", "table to (re)create")
	flag.Parse()
	q, err := testkit.LineitemSQL(*db, *table, *rows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lineitem:", err)
		os.Exit(2)
	}
	fmt.Print(q)
}
