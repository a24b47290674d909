package testkit_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestShapeSQL loads every benchmark shape into both servers, a few rows
// each, and checks that both hold the rows and columns the shape says,
// with the same keys and the same text lengths.
func TestShapeSQL(t *testing.T) {
	pg := "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	my := []string{"-h127.0.0.1", "-P3306", "-uroot", "test", "-N", "-e"}
	run := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			testkit.NeedService(t, name, fmt.Errorf("%v: %s", err, out))
		}
		return strings.TrimSpace(string(out))
	}
	wantCols := map[string]int{"narrow": 10, "lineitem": 16, "text": 6, "wide": 200, "decimals": 21, "timestamps": 11, "large": 3}
	for _, shape := range testkit.Shapes {
		t.Run(shape.Name, func(t *testing.T) {
			table := "hp_test_shape_" + shape.Name
			const rows = 60
			t.Cleanup(func() {
				_ = exec.Command("psql", pg, "-qc", "drop table if exists "+table).Run()
				_ = exec.Command("mariadb", append(my, "drop table if exists "+table)...).Run()
			})
			key := "id"
			if shape.Name == "lineitem" {
				key = "l_orderkey"
			}
			// Text lengths summed over the string columns.
			lengths := map[string]string{"text": "char_length(k2) + char_length(t1) + char_length(t2) + char_length(t3)", "large": "char_length(name) + char_length(body)"}[shape.Name]
			if lengths == "" {
				lengths = "0"
			}
			check := fmt.Sprintf("select concat(count(*), '|', sum(%s), '|', sum(%s), '|', (select count(*) from information_schema.columns where table_name = '%s')) from %s", key, lengths, table, table)
			var got []string
			for _, db := range []string{"postgres", "mysql"} {
				q, err := testkit.ShapeSQL(db, shape.Name, table, rows)
				if err != nil {
					t.Fatal(err)
				}
				if db == "postgres" {
					run(t, "psql", pg, "-qv", "ON_ERROR_STOP=1", "-c", q)
					got = append(got, run(t, "psql", pg, "-Atc", check))
				} else {
					run(t, "mariadb", append(my, q)...)
					got = append(got, run(t, "mariadb", append(my, check)...))
				}
			}
			if got[0] != got[1] || !strings.HasPrefix(got[0], fmt.Sprintf("%d|%d|", rows, rows*(rows+1)/2)) || !strings.HasSuffix(got[0], fmt.Sprintf("|%d", wantCols[shape.Name])) {
				t.Errorf("PostgreSQL %s, MariaDB %s; want %d rows, keys 1..%d and %d columns on both", got[0], got[1], rows, rows, wantCols[shape.Name])
			}
		})
	}
	if _, err := testkit.ShapeSQL("postgres", "round", "t", 1); err == nil || !strings.Contains(err.Error(), "narrow") {
		t.Errorf("an unknown shape: %v, want an error listing the shapes", err)
	}
}
