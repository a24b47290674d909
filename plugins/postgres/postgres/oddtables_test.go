package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
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

// TestOddTables: a table without columns is named as such, not as
// missing; a column whose type has no Arrow mapping fails only the reads
// that ask for it.
func TestOddTables(t *testing.T) {
	db, s := schemaFor(t)
	for _, q := range []string{
		`CREATE TABLE ` + s + `.nocols ()`,
		`CREATE TABLE ` + s + `.wide (id int, huge numeric(1000,500), note text)`,
		`INSERT INTO ` + s + `.wide VALUES (1, 1.5, 'a'), (2, NULL, 'b')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := readAll(t, sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Schema: s, Name: "nocols"}}})
	if err == nil || !strings.Contains(err.Error(), "has no columns") || errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("zero-column table: %v, want \"has no columns\"", err)
	}
	_, _, err = readAll(t, sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Schema: s, Name: "missing"}}})
	if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing table: %v, want not found", err)
	}
	wide := &sdk.ObjectRef{Schema: s, Name: "wide"}
	sch, rows, err := readAll(t, sdk.ReadRequest{Source: sdk.Source{Object: wide}, Columns: []string{"note", "id"}, OrderBy: []sdk.OrderBy{{Column: "id"}}})
	if err != nil {
		t.Fatalf("read without the wide column: %v", err)
	}
	if sch.NumFields() != 2 || sch.Field(0).Name != "note" || len(rows) != 2 || rows[1][0] != `"b"` || rows[1][1] != "2" {
		t.Errorf("read without the wide column: %s %v", sch, rows)
	}
	if _, err := postgres.New().Bounds(context.Background(), sdk.BoundsRequest{Conn: sdk.Connection{DSN: testDSN()}, Source: sdk.Source{Object: wide}, Column: "id"}); err != nil {
		t.Errorf("bounds of id: %v", err)
	}
	// Asking for it still fails, naming the column.
	_, _, err = readAll(t, sdk.ReadRequest{Source: sdk.Source{Object: wide}})
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), "huge") {
		t.Errorf("read with the wide column: %v, want unsupported type naming it", err)
	}
}
