package format

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	pq "github.com/parquet-go/parquet-go"
)

// testRow is one row of the test table, as Go values; nil = NULL.
type testRow struct {
	id  int64
	s   *string
	dec *big.Int // unscaled, scale 10
	ts  *time.Time
	nts *time.Time // naive
	dt  *time.Time
	bin []byte
	f   *float64
	u   uint64
	l   []int64
	b   *bool
}

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "naive ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "dt", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "u", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

func ptr[T any](v T) *T { return &v }

var tricky = []string{"plain", "", "comma, inside", `quote " inside`, "new\nline", "cr\r\nlf", "  spaces  ", "unicode é 漢字 🚀", "NULL"}

func testRows(n int) []testRow {
	rows := make([]testRow, n)
	max38, _ := new(big.Int).SetString(strings.Repeat("9", 38), 10)
	for i := range rows {
		r := testRow{id: int64(i + 1), u: uint64(i) * 0x9E3779B97F4A7C15}
		if i%7 != 3 {
			r.s = ptr(tricky[i%len(tricky)])
			r.dec = new(big.Int).Mul(big.NewInt(int64(i*i-50)), big.NewInt(123456789))
			if i%5 == 0 {
				r.dec = new(big.Int).Set(max38)
				if i%10 == 0 {
					r.dec.Neg(r.dec)
				}
			}
			t := time.Date(1960+i%80, time.Month(1+i%12), 1+i%28, i%24, i%60, i%60, (i*1013)%1000000*1000, time.UTC)
			r.ts, r.nts = ptr(t), ptr(t.Add(time.Hour))
			r.dt = ptr(time.Date(1900+i, 2, 28, 0, 0, 0, 0, time.UTC))
			r.bin = []byte{0, byte(i), 0xff, 0}
			r.f = ptr([]float64{1.5, math.NaN(), math.Inf(1), math.Inf(-1), -0.1, 1e300}[i%6])
			r.l = []int64{int64(i), math.MaxInt64}
			r.b = ptr(i%2 == 0)
		}
		if i == 1 {
			r.u = math.MaxUint64
		}
		rows[i] = r
	}
	return rows
}

func buildRecord(rows []testRow) arrow.RecordBatch {
	return buildRecordWith(memory.DefaultAllocator, rows)
}

func buildRecordWith(mem memory.Allocator, rows []testRow) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.id)
		if r.s == nil {
			for c := 1; c < 8; c++ {
				b.Field(c).AppendNull()
			}
		} else {
			b.Field(1).(*array.StringBuilder).Append(*r.s)
			b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromBigInt(r.dec))
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(r.ts.UnixMicro()))
			b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(r.nts.UnixMicro()))
			b.Field(5).(*array.Date32Builder).Append(arrow.Date32FromTime(*r.dt))
			b.Field(6).(*array.BinaryBuilder).Append(r.bin)
			b.Field(7).(*array.Float64Builder).Append(*r.f)
		}
		b.Field(8).(*array.Uint64Builder).Append(r.u)
		if r.l == nil {
			b.Field(9).AppendNull()
			b.Field(10).AppendNull()
		} else {
			lb := b.Field(9).(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.Int64Builder).AppendValues(r.l, nil)
			b.Field(10).(*array.BooleanBuilder).Append(*r.b)
		}
	}
	return b.NewRecordBatch()
}

// decText renders an unscaled integer with scale 10 using big.Float-free
// string surgery, independently of the encoder's code.
func decText(v *big.Int) string {
	s := new(big.Int).Abs(v).String()
	for len(s) <= 10 {
		s = "0" + s
	}
	out := s[:len(s)-10] + "." + s[len(s)-10:]
	if v.Sign() < 0 {
		out = "-" + out
	}
	return out
}

func floatText(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return fmt.Sprint(f)
}

// expectedCSV is the text each field must read back as.
func expectedCSV(r testRow) []string {
	if r.s == nil {
		return []string{fmt.Sprint(r.id), "", "", "", "", "", "", "", fmt.Sprint(r.u), "", ""}
	}
	return []string{
		fmt.Sprint(r.id), *r.s, decText(r.dec),
		r.ts.Format("2006-01-02T15:04:05.000000Z"), r.nts.Format("2006-01-02T15:04:05.000000"),
		r.dt.Format("2006-01-02"), base64.StdEncoding.EncodeToString(r.bin), floatText(*r.f), fmt.Sprint(r.u),
		fmt.Sprintf("[%d,%d]", r.l[0], r.l[1]), fmt.Sprint(*r.b),
	}
}

func encode(t *testing.T, rec arrow.RecordBatch, opts ...Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, rec.Schema(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	// Two writes: the encoder must carry state across batches.
	half := rec.NumRows() / 2
	for _, part := range []arrow.RecordBatch{rec.NewSlice(0, half), rec.NewSlice(half, rec.NumRows())} {
		if err := enc.Write(part); err != nil {
			t.Fatal(err)
		}
		part.Release()
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decompress(t *testing.T, data []byte, c Compression) []byte {
	t.Helper()
	var r io.Reader
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	case Snappy:
		r = s2.NewReader(bytes.NewReader(data))
	default:
		return data
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decompress %s: %v", c, err)
	}
	return out
}

func TestCSVValuesAndCompression(t *testing.T) {
	rows := testRows(60)
	rec := buildRecord(rows)
	defer rec.Release()
	for _, c := range []Compression{None, Gzip, Zstd, Snappy} {
		t.Run(string(c), func(t *testing.T) {
			text := decompress(t, encode(t, rec, WithFormat(CSV), WithCompression(c)), c)
			// encoding/csv turns \r\n inside quotes into \n, so check that
			// value in the raw text and compare the rest through the reader.
			if !bytes.Contains(text, []byte("\"cr\r\nlf\"")) {
				t.Error("CR LF inside a value was not kept")
			}
			recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatalf("encoding/csv cannot read the output: %v", err)
			}
			if len(recs) != len(rows)+1 {
				t.Fatalf("%d records, want %d", len(recs), len(rows)+1)
			}
			if strings.Join(recs[0], "|") != "id|s|dec|ts|naive ts|dt|bin|f|u|l|b" {
				t.Errorf("header %v", recs[0])
			}
			for i, r := range rows {
				want := expectedCSV(r)
				for c := range want {
					want[c] = strings.ReplaceAll(want[c], "\r\n", "\n")
					if recs[i+1][c] != want[c] {
						t.Errorf("row %d col %s: got %q, want %q", r.id, testSchema.Field(c).Name, recs[i+1][c], want[c])
					}
				}
			}
		})
	}
}

func TestCSVNullVersusEmpty(t *testing.T) {
	rows := testRows(12)
	rec := buildRecord(rows)
	defer rec.Release()
	text := string(encode(t, rec, WithCompression(None), WithCSVHeader(false)))
	lines := strings.Split(text, "\n")
	// Row id 2 has an empty string; row id 4 is NULL in s.
	if !strings.HasPrefix(lines[1], `2,"",`) {
		t.Errorf("empty string not quoted: %q", lines[1])
	}
	if !strings.HasPrefix(lines[3], `4,,`) {
		t.Errorf("NULL not empty: %q", lines[3])
	}
	// With a NULL marker, NULL is the marker and the string "NULL" is quoted.
	text = string(encode(t, rec, WithCompression(None), WithCSVHeader(false), WithCSVNull(`\N`), WithCSVDelimiter('|')))
	lines = strings.Split(text, "\n")
	if !strings.HasPrefix(lines[3], `4|\N|\N|`) {
		t.Errorf("NULL marker: %q", lines[3])
	}
	if !strings.HasPrefix(lines[1], `2||`) {
		t.Errorf("empty string with a NULL marker: %q", lines[1])
	}
	text = string(encode(t, rec, WithCompression(None), WithCSVHeader(false), WithCSVNull("NULL")))
	if !strings.Contains(text, `9,"NULL",`) {
		t.Errorf("string equal to the NULL marker must be quoted:\n%s", text)
	}
}

// Values that are never quoted otherwise (base64, numbers) must still not
// read as NULL: empty binary is "", a number equal to the marker is quoted.
func TestCSVNonTextValuesNeverReadAsNull(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true}, {Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	bb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bb.Release()
	bb.Field(0).(*array.BinaryBuilder).AppendValues([][]byte{{}, nil, {0}}, []bool{true, false, true})
	bb.Field(1).(*array.Int64Builder).AppendValues([]int64{0, 0, 7}, []bool{true, false, true})
	rec := bb.NewRecordBatch()
	defer rec.Release()
	if got := string(encode(t, rec, WithCompression(None), WithCSVHeader(false))); got != "\"\",0\n,\nAA==,7\n" {
		t.Errorf("default NULL: %q", got)
	}
	if got := string(encode(t, rec, WithCompression(None), WithCSVHeader(false), WithCSVNull("0"))); got != ",\"0\"\n0,0\nAA==,7\n" {
		t.Errorf("NULL marker 0: %q", got)
	}
}

func TestJSONL(t *testing.T) {
	rows := testRows(30)
	rec := buildRecord(rows)
	defer rec.Release()
	text := decompress(t, encode(t, rec, WithFormat(JSONL)), Gzip)
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	for _, r := range rows {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("row %d: %v", r.id, err)
		}
		if obj["id"].(json.Number).String() != fmt.Sprint(r.id) || obj["u"].(json.Number).String() != fmt.Sprint(r.u) {
			t.Errorf("row %d: id/u = %v/%v", r.id, obj["id"], obj["u"])
		}
		if r.s == nil {
			for _, k := range []string{"s", "dec", "ts", "bin", "f", "l"} {
				if obj[k] != nil {
					t.Errorf("row %d: %s = %v, want null", r.id, k, obj[k])
				}
			}
			continue
		}
		want := expectedCSV(r)
		if obj["s"] != *r.s || obj["dec"] != want[2] || obj["ts"] != want[3] || obj["naive ts"] != want[4] || obj["bin"] != want[6] {
			t.Errorf("row %d: got %v", r.id, obj)
		}
		if f, ok := obj["f"].(json.Number); ok {
			if f.String() != want[7] {
				t.Errorf("row %d: f = %v, want %s", r.id, f, want[7])
			}
		} else if obj["f"] != want[7] {
			t.Errorf("row %d: f = %v, want %q", r.id, obj["f"], want[7])
		}
		if l := obj["l"].([]any); l[1].(json.Number).String() != fmt.Sprint(int64(math.MaxInt64)) {
			t.Errorf("row %d: l = %v", r.id, l)
		}
	}
}

// readTable reads a whole Parquet file back through pqarrow; the table is
// released when the test ends.
func readTable(t *testing.T, pf *file.Reader) arrow.Table {
	t.Helper()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

func TestParquetRoundTrip(t *testing.T) {
	rows := testRows(3000)
	rec := buildRecord(rows)
	defer rec.Release()
	data := encode(t, rec, WithFormat(Parquet), WithParquetRowGroupRows(1000))

	// arrow-go's reader: exact Arrow round trip.
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if n := pf.NumRowGroups(); n != 3 {
		t.Errorf("row groups = %d, want 3", n)
	}
	cc, err := pf.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	if cc.Compression().String() != "ZSTD" {
		t.Errorf("codec = %s", cc.Compression())
	}
	if ok, _ := cc.StatsSet(); !ok {
		t.Error("no statistics on id")
	}
	for c, wantStats := range map[int]bool{1: true, 6: false} { // s, bin
		cc, err := pf.MetaData().RowGroup(0).ColumnChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := cc.StatsSet(); ok != wantStats {
			t.Errorf("column %d: statistics %v, want %v (none for binary)", c, ok, wantStats)
		}
	}
	tbl := readTable(t, pf)
	for i, f := range tbl.Schema().Fields() {
		w := testSchema.Field(i)
		gt, wt := f.Type, w.Type
		if gl, ok := gt.(*arrow.ListType); ok {
			gt, wt = gl.Elem(), wt.(*arrow.ListType).Elem()
		}
		if f.Name != w.Name || f.Nullable != w.Nullable || !arrow.TypeEqual(gt, wt) {
			t.Errorf("field %d: got %s %s, want %s %s", i, f.Name, f.Type, w.Name, w.Type)
		}
	}
	off := int64(0)
	tr := array.NewTableReader(tbl, 1000)
	defer tr.Release()
	for tr.Next() {
		got := tr.RecordBatch()
		want := rec.NewSlice(off, off+got.NumRows())
		for c := 0; c < int(got.NumCols()); c++ {
			if !array.ApproxEqual(got.Column(c), want.Column(c), array.WithNaNsEqual(true)) {
				t.Errorf("column %s differs after the round trip", testSchema.Field(c).Name)
			}
		}
		off += got.NumRows()
		want.Release()
	}

	// parquet-go, an independent reader.
	f, err := pq.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != int64(len(rows)) {
		t.Fatalf("parquet-go sees %d rows", f.NumRows())
	}
	r := pq.NewReader(f)
	buf := make([]pq.Row, 100)
	seen := 0
	for seen < len(rows) {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			want := rows[seen]
			vals := map[int]pq.Value{}
			for _, v := range row {
				if _, ok := vals[v.Column()]; !ok {
					vals[v.Column()] = v
				}
			}
			if vals[0].Int64() != want.id {
				t.Fatalf("row %d: id %d", seen, vals[0].Int64())
			}
			if want.s == nil {
				if !vals[1].IsNull() {
					t.Errorf("row %d: s should be NULL", want.id)
				}
			} else {
				if string(vals[1].ByteArray()) != *want.s {
					t.Errorf("row %d: s = %q, want %q", want.id, vals[1].ByteArray(), *want.s)
				}
				if vals[3].Int64() != want.ts.UnixMicro() {
					t.Errorf("row %d: ts = %d, want %d", want.id, vals[3].Int64(), want.ts.UnixMicro())
				}
			}
			seen++
		}
		if err != nil {
			break
		}
	}
	if seen != len(rows) {
		t.Fatalf("parquet-go read %d rows", seen)
	}
}

func TestParquetBufferedDropsAfterRowGroup(t *testing.T) {
	rows := testRows(2000)
	rec := buildRecord(rows)
	defer rec.Release()
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, testSchema, WithFormat(Parquet), WithParquetRowGroupBytes(20<<10))
	if err != nil {
		t.Fatal(err)
	}
	grew, flushed := false, false
	prev := int64(0)
	for off := int64(0); off < rec.NumRows(); off += 100 {
		part := rec.NewSlice(off, off+100)
		if err := enc.Write(part); err != nil {
			t.Fatal(err)
		}
		part.Release()
		b := enc.Buffered()
		if b > prev {
			grew = true
		}
		if b < prev && buf.Len() > 0 {
			flushed = true
		}
		prev = b
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if !grew || !flushed {
		t.Fatalf("Buffered did not grow and drop (grew=%v flushed=%v)", grew, flushed)
	}
}

func TestParsers(t *testing.T) {
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("ParseFormat(xml) = %v", err)
	}
	if _, err := ParseCompression("lz77"); err == nil {
		t.Error("bad compression accepted")
	}
	if Extension(CSV, Gzip) != "csv.gz" || Extension(Parquet, Zstd) != "parquet" || Extension(JSONL, None) != "jsonl" {
		t.Error("extensions")
	}
}

func BenchmarkCSVNarrow(b *testing.B) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Float64},
		{Name: "s", Type: arrow.BinaryTypes.String}, {Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	for i := 0; i < 100000; i++ {
		bld.Field(0).(*array.Int64Builder).Append(int64(i))
		bld.Field(1).(*array.Float64Builder).Append(float64(i) / 7)
		bld.Field(2).(*array.StringBuilder).Append("label-" + fmt.Sprint(i%100))
		bld.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 1000003))
	}
	rec := bld.NewRecordBatch()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		enc, _ := NewEncoder(io.Discard, schema, WithCompression(None))
		_ = enc.Write(rec)
		_ = enc.Close()
	}
	b.ReportMetric(float64(b.N)*100000/b.Elapsed().Seconds(), "rows/s")
}

// TestTextEncodersDoNotAllocatePerValue guards the hot path: encoding a
// batch of quoted and unicode strings allocates a constant few times, not
// once per value.
func TestTextEncodersDoNotAllocatePerValue(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := 0; i < 10000; i++ {
		b.Field(0).(*array.StringBuilder).Append([]string{"héllo, world", `say "hi"`, "plain"}[i%3])
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	for _, f := range []Format{CSV, JSONL} {
		enc, err := NewEncoder(io.Discard, schema, WithFormat(f), WithCompression(None))
		if err != nil {
			t.Fatal(err)
		}
		_ = enc.Write(rec) // warm up buffers
		if n := testing.AllocsPerRun(5, func() { _ = enc.Write(rec) }); n > 10 {
			t.Errorf("%s: %v allocations per 10,000-row batch", f, n)
		}
	}
}

// Intervals and durations have no Parquet type: they become text and int64
// counts at the top level and inside lists and structs (PostgreSQL's
// interval[] is a list of intervals), slices included.
func TestParquetConvertsNestedIntervals(t *testing.T) {
	mdn := arrow.FixedWidthTypes.MonthDayNanoInterval
	dur := &arrow.DurationType{Unit: arrow.Microsecond}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "iv", Type: mdn, Nullable: true},
		{Name: "ivs", Type: arrow.ListOf(mdn), Nullable: true},
		{Name: "durs", Type: arrow.LargeListOf(dur), Nullable: true},
		{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "d", Type: dur, Nullable: true}, arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int32}), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	one := arrow.MonthDayNanoInterval{Months: 14, Days: -3, Nanoseconds: 1500}
	b.Field(0).(*array.MonthDayNanoIntervalBuilder).AppendValues([]arrow.MonthDayNanoInterval{one, {}, {Months: -1}}, []bool{true, false, true})
	lb := b.Field(1).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.MonthDayNanoIntervalBuilder)
	lb.Append(true)
	vb.Append(one)
	vb.AppendNull()
	lb.AppendNull()
	lb.Append(true)
	vb.Append(arrow.MonthDayNanoInterval{Days: 1})
	llb := b.Field(2).(*array.LargeListBuilder)
	dvb := llb.ValueBuilder().(*array.DurationBuilder)
	llb.Append(true)
	dvb.Append(-5)
	llb.Append(true)
	llb.Append(true)
	dvb.AppendValues([]arrow.Duration{7, 8}, nil)
	sb := b.Field(3).(*array.StructBuilder)
	for i := 0; i < 3; i++ {
		if i == 1 {
			sb.AppendNull() // nulls the children too
			continue
		}
		sb.Append(true)
		sb.FieldBuilder(0).(*array.DurationBuilder).Append(arrow.Duration(i * 1000))
		sb.FieldBuilder(1).(*array.Int32Builder).Append(int32(i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	data := encode(t, rec, WithFormat(Parquet))
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tbl := readTable(t, pf)
	want := map[string]string{
		"iv":   `["P14M-3DT0.000001500S",null,"P-1M0DT0.000000000S"]`,
		"ivs":  `[["P14M-3DT0.000001500S",null],null,["P0M1DT0.000000000S"]]`,
		"durs": `[[-5],[],[7,8]]`,
		"st":   `[{"d":0,"n":0},null,{"d":2000,"n":2}]`,
	}
	for i, f := range tbl.Schema().Fields() {
		if got := f.Metadata.FindKey(TypeMetadataKey); got < 0 || f.Metadata.Values()[got] != schema.Field(i).Type.String() {
			t.Errorf("%s: metadata %v, want the original type %s", f.Name, f.Metadata, schema.Field(i).Type)
		}
		col := tbl.Column(i).Data().Chunk(0)
		raw, err := col.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(bytes.ReplaceAll(raw, []byte("\n"), nil)) != want[f.Name] {
			t.Errorf("%s (%s): %s, want %s", f.Name, f.Type, raw, want[f.Name])
		}
	}
}

// Values longer than the row buffer go out a piece at a time, quoted and
// escaped as short ones are (a quote on each side of a piece boundary
// included), and the row buffer stays its own size.
func TestCSVLongValues(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "body", Type: arrow.BinaryTypes.String}}, nil)
	plain := strings.Repeat("p", 3*flushAt+5)
	quotes := strings.Repeat("a\"b,\n", flushAt/5) + "\"" + strings.Repeat("q", flushAt) + "\""
	want := [][]string{{"1", plain}, {"2", quotes}, {"3", "short, \"quoted\""}}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for _, row := range want {
		id, _ := strconv.ParseInt(row[0], 10, 64)
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(row[1])
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var out bytes.Buffer
	enc, err := NewEncoder(&out, sch, WithFormat(CSV), WithCompression(None), WithCSVHeader(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Write(rec); err != nil {
		t.Fatal(err)
	}
	if c := cap(enc.(*csvEncoder).buf); c > 2*flushAt {
		t.Errorf("the row buffer grew to %d bytes", c)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i][0] != want[i][0] || got[i][1] != want[i][1] {
			t.Errorf("row %d: id %s, body of %d bytes; want %s, %d bytes", i, got[i][0], len(got[i][1]), want[i][0], len(want[i][1]))
		}
	}
}

// Parquet's DECIMAL has no negative scale: such a column is written as the
// integers its values are, tagged with its type, and reads back exact.
func TestParquetNegativeScaleDecimals(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "d128", Type: &arrow.Decimal128Type{Precision: 5, Scale: -2}, Nullable: true},
		{Name: "d256", Type: &arrow.Decimal256Type{Precision: 40, Scale: -3}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Decimal128Builder).AppendValues([]decimal128.Num{decimal128.FromI64(99999), {}, decimal128.FromI64(-5)}, []bool{true, false, true})
	big, _ := decimal256.FromString("-1234567890123456789012345678901234567890", 40, 0)
	b.Field(1).(*array.Decimal256Builder).AppendValues([]decimal256.Num{big, decimal256.FromI64(7), {}}, []bool{true, true, false})
	rec := b.NewRecordBatch()
	defer rec.Release()

	data := encode(t, rec, WithFormat(Parquet))
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tbl := readTable(t, pf)
	want := map[string]string{
		"d128": `["9999900",null,"-500"]`,
		"d256": `["-1234567890123456789012345678901234567890000","7000",null]`,
	}
	for i, f := range tbl.Schema().Fields() {
		if s := f.Type.(arrow.DecimalType).GetScale(); s != 0 {
			t.Errorf("%s: written with scale %d, want 0", f.Name, s)
		}
		raw, err := tbl.Column(i).Data().Chunk(0).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(bytes.ReplaceAll(raw, []byte("\n"), nil)) != want[f.Name] {
			t.Errorf("%s (%s): %s, want %s", f.Name, f.Type, raw, want[f.Name])
		}
	}

	d, err := NewParquetDecoder(context.Background(), bytes.NewReader(data), schema)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, d)
	defer got.Release()
	if !array.RecordEqual(got, rec) {
		t.Fatalf("read back\n%v\nwant\n%v", got, rec)
	}
}
