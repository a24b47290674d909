package mssql_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// texts lists the statements the server received, bulk loads as
// "<bulk load: n rows>".
func texts(s *tds.Server) []string {
	var out []string
	for _, q := range s.Queries() {
		switch {
		case q.Bulk != nil:
			out = append(out, fmt.Sprintf("<bulk load: %d rows>", len(q.Bulk.Rows)))
		case q.SQL == mssql.ColumnsQuery:
			out = append(out, "<columns of "+fmt.Sprint(q.Args()[0])+">")
		default:
			out = append(out, q.SQL)
		}
	}
	return out
}

// recordOf builds one batch; rows hold Go values of the fields' types
// (nil for NULL).
func recordOf(t *testing.T, schema *arrow.Schema, rows [][]any) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		for i, v := range r {
			fb := b.Field(i)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch x := fb.(type) {
			case *array.Int8Builder:
				x.Append(v.(int8))
			case *array.Int16Builder:
				x.Append(v.(int16))
			case *array.Int32Builder:
				x.Append(v.(int32))
			case *array.Int64Builder:
				x.Append(v.(int64))
			case *array.Uint8Builder:
				x.Append(v.(uint8))
			case *array.Uint16Builder:
				x.Append(v.(uint16))
			case *array.Uint32Builder:
				x.Append(v.(uint32))
			case *array.Uint64Builder:
				x.Append(v.(uint64))
			case *array.Float32Builder:
				x.Append(v.(float32))
			case *array.Float64Builder:
				x.Append(v.(float64))
			case *array.BooleanBuilder:
				x.Append(v.(bool))
			case *array.StringBuilder:
				x.Append(v.(string))
			case *array.LargeStringBuilder:
				x.Append(v.(string))
			case *array.BinaryBuilder:
				x.Append(v.([]byte))
			case *array.FixedSizeBinaryBuilder:
				x.Append(v.([]byte))
			case *array.Decimal128Builder:
				dt := schema.Field(i).Type.(*arrow.Decimal128Type)
				n, err := decimal128.FromString(v.(string), dt.Precision, dt.Scale)
				if err != nil {
					t.Fatal(err)
				}
				x.Append(n)
			case *array.Date32Builder:
				x.Append(arrow.Date32FromTime(v.(time.Time)))
			case *array.Time64Builder:
				x.Append(arrow.Time64(v.(time.Duration).Nanoseconds()))
			case *extensions.TimestampWithOffsetBuilder:
				x.Append(v.(time.Time))
			case *array.TimestampBuilder:
				ts, err := arrow.TimestampFromTime(v.(time.Time), schema.Field(i).Type.(*arrow.TimestampType).Unit)
				if err != nil {
					t.Fatal(err)
				}
				x.Append(ts)
			default:
				t.Fatalf("recordOf: no case for %T", fb)
			}
		}
	}
	return b.NewRecordBatch()
}

func readerOf(t *testing.T, schema *arrow.Schema, batches ...[][]any) array.RecordReader {
	t.Helper()
	var recs []arrow.RecordBatch
	for _, rows := range batches {
		recs = append(recs, recordOf(t, schema, rows))
	}
	rr, err := array.NewRecordReader(schema, recs)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// brokenReader yields its batches, then fails like a source that died.
type brokenReader struct {
	array.RecordReader
}

func (b brokenReader) Err() error { return errors.New("source connection reset") }

var (
	dbo = func(name string) sdk.ObjectRef { return sdk.ObjectRef{Schema: "dbo", Name: name} }
	f   = func(name string, typ arrow.DataType, nullable bool) arrow.Field {
		return arrow.Field{Name: name, Type: typ, Nullable: nullable}
	}
)

func TestWriteEveryTypeByBulkCopy(t *testing.T) {
	s, conn := start(t)
	s.HandleCatalog(mssql.ColumnsQuery)
	schema := arrow.NewSchema([]arrow.Field{
		f("id", arrow.PrimitiveTypes.Int64, false),
		f("i8", arrow.PrimitiveTypes.Int8, true),
		f("i16", arrow.PrimitiveTypes.Int16, true),
		f("i32", arrow.PrimitiveTypes.Int32, true),
		f("u8", arrow.PrimitiveTypes.Uint8, true),
		f("u16", arrow.PrimitiveTypes.Uint16, true),
		f("u32", arrow.PrimitiveTypes.Uint32, true),
		f("u64", arrow.PrimitiveTypes.Uint64, true),
		f("f32", arrow.PrimitiveTypes.Float32, true),
		f("f64", arrow.PrimitiveTypes.Float64, true),
		f("ok", arrow.FixedWidthTypes.Boolean, true),
		f("d38", &arrow.Decimal128Type{Precision: 38, Scale: 10}, true),
		f("txt", arrow.BinaryTypes.String, true),
		f("big txt", arrow.BinaryTypes.LargeString, true),
		f("bin", arrow.BinaryTypes.Binary, true),
		f("fsb", &arrow.FixedSizeBinaryType{ByteWidth: 3}, true),
		f("day", arrow.FixedWidthTypes.Date32, true),
		f("tod", arrow.FixedWidthTypes.Time64ns, true),
		f("ts", &arrow.TimestampType{Unit: arrow.Nanosecond}, true),
		f("ts_us", &arrow.TimestampType{Unit: arrow.Microsecond}, true),
		f("at", &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, true),
		f("na]me", arrow.BinaryTypes.String, true),
		f("local", extensions.NewTimestampWithOffsetType(arrow.Nanosecond), true),
		f("local_us", extensions.NewTimestampWithOffsetType(arrow.Microsecond), true),
	}, nil)
	ist, west := time.FixedZone("", 5*3600+30*60), time.FixedZone("", -(9*3600+30*60))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 13)
	}
	unicode := strings.Repeat("héllo wörld ✓ 漢字 🚀 ", 20_000)
	ts := time.Date(2024, 2, 29, 23, 59, 58, 123456700, time.UTC)
	full := []any{int64(1), int8(-128), int16(-32768), int32(-2147483648), uint8(255), uint16(65535), uint32(4294967295), uint64(math.MaxUint64),
		float32(3.25), 1.5e300, true, "-1234567890123456789012345678.0123456789", "ñandú ✓", unicode, big, []byte{0, 1, 0xFF},
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 23*time.Hour + 59*time.Minute + 59*time.Second + 999999900, ts,
		time.Date(2262, 4, 11, 23, 47, 16, 854775000, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 100, time.UTC), "quoted ] name",
		time.Date(2023, 12, 31, 22, 15, 1, 999999900, ist), time.Date(2024, 1, 1, 0, 0, 0, 123456000, west)}
	nulls := make([]any, len(full))
	nulls[0] = int64(2)
	edge := []any{int64(math.MaxInt64), int8(127), int16(32767), int32(2147483647), uint8(0), uint16(0), uint32(0), uint64(0),
		float32(-1e-30), math.SmallestNonzeroFloat64, false, "9999999999999999999999999999.9999999999", "", "", []byte{}, []byte{0, 0, 0},
		time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Duration(100), time.Date(1677, 9, 21, 0, 12, 43, 145224200, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "x",
		time.Date(1677, 9, 20, 14, 43, 43, 100, west), time.Date(1, 1, 1, 5, 30, 0, 0, ist)}

	res, err := mssql.New().Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: dbo("every type"), Mode: sdk.Append, CreateTable: true},
		readerOf(t, schema, [][]any{full, nulls}, [][]any{edge}))
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 3 {
		t.Errorf("RowsWritten = %d", res.RowsWritten)
	}
	const create = "IF OBJECT_ID(N'[dbo].[every type]', N'U') IS NULL CREATE TABLE [dbo].[every type] ([id] bigint NOT NULL, [i8] smallint NULL, " +
		"[i16] smallint NULL, [i32] int NULL, [u8] tinyint NULL, [u16] int NULL, [u32] bigint NULL, [u64] decimal(20,0) NULL, [f32] real NULL, " +
		"[f64] float NULL, [ok] bit NULL, [d38] decimal(38,10) NULL, [txt] nvarchar(max) NULL, [big txt] nvarchar(max) NULL, [bin] varbinary(max) NULL, " +
		"[fsb] binary(3) NULL, [day] date NULL, [tod] time(7) NULL, [ts] datetime2(7) NULL, [ts_us] datetime2(6) NULL, [at] datetimeoffset(7) NULL, " +
		"[na]]me] nvarchar(max) NULL, [local] datetimeoffset(7) NULL, [local_us] datetimeoffset(6) NULL)"
	const insertBulk = "INSERT BULK [dbo].[every type] ([id] bigint, [i8] smallint, [i16] smallint, [i32] int, [u8] tinyint, [u16] int, [u32] bigint, " +
		"[u64] decimal(20, 0), [f32] real, [f64] float, [ok] bit, [d38] decimal(38, 10), [txt] nvarchar(max), [big txt] nvarchar(max), " +
		"[bin] varbinary(max), [fsb] varbinary(3), [day] date, [tod] time, [ts] datetime2(7), [ts_us] datetime2(6), [at] datetimeoffset(7), " +
		"[na]]me] nvarchar(max), [local] datetimeoffset(7), [local_us] datetimeoffset(6)) WITH (CHECK_CONSTRAINTS,FIRE_TRIGGERS,KEEP_NULLS)"
	want := []string{"BEGIN TRANSACTION", create, "<columns of [dbo].[every type]>", "SET FMTONLY ON",
		"select * from [dbo].[every type] SET FMTONLY OFF", insertBulk, "<bulk load: 3 rows>", "COMMIT TRANSACTION"}
	if got := texts(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("statements:\n%q\nwant\n%q", got, want)
	}
	b := s.Bulks()[0]
	utc := time.FixedZone("", 0)
	wantRows := [][]any{
		{int64(1), int64(-128), int64(-32768), int64(-2147483648), int64(255), int64(65535), int64(4294967295), "18446744073709551615",
			3.25, 1.5e300, true, "-1234567890123456789012345678.0123456789", "ñandú ✓", unicode, big, []byte{0, 1, 0xFF},
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 23, 59, 59, 999999900, time.UTC), ts,
			time.Date(2262, 4, 11, 23, 47, 16, 854775000, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 100, utc), "quoted ] name",
			full[len(full)-2], full[len(full)-1]},
		nulls,
		{int64(math.MaxInt64), int64(127), int64(32767), int64(2147483647), int64(0), int64(0), int64(0), "0",
			float64(float32(-1e-30)), math.SmallestNonzeroFloat64, false, "9999999999999999999999999999.9999999999", "", "", []byte{}, []byte{0, 0, 0},
			time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 100, time.UTC), time.Date(1677, 9, 21, 0, 12, 43, 145224200, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, utc), "x",
			edge[len(edge)-2], edge[len(edge)-1]},
	}
	wantRows[1] = append([]any{int64(2)}, make([]any, len(full)-1)...)
	if len(b.Rows) != 3 {
		t.Fatalf("%d rows arrived", len(b.Rows))
	}
	for r, row := range wantRows {
		for c, w := range row {
			g := b.Rows[r][c]
			same := reflect.DeepEqual(g, w)
			if wt, ok := w.(time.Time); ok {
				gt, ok := g.(time.Time)
				_, wo := wt.Zone()
				_, gof := gt.Zone()
				same = ok && gt.Equal(wt) && wo == gof
			}
			if !same {
				t.Errorf("row %d column %s = %.60s, want %.60s", r, schema.Field(c).Name, fmt.Sprintf("%#v", g), fmt.Sprintf("%#v", w))
			}
		}
	}
}

func TestWriteReplaceAndMergeSQL(t *testing.T) {
	s, conn := start(t)
	s.HandleCatalog(mssql.ColumnsQuery)
	// An existing table whose types differ from the stream's.
	s.CreateTable("[sales].[orders]", []tds.Column{
		{Name: "id", Type: tds.Int}, {Name: "region", Type: tds.NVarChar, Length: 10},
		{Name: "amount", Type: tds.Decimal, Precision: 12, Scale: 2, Nullable: true}, {Name: "note", Type: tds.NVarChar, Length: tds.Max, Nullable: true},
	})
	ref := sdk.ObjectRef{Schema: "sales", Name: "orders"}
	schema := arrow.NewSchema([]arrow.Field{
		f("id", arrow.PrimitiveTypes.Int64, false), f("region", arrow.BinaryTypes.String, false),
		f("amount", arrow.PrimitiveTypes.Int64, true), f("note", arrow.BinaryTypes.String, true),
	}, nil)
	rows := [][]any{{int64(1), "eu", int64(5), "first"}, {int64(2), "us", nil, nil}, {int64(1), "eu", int64(7), "second"}}
	c := mssql.New()
	ctx := context.Background()

	s.Handle("DELETE FROM [sales].[orders]", tds.Response{RowsAffected: 40})
	if _, err := c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: ref, Mode: sdk.Replace}, readerOf(t, schema, rows)); err != nil {
		t.Fatal(err)
	}
	insertBulk := "INSERT BULK [sales].[orders] ([id] int, [region] nvarchar(10), [amount] decimal(12, 2), [note] nvarchar(max)) WITH (CHECK_CONSTRAINTS,FIRE_TRIGGERS,KEEP_NULLS)"
	want := []string{"BEGIN TRANSACTION", "<columns of [sales].[orders]>", "DELETE FROM [sales].[orders]", "SET FMTONLY ON",
		"select * from [sales].[orders] SET FMTONLY OFF", insertBulk, "<bulk load: 3 rows>", "COMMIT TRANSACTION"}
	if got := texts(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("replace:\n%q\nwant\n%q", got, want)
	}
	// Integers reach the decimal(12,2) column as text: 5 stays 5.00.
	if got := s.Bulks()[0].Rows; !reflect.DeepEqual(got, [][]any{{int64(1), "eu", "5.00", "first"}, {int64(2), "us", nil, nil}, {int64(1), "eu", "7.00", "second"}}) {
		t.Fatalf("replace rows = %#v", got)
	}

	s.ResetQueries()
	var merged string
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "MERGE ") }, func(q tds.Query) tds.Response {
		merged = q.SQL
		return tds.Response{RowsAffected: 2}
	})
	res, err := c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: ref, Mode: sdk.Merge, Keys: []string{"id", "region"}}, readerOf(t, schema, rows[:2], rows[2:]))
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 3 {
		t.Errorf("RowsWritten = %d (rows received)", res.RowsWritten)
	}
	got := texts(s)
	m := regexp.MustCompile(`^CREATE TABLE (\[#hp_merge_[0-9a-f]{16}\]) \(`).FindStringSubmatch(got[2])
	if m == nil {
		t.Fatalf("no staging table: %q", got)
	}
	temp := m[1]
	wantMerge := "MERGE [sales].[orders] WITH (HOLDLOCK) AS t USING (SELECT [id], [region], [amount], [note] FROM (SELECT *, ROW_NUMBER() OVER " +
		"(PARTITION BY [id], [region] ORDER BY [hp_seq] DESC) AS [hp_rn] FROM " + temp + ") AS d WHERE [hp_rn] = 1) AS s " +
		"ON t.[id] = s.[id] AND t.[region] = s.[region] WHEN MATCHED THEN UPDATE SET t.[amount] = s.[amount], t.[note] = s.[note] " +
		"WHEN NOT MATCHED THEN INSERT ([id], [region], [amount], [note]) VALUES (s.[id], s.[region], s.[amount], s.[note]);"
	want = []string{"BEGIN TRANSACTION", "<columns of [sales].[orders]>",
		"CREATE TABLE " + temp + " ([id] bigint NOT NULL, [region] nvarchar(max) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL, [amount] bigint NULL, [note] nvarchar(max) COLLATE SQL_Latin1_General_CP1_CI_AS NULL, [hp_seq] bigint NOT NULL)",
		"SET FMTONLY ON", "select * from " + temp + " SET FMTONLY OFF",
		"INSERT BULK " + temp + " ([id] bigint, [region] nvarchar(max), [amount] bigint, [note] nvarchar(max), [hp_seq] bigint) WITH (CHECK_CONSTRAINTS,FIRE_TRIGGERS,KEEP_NULLS)",
		"<bulk load: 3 rows>", wantMerge, "DROP TABLE " + temp, "COMMIT TRANSACTION"}
	if !reflect.DeepEqual(got, want) || merged != wantMerge {
		t.Fatalf("merge:\n%q\nwant\n%q", got, want)
	}
	// Rows are numbered in arrival order across batches, so the last of key (1, eu) wins.
	if got := s.Bulks()[0].Rows; !reflect.DeepEqual(got, [][]any{{int64(1), "eu", int64(5), "first", int64(0)}, {int64(2), "us", nil, nil, int64(1)}, {int64(1), "eu", int64(7), "second", int64(2)}}) {
		t.Fatalf("staged rows = %#v", got)
	}

	// Only keys: nothing to update.
	if q := mssql.MergeSQL(ref, "[#s]", []string{"id"}, []string{"id"}); strings.Contains(q, "MATCHED THEN UPDATE") || !strings.HasSuffix(q, "WHEN NOT MATCHED THEN INSERT ([id]) VALUES (s.[id]);") {
		t.Errorf("keys-only merge: %s", q)
	}
}

// TestWriteMergeKeepsOffsets: arrow.timestamp_with_offset is staged in a
// datetimeoffset column with each row's offset (the staging table has the
// stream's types), a zone-less datetime2 target gets the UTC wall time
// and a text column the local time with its offset.
func TestWriteMergeKeepsOffsets(t *testing.T) {
	s, conn := start(t)
	s.HandleCatalog(mssql.ColumnsQuery)
	s.CreateTable("[dbo].[visits]", []tds.Column{
		{Name: "id", Type: tds.Int}, {Name: "at", Type: tds.DateTimeOffset, Scale: 7, Nullable: true},
		{Name: "wall", Type: tds.DateTime2, Scale: 7, Nullable: true}, {Name: "note", Type: tds.NVarChar, Length: 40, Nullable: true},
	})
	schema := arrow.NewSchema([]arrow.Field{
		f("id", arrow.PrimitiveTypes.Int64, false),
		f("at", extensions.NewTimestampWithOffsetType(arrow.Nanosecond), true),
		f("wall", extensions.NewTimestampWithOffsetType(arrow.Microsecond), true),
		f("note", extensions.NewTimestampWithOffsetType(arrow.Microsecond), true),
	}, nil)
	west := time.FixedZone("", -(9*3600 + 30*60))
	at := time.Date(2024, 1, 2, 3, 4, 5, 123456700, west)
	wall := time.Date(2024, 1, 2, 3, 4, 5, 123456000, west)
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "MERGE ") }, func(tds.Query) tds.Response { return tds.Response{RowsAffected: 2} })
	_, err := mssql.New().Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: dbo("visits"), Mode: sdk.Merge, Keys: []string{"id"}},
		readerOf(t, schema, [][]any{{int64(1), at, wall, wall}, {int64(2), nil, nil, nil}}))
	if err != nil {
		t.Fatal(err)
	}
	got := texts(s)
	if len(got) < 3 || !strings.HasSuffix(got[2], " ([id] bigint NOT NULL, [at] datetimeoffset(7) NULL, [wall] datetimeoffset(6) NULL, [note] datetimeoffset(6) NULL, [hp_seq] bigint NOT NULL)") {
		t.Fatalf("staging table: %q", got)
	}
	rows := s.Bulks()[0].Rows
	if len(rows) != 2 || rows[1][1] != nil || rows[1][2] != nil || rows[1][3] != nil {
		t.Fatalf("staged rows = %#v", rows)
	}
	for i, w := range []time.Time{at, wall} {
		g, ok := rows[0][i+1].(time.Time)
		_, gof := g.Zone()
		if !ok || !g.Equal(w) || gof != -(9*3600+30*60) {
			t.Errorf("staged %s = %v, want %s", schema.Field(i+1).Name, rows[0][i+1], w)
		}
	}

	// Appending straight into the datetime2 column: the UTC wall time.
	s.ResetQueries()
	_, err = mssql.New().Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: dbo("visits"), Mode: sdk.Append},
		readerOf(t, schema, [][]any{{int64(3), at, wall, wall}}))
	if err != nil {
		t.Fatal(err)
	}
	row := s.Bulks()[0].Rows[0]
	if g, ok := row[2].(time.Time); !ok || g.Format("2006-01-02T15:04:05.9999999") != "2024-01-02T12:34:05.123456" {
		t.Errorf("datetime2 from an offset time = %v, want the UTC wall time 2024-01-02T12:34:05.123456", row[2])
	}
	if g, ok := row[1].(time.Time); !ok || g.Format(time.RFC3339Nano) != "2024-01-02T03:04:05.1234567-09:30" {
		t.Errorf("datetimeoffset = %v, want 2024-01-02T03:04:05.1234567-09:30", row[1])
	}
	// ... and a text column the local time with its offset, as SQL Server prints datetimeoffset.
	if row[3] != "2024-01-02 03:04:05.123456 -09:30" {
		t.Errorf("nvarchar from an offset time = %#v, want 2024-01-02 03:04:05.123456 -09:30", row[3])
	}
}

func TestWriteRollsBackABrokenStream(t *testing.T) {
	s, conn := start(t)
	s.HandleCatalog(mssql.ColumnsQuery)
	schema := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Int64, false)}, nil)
	c := mssql.New()
	_, err := c.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: dbo("t"), Mode: sdk.Append, CreateTable: true},
		brokenReader{readerOf(t, schema, [][]any{{int64(1)}, {int64(2)}})})
	if err == nil || !strings.Contains(err.Error(), "source connection reset") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("broken stream: %v", err)
	}
	got := texts(s)
	// The started load is ended so that the connection can roll it back.
	if got[len(got)-2] != "<bulk load: 2 rows>" || got[len(got)-1] != "ROLLBACK TRANSACTION" || strings.Contains(strings.Join(got, "|"), "COMMIT") {
		t.Fatalf("statements after a broken stream: %q", got)
	}
	if _, ok := s.Table("[dbo].[t]"); ok {
		t.Fatal("the table created in the rolled-back transaction remains")
	}
	// The connection stays usable.
	res, err := c.Write(context.Background(), sdk.WriteRequest{Conn: conn, Table: dbo("t"), Mode: sdk.Append, CreateTable: true}, readerOf(t, schema, [][]any{{int64(3)}}))
	if err != nil || res.RowsWritten != 1 {
		t.Fatalf("write after a rollback: %v, %v", res, err)
	}
	if got := texts(s); got[len(got)-1] != "COMMIT TRANSACTION" {
		t.Fatalf("statements: %q", got)
	}
}

func TestWriteErrors(t *testing.T) {
	s, conn := start(t)
	s.HandleCatalog(mssql.ColumnsQuery)
	c := mssql.New()
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Int64, false), f("name", arrow.BinaryTypes.String, true)}, nil)
	s.CreateTable("[dbo].[locked]", []tds.Column{{Name: "id", Type: tds.BigInt}, {Name: "name", Type: tds.NVarChar, Length: tds.Max, Nullable: true}})

	// The server refuses the bulk load: number and message survive, the
	// password does not appear, nothing is committed.
	s.Handle("INSERT BULK [dbo].[locked] ([id] bigint, [name] nvarchar(max)) WITH (CHECK_CONSTRAINTS,FIRE_TRIGGERS,KEEP_NULLS)",
		tds.Response{Err: &tds.Error{Number: 4834, State: 1, Class: 16, Message: "You do not have permission to use the bulk load statement."}})
	_, err := c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("locked"), Mode: sdk.Append}, readerOf(t, schema, [][]any{{int64(1), "a"}}))
	if !errors.Is(err, sdk.ErrPermissionDenied) || !strings.Contains(err.Error(), "SQL Server error 4834: You do not have permission to use the bulk load statement.") ||
		!strings.Contains(err.Error(), "[dbo].[locked]") || strings.Contains(err.Error(), "S3cret!pw") {
		t.Fatalf("refused bulk load: %v", err)
	}
	if got := texts(s); got[len(got)-1] != "ROLLBACK TRANSACTION" {
		t.Fatalf("statements: %q", got)
	}

	// A key violation during the load.
	s.CreateTable("[dbo].[keyed]", []tds.Column{{Name: "id", Type: tds.BigInt}, {Name: "name", Type: tds.NVarChar, Length: tds.Max, Nullable: true}})
	s.HandleBulk(func(b tds.Bulk) *tds.Error {
		return &tds.Error{Number: 2627, State: 1, Class: 14, Message: "Violation of PRIMARY KEY constraint 'PK_keyed'. Cannot insert duplicate key in object 'dbo.keyed'."}
	})
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("keyed"), Mode: sdk.Append}, readerOf(t, schema, [][]any{{int64(1), "a"}, {int64(1), "b"}}))
	if err == nil || !strings.Contains(err.Error(), "SQL Server error 2627: Violation of PRIMARY KEY constraint 'PK_keyed'") {
		t.Fatalf("key violation: %v", err)
	}
	s.HandleBulk(nil)

	// Problems found before anything is sent.
	s.ResetQueries()
	listSchema := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Int64, false), f("tags", arrow.ListOf(arrow.BinaryTypes.String), true)}, nil)
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("new"), Mode: sdk.Append, CreateTable: true}, readerOf(t, listSchema, nil))
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `"tags"`) {
		t.Fatalf("list column: %v", err)
	}
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("keyed"), Mode: sdk.Merge}, readerOf(t, schema, nil))
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("merge without keys: %v", err)
	}
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("keyed"), Mode: sdk.Merge, Keys: []string{"nope"}}, readerOf(t, schema, nil))
	if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown merge key: %v", err)
	}
	seqSchema := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Int64, false), f("hp_seq", arrow.PrimitiveTypes.Int64, false)}, nil)
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("keyed"), Mode: sdk.Merge, Keys: []string{"id"}}, readerOf(t, seqSchema, nil))
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), `"hp_seq"`) {
		t.Fatalf("stream with the staging column: %v", err)
	}
	if got := texts(s); len(got) != 0 {
		t.Fatalf("statements sent for requests refused up front: %q", got)
	}

	// A stream column the table lacks, and a value the column cannot take.
	wide := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Int64, false), f("extra", arrow.PrimitiveTypes.Int64, true)}, nil)
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("keyed"), Mode: sdk.Append}, readerOf(t, wide, [][]any{{int64(1), int64(2)}}))
	if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), `"extra"`) || !strings.Contains(err.Error(), "dbo.keyed") {
		t.Fatalf("missing column: %v", err)
	}
	s.CreateTable("[dbo].[small]", []tds.Column{{Name: "id", Type: tds.BigInt}})
	u := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Uint64, false)}, nil)
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("small"), Mode: sdk.Append}, readerOf(t, u, [][]any{{uint64(math.MaxUint64)}}))
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), `"id"`) || !strings.Contains(err.Error(), "18446744073709551615") {
		t.Fatalf("uint64 above bigint: %v", err)
	}

	// Statements fail with their step named.
	s.Handle("DELETE FROM [dbo].[keyed]", tds.Response{Err: &tds.Error{Number: 229, State: 5, Class: 14, Message: "The DELETE permission was denied on the object 'keyed', database 'warehouse', schema 'dbo'."}})
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("keyed"), Mode: sdk.Replace}, readerOf(t, schema, [][]any{{int64(1), "a"}}))
	if !errors.Is(err, sdk.ErrPermissionDenied) || !strings.HasPrefix(err.Error(), "deleting the rows of [dbo].[keyed]: ") || !strings.Contains(err.Error(), "SQL Server error 229: The DELETE permission was denied") {
		t.Fatalf("refused DELETE: %v", err)
	}
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "MERGE ") }, func(tds.Query) tds.Response {
		return tds.Response{Err: &tds.Error{Number: 8672, Message: "The MERGE statement attempted to UPDATE or DELETE the same row more than once."}}
	})
	s.ResetQueries()
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("keyed"), Mode: sdk.Merge, Keys: []string{"id"}}, readerOf(t, schema, [][]any{{int64(1), "a"}}))
	if err == nil || !strings.HasPrefix(err.Error(), "merging into [dbo].[keyed]: SQL Server error 8672: ") {
		t.Fatalf("failed MERGE: %v", err)
	}
	if got := texts(s); got[len(got)-1] != "ROLLBACK TRANSACTION" || strings.Contains(strings.Join(got, "|"), "DROP TABLE") {
		t.Fatalf("statements after a failed MERGE: %q", got)
	}

	// Columns that cannot take values.
	table(s, "[dbo].[versioned]", []catalogCol{{name: "id", typ: "bigint", maxLen: 8, prec: 19}, {name: "rv", typ: "timestamp", maxLen: 8}})
	rv := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Int64, false), f("rv", arrow.PrimitiveTypes.Uint64, false)}, nil)
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: dbo("versioned"), Mode: sdk.Append}, readerOf(t, rv, [][]any{{int64(1), uint64(2)}}))
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `"rv"`) || !strings.Contains(err.Error(), "timestamp") {
		t.Fatalf("rowversion column: %v", err)
	}

	// A wrong password: masked.
	bad := sdk.Connection{DSN: s.DSN("loader", "Wr0ngPassw0rd", "warehouse")}
	_, err = c.Write(ctx, sdk.WriteRequest{Conn: bad, Table: dbo("keyed"), Mode: sdk.Append}, readerOf(t, schema, nil))
	if !errors.Is(err, sdk.ErrUnauthenticated) || strings.Contains(err.Error(), "Wr0ngPassw0rd") {
		t.Fatalf("wrong password: %v", err)
	}
}
