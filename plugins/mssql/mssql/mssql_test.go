package mssql_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// catalogCol is one row of mssql.ColumnsQuery's answer.
type catalogCol struct {
	name, typ         string
	nullable          bool
	maxLen, prec, scl int
	wire              tds.Column // how the server sends its values
}

// table registers the catalog answers for [schema].[name].
func table(s *tds.Server, objectName string, cols []catalogCol, pk ...string) {
	rows := make([][]any, len(cols))
	for i, c := range cols {
		var coll any // sys.columns.collation_name: NULL but for text
		if strings.Contains(c.typ, "char") || strings.HasSuffix(c.typ, "text") {
			coll = tds.DefaultCollation
		}
		rows[i] = []any{c.name, c.typ, c.nullable, c.maxLen, c.prec, c.scl, coll}
	}
	s.HandleArgs(mssql.ColumnsQuery, []any{objectName}, tds.Response{Columns: tds.SysColumns, Rows: rows})
	keys := make([][]any, len(pk))
	for i, k := range pk {
		keys[i] = []any{k}
	}
	s.HandleArgs(mssql.PrimaryKeyQuery, []any{objectName}, tds.Response{Columns: []tds.Column{{Name: "name", Type: tds.NVarChar, Length: 128}}, Rows: keys})
}

func wireColumns(cols []catalogCol) []tds.Column {
	out := make([]tds.Column, len(cols))
	for i, c := range cols {
		out[i] = c.wire
		out[i].Name = c.name
		out[i].Nullable = c.nullable
	}
	return out
}

func start(t *testing.T) (*tds.Server, sdk.Connection) {
	s := tds.Start(t, tds.WithLogin("loader", "S3cret!pw"))
	return s, sdk.Connection{DSN: s.DSN("loader", "S3cret!pw", "warehouse")}
}

// sample has every mapped type.
var sample = []catalogCol{
	{name: "id", typ: "int", maxLen: 4, prec: 10, wire: tds.Column{Type: tds.Int}},
	{name: "b", typ: "bit", nullable: true, maxLen: 1, prec: 1, wire: tds.Column{Type: tds.Bit}},
	{name: "ti", typ: "tinyint", nullable: true, maxLen: 1, prec: 3, wire: tds.Column{Type: tds.TinyInt}},
	{name: "si", typ: "smallint", nullable: true, maxLen: 2, prec: 5, wire: tds.Column{Type: tds.SmallInt}},
	{name: "i", typ: "int", nullable: true, maxLen: 4, prec: 10, wire: tds.Column{Type: tds.Int}},
	{name: "bi", typ: "bigint", nullable: true, maxLen: 8, prec: 19, wire: tds.Column{Type: tds.BigInt}},
	{name: "d38", typ: "decimal", nullable: true, maxLen: 17, prec: 38, scl: 18, wire: tds.Column{Type: tds.Decimal, Precision: 38, Scale: 18}},
	{name: "n", typ: "numeric", nullable: true, maxLen: 9, prec: 10, scl: 4, wire: tds.Column{Type: tds.Numeric, Precision: 10, Scale: 4}},
	{name: "m", typ: "money", nullable: true, maxLen: 8, prec: 19, scl: 4, wire: tds.Column{Type: tds.Money}},
	{name: "sm", typ: "smallmoney", nullable: true, maxLen: 4, prec: 10, scl: 4, wire: tds.Column{Type: tds.SmallMoney}},
	{name: "r", typ: "real", nullable: true, maxLen: 4, prec: 24, wire: tds.Column{Type: tds.Real}},
	{name: "f", typ: "float", nullable: true, maxLen: 8, prec: 53, wire: tds.Column{Type: tds.Float}},
	{name: "c", typ: "char", nullable: true, maxLen: 10, wire: tds.Column{Type: tds.VarChar, Length: 10}},
	{name: "vc", typ: "varchar", nullable: true, maxLen: 20, wire: tds.Column{Type: tds.VarChar, Length: 20}},
	{name: "nc", typ: "nchar", nullable: true, maxLen: 10, wire: tds.Column{Type: tds.NVarChar, Length: 5}},
	{name: "nv", typ: "nvarchar", nullable: true, maxLen: 100, wire: tds.Column{Type: tds.NVarChar, Length: 50}},
	{name: "nvmax", typ: "nvarchar", nullable: true, maxLen: -1, wire: tds.Column{Type: tds.NVarChar, Length: tds.Max}},
	{name: "vcmax", typ: "varchar", nullable: true, maxLen: -1, wire: tds.Column{Type: tds.VarChar, Length: tds.Max}},
	{name: "tx", typ: "text", nullable: true, maxLen: 16, wire: tds.Column{Type: tds.VarChar, Length: tds.Max}},
	{name: "ntx", typ: "ntext", nullable: true, maxLen: 16, wire: tds.Column{Type: tds.NVarChar, Length: tds.Max}},
	{name: "bn", typ: "binary", nullable: true, maxLen: 4, wire: tds.Column{Type: tds.VarBinary, Length: 4}},
	{name: "vb", typ: "varbinary", nullable: true, maxLen: 16, wire: tds.Column{Type: tds.VarBinary, Length: 16}},
	{name: "vbmax", typ: "varbinary", nullable: true, maxLen: -1, wire: tds.Column{Type: tds.VarBinary, Length: tds.Max}},
	{name: "img", typ: "image", nullable: true, maxLen: 16, wire: tds.Column{Type: tds.VarBinary, Length: tds.Max}},
	{name: "da", typ: "date", nullable: true, maxLen: 3, prec: 10, wire: tds.Column{Type: tds.Date}},
	{name: "tm", typ: "time", nullable: true, maxLen: 5, prec: 16, scl: 7, wire: tds.Column{Type: tds.Time, Scale: 7}},
	{name: "dt2", typ: "datetime2", nullable: true, maxLen: 8, prec: 27, scl: 7, wire: tds.Column{Type: tds.DateTime2, Scale: 7}},
	{name: "dt", typ: "datetime", nullable: true, maxLen: 8, prec: 23, scl: 3, wire: tds.Column{Type: tds.DateTime}},
	{name: "sdt", typ: "smalldatetime", nullable: true, maxLen: 4, prec: 16, wire: tds.Column{Type: tds.SmallDateTime}},
	{name: "dto", typ: "datetimeoffset", nullable: true, maxLen: 10, prec: 34, scl: 7, wire: tds.Column{Type: tds.DateTimeOffset, Scale: 7}},
	{name: "g", typ: "uniqueidentifier", nullable: true, maxLen: 16, wire: tds.Column{Type: tds.UniqueIdentifier}},
	{name: "x", typ: "xml", nullable: true, maxLen: -1, wire: tds.Column{Type: tds.XML}},
	{name: "rv", typ: "timestamp", maxLen: 8, wire: tds.Column{Type: tds.VarBinary, Length: 8}},
	{name: "na]me", typ: "nvarchar", nullable: true, maxLen: 100, wire: tds.Column{Type: tds.NVarChar, Length: 50}},
}

const sampleSelect = "SELECT [id], [b], [ti], [si], [i], [bi], [d38], [n], [m], [sm], [r], [f], [c], [vc], [nc], [nv], [nvmax], [vcmax], [tx], [ntx], " +
	"[bn], [vb], [vbmax], [img], [da], [tm], [dt2], [dt], [sdt], [dto], [g], [x], [rv], [na]]me] FROM [dbo].[sample_data]"

func TestDescribeAllTypes(t *testing.T) {
	s, conn := start(t)
	table(s, "[dbo].[sample_data]", sample, "id")
	d, err := mssql.New().Describe(context.Background(), conn, sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "sample_data"}})
	if err != nil {
		t.Fatal(err)
	}
	f := func(name string, typ arrow.DataType, nullable bool) arrow.Field {
		return arrow.Field{Name: name, Type: typ, Nullable: nullable}
	}
	want := arrow.NewSchema([]arrow.Field{
		f("id", arrow.PrimitiveTypes.Int32, false),
		f("b", arrow.FixedWidthTypes.Boolean, true),
		f("ti", arrow.PrimitiveTypes.Uint8, true),
		f("si", arrow.PrimitiveTypes.Int16, true),
		f("i", arrow.PrimitiveTypes.Int32, true),
		f("bi", arrow.PrimitiveTypes.Int64, true),
		f("d38", &arrow.Decimal128Type{Precision: 38, Scale: 18}, true),
		f("n", &arrow.Decimal128Type{Precision: 10, Scale: 4}, true),
		f("m", &arrow.Decimal128Type{Precision: 19, Scale: 4}, true),
		f("sm", &arrow.Decimal128Type{Precision: 10, Scale: 4}, true),
		f("r", arrow.PrimitiveTypes.Float32, true),
		f("f", arrow.PrimitiveTypes.Float64, true),
		f("c", arrow.BinaryTypes.String, true),
		f("vc", arrow.BinaryTypes.String, true),
		f("nc", arrow.BinaryTypes.String, true),
		f("nv", arrow.BinaryTypes.String, true),
		f("nvmax", arrow.BinaryTypes.String, true),
		f("vcmax", arrow.BinaryTypes.String, true),
		f("tx", arrow.BinaryTypes.String, true),
		f("ntx", arrow.BinaryTypes.String, true),
		f("bn", arrow.BinaryTypes.Binary, true),
		f("vb", arrow.BinaryTypes.Binary, true),
		f("vbmax", arrow.BinaryTypes.Binary, true),
		f("img", arrow.BinaryTypes.Binary, true),
		f("da", arrow.FixedWidthTypes.Date32, true),
		f("tm", arrow.FixedWidthTypes.Time64ns, true),
		f("dt2", &arrow.TimestampType{Unit: arrow.Nanosecond}, true),
		f("dt", &arrow.TimestampType{Unit: arrow.Microsecond}, true),
		f("sdt", &arrow.TimestampType{Unit: arrow.Microsecond}, true),
		f("dto", extensions.NewTimestampWithOffsetType(arrow.Nanosecond), true),
		f("g", arrow.BinaryTypes.String, true),
		f("x", arrow.BinaryTypes.String, true),
		f("rv", arrow.PrimitiveTypes.Uint64, false),
		f("na]me", arrow.BinaryTypes.String, true),
	}, nil)
	if !d.Schema.Equal(want) {
		t.Fatalf("schema:\n%s\nwant:\n%s", d.Schema, want)
	}
	if strings.Join(d.PrimaryKey, ",") != "id" {
		t.Errorf("primary key = %v", d.PrimaryKey)
	}
	natives := map[string]string{"d38": "decimal(38,18)", "nc": "nchar(5)", "nvmax": "nvarchar(max)", "dt2": "datetime2(7)", "rv": "timestamp", "bn": "binary(4)"}
	for _, c := range d.Columns {
		if w, ok := natives[c.Name]; ok && c.NativeType != w {
			t.Errorf("native type of %s = %q, want %q", c.Name, c.NativeType, w)
		}
	}
	var sawCatalog bool
	for _, q := range s.Queries() {
		if q.SQL == mssql.ColumnsQuery && q.RPC && len(q.Args()) == 1 && q.Args()[0] == "[dbo].[sample_data]" {
			sawCatalog = true
		}
	}
	if !sawCatalog {
		t.Errorf("catalog query not sent with [dbo].[sample_data]: %+v", s.Queries())
	}
}

func TestReadAllTypes(t *testing.T) {
	s, conn := start(t)
	table(s, "[dbo].[sample_data]", sample, "id")
	bigText := strings.Repeat("héllo wörld ✓ 漢字 ", 1<<16) // > 1 MB
	bigASCII := strings.Repeat("abc", 350_000)
	bigBin := make([]byte, 1<<20)
	for i := range bigBin {
		bigBin[i] = byte(i * 7)
	}
	ist := time.FixedZone("", 5*3600+30*60)
	dt2 := time.Date(2024, 2, 29, 23, 59, 58, 123456700, time.UTC)
	dto := time.Date(2023, 12, 31, 22, 15, 1, 999999900, ist)
	const guid = "6F9619FF-8B86-D011-B42D-00C04FD430C8"
	const dec38 = "-12345678901234567890.123456789012345678"
	full := []any{
		1, true, 255, -32768, -2147483648, int64(9223372036854775807), dec38, "-12345.6789", "922337203685477.5807", "-214748.3648",
		float32(1.5), 3.141592653589793, "abc       ", "café", "ñandú", "héllo wörld ✓", bigText, bigASCII, "legacy text", "ünïcode ntext",
		[]byte{0, 1, 2, 0xFF}, []byte{0xDE, 0xAD}, bigBin, []byte{0x89, 'P', 'N', 'G'},
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 23, 59, 59, 999999900, time.UTC), dt2,
		time.Date(1999, 12, 31, 23, 59, 59, 997000000, time.UTC), time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC), dto,
		guid, `<a b="1">x</a>`, []byte{0, 0, 0, 0, 0, 0, 0x07, 0xD1}, "quoted ] name",
	}
	nulls := make([]any, len(sample))
	nulls[0], nulls[32] = 2, []byte{0x80, 0, 0, 0, 0, 0, 0, 1}
	edge := make([]any, len(sample))
	copy(edge, nulls)
	edge[0] = 3
	edge[6] = "99999999999999999999.999999999999999999"
	edge[7] = "0.0001"
	edge[26] = time.Date(2262, 4, 11, 23, 47, 16, 854775800, time.UTC)
	edge[29] = time.Date(1970, 1, 1, 5, 30, 0, 100, ist) // = the epoch + 100 ns
	edge[32] = []byte{0, 0, 0, 0, 0, 0, 0, 0}
	s.Handle(sampleSelect, tds.Response{Columns: wireColumns(sample), Rows: [][]any{full, nulls, edge}})

	rr, err := mssql.New().Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "sample_data"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatalf("no batch: %v", rr.Err())
	}
	rec := rr.RecordBatch()
	if rec.NumRows() != 3 || rec.NumCols() != int64(len(sample)) {
		t.Fatalf("rows = %d cols = %d", rec.NumRows(), rec.NumCols())
	}
	col := func(name string) arrow.Array {
		t.Helper()
		idx := rec.Schema().FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("no column %s", name)
		}
		return rec.Column(idx[0])
	}
	eq := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	eq("id", col("id").(*array.Int32).Value(0), int32(1))
	eq("b", col("b").(*array.Boolean).Value(0), true)
	eq("ti", col("ti").(*array.Uint8).Value(0), uint8(255))
	eq("si", col("si").(*array.Int16).Value(0), int16(-32768))
	eq("i", col("i").(*array.Int32).Value(0), int32(-2147483648))
	eq("bi", col("bi").(*array.Int64).Value(0), int64(9223372036854775807))
	eq("d38", col("d38").(*array.Decimal128).Value(0).ToString(18), dec38)
	eq("d38 max", col("d38").(*array.Decimal128).Value(2).ToString(18), "99999999999999999999.999999999999999999")
	eq("n", col("n").(*array.Decimal128).Value(0).ToString(4), "-12345.6789")
	eq("n small", col("n").(*array.Decimal128).Value(2).ToString(4), "0.0001")
	eq("m", col("m").(*array.Decimal128).Value(0).ToString(4), "922337203685477.5807")
	eq("sm", col("sm").(*array.Decimal128).Value(0).ToString(4), "-214748.3648")
	eq("r", col("r").(*array.Float32).Value(0), float32(1.5))
	eq("f", col("f").(*array.Float64).Value(0), 3.141592653589793)
	eq("c", col("c").(*array.String).Value(0), "abc       ")
	eq("vc", col("vc").(*array.String).Value(0), "café")
	eq("nc", col("nc").(*array.String).Value(0), "ñandú")
	eq("nv", col("nv").(*array.String).Value(0), "héllo wörld ✓")
	eq("nvmax", col("nvmax").(*array.String).Value(0) == bigText, true)
	eq("vcmax", col("vcmax").(*array.String).Value(0) == bigASCII, true)
	eq("tx", col("tx").(*array.String).Value(0), "legacy text")
	eq("ntx", col("ntx").(*array.String).Value(0), "ünïcode ntext")
	eq("bn", bytes.Equal(col("bn").(*array.Binary).Value(0), []byte{0, 1, 2, 0xFF}), true)
	eq("vb", bytes.Equal(col("vb").(*array.Binary).Value(0), []byte{0xDE, 0xAD}), true)
	eq("vbmax", bytes.Equal(col("vbmax").(*array.Binary).Value(0), bigBin), true)
	eq("img", bytes.Equal(col("img").(*array.Binary).Value(0), []byte{0x89, 'P', 'N', 'G'}), true)
	eq("da", col("da").(*array.Date32).Value(0), arrow.Date32FromTime(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)))
	eq("tm", col("tm").(*array.Time64).Value(0), arrow.Time64(86399_999_999_900))
	eq("dt2", col("dt2").(*array.Timestamp).Value(0), arrow.Timestamp(dt2.UnixNano()))
	eq("dt2 max ns", col("dt2").(*array.Timestamp).Value(2), arrow.Timestamp(9223372036854775800))
	eq("dt", col("dt").(*array.Timestamp).Value(0), arrow.Timestamp(time.Date(1999, 12, 31, 23, 59, 59, 997000000, time.UTC).UnixMicro()))
	eq("sdt", col("sdt").(*array.Timestamp).Value(0), arrow.Timestamp(time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC).UnixMicro()))
	dtoCol := col("dto").(*extensions.TimestampWithOffsetArray)
	dtoFields := dtoCol.Storage().(*array.Struct)
	eq("dto instant", dtoFields.Field(0).(*array.Timestamp).Value(0), arrow.Timestamp(dto.UnixNano()))
	eq("dto offset", dtoFields.Field(1).(*array.Int16).Value(0), int16(330))
	eq("dto local", dtoCol.Value(0).Format(time.RFC3339Nano), "2023-12-31T22:15:01.9999999+05:30")
	eq("dto epoch", dtoFields.Field(0).(*array.Timestamp).Value(2), arrow.Timestamp(100))
	eq("g", col("g").(*array.String).Value(0), guid)
	eq("x", col("x").(*array.String).Value(0), `<a b="1">x</a>`)
	eq("rv", col("rv").(*array.Uint64).Value(0), uint64(2001))
	eq("rv high", col("rv").(*array.Uint64).Value(1), uint64(1<<63|1))
	eq("na]me", col("na]me").(*array.String).Value(0), "quoted ] name")
	for i := 1; i < len(sample); i++ {
		if i == 32 {
			continue
		}
		if !rec.Column(i).IsNull(1) {
			t.Errorf("column %s of the NULL row is not NULL", sample[i].name)
		}
	}
	if rr.Next() {
		t.Fatal("extra batch")
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
}

var events = []catalogCol{
	{name: "id", typ: "bigint", maxLen: 8, prec: 19, wire: tds.Column{Type: tds.BigInt}},
	{name: "updated_at", typ: "datetime2", nullable: true, maxLen: 8, prec: 27, scl: 7, wire: tds.Column{Type: tds.DateTime2, Scale: 7}},
}

func TestRangeReadParameters(t *testing.T) {
	s, conn := start(t)
	table(s, "[dbo].[events]", events, "id")
	lo := time.Date(2024, 1, 1, 0, 0, 0, 100, time.UTC)
	hi := time.Date(2024, 6, 30, 23, 59, 59, 999999900, time.UTC)
	const q = "SELECT [id], [updated_at] FROM [dbo].[events] WHERE [updated_at] > @p1 AND [updated_at] <= @p2"
	s.HandleArgs(q, []any{lo, hi}, tds.Response{Columns: wireColumns(events), Rows: [][]any{{7, hi}}})
	rr, err := mssql.New().Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "events"}},
		Range: &sdk.RangeFilter{Column: "updated_at", Lower: sdk.TimestampValue(lo), Upper: sdk.TimestampValue(hi), UpperInclusive: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	n := int64(0)
	for rr.Next() {
		n += rr.RecordBatch().NumRows()
	}
	if err := rr.Err(); err != nil || n != 1 {
		t.Fatalf("rows = %d, %v", n, err)
	}
	var got *tds.Query
	for _, x := range s.Queries() {
		if x.SQL == q {
			got = &x
		}
	}
	if got == nil {
		t.Fatalf("range query not sent: %+v", s.Queries())
	}
	args := got.Args()
	if len(args) != 2 || !args[0].(time.Time).Equal(lo) || !args[1].(time.Time).Equal(hi) {
		t.Fatalf("args = %#v", args)
	}
	if !strings.Contains(got.Decl, "@p1 datetime2") || !strings.Contains(got.Decl, "@p2 datetime2") {
		t.Errorf("parameters are not datetime2 (the column's type): %q", got.Decl)
	}
}

// TestRangeDatetimeParameters: bounds of datetime and smalldatetime
// columns that the column can hold go out as datetime, since SQL Server
// (compatibility level 130 on) compares a datetime's .003 with a
// datetime2 as .0033333 and would drop the row at the upper bound; values
// datetime cannot hold exactly (off its 1/300 s ticks, before 1753) go out
// as datetime2, which compares exactly.
func TestRangeDatetimeParameters(t *testing.T) {
	s, conn := start(t)
	cols := []catalogCol{
		{name: "id", typ: "int", maxLen: 4, prec: 10, wire: tds.Column{Type: tds.Int}},
		{name: "dt", typ: "datetime", nullable: true, maxLen: 8, prec: 23, scl: 3, wire: tds.Column{Type: tds.DateTime}},
		{name: "sdt", typ: "smalldatetime", nullable: true, maxLen: 4, prec: 16, wire: tds.Column{Type: tds.SmallDateTime}},
	}
	table(s, "[dbo].[legacy]", cols, "id")
	day := func(y int, m time.Month, d, h, min, sec, ms int) time.Time {
		return time.Date(y, m, d, h, min, sec, ms*1e6, time.UTC)
	}
	for _, c := range []struct {
		col          string
		lo, hi       time.Time
		loTyp, hiTyp string
	}{
		{"dt", day(2024, 1, 1, 0, 0, 0, 3), day(2024, 6, 30, 23, 59, 59, 997), "datetime", "datetime"},
		{"dt", day(2024, 1, 1, 0, 0, 0, 0), day(9999, 12, 31, 23, 59, 59, 997), "datetime", "datetime"},
		{"sdt", day(2024, 1, 1, 0, 1, 0, 0), day(2079, 6, 6, 23, 59, 0, 0), "datetime", "datetime"},
		// Off datetime's ticks (.002), or before 1753: datetime2.
		{"dt", day(1700, 1, 1, 0, 0, 0, 0), day(2024, 1, 1, 0, 0, 0, 2), "datetime2", "datetime2"},
		{"dt", day(2024, 1, 1, 0, 0, 0, 0).Add(time.Microsecond), day(2024, 1, 1, 0, 0, 0, 7), "datetime2", "datetime"},
	} {
		q := "SELECT [id], [dt], [sdt] FROM [dbo].[legacy] WHERE [" + c.col + "] > @p1 AND [" + c.col + "] <= @p2"
		s.Handle(q, tds.Response{Columns: wireColumns(cols)})
		before := len(s.Queries())
		rr, err := mssql.New().Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "legacy"}},
			Range: &sdk.RangeFilter{Column: c.col, Lower: sdk.TimestampValue(c.lo), Upper: sdk.TimestampValue(c.hi), UpperInclusive: true}})
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		got := sentQuery(t, s, before, q)
		// Decl is "@p1 <type>,@p2 <type>".
		decl := strings.Split(got.Decl, ",")
		if len(decl) != 2 {
			t.Fatalf("declaration %q", got.Decl)
		}
		args := got.Args()
		for i, w := range []struct {
			typ string
			v   time.Time
		}{{c.loTyp, c.lo}, {c.hiTyp, c.hi}} {
			typ := strings.TrimPrefix(strings.TrimSpace(decl[i]), "@p"+string(rune('1'+i))+" ")
			if typ != w.typ && !(w.typ == "datetime2" && strings.HasPrefix(typ, "datetime2(")) {
				t.Errorf("%s bound %s sent as %q, want %s", c.col, w.v, typ, w.typ)
			}
			v, ok := args[i].(time.Time)
			// datetime carries 1/300 s ticks: the tick the column reads as w.v.
			if w.typ == "datetime" {
				v = v.Round(time.Millisecond)
			}
			if !ok || !v.Equal(w.v) {
				t.Errorf("%s bound sent as %v, want %s", c.col, args[i], w.v)
			}
		}
	}
}

func TestBounds(t *testing.T) {
	s, conn := start(t)
	table(s, "[dbo].[events]", events, "id")
	lo := time.Date(2020, 5, 1, 1, 2, 3, 400, time.UTC)
	hi := time.Date(2024, 6, 30, 23, 59, 59, 999999900, time.UTC)
	const q = "SELECT MIN([updated_at]), MAX([updated_at]), COUNT_BIG(*), COUNT_BIG([updated_at]) FROM [dbo].[events]"
	if got, _ := mssql.BoundsSQL(sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "events"}}, "updated_at", "", nil); got != q {
		t.Fatalf("bounds SQL = %q", got)
	}
	s.Handle(q, tds.Response{
		Columns: []tds.Column{{Type: tds.DateTime2, Scale: 7, Nullable: true}, {Type: tds.DateTime2, Scale: 7, Nullable: true}, {Type: tds.BigInt}, {Type: tds.BigInt}},
		Rows:    [][]any{{lo, hi, int64(5_000_000_000), int64(4_999_999_990)}},
	})
	b, err := mssql.New().Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "events"}}, Column: "updated_at"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Count != 5_000_000_000 || b.NullCount != 10 || !b.Min.Time.Equal(lo) || !b.Max.Time.Equal(hi) || b.Min.Kind != sdk.KindTimestamp {
		t.Fatalf("bounds = %+v min %v max %v", b, b.Min, b.Max)
	}

	// With a range on the key: typed parameters.
	const q2 = "SELECT MIN([id]), MAX([id]), COUNT_BIG(*), COUNT_BIG([id]) FROM [dbo].[events] WHERE [id] >= @p1"
	s.HandleArgs(q2, []any{100}, tds.Response{
		Columns: []tds.Column{{Type: tds.BigInt, Nullable: true}, {Type: tds.BigInt, Nullable: true}, {Type: tds.BigInt}, {Type: tds.BigInt}},
		Rows:    [][]any{{nil, nil, 0, 0}},
	})
	b, err = mssql.New().Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "events"}}, Column: "id",
		Range: &sdk.RangeFilter{Column: "id", Lower: sdk.Int64Value(100), LowerInclusive: true}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Count != 0 || b.Min != nil || b.Max != nil {
		t.Fatalf("empty bounds = %+v", b)
	}

	// datetimeoffset: the bounds are the instants (SQL Server orders by
	// instant), a timestamp a delta keeps as its mark; a range on the
	// column goes out as datetimeoffset parameters of those instants.
	stamps := []catalogCol{
		{name: "id", typ: "int", maxLen: 4, prec: 10, wire: tds.Column{Type: tds.Int}},
		{name: "at", typ: "datetimeoffset", nullable: true, maxLen: 10, prec: 34, scl: 7, wire: tds.Column{Type: tds.DateTimeOffset, Scale: 7}},
	}
	table(s, "[dbo].[stamps]", stamps, "id")
	loOff := time.Date(2020, 5, 1, 6, 32, 3, 400, time.FixedZone("", 5*3600+30*60))
	hiOff := time.Date(2024, 6, 30, 14, 29, 59, 999999900, time.FixedZone("", -(9*3600+30*60)))
	const q3 = "SELECT MIN([at]), MAX([at]), COUNT_BIG(*), COUNT_BIG([at]) FROM [dbo].[stamps] WHERE [at] > @p1 AND [at] <= @p2"
	s.Handle(q3, tds.Response{
		Columns: []tds.Column{{Type: tds.DateTimeOffset, Scale: 7, Nullable: true}, {Type: tds.DateTimeOffset, Scale: 7, Nullable: true}, {Type: tds.BigInt}, {Type: tds.BigInt}},
		Rows:    [][]any{{loOff, hiOff, int64(3), int64(2)}},
	})
	before := len(s.Queries())
	b, err = mssql.New().Bounds(context.Background(), sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "stamps"}}, Column: "at",
		Range: &sdk.RangeFilter{Column: "at", Lower: sdk.TimestampValue(lo), Upper: sdk.TimestampValue(hi), UpperInclusive: true}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Min == nil || b.Max == nil || b.Min.Kind != sdk.KindTimestamp || b.Max.Kind != sdk.KindTimestamp ||
		!b.Min.Time.Equal(lo) || !b.Max.Time.Equal(hi) || b.Count != 3 || b.NullCount != 1 {
		t.Fatalf("datetimeoffset bounds = %+v min %v max %v", b, b.Min, b.Max)
	}
	sent := sentQuery(t, s, before, q3)
	args := sent.Args()
	if len(args) != 2 || !args[0].(time.Time).Equal(lo) || !args[1].(time.Time).Equal(hi) || strings.Count(sent.Decl, "datetimeoffset") != 2 {
		t.Fatalf("range parameters %q %#v, want two datetimeoffset instants", sent.Decl, args)
	}
}

func TestErrors(t *testing.T) {
	s, conn := start(t)
	c := mssql.New()
	ctx := context.Background()

	bad := sdk.Connection{DSN: s.DSN("loader", "Wr0ngPassw0rd", "warehouse")}
	_, err := c.Check(ctx, bad)
	if !errors.Is(err, sdk.ErrUnauthenticated) || strings.Contains(err.Error(), "Wr0ngPassw0rd") || !strings.Contains(err.Error(), sdk.MaskDSN(bad.DSN)) {
		t.Fatalf("wrong password: %v", err)
	}
	if v, err := c.Check(ctx, conn); err == nil {
		t.Fatalf("check without a version handler = %q", v)
	}
	s.Handle(mssql.VersionQuery, tds.Response{Columns: []tds.Column{{Type: tds.NVarChar, Length: 300}}, Rows: [][]any{{"Microsoft SQL Server 2022 (RTM) - 16.0.1000.6"}}})
	if v, err := c.Check(ctx, conn); err != nil || !strings.Contains(v, "2022") {
		t.Fatalf("check = %q, %v", v, err)
	}

	// Unknown table: the catalog knows nothing of it.
	s.HandleArgs(mssql.ColumnsQuery, []any{"[dbo].[missing]"}, tds.Response{Columns: tds.SysColumns})
	_, err = c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "missing"}}})
	if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "dbo.missing") {
		t.Fatalf("unknown table: %v", err)
	}
	// ... and a query naming it: error 208.
	s.Handle("SELECT * FROM dbo.missing", tds.Response{Err: &tds.Error{Number: 208, State: 1, Class: 16, Message: "Invalid object name 'dbo.missing'."}})
	_, err = c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Query: "SELECT * FROM dbo.missing"}})
	if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "Invalid object name 'dbo.missing'") {
		t.Fatalf("error 208: %v", err)
	}

	// Permission denied and deadlock victim keep SQL Server's number and
	// message; only the first is a configuration error (exit 2): a
	// deadlock victim's rerun can succeed.
	for q, c := range map[string]struct {
		e    *tds.Error
		kind error
	}{
		"SELECT * FROM dbo.secret":  {&tds.Error{Number: 229, State: 5, Class: 14, Message: "The SELECT permission was denied on the object 'secret', database 'warehouse', schema 'dbo'."}, sdk.ErrPermissionDenied},
		"SELECT * FROM dbo.contest": {&tds.Error{Number: 1205, State: 51, Class: 13, Message: "Transaction (Process ID 57) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction."}, nil},
	} {
		s.Handle(q, tds.Response{Err: c.e})
		_, err = mssql.New().Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Query: q}})
		want := fmt.Sprintf("SQL Server error %d: %s", c.e.Number, c.e.Message)
		if err == nil || !strings.Contains(err.Error(), want) || (c.kind != nil && !errors.Is(err, c.kind)) ||
			(c.kind == nil && (errors.Is(err, sdk.ErrPermissionDenied) || errors.Is(err, sdk.ErrInvalidArgument) || errors.Is(err, sdk.ErrNotFound))) {
			t.Errorf("%s: %v", q, err)
		}
	}

	// Unsupported type: a CLR type without a fallback.
	table(s, "[dbo].[places]", []catalogCol{
		{name: "id", typ: "int", maxLen: 4, prec: 10},
		{name: "location", typ: "LatLong", nullable: true, maxLen: -1},
	})
	_, err = c.Describe(ctx, conn, sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "places"}})
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `"location"`) || !strings.Contains(err.Error(), "latlong") ||
		!strings.Contains(err.Error(), "[location].ToString()") {
		t.Fatalf("unsupported type: %v", err)
	}
	// Projecting the other columns still reads.
	s.Handle("SELECT [id] FROM [dbo].[places]", tds.Response{Columns: []tds.Column{{Name: "id", Type: tds.Int}}, Rows: [][]any{{1}}})
	rr, err := c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "places"}}, Columns: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	rr.Release()
}

func TestLargeResultStreamsInBatches(t *testing.T) {
	s, conn := start(t)
	cols := []catalogCol{
		{name: "id", typ: "bigint", maxLen: 8, prec: 19, wire: tds.Column{Type: tds.BigInt}},
		{name: "label", typ: "nvarchar", nullable: true, maxLen: 80, wire: tds.Column{Type: tds.NVarChar, Length: 40}},
		{name: "amount", typ: "decimal", nullable: true, maxLen: 9, prec: 18, scl: 2, wire: tds.Column{Type: tds.Decimal, Precision: 18, Scale: 2}},
	}
	table(s, "[dbo].[big]", cols, "id")
	const total = 100_000
	s.Handle("SELECT [id], [label], [amount] FROM [dbo].[big]", tds.Response{
		Columns: wireColumns(cols), NumRows: total,
		RowFunc: func(i int) []any {
			if i%10 == 0 {
				return []any{i, nil, nil}
			}
			return []any{i, "label", "12.50"}
		},
	})
	rr, err := mssql.New().Read(context.Background(), sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "big"}}, BatchMaxRows: 8192})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var rows, sum, nulls, batches int64
	for rr.Next() {
		rec := rr.RecordBatch()
		if rec.NumRows() > 8192 {
			t.Fatalf("batch of %d rows", rec.NumRows())
		}
		batches++
		ids := rec.Column(0).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			sum += ids.Value(i)
		}
		nulls += int64(rec.Column(1).NullN())
		rows += rec.NumRows()
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != total || sum != total*(total-1)/2 || nulls != total/10 || batches < total/8192 {
		t.Fatalf("rows %d sum %d nulls %d batches %d", rows, sum, nulls, batches)
	}
}

func TestInfoCapabilities(t *testing.T) {
	caps := sdk.CapabilitiesOf(mssql.New())
	var names []string
	for _, c := range caps {
		names = append(names, string(c))
	}
	if got := strings.Join(names, ","); got != "check,list_objects,describe,read,bounds,write,exec,plan_table,write_sync,write_abort,read_query,read_partitions" {
		t.Fatalf("capabilities = %s", got)
	}
}

// Spatial, hierarchyid and sql_variant columns are read through the
// server's fallback expressions, named as the columns.
func TestFallbackColumns(t *testing.T) {
	s, conn := start(t)
	cols := []catalogCol{
		{name: "id", typ: "int", maxLen: 4, prec: 10, wire: tds.Column{Type: tds.Int}},
		{name: "geo", typ: "geography", nullable: true, maxLen: -1, wire: tds.Column{Type: tds.VarBinary, Length: tds.Max}},
		{name: "shape", typ: "geometry", nullable: true, maxLen: -1, wire: tds.Column{Type: tds.VarBinary, Length: tds.Max}},
		{name: "node", typ: "hierarchyid", nullable: true, maxLen: 892, wire: tds.Column{Type: tds.NVarChar, Length: 4000}},
		{name: "v]x", typ: "sql_variant", nullable: true, maxLen: 8016, wire: tds.Column{Type: tds.NVarChar, Length: tds.Max}},
	}
	table(s, "[dbo].[places]", cols, "id")
	// POINT(1 1 2 3) as AsBinaryZM returns it (wkbPointZM = 3001).
	wkb := []byte{0x01, 0xB9, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0x08, 0x40}
	point2D := []byte{0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x24, 0x40, 0, 0, 0, 0, 0, 0, 0x34, 0x40}
	const want = "SELECT [id], [geo].AsBinaryZM() AS [geo], [shape].AsBinaryZM() AS [shape], [node].ToString() AS [node], " +
		"CASE CAST(SQL_VARIANT_PROPERTY([v]]x], 'BaseType') AS sysname) WHEN 'float' THEN CONVERT(nvarchar(max), [v]]x], 3) " +
		"WHEN 'real' THEN CONVERT(nvarchar(max), [v]]x], 3) WHEN 'binary' THEN CONVERT(nvarchar(max), [v]]x], 1) " +
		"WHEN 'varbinary' THEN CONVERT(nvarchar(max), [v]]x], 1) ELSE CONVERT(nvarchar(max), [v]]x], 126) END AS [v]]x] FROM [dbo].[places]"
	s.Handle(want, tds.Response{Columns: wireColumns(cols), Rows: [][]any{
		{1, wkb, point2D, "/1/2/", "2024-01-02T03:04:05.1234567"},
		{2, nil, nil, nil, nil},
	}})
	c := mssql.New()
	ctx := context.Background()
	src := sdk.Source{Object: &sdk.ObjectRef{Schema: "dbo", Name: "places"}}
	d, err := c.Describe(ctx, conn, src)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Schema.String(); !strings.Contains(got, "geo: type=binary") || !strings.Contains(got, "shape: type=binary") ||
		!strings.Contains(got, "node: type=utf8") || !strings.Contains(got, "v]x: type=utf8") {
		t.Fatalf("schema %s", got)
	}
	rr, err := c.Read(ctx, sdk.ReadRequest{Conn: conn, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatalf("no batch: %v", rr.Err())
	}
	rec := rr.RecordBatch()
	if rec.NumRows() != 2 {
		t.Fatalf("%d rows", rec.NumRows())
	}
	geo, shape := rec.Column(1).(*array.Binary), rec.Column(2).(*array.Binary)
	node, v := rec.Column(3).(*array.String), rec.Column(4).(*array.String)
	if !bytes.Equal(geo.Value(0), wkb) || !bytes.Equal(shape.Value(0), point2D) || node.Value(0) != "/1/2/" || v.Value(0) != "2024-01-02T03:04:05.1234567" {
		t.Fatalf("row 1: %x %x %q %q", geo.Value(0), shape.Value(0), node.Value(0), v.Value(0))
	}
	for i := 1; i < 5; i++ {
		if !rec.Column(i).IsNull(1) {
			t.Errorf("row 2, column %d not NULL", i)
		}
	}
	if rr.Next() || rr.Err() != nil {
		t.Fatalf("extra batch or error: %v", rr.Err())
	}
}

// sentQuery is the last query with text q the server received after its
// first before queries.
func sentQuery(t *testing.T, s *tds.Server, before int, q string) tds.Query {
	t.Helper()
	var sent *tds.Query
	for _, x := range s.Queries()[before:] {
		if x.SQL == q {
			sent = &x
		}
	}
	if sent == nil {
		t.Fatalf("query not sent: %s\nsent: %+v", q, s.Queries()[before:])
	}
	return *sent
}
