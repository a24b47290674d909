package snowflake_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// TestSourceConformance runs the SDK's source suite over the protocol
// against the test server: a table of 14 rows with NULLs in every
// nullable column, an empty one, one of 120,000 rows (cancellation; its
// result comes in chunks) and one with a 5 MiB value.
func TestSourceConformance(t *testing.T) {
	for _, f := range resultFormats {
		t.Run(f, func(t *testing.T) { testSourceConformance(t, f) })
	}
}

func testSourceConformance(t *testing.T, format string) {
	e := newEnvFormat(t, false, format)
	const cols = `("ID" NUMBER(38,0) NOT NULL, "AMOUNT" NUMBER(12,2), "NAME" VARCHAR, "AT" TIMESTAMP_NTZ(6), "OK" BOOLEAN, "BIN" BINARY, PRIMARY KEY ("ID"))`
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ID", Type: &arrow.Decimal128Type{Precision: 38, Scale: 0}},
		{Name: "AMOUNT", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
		{Name: "NAME", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "AT", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "OK", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "BIN", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var values []string
	for id := int64(1); id <= 14; id++ {
		row := []string{fmt.Sprint(id), "NULL", "NULL", "NULL", "NULL", "NULL"}
		b.Field(0).(*array.Decimal128Builder).Append(decimal128.FromI64(id))
		if id%3 != 0 {
			unscaled := -(id%5 + 1) * 12345 // in neither order by id, with ties
			row[1] = fmt.Sprintf("%d.%02d", unscaled/100, -unscaled%100)
			b.Field(1).(*array.Decimal128Builder).Append(decimal128.FromI64(unscaled))
		} else {
			b.Field(1).AppendNull()
		}
		if id%4 != 0 {
			row[2] = fmt.Sprintf("'naïve ✓ %d'", id)
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("naïve ✓ %d", id))
		} else {
			b.Field(2).AppendNull()
		}
		if id%5 != 0 {
			at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * (time.Hour + time.Microsecond))
			row[3] = "'" + at.Format("2006-01-02 15:04:05.000000") + "'"
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
		} else {
			b.Field(3).AppendNull()
		}
		if id%2 == 0 {
			row[4] = strings.ToUpper(fmt.Sprint(id%4 == 0))
			b.Field(4).(*array.BooleanBuilder).Append(id%4 == 0)
		} else {
			b.Field(4).AppendNull()
		}
		if id%6 != 0 {
			row[5] = fmt.Sprintf("'%02X00FF'", id)
			b.Field(5).(*array.BinaryBuilder).Append([]byte{byte(id), 0, 0xFF})
		} else {
			b.Field(5).AppendNull()
		}
		values = append(values, "("+strings.Join(row, ", ")+")")
	}
	expected := b.NewRecordBatch()
	defer expected.Release()
	big := make([]string, 120_000)
	for i := range big {
		big[i] = fmt.Sprintf("(%d, 'row')", i)
	}
	if err := e.srv.Exec(`CREATE TABLE "CONF"."T" `+cols, `INSERT INTO "CONF"."T" VALUES `+strings.Join(values, ", "),
		`CREATE TABLE "CONF"."EMPTY" `+cols,
		`CREATE TABLE "CONF"."BIG" `+cols, `INSERT INTO "CONF"."BIG" ("ID", "NAME") VALUES `+strings.Join(big, ", "),
		`CREATE TABLE "CONF"."BLOBS" `+cols, `INSERT INTO "CONF"."BLOBS" ("ID", "NAME") VALUES (1, '`+strings.Repeat("é1234567", 5<<17)+`')`); err != nil {
		t.Fatal(err)
	}
	conn := sdk.Connection{DSN: e.dsn("etl", password, "")}
	conformance.RunSourceSuite(t, plugintest.Serve(t, snowflake.New()), conformance.SourceFixture{
		Conn: conn, Table: sdk.ObjectRef{Schema: "CONF", Name: "T"}, Expected: expected, KeyColumn: "ID", OrderColumn: "AMOUNT",
		Empty: sdk.ObjectRef{Schema: "CONF", Name: "EMPTY"}, Missing: sdk.ObjectRef{Schema: "CONF", Name: "MISSING"},
		Large: sdk.ObjectRef{Schema: "CONF", Name: "BIG"}, LargeValues: sdk.ObjectRef{Schema: "CONF", Name: "BLOBS"},
	})
	// Chunked results: TestSourceChunks (the suite cancels its large read,
	// so whether any chunk was fetched by then is a matter of timing).
}
