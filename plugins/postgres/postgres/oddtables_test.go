package postgres_test

import (
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestQueryUnconstrainedNumeric: query results of unconstrained numeric
// (sum, avg, max of numeric columns, casts) read as exact text, never an
// error, never rounded.
func TestQueryUnconstrainedNumeric(t *testing.T) {
	db, s := schemaFor(t)
	for _, q := range []string{
		`CREATE TABLE ` + s + `.t (amount numeric(12,2), free numeric)`,
		`INSERT INTO ` + s + `.t VALUES (10.25, 1e-30), (0.10, 123456789012345678901234567890123456789012.5)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	exprs := []string{"sum(amount)", "avg(amount)", "max(free)", "max(1.5::numeric)", "sum(free)", "min(free)", "sum(amount)::numeric(10,1)"}
	for _, e := range exprs {
		q := `SELECT ` + e + ` AS v FROM ` + s + `.t`
		var want string
		if err := db.QueryRow(`SELECT (` + e + `)::text FROM ` + s + `.t`).Scan(&want); err != nil {
			t.Fatal(err)
		}
		sch, rows, err := readAll(t, sdk.ReadRequest{Source: sdk.Source{Query: q}})
		if err != nil {
			t.Errorf("%s: %v", e, err)
			continue
		}
		if sch.Field(0).Type.ID() == arrow.STRING {
			want = strconv.Quote(want) // how render shows text
		}
		if len(rows) != 1 || rows[0][0] != want {
			t.Errorf("%s: got %v, want %s", e, rows, want)
		}
		if e == "sum(amount)::numeric(10,1)" {
			if !arrow.TypeEqual(sch.Field(0).Type, &arrow.Decimal128Type{Precision: 10, Scale: 1}) {
				t.Errorf("%s: type %s, want decimal128(10, 1)", e, sch.Field(0).Type)
			}
		} else if sch.Field(0).Type.ID() != arrow.STRING {
			t.Errorf("%s: type %s, want utf8 (exact text)", e, sch.Field(0).Type)
		}
	}
}
