package postgres_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// canon renders a value so that the same value compares equal across the
// Arrow types a round trip maps it to (int8 → int16, timestamp[s] →
// timestamp[us], uint64 → decimal128(20, 0), ...).
func canon(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch x := a.(type) {
	case *array.Timestamp:
		return x.Value(i).ToTime(x.DataType().(*arrow.TimestampType).Unit).UTC().Format(time.RFC3339Nano)
	case *array.Decimal128:
		return x.Value(i).ToString(x.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Decimal256:
		return x.Value(i).ToString(x.DataType().(*arrow.Decimal256Type).Scale)
	case *array.Binary:
		return hex.EncodeToString(x.Value(i))
	case *array.LargeBinary:
		return hex.EncodeToString(x.Value(i))
	case *array.FixedSizeBinary:
		return hex.EncodeToString(x.Value(i))
	case *array.Float32:
		return fmt.Sprint(x.Value(i))
	case *array.List:
		start, end := x.ValueOffsets(i)
		var parts []string
		for j := start; j < end; j++ {
			parts = append(parts, canon(x.ListValues(), int(j)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return a.ValueStr(i)
}

// rowsOf renders a batch as sorted rows of canonical values.
func rowsOf(rec arrow.RecordBatch) []string {
	var out []string
	for i := 0; i < int(rec.NumRows()); i++ {
		var vals []string
		for _, col := range rec.Columns() {
			vals = append(vals, canon(col, i))
		}
		out = append(out, strings.Join(vals, " | "))
	}
	sort.Strings(out)
	return out
}

// readTable reads a table back through the connector's own Read.
func readTable(t *testing.T, c *postgres.Connector, ref sdk.ObjectRef) (*arrow.Schema, []string) {
	t.Helper()
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: testDSN()}, Source: sdk.Source{Object: &ref}})
	if err != nil {
		t.Fatalf("Read %s: %v", ref, err)
	}
	defer rr.Release()
	var rows []string
	for rr.Next() {
		rows = append(rows, rowsOf(rr.RecordBatch())...)
	}
	if err := rr.Err(); err != nil {
		t.Fatalf("Read %s: %v", ref, err)
	}
	sort.Strings(rows)
	return rr.Schema(), rows
}

func reader(t *testing.T, recs ...arrow.RecordBatch) array.RecordReader {
	t.Helper()
	rr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func fromJSON(t *testing.T, s *arrow.Schema, js string) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, s, strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func write(t *testing.T, c *postgres.Connector, req sdk.WriteRequest, recs ...arrow.RecordBatch) (*sdk.WriteResult, error) {
	t.Helper()
	req.Conn = sdk.Connection{DSN: testDSN()}
	rr := reader(t, recs...)
	defer rr.Release()
	return c.Write(context.Background(), req, rr)
}

// allTypes is a batch of every Arrow type the connector writes, with
// edge values and NULLs.
func allTypes(t *testing.T) arrow.RecordBatch {
	ts := func(u arrow.TimeUnit, tz string) arrow.DataType { return &arrow.TimestampType{Unit: u, TimeZone: tz} }
	s := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "lbin", Type: arrow.BinaryTypes.LargeBinary, Nullable: true},
		{Name: "fsb", Type: &arrow.FixedSizeBinaryType{ByteWidth: 3}, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d128", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
		{Name: "d256", Type: &arrow.Decimal256Type{Precision: 60, Scale: 5}, Nullable: true},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts_s", Type: ts(arrow.Second, "UTC"), Nullable: true},
		{Name: "ts_ms", Type: ts(arrow.Millisecond, "Europe/Paris"), Nullable: true},
		{Name: "ts_us", Type: ts(arrow.Microsecond, ""), Nullable: true},
		{Name: "ts_ns", Type: ts(arrow.Nanosecond, "UTC"), Nullable: true},
		{Name: "t64", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		{Name: "iv", Type: arrow.FixedWidthTypes.MonthDayNanoInterval, Nullable: true},
		{Name: "li", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "lt", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	big38, _ := new(big.Int).SetString(strings.Repeat("9", 38), 10)
	big60, _ := new(big.Int).SetString("-"+strings.Repeat("123456789", 6)+"123456", 10)
	for r := 0; r < 5; r++ {
		b.Field(0).(*array.Int64Builder).Append(int64(r))
		if r == 4 {
			for c := 1; c < s.NumFields(); c++ {
				b.Field(c).AppendNull()
			}
			continue
		}
		lo := r == 0
		pick := func(a, z int64) int64 {
			if lo {
				return a
			}
			return z + int64(r) - 3
		}
		b.Field(1).(*array.Int8Builder).Append(int8(pick(math.MinInt8, math.MaxInt8)))
		b.Field(2).(*array.Int16Builder).Append(int16(pick(math.MinInt16, math.MaxInt16)))
		b.Field(3).(*array.Int32Builder).Append(int32(pick(math.MinInt32, math.MaxInt32)))
		b.Field(4).(*array.Uint8Builder).Append(uint8(pick(0, math.MaxUint8)))
		b.Field(5).(*array.Uint16Builder).Append(uint16(pick(0, math.MaxUint16)))
		b.Field(6).(*array.Uint32Builder).Append(uint32(pick(0, math.MaxUint32)))
		u64 := uint64(math.MaxUint64 - uint64(3-r))
		if lo {
			u64 = 0
		}
		b.Field(7).(*array.Uint64Builder).Append(u64)
		b.Field(8).(*array.Float32Builder).Append([]float32{-1.5e-38, 3.4028235e38, float32(math.Inf(-1))}[r%3])
		b.Field(9).(*array.Float64Builder).Append([]float64{-0.1, math.MaxFloat64, math.NaN(), 5e-324}[r])
		text := []string{"", "quote \" ' \\ tab\t nl\n", "unicode é 漢字 🚀", "x"}[r]
		b.Field(10).(*array.StringBuilder).Append(text)
		b.Field(11).(*array.LargeStringBuilder).Append(strings.Repeat(text, 3))
		b.Field(12).(*array.BinaryBuilder).Append([]byte{0, byte(r), 0xff})
		b.Field(13).(*array.BinaryBuilder).Append([]byte{})
		b.Field(14).(*array.FixedSizeBinaryBuilder).Append([]byte{byte(r), 0, 0xfe})
		b.Field(15).(*array.BooleanBuilder).Append(r%2 == 0)
		d := new(big.Int).Set(big38)
		if r%2 == 1 {
			d.Neg(d)
		}
		if r == 2 {
			d.SetInt64(-12345) // -0.0000012345
		}
		if r == 3 {
			d.SetInt64(0)
		}
		b.Field(16).(*array.Decimal128Builder).Append(decimal128.FromBigInt(d))
		d256 := new(big.Int).Set(big60)
		if r == 1 {
			d256.SetInt64(100000) // 1.00000
		}
		b.Field(17).(*array.Decimal256Builder).Append(decimal256.FromBigInt(d256))
		day := []time.Time{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
			time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}[r]
		b.Field(18).(*array.Date32Builder).Append(arrow.Date32FromTime(day))
		at := day.Add(time.Duration(r)*time.Hour + 59*time.Second + 123456*time.Microsecond)
		b.Field(19).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Unix()))
		b.Field(20).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMilli()))
		b.Field(21).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
		ns := at // timestamp[ns] spans 1677 to 2262 only
		if at.Year() < 1678 {
			ns = time.Date(1677, 9, 21, 0, 12, 43, 145225000, time.UTC)
		} else if at.Year() > 2261 {
			ns = time.Date(2262, 4, 11, 23, 47, 16, 854775000, time.UTC)
		}
		b.Field(22).(*array.TimestampBuilder).Append(arrow.Timestamp(ns.UnixNano()))
		b.Field(23).(*array.Time64Builder).Append(arrow.Time64([]int64{0, 86399999999, 12*3600e6 + 1, 86400e6}[r]))
		b.Field(24).(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Months: int32(r*13 - 20), Days: int32(-r), Nanoseconds: int64(r) * -3600_000_001_000})
		li := b.Field(25).(*array.ListBuilder)
		lt := b.Field(26).(*array.ListBuilder)
		li.Append(true)
		lt.Append(true)
		for e := 0; e < r; e++ {
			if e == 1 {
				li.ValueBuilder().AppendNull()
				lt.ValueBuilder().AppendNull()
				continue
			}
			li.ValueBuilder().(*array.Int32Builder).Append(int32(e * -7))
			lt.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("e%d,\"{}", e))
		}
	}
	return b.NewRecordBatch()
}

// TestWriteEveryTypeRoundTrips: every Arrow type is created, written by
// COPY and read back by the connector equal, in append, replace and merge.
func TestWriteEveryTypeRoundTrips(t *testing.T) {
	_, s := schemaFor(t)
	c := postgres.New()
	rec := allTypes(t)
	defer rec.Release()
	want := rowsOf(rec)
	for _, mode := range []sdk.WriteMode{sdk.Append, sdk.Replace, sdk.Merge} {
		t.Run(string(mode), func(t *testing.T) {
			ref := sdk.ObjectRef{Schema: s, Name: "all_" + string(mode)}
			var keys []string
			if mode == sdk.Merge {
				keys = []string{"id"}
			}
			res, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: mode, Keys: keys, CreateTable: true}, rec)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if res.RowsWritten != rec.NumRows() {
				t.Errorf("RowsWritten = %d, want %d", res.RowsWritten, rec.NumRows())
			}
			schema, got := readTable(t, c, ref)
			if int64(schema.NumFields()) != rec.NumCols() {
				t.Fatalf("read back %v", schema)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("read back differs:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestWriteIntoExistingTypes: the target's own column types decide the
// encoding (an int32 stream into bigint, text into uuid, jsonb, enums,
// numeric, inet, ...), checked with the server's text output.
func TestWriteIntoExistingTypes(t *testing.T) {
	db, s := schemaFor(t)
	mustExec(t, db, `CREATE TYPE `+s+`.mood AS ENUM ('sad', 'happy');
		CREATE DOMAIN `+s+`.pos AS integer CHECK (VALUE > 0);
		CREATE TABLE `+s+`.t (id bigint, n numeric(12,2), free numeric, u uuid, j jsonb, js json, m `+s+`.mood, p `+s+`.pos,
			v varchar(5), c char(3), ip inet, iv interval, ips inet[], ts3 timestamp(3), r real, small smallint)`)
	c := postgres.New()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "free", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "u", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "j", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "js", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "m", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "p", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "c", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ip", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "iv", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ips", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "ts3", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
		{Name: "r", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "small", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
	}, nil)
	rec := fromJSON(t, schema, `[
		{"id": 1, "n": -9999999999, "free": "-1.5e-3", "u": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "j": "{\"b\": [1, 2], \"a\": null}",
		 "js": "{\"b\":1,  \"b\":2}", "m": "happy", "p": 7, "v": "abc  ", "c": "x", "ip": "192.168.0.1/24", "iv": "1 year 2 mons -3 days 04:05:06.789",
		 "ips": ["::1", null, "10.0.0.0/8"], "ts3": 1700000000123, "r": 0.5, "small": 32767},
		{"id": 2, "free": "NaN", "u": "{a0eebc999c0b4ef8bb6d6bb9bd380a12}", "ips": []},
		{"id": 3}
	]`)
	defer rec.Release()
	ref := sdk.ObjectRef{Schema: s, Name: "t"}
	if _, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: sdk.Append}, rec); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := query(t, db, `SELECT concat_ws(' | ', id, n, free, u, j, js, m, p, v, c, ip, iv, ips, ts3, r, small) FROM `+s+`.t ORDER BY id`)
	want := []string{
		`1 | -9999999999.00 | -0.0015 | a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 | {"a": null, "b": [1, 2]} | {"b":1,  "b":2} | happy | 7 | abc   | x   | 192.168.0.1/24 | 1 year 2 mons -3 days +04:05:06.789 | {::1,NULL,10.0.0.0/8} | 2023-11-14 22:13:20.123 | 0.5 | 32767`,
		`2 | NaN | a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12 | {}`,
		`3`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("table holds\n%q\nwant\n%q", got, want)
	}

	// Values the target cannot hold fail naming the column, and the
	// table keeps its rows.
	for _, tc := range []struct {
		col, json, msg string
	}{
		{"n", `{"id": 9, "n": 100000000000}`, "numeric field overflow"},
		{"free", `{"id": 9, "free": "1.2.3"}`, "not a number"},
		{"u", `{"id": 9, "u": "not-a-uuid"}`, "not a UUID"},
		{"m", `{"id": 9, "m": "angry"}`, "angry"},
		{"p", `{"id": 9, "p": 0}`, "pos"},
		{"v", `{"id": 9, "v": "abcdef"}`, "too long"},
		{"ip", `{"id": 9, "ip": "300.1.1.1"}`, "300.1.1.1"},
		{"iv", `{"id": 9, "iv": "soon"}`, "soon"},
		{"ts3", `{"id": 9, "ts3": 1700000000123}`, ""}, // fits: ms into timestamp(3)
		{"r", `{"id": 9, "r": 0.1}`, "real"},
		{"small", `{"id": 9, "small": 32768}`, "out of range"},
		{"id", `{"id": 9, "p": 9, "small": 1, "n": 1, "free": "1"}`, ""},
	} {
		col := schema.Field(schema.FieldIndices(tc.col)[0])
		one := arrow.NewSchema([]arrow.Field{schema.Field(0), col}, nil)
		if tc.col == "id" {
			one = schema
		}
		r := fromJSON(t, one, "["+tc.json+"]")
		// Replace's delete is rolled back too; merge stages every column.
		for _, mode := range []sdk.WriteMode{sdk.Replace, sdk.Merge} {
			if tc.msg == "" {
				mode = sdk.Append
			}
			_, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: mode, Keys: []string{"id"}}, r)
			if tc.msg == "" {
				if err != nil {
					t.Errorf("%s: %v", tc.col, err)
				}
				mustExec(t, db, `DELETE FROM `+s+`.t WHERE id = 9`)
				break
			}
			named := regexp.MustCompile(`column "?` + regexp.QuoteMeta(tc.col) + `\b`)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !named.MatchString(err.Error()) ||
				!errors.Is(err, sdk.ErrInvalidArgument) {
				t.Errorf("%s, %s: %v, want an invalid-argument error naming the column and %q", tc.col, mode, err, tc.msg)
			}
			if n := query(t, db, `SELECT count(*) FROM `+s+`.t`); fmt.Sprint(n) != "[3]" {
				t.Fatalf("%s: the failed write left %v rows", tc.col, n)
			}
		}
		r.Release()
	}
}

// TestWriteRefusesInexactValues: values that binary COPY or a cast would
// round or cut fail with the column named.
func TestWriteRefusesInexactValues(t *testing.T) {
	db, s := schemaFor(t)
	mustExec(t, db, `CREATE TABLE `+s+`.t (id int, n numeric(10,2), ts0 timestamp(0), tz timestamptz, tm time(2), txt_n numeric(5,1), iv interval day)`)
	c := postgres.New()
	ref := sdk.ObjectRef{Schema: s, Name: "t"}
	id := arrow.Field{Name: "id", Type: arrow.PrimitiveTypes.Int32}
	for _, tc := range []struct {
		field arrow.Field
		json  string
		kind  error
		msg   string
	}{
		{arrow.Field{Name: "n", Type: &arrow.Decimal128Type{Precision: 10, Scale: 3}}, `"1.235"`, sdk.ErrInvalidArgument, "1.235 has more decimals than the column's scale 2"},
		{arrow.Field{Name: "ts0", Type: &arrow.TimestampType{Unit: arrow.Millisecond}}, `1700000000001`, sdk.ErrInvalidArgument, "precision 0"},
		{arrow.Field{Name: "tz", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}}, `1700000000000000001`, sdk.ErrInvalidArgument, "microseconds"},
		{arrow.Field{Name: "tm", Type: arrow.FixedWidthTypes.Time64us}, `1001`, sdk.ErrInvalidArgument, "precision 2"},
		{arrow.Field{Name: "txt_n", Type: arrow.BinaryTypes.String}, `"1.25"`, sdk.ErrInvalidArgument, "scale 1"},
		{arrow.Field{Name: "iv", Type: arrow.FixedWidthTypes.MonthDayNanoInterval}, `{"months": 1, "days": 2, "nanoseconds": 0}`, sdk.ErrUnsupportedType, "interval"},
		{arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Float64}, `1.5`, sdk.ErrUnsupportedType, "float64 cannot be written"},
		{arrow.Field{Name: "nope", Type: arrow.PrimitiveTypes.Int64}, `1`, sdk.ErrNotFound, `no column "nope"`},
	} {
		r := fromJSON(t, arrow.NewSchema([]arrow.Field{id, tc.field}, nil), `[{"id": 1, "`+tc.field.Name+`": `+tc.json+`}]`)
		_, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: sdk.Append}, r)
		r.Release()
		if err == nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.field.Name) {
			t.Errorf("%s: %v, want %v naming the column and %q", tc.field.Name, err, tc.kind, tc.msg)
		}
	}
	if n := query(t, db, `SELECT count(*) FROM `+s+`.t`); fmt.Sprint(n) != "[0]" {
		t.Fatalf("failed writes left %v rows", n)
	}
}

var kv = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "k2", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// TestWriteModes: append adds, replace swaps the rows, merge updates and
// inserts by key through ON CONFLICT (unique key) or delete-and-insert (no
// unique index), the last of repeated keys winning in both.
func TestWriteModes(t *testing.T) {
	db, s := schemaFor(t)
	c := postgres.New()
	first := fromJSON(t, kv, `[{"id": 1, "k2": "a", "v": "one"}, {"id": 2, "k2": "a", "v": "two"}, {"id": 3, "k2": "a", "v": "three"}]`)
	defer first.Release()
	incoming := fromJSON(t, kv, `[{"id": 2, "k2": "a", "v": "first 2"}, {"id": 4, "k2": "a", "v": "first 4"}]`)
	defer incoming.Release()
	// One stream of two batches, repeating keys within and across them.
	again := fromJSON(t, kv, `[{"id": 4, "k2": "a", "v": "last 4"}, {"id": 2, "k2": "a", "v": null}, {"id": 2, "k2": "a", "v": "last 2"}, {"id": 5, "k2": "b", "v": "five"}]`)
	defer again.Release()
	mergedWant := []string{"1 | a | one", "2 | a | last 2", "3 | a | three", "4 | a | last 4", "5 | b | five"}

	for _, tc := range []struct{ name, ddl string }{
		{"primary key", "id bigint, k2 text, v text, PRIMARY KEY (k2, id)"},
		{"unique index with include", "id bigint, k2 text, v text, UNIQUE (id, k2) INCLUDE (v)"},
		{"no unique index", "id bigint, k2 text, v text"},
		{"unique on one key only", "id bigint UNIQUE, k2 text, v text"},
		{"created by merge", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "_")
			ref := sdk.ObjectRef{Schema: s, Name: name}
			if tc.ddl != "" {
				mustExec(t, db, `CREATE TABLE `+s+`.`+name+` (`+tc.ddl+`)`)
				if _, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: sdk.Append}, first); err != nil {
					t.Fatal(err)
				}
			} else if _, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: sdk.Merge, Keys: []string{"id", "k2"}, CreateTable: true}, first); err != nil {
				t.Fatal(err)
			}
			req := sdk.WriteRequest{Table: ref, Mode: sdk.Merge, Keys: []string{"id", "k2", "id"}}
			if _, err := write(t, c, req, incoming, again); err != nil {
				t.Fatalf("merge: %v", err)
			}
			if _, got := readTable(t, c, ref); fmt.Sprint(got) != fmt.Sprint(mergedWant) {
				t.Errorf("after merge %q, want %q", got, mergedWant)
			}
			// A rerun changes nothing.
			if _, err := write(t, c, req, incoming, again); err != nil {
				t.Fatalf("second merge: %v", err)
			}
			if _, got := readTable(t, c, ref); fmt.Sprint(got) != fmt.Sprint(mergedWant) {
				t.Errorf("after the second merge %q, want %q", got, mergedWant)
			}
		})
	}

	ref := sdk.ObjectRef{Schema: s, Name: "modes"}
	if _, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: sdk.Append, CreateTable: true}, first); err != nil {
		t.Fatal(err)
	}
	if _, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: sdk.Append}, incoming, incoming); err != nil {
		t.Fatal(err)
	}
	if _, got := readTable(t, c, ref); len(got) != 7 {
		t.Errorf("after two appends: %q", got)
	}
	if _, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: sdk.Replace}, incoming); err != nil {
		t.Fatal(err)
	}
	if _, got := readTable(t, c, ref); fmt.Sprint(got) != "[2 | a | first 2 4 | a | first 4]" {
		t.Errorf("after replace: %q", got)
	}

	// Requests that cannot work fail before writing anything.
	for _, tc := range []struct {
		req  sdk.WriteRequest
		kind error
		msg  string
	}{
		{sdk.WriteRequest{Table: ref, Mode: sdk.Merge}, sdk.ErrInvalidArgument, "key"},
		{sdk.WriteRequest{Table: ref, Mode: sdk.Merge, Keys: []string{"nope"}}, sdk.ErrNotFound, `"nope"`},
		{sdk.WriteRequest{Table: sdk.ObjectRef{Schema: s, Name: "missing"}, Mode: sdk.Append}, sdk.ErrNotFound, "missing"},
		{sdk.WriteRequest{Table: sdk.ObjectRef{Schema: "no_such_schema", Name: "t"}, Mode: sdk.Append, CreateTable: true}, sdk.ErrNotFound, "no_such_schema"},
	} {
		if _, err := write(t, c, tc.req, incoming); !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v, want %v naming %s", tc.req, err, tc.kind, tc.msg)
		}
	}
	rr := reader(t, incoming)
	defer rr.Release()
	down := sdk.Connection{DSN: "postgres://nobody:Secr3tPw@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"}
	if _, err := c.Write(context.Background(), sdk.WriteRequest{Conn: down, Table: ref, Mode: sdk.Append}, rr); !errors.Is(err, sdk.ErrUnavailable) || strings.Contains(err.Error(), "Secr3tPw") {
		t.Errorf("server down: %v", err)
	}
}

// failing yields its batches, then fails.
type failing struct {
	array.RecordReader
	err bool
}

func (f *failing) Next() bool {
	if f.RecordReader.Next() {
		return true
	}
	f.err = true
	return false
}

func (f *failing) Err() error {
	if f.err {
		return errors.New("source connection reset")
	}
	return nil
}

// TestWriteRollsBackABrokenStream: a stream that fails after rows were
// sent leaves the table as it was, in every mode (replace's delete too).
func TestWriteRollsBackABrokenStream(t *testing.T) {
	_, s := schemaFor(t)
	c := postgres.New()
	first := fromJSON(t, kv, `[{"id": 1, "k2": "a", "v": "one"}, {"id": 2, "k2": "a", "v": "two"}]`)
	defer first.Release()
	ref := sdk.ObjectRef{Schema: s, Name: "t"}
	if _, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: sdk.Merge, Keys: []string{"id"}, CreateTable: true}, first); err != nil {
		t.Fatal(err)
	}
	_, want := readTable(t, c, ref)
	// Enough rows for several COPY chunks to reach the server first.
	b := array.NewRecordBuilder(memory.DefaultAllocator, kv)
	for i := 100; i < 50100; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append("a")
		b.Field(2).(*array.StringBuilder).Append(strings.Repeat("x", 40))
	}
	big := b.NewRecordBatch()
	b.Release()
	defer big.Release()
	for _, mode := range []sdk.WriteMode{sdk.Append, sdk.Replace, sdk.Merge} {
		rr := reader(t, big)
		_, err := c.Write(context.Background(), sdk.WriteRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: ref, Mode: mode, Keys: []string{"id"}}, &failing{RecordReader: rr})
		rr.Release()
		if err == nil || !strings.Contains(err.Error(), "source connection reset") || !strings.Contains(err.Error(), "nothing was written") {
			t.Errorf("%s: %v", mode, err)
		}
		if _, got := readTable(t, c, ref); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: table now holds %d rows", mode, len(got))
		}
	}
}

// TestWriteOddNames: table and column names with spaces, quotes, mixed
// case and reserved words, in every mode.
func TestWriteOddNames(t *testing.T) {
	db, s := schemaFor(t)
	c := postgres.New()
	odd := arrow.NewSchema([]arrow.Field{
		{Name: `Select "Key"`, Type: arrow.PrimitiveTypes.Int64},
		{Name: "from", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "hp_ord", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "Mixed Case; DROP TABLE x", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	ref := sdk.ObjectRef{Schema: s, Name: `Odd "table"; name`}
	r1 := fromJSON(t, odd, `[{"Select \"Key\"": 1, "from": "a", "hp_ord": 7, "Mixed Case; DROP TABLE x": "m"}]`)
	defer r1.Release()
	r2 := fromJSON(t, odd, `[{"Select \"Key\"": 1, "from": "b", "hp_ord": 8}, {"Select \"Key\"": 2, "from": "c"}]`)
	defer r2.Release()
	r3 := fromJSON(t, odd, `[{"Select \"Key\"": 3, "from": "d", "hp_ord": 9}]`)
	defer r3.Release()
	key := []string{`Select "Key"`}
	for _, step := range []struct {
		mode sdk.WriteMode
		rec  arrow.RecordBatch
		want string
	}{
		{sdk.Merge, r1, "[1 | a | 7 | m]"},
		{sdk.Merge, r2, "[1 | b | 8 | NULL 2 | c | NULL | NULL]"},
		{sdk.Append, r3, "[1 | b | 8 | NULL 2 | c | NULL | NULL 3 | d | 9 | NULL]"},
		{sdk.Replace, r1, "[1 | a | 7 | m]"},
	} {
		if _, err := write(t, c, sdk.WriteRequest{Table: ref, Mode: step.mode, Keys: key, CreateTable: true}, step.rec); err != nil {
			t.Fatalf("%s: %v", step.mode, err)
		}
		if _, got := readTable(t, c, ref); fmt.Sprint(got) != step.want {
			t.Errorf("after %s: %q, want %s", step.mode, got, step.want)
		}
	}
	if pk := query(t, db, `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indisprimary AND i.indrelid = '`+s+`."Odd ""table""; name"'::regclass`); fmt.Sprint(pk) != `[Select "Key"]` {
		t.Errorf("primary key %q", pk)
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func query(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
