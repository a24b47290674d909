package snowflake_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestPlanTable(t *testing.T) {
	e := newEnv(t, false)
	c := snowflake.New()
	ctx := context.Background()
	conn := sdk.Connection{DSN: e.dsn("etl", password, "")}
	js, err := extensions.NewJSONType(arrow.BinaryTypes.String)
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "tm", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		{Name: "ntz", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "ltz", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "tz", Type: extensions.NewTimestampWithOffsetType(arrow.Microsecond), Nullable: true},
		{Name: "doc", Type: js, Nullable: true},
		{Name: "Mixed Case", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	ref := sdk.ObjectRef{Schema: "PUBLIC", Name: "orders"}
	plan, err := c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: ref, Schema: schema, PrimaryKey: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	wantCreate := `CREATE TABLE "PUBLIC"."ORDERS" ("ID" NUMBER(19,0) NOT NULL, "AMOUNT" NUMBER(12,2), "NAME" VARCHAR, "OK" BOOLEAN, "RAW" BINARY, ` +
		`"D" DATE, "TM" TIME(9), "NTZ" TIMESTAMP_NTZ(9), "LTZ" TIMESTAMP_LTZ(9), "TZ" TIMESTAMP_TZ(9), "DOC" VARIANT, "Mixed Case" FLOAT, PRIMARY KEY ("ID"))`
	if plan.Exists || len(plan.Statements) != 1 || plan.Statements[0] != wantCreate || len(plan.Notes) != 0 {
		t.Fatalf("plan of a missing table: %+v\nwant %s", plan, wantCreate)
	}
	// PlanTable changes nothing.
	if _, ok := e.srv.Rows("PUBLIC.ORDERS"); ok {
		t.Fatal("PlanTable created the table")
	}
	if _, err := c.Exec(ctx, conn, plan.Statements); err != nil {
		t.Fatal(err)
	}
	// The created table fits: no statements, and Describe gives the key back.
	plan, err = c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: ref, Schema: schema, PrimaryKey: []string{"id"}})
	if err != nil || !plan.Exists || len(plan.Statements) != 0 || len(plan.Notes) != 0 {
		t.Fatalf("plan of the created table: %+v, %v", plan, err)
	}
	d, err := c.Describe(ctx, conn, sdk.Source{Object: &ref})
	if err != nil || strings.Join(d.PrimaryKey, ",") != "ID" {
		t.Fatalf("Describe: %+v, %v", d, err)
	}

	// An older, narrower table: an integer column too small, a decimal
	// with fewer integer digits, a shorter VARCHAR, a column the schema
	// lacks, a column of another type, a decimal of a smaller scale.
	for _, q := range []string{
		`CREATE TABLE "PUBLIC"."OLD" ("ID" NUMBER(9,0) NOT NULL, "AMOUNT" NUMBER(8,2), "NAME" VARCHAR(20), "LEGACY" VARCHAR, "OK" VARCHAR, "RATE" NUMBER(10,1), "NTZ" TIMESTAMP_NTZ(3))`,
	} {
		if err := e.srv.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "rate", Type: &arrow.Decimal128Type{Precision: 6, Scale: 3}, Nullable: true},
		{Name: "ntz", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "added", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	oldRef := sdk.ObjectRef{Name: "old"} // the session's schema
	plan, err = c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: oldRef, Schema: old})
	if err != nil {
		t.Fatal(err)
	}
	wantAlter := []string{
		`ALTER TABLE "PUBLIC"."OLD" ALTER COLUMN "ID" SET DATA TYPE NUMBER(19,0)`,
		`ALTER TABLE "PUBLIC"."OLD" ALTER COLUMN "AMOUNT" SET DATA TYPE NUMBER(12,2)`,
		`ALTER TABLE "PUBLIC"."OLD" ALTER COLUMN "NAME" SET DATA TYPE VARCHAR`,
		`ALTER TABLE "PUBLIC"."OLD" ADD COLUMN "ADDED" NUMBER(19,0)`,
	}
	if !plan.Exists || strings.Join(plan.Statements, "\n") != strings.Join(wantAlter, "\n") {
		t.Errorf("plan of OLD:\n%s\nwant\n%s", strings.Join(plan.Statements, "\n"), strings.Join(wantAlter, "\n"))
	}
	notes := strings.Join(plan.Notes, "\n")
	for _, n := range []string{`"OK" is TEXT`, `"RATE" is NUMBER(10,1)`, `cannot change a NUMBER's scale`, `"NTZ" is TIMESTAMP_NTZ(3)`,
		`"added" is added nullable`, `"LEGACY" is not in the schema: kept`} {
		if !strings.Contains(notes, n) {
			t.Errorf("notes lack %q:\n%s", n, notes)
		}
	}
	if strings.Contains(strings.Join(plan.Statements, "\n"), "DROP") {
		t.Errorf("dropped without AllowDrop: %v", plan.Statements)
	}
	plan, err = c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: oldRef, Schema: old, AllowDrop: true})
	if err != nil || plan.Statements[len(plan.Statements)-1] != `ALTER TABLE "PUBLIC"."OLD" DROP COLUMN "LEGACY"` {
		t.Fatalf("plan with AllowDrop: %+v, %v", plan, err)
	}
	// The statements run on the server, which allows only these changes;
	// then the table fits but for the notes.
	if _, err := c.Exec(ctx, conn, plan.Statements); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.srv.Columns("PUBLIC.OLD"), ","); got != "ID NUMBER(19,0) NOT NULL,AMOUNT NUMBER(12,2),NAME VARCHAR,OK VARCHAR,RATE NUMBER(10,1),NTZ TIMESTAMP_NTZ(3),ADDED NUMBER(19,0)" {
		t.Errorf("columns after the ALTERs: %s", got)
	}
	plan, err = c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: oldRef, Schema: old, AllowDrop: true})
	if err != nil || len(plan.Statements) != 0 {
		t.Errorf("plan after the ALTERs: %+v, %v", plan, err)
	}

	// A decimal wider than NUMBER, and a key that is not a column.
	wide := arrow.NewSchema([]arrow.Field{{Name: "x", Type: &arrow.Decimal256Type{Precision: 50, Scale: 0}}}, nil)
	if _, err := c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: ref, Schema: wide}); !errors.Is(err, sdk.ErrUnsupportedType) {
		t.Errorf("decimal(50): %v", err)
	}
	if _, err := c.PlanTable(ctx, sdk.PlanTableRequest{Conn: conn, Table: ref, Schema: schema, PrimaryKey: []string{"nope"}}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("bad key: %v", err)
	}
}
