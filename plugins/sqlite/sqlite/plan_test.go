package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/plugins/sqlite/sqlite"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// TestPlanTable: the plan of a missing table is the CREATE TABLE a write
// would run, keyed; run, the table then fits; drift adds columns, keeps
// (or with AllowDrop drops) the ones the schema lacks, and names what
// SQLite cannot change in place.
func TestPlanTable(t *testing.T) {
	ctx := context.Background()
	// Through the protocol: the schema, keys and plan cross it.
	c := plugintest.Serve(t, sqlite.New())
	conn := sdk.Connection{DSN: "sqlite://" + filepath.Join(t.TempDir(), "p.db") + "?mode=rwc"}
	ref := sdk.ObjectRef{Name: "t"}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	}, nil)
	plan := func(s *arrow.Schema, keys []string, drop bool) *sdk.TablePlan {
		t.Helper()
		p, err := c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: ref, Schema: s, PrimaryKey: keys, AllowDrop: drop})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := plan(schema, []string{"id"}, false)
	want := []string{`CREATE TABLE "t" ("id" INTEGER NOT NULL, "name" TEXT, "amount" DECIMAL(10,2), PRIMARY KEY ("id"))`}
	if p.Exists || !slices.Equal(p.Statements, want) || len(p.Notes) > 0 {
		t.Fatalf("plan of a missing table: %+v", p)
	}
	if _, err := c.Exec(ctx, conn, p.Statements); err != nil {
		t.Fatal(err)
	}
	if p := plan(schema, []string{"id"}, false); !p.Exists || len(p.Statements) > 0 || len(p.Notes) > 0 {
		t.Fatalf("plan of a table that fits: %+v", p)
	}
	drift := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
		{Name: "added", Type: arrow.BinaryTypes.String},
	}, nil)
	p = plan(drift, nil, false)
	wantNotes := []string{
		`column "amount" is DECIMAL(10,2), narrower than the schema's decimal(12, 2), and this database's types are not changed in place`,
		`column "added" is added nullable: the existing rows have no value for it`,
		`column "name" is not in the schema: kept (allow dropping to drop it)`,
	}
	if !p.Exists || !slices.Equal(p.Statements, []string{`ALTER TABLE "t" ADD "added" TEXT`}) || !slices.Equal(p.Notes, wantNotes) {
		t.Fatalf("drift plan: %q\nnotes %q", p.Statements, p.Notes)
	}
	p = plan(drift, nil, true)
	if !slices.Equal(p.Statements, []string{`ALTER TABLE "t" ADD "added" TEXT`, `ALTER TABLE "t" DROP COLUMN "name"`}) || len(p.Notes) != 2 {
		t.Fatalf("drift plan with AllowDrop: %q\nnotes %q", p.Statements, p.Notes)
	}
	if _, err := c.Exec(ctx, conn, p.Statements); err != nil {
		t.Fatal(err)
	}
	d, err := c.Describe(ctx, conn, sdk.Source{Object: &ref})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range d.Schema.Fields() {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, []string{"id", "amount", "added"}) {
		t.Fatalf("columns after the drift plan ran: %v", names)
	}
	_, err = c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: sdk.ObjectRef{Name: "u"}, Schema: schema, PrimaryKey: []string{"nope"}})
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("a key that is not a column: %v", err)
	}
}

// TestReadOrderBinary: a NOCASE column is read in byte order when asked.
func TestReadOrderBinary(t *testing.T) {
	ctx := context.Background()
	c := sqlite.New()
	conn := sdk.Connection{DSN: "sqlite://" + filepath.Join(t.TempDir(), "o.db") + "?mode=rwc"}
	if _, err := c.Exec(ctx, conn, []string{"CREATE TABLE o (k TEXT COLLATE NOCASE, n INTEGER)", "INSERT INTO o VALUES ('b', 1), ('B', 2), ('a', 3), ('é', 4), ('A', 5)"}); err != nil {
		t.Fatal(err)
	}
	for binary, want := range map[bool]string{false: "3 5 1 2 4", true: "5 2 3 1 4"} {
		rr, err := c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Name: "o"}}, Columns: []string{"n"},
			OrderBy: []sdk.OrderBy{{Column: "k", Binary: binary}, {Column: "n"}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rr.Next() {
			col := rr.RecordBatch().Column(0)
			for i := 0; i < col.Len(); i++ {
				got = append(got, col.ValueStr(i))
			}
		}
		rr.Release()
		if strings.Join(got, " ") != want {
			t.Errorf("binary %v: %v, want %s", binary, got, want)
		}
	}
}
