package postgres_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestPlanTableWidens: on an existing PostgreSQL table the plan widens an
// integer and a decimal in place (ALTER COLUMN … TYPE) and leaves a
// column whose type is not a widening, with a note; run, the table fits.
func TestPlanTableWidens(t *testing.T) {
	db, s := schemaFor(t)
	if _, err := db.Exec(`CREATE TABLE ` + s + `.p (id int PRIMARY KEY, amount numeric(10,2) NOT NULL, label int)`); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := postgres.New()
	conn := sdk.Connection{DSN: testDSN()}
	req := sdk.PlanTableRequest{Conn: conn, Table: sdk.ObjectRef{Schema: s, Name: "p"}, Schema: arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 14, Scale: 4}},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)}
	p, err := c.PlanTable(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`ALTER TABLE "` + s + `"."p" ALTER COLUMN "id" TYPE bigint`,
		`ALTER TABLE "` + s + `"."p" ALTER COLUMN "amount" TYPE numeric(14,4)`,
	}
	if !p.Exists || !slices.Equal(p.Statements, want) || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], `column "label" is integer (int32), the schema's utf8: not a widening`) {
		t.Fatalf("plan: %q\nnotes %q", p.Statements, p.Notes)
	}
	if _, err := c.Exec(ctx, conn, p.Statements); err != nil {
		t.Fatal(err)
	}
	var types string
	if err := db.QueryRow(`SELECT string_agg(format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = '` + s + `.p'::regclass AND attnum > 0`).Scan(&types); err != nil {
		t.Fatal(err)
	}
	if types != "bigint not null, numeric(14,4) not null, integer" {
		t.Fatalf("types after the plan ran: %s", types)
	}
}

// TestReadOrderBinary: a text column of a case-insensitive-looking ICU
// collation is read in byte order when asked, through COPY (a table) and
// through the generic reader (a query).
func TestReadOrderBinary(t *testing.T) {
	db, s := schemaFor(t)
	if _, err := db.Exec(`CREATE TABLE ` + s + `.o (k text COLLATE "und-x-icu"); INSERT INTO ` + s + `.o VALUES ('a'), ('B'), ('é'), ('A'), (NULL)`); err != nil {
		t.Fatal(err)
	}
	c := postgres.New()
	for _, src := range []sdk.Source{{Object: &sdk.ObjectRef{Schema: s, Name: "o"}}, {Query: "SELECT k FROM " + s + ".o"}} {
		for _, binary := range []bool{false, true} {
			rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: testDSN()}, Source: src,
				OrderBy: []sdk.OrderBy{{Column: "k", Binary: binary}}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rr.Next() {
				col := rr.RecordBatch().Column(0).(*array.String)
				for i := 0; i < col.Len(); i++ {
					got = append(got, col.ValueStr(i))
				}
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			rr.Release()
			want := "(null),a,A,B,é"
			if binary {
				want = "(null),A,B,a,é"
			}
			if strings.Join(got, ",") != want {
				t.Errorf("%s, binary %v: %v, want %s", src, binary, got, want)
			}
		}
	}
}
