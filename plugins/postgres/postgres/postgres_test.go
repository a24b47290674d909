package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// testDSN is the real server: HP_TEST_POSTGRES_DSN, or the one every
// machine of this project runs on 127.0.0.1.
var testDSN = postgres.TestDSN

// schemaFor creates a fresh schema, dropped when the test ends.
func schemaFor(t *testing.T) (*sql.DB, string) {
	t.Helper()
	db := postgres.OpenTestDB(t)
	name := fmt.Sprintf("hp_test_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the schema goes before the connection.
	t.Cleanup(func() { _, _ = db.Exec("DROP SCHEMA " + name + " CASCADE") })
	return db, name
}

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "small", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
	{Name: "ratio", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "wall", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "u", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func seed(t *testing.T, db *sql.DB, s string, rows int) arrow.RecordBatch {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE ` + s + `.t (id bigint PRIMARY KEY, small smallint, name text, amount numeric(38,10), ratio double precision,
			at timestamptz, wall timestamp, day date, flag boolean, raw bytea, u uuid)`,
		`CREATE TABLE ` + s + `.empty (LIKE ` + s + `.t INCLUDING ALL)`,
		`CREATE TABLE ` + s + `.big AS SELECT g::bigint AS id FROM generate_series(1, 200000) g`,
		`ALTER TABLE ` + s + `.big ALTER id SET NOT NULL`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	names := []string{"plain", "", `quote " and, comma`, "new\nline", "unicode é 漢字 🚀", "tab\there"}
	for i := 1; i <= rows; i++ {
		id := int64(i) * 7
		b.Field(0).(*array.Int64Builder).Append(id)
		if i%6 == 0 {
			for c := 1; c < len(schema.Fields()); c++ {
				b.Field(c).AppendNull()
			}
			if _, err := db.Exec("INSERT INTO "+s+".t (id) VALUES ($1)", id); err != nil {
				t.Fatal(err)
			}
			continue
		}
		unscaled, _ := new(big.Int).SetString(strings.Repeat(fmt.Sprint(i%9+1), 38), 10)
		if i%2 == 0 {
			unscaled.Neg(unscaled)
		}
		amount := decimal128.FromBigInt(unscaled)
		at := time.Date(2024, 3, 31, 0, 59, 59, 0, time.UTC).Add(time.Duration(i) * 1000001 * time.Microsecond)
		wall := at.Add(-time.Duration(i) * 24 * time.Hour)
		day := time.Date(1900+i, 2, 28, 0, 0, 0, 0, time.UTC)
		raw := []byte{0, byte(i), 0, 0xfe}
		u := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*1000)
		small := int16(-32768 + i)
		b.Field(1).(*array.Int16Builder).Append(small)
		b.Field(2).(*array.StringBuilder).Append(names[i%len(names)])
		b.Field(3).(*array.Decimal128Builder).Append(amount)
		b.Field(4).(*array.Float64Builder).Append(float64(i) / 3)
		b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
		b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(wall.UnixMicro()))
		b.Field(7).(*array.Date32Builder).Append(arrow.Date32FromTime(day))
		b.Field(8).(*array.BooleanBuilder).Append(i%2 == 0)
		b.Field(9).(*array.BinaryBuilder).Append(raw)
		b.Field(10).(*array.StringBuilder).Append(u)
		_, err := db.Exec("INSERT INTO "+s+".t VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10, $11)",
			id, small, names[i%len(names)], amount.ToString(10), float64(i)/3, at, wall.Format("2006-01-02 15:04:05.999999"), day.Format("2006-01-02"), i%2 == 0, raw, u)
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.NewRecordBatch()
}

func TestConformance(t *testing.T) {
	db, s := schemaFor(t)
	expected := seed(t, db, s, 40)
	defer expected.Release()
	conn := sdk.Connection{DSN: testDSN()}
	remote := plugintest.Serve(t, postgres.New())
	conformance.RunSourceSuite(t, remote, conformance.SourceFixture{
		Conn: conn, Table: sdk.ObjectRef{Schema: s, Name: "t"}, Expected: expected, KeyColumn: "id", OrderColumn: "amount",
		Empty: sdk.ObjectRef{Schema: s, Name: "empty"}, Large: sdk.ObjectRef{Schema: s, Name: "big"},
		Missing: sdk.ObjectRef{Schema: s, Name: "missing"},
	})
	n := 0
	conformance.RunTargetSuite(t, postgres.New(), conformance.TargetFixture{Conn: conn, NewTable: func(t *testing.T) sdk.ObjectRef {
		n++
		return sdk.ObjectRef{Schema: s, Name: fmt.Sprintf("Target %d", n)}
	}})
}

func TestIdentifierSafetyAndErrors(t *testing.T) {
	db, s := schemaFor(t)
	if _, err := db.Exec(`CREATE TABLE ` + s + `."Mixed Case ""quoted"" select" ("from" int, "Sp ace" text)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO ` + s + `."Mixed Case ""quoted"" select" VALUES (1, 'x')`); err != nil {
		t.Fatal(err)
	}
	c := postgres.New()
	conn := sdk.Connection{DSN: testDSN()}
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: s, Name: `Mixed Case "quoted" select`}}})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Next() || rr.RecordBatch().NumRows() != 1 {
		t.Fatalf("odd names: %v", rr.Err())
	}
	rr.Release()
	_, err = c.Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: s, Name: `x"; DROP TABLE y; --`}}})
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("injection name: %v", err)
	}
}
