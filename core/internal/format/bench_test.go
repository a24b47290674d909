package format

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	pqschema "github.com/apache/arrow-go/v18/parquet/schema"
	pq "github.com/parquet-go/parquet-go"
)

// lineitemSchema is TPC-H's lineitem as the PostgreSQL plugin reads it.
var lineitemSchema = arrow.NewSchema([]arrow.Field{
	{Name: "l_orderkey", Type: arrow.PrimitiveTypes.Int64},
	{Name: "l_partkey", Type: arrow.PrimitiveTypes.Int32},
	{Name: "l_suppkey", Type: arrow.PrimitiveTypes.Int32},
	{Name: "l_linenumber", Type: arrow.PrimitiveTypes.Int32},
	{Name: "l_quantity", Type: &arrow.Decimal128Type{Precision: 15, Scale: 2}},
	{Name: "l_extendedprice", Type: &arrow.Decimal128Type{Precision: 15, Scale: 2}},
	{Name: "l_discount", Type: &arrow.Decimal128Type{Precision: 15, Scale: 2}},
	{Name: "l_tax", Type: &arrow.Decimal128Type{Precision: 15, Scale: 2}},
	{Name: "l_returnflag", Type: arrow.BinaryTypes.String},
	{Name: "l_linestatus", Type: arrow.BinaryTypes.String},
	{Name: "l_shipdate", Type: arrow.FixedWidthTypes.Date32},
	{Name: "l_commitdate", Type: arrow.FixedWidthTypes.Date32},
	{Name: "l_receiptdate", Type: arrow.FixedWidthTypes.Date32},
	{Name: "l_shipinstruct", Type: arrow.BinaryTypes.String},
	{Name: "l_shipmode", Type: arrow.BinaryTypes.String},
	{Name: "l_comment", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// lineitemBatches builds n batches of rows lineitem-like rows: four lines
// per order, dates over seven years, prices up to 100,000.00.
func lineitemBatches(n, rows int) []arrow.RecordBatch {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"furiously", "quickly", "carefully", "final", "regular", "pending", "deposits", "accounts", "ideas", "packages", "blithely", "ironic"}
	out := make([]arrow.RecordBatch, n)
	b := array.NewRecordBuilder(memory.DefaultAllocator, lineitemSchema)
	defer b.Release()
	key := int64(0)
	for k := range out {
		for i := 0; i < rows; i++ {
			if i%4 == 0 {
				key++
			}
			b.Field(0).(*array.Int64Builder).Append(key)
			b.Field(1).(*array.Int32Builder).Append(r.Int32N(200000))
			b.Field(2).(*array.Int32Builder).Append(r.Int32N(10000))
			b.Field(3).(*array.Int32Builder).Append(int32(i%4 + 1))
			qty := r.Int64N(50) + 1
			b.Field(4).(*array.Decimal128Builder).Append(decimal128.FromI64(qty * 100))
			b.Field(5).(*array.Decimal128Builder).Append(decimal128.FromI64(qty * (r.Int64N(200000) + 90000)))
			b.Field(6).(*array.Decimal128Builder).Append(decimal128.FromI64(r.Int64N(11)))
			b.Field(7).(*array.Decimal128Builder).Append(decimal128.FromI64(r.Int64N(9)))
			b.Field(8).(*array.StringBuilder).Append([]string{"A", "N", "R"}[r.IntN(3)])
			b.Field(9).(*array.StringBuilder).Append([]string{"F", "O"}[r.IntN(2)])
			ship := int32(8035 + key%2500 + r.Int64N(120))
			b.Field(10).(*array.Date32Builder).Append(arrow.Date32(ship))
			b.Field(11).(*array.Date32Builder).Append(arrow.Date32(ship + r.Int32N(60) - 30))
			b.Field(12).(*array.Date32Builder).Append(arrow.Date32(ship + r.Int32N(30) + 1))
			b.Field(13).(*array.StringBuilder).Append([]string{"DELIVER IN PERSON        ", "COLLECT COD              ", "NONE                     ", "TAKE BACK RETURN         "}[r.IntN(4)])
			b.Field(14).(*array.StringBuilder).Append([]string{"REG AIR   ", "AIR       ", "RAIL      ", "SHIP      ", "TRUCK     ", "MAIL      ", "FOB       "}[r.IntN(7)])
			c := ""
			for len(c) < 10+r.IntN(30) {
				c += words[r.IntN(len(words))] + " "
			}
			b.Field(15).(*array.StringBuilder).Append(c)
		}
		out[k] = b.NewRecordBatch()
	}
	return out
}

// benchEncode writes the batches over and over, reporting rows/s and the
// largest heap in use seen after a batch.
func benchEncode(b *testing.B, batches []arrow.RecordBatch, opts ...Option) {
	rows := int64(0)
	for _, rec := range batches {
		rows += rec.NumRows()
	}
	var peak uint64
	var ms runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	var out countingWriter
	for range b.N {
		enc, err := NewEncoder(&out, lineitemSchema, opts...)
		if err != nil {
			b.Fatal(err)
		}
		for k, rec := range batches {
			if err := enc.Write(rec); err != nil {
				b.Fatal(err)
			}
			if k%8 == 7 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		if err := enc.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(out.n)/float64(b.N)/(1<<20), "MB-out")
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func BenchmarkLineitem(b *testing.B) {
	batches := lineitemBatches(16, 32768) // about 0.5M rows
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"CSV", []Option{WithCompression(None)}},
		{"Parquet", []Option{WithFormat(Parquet)}},
		{"ParquetZstd1", []Option{WithFormat(Parquet), WithCompressionLevel(1)}},
		{"ParquetSnappy", []Option{WithFormat(Parquet), WithCompression(Snappy)}},
	} {
		b.Run(c.name, func(b *testing.B) { benchEncode(b, batches, c.opts...) })
	}
}

// Decimals of precision <= 18 are stored as INT32/INT64 with the DECIMAL
// logical type; wider ones stay fixed-length byte arrays. Both read back
// exactly, through arrow-go and through parquet-go.
func TestParquetSmallDecimalsAsIntegers(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "d9", Type: &arrow.Decimal128Type{Precision: 9, Scale: 2}, Nullable: true},
		{Name: "d15", Type: &arrow.Decimal128Type{Precision: 15, Scale: 2}, Nullable: true},
		{Name: "d18", Type: &arrow.Decimal128Type{Precision: 18, Scale: 0}, Nullable: true},
		{Name: "d19", Type: &arrow.Decimal128Type{Precision: 19, Scale: 4}, Nullable: true},
	}, nil)
	limits := []int64{999_999_999, 999_999_999_999_999, 999_999_999_999_999_999, math.MaxInt64}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	want := make([][]*int64, len(limits))
	for i := 0; i < 500; i++ {
		for c, lim := range limits {
			var v *int64
			switch {
			case i%11 == 5:
			case i%3 == 0:
				v = ptr(lim)
			case i%3 == 1:
				v = ptr(-lim)
			default:
				v = ptr(int64(i*7919) % lim * int64(1-2*(i%2)))
			}
			want[c] = append(want[c], v)
			if v == nil {
				b.Field(c).AppendNull()
			} else {
				b.Field(c).(*array.Decimal128Builder).Append(decimal128.FromI64(*v))
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	data := encode(t, rec, WithFormat(Parquet))

	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for c, phys := range []parquet.Type{parquet.Types.Int32, parquet.Types.Int64, parquet.Types.Int64, parquet.Types.FixedLenByteArray} {
		col := pf.MetaData().Schema.Column(c)
		if col.PhysicalType() != phys {
			t.Errorf("%s: physical type %s, want %s", col.Name(), col.PhysicalType(), phys)
		}
		dt, ok := col.LogicalType().(pqschema.DecimalLogicalType)
		want := sch.Field(c).Type.(*arrow.Decimal128Type)
		if !ok || dt.Precision() != want.Precision || dt.Scale() != want.Scale {
			t.Errorf("%s: logical type %s, want %s", col.Name(), col.LogicalType(), want)
		}
	}
	tbl := readTable(t, pf)
	for c := range limits {
		got := tbl.Column(c).Data().Chunk(0)
		if !arrow.TypeEqual(got.DataType(), sch.Field(c).Type) || !array.Equal(got, rec.Column(c)) {
			t.Errorf("%s: arrow-go reads back %s, not the values written", sch.Field(c).Name, got.DataType())
		}
	}

	f, err := pq.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]pq.Row, 500)
	n, err := pq.NewReader(f).ReadRows(rows)
	if n != 500 {
		t.Fatalf("parquet-go read %d rows: %v", n, err)
	}
	for i, row := range rows {
		for c := 0; c < 3; c++ {
			v, w := row[c], want[c][i]
			got := v.Int64()
			if v.Kind() == pq.Int32 {
				got = int64(v.Int32())
			}
			if (w == nil) != v.IsNull() || (w != nil && got != *w) {
				t.Fatalf("row %d %s: parquet-go reads %v (%d), want %v", i, sch.Field(c).Name, v, got, w)
			}
		}
	}
}

// civil agrees with the time package on every day from year 0 to 9999
// and around the edges of its fast path.
func TestCivilEveryDay(t *testing.T) {
	check := func(days int64) {
		y, m, d := civil(days)
		ty, tm, td := time.Unix(days*86400, 0).UTC().Date()
		if y != int64(ty) || m != int(tm) || d != td {
			t.Fatalf("day %d: civil %d-%d-%d, time %d-%d-%d", days, y, m, d, ty, tm, td)
		}
	}
	for days := int64(-719528 - 800); days <= 2932896+800; days++ {
		check(days)
	}
	for _, days := range []int64{-719468, -719469, 1<<31 - 719468 - 1, 1<<31 - 719468, 1 << 40, -1 << 40} {
		check(days)
	}
}

// appendDecimal64 writes what the digit-string path (appendScaled) writes,
// for every scale and the edges of int64.
func TestAppendDecimal64MatchesScaled(t *testing.T) {
	vals := []int64{0, 1, -1, 9, -9, 10, -10, 99, 100, -101, 123456789, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	for p := int64(10); p <= 1e18; p *= 10 {
		vals = append(vals, p, -p, p-1, -(p - 1), p+1)
	}
	for _, v := range vals {
		for scale := int32(-3); scale <= 20; scale++ {
			u := uint64(v)
			if v < 0 {
				u = -u
			}
			want := string(appendScaled(nil, strconv.AppendUint(nil, u, 10), v < 0, scale))
			if got := string(appendDecimal64([]byte("x"), v, scale)); got != "x"+want {
				t.Errorf("%d scale %d: %q, want %q", v, scale, got, want)
			}
		}
	}
}

// By default a row group closes at 16 MiB of compressed pages, before
// its 1,000,000 rows: the pages are held in memory until it does.
// lineitem without its strings of few values (which cap row groups at
// ownDictGroupRows) compresses to about 20 bytes a row.
func TestParquetDefaultRowGroupBytes(t *testing.T) {
	batches := lineitemBatches(48, 32768)
	keep := []int{0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 15}
	fields := make([]arrow.Field, len(keep))
	for i, c := range keep {
		fields[i] = lineitemSchema.Field(c)
	}
	sch := arrow.NewSchema(fields, nil)
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, sch, WithFormat(Parquet))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range batches {
		cols := make([]arrow.Array, len(keep))
		for i, c := range keep {
			cols[i] = rec.Column(c)
		}
		part := array.NewRecordBatch(sch, cols, rec.NumRows())
		if err := enc.Write(part); err != nil {
			t.Fatal(err)
		}
		part.Release()
		rec.Release()
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRowGroups() < 3 {
		t.Fatalf("%d row groups", pf.NumRowGroups())
	}
	// The first row group is sized by its Arrow bytes (no compression
	// ratio is known yet); the second by the ratio the first had.
	rg := pf.MetaData().RowGroup(1)
	if size := rg.TotalCompressedSize(); rg.NumRows() >= 1_000_000 || size < 12<<20 || size > 17<<20 {
		t.Errorf("second row group: %d rows, %d compressed bytes", rg.NumRows(), size)
	}
}

// appendDecimal128 writes what the big.Int path writes, for values beyond
// int64 of every size up to the type's edges, both signs, every scale.
func TestAppendDecimal128MatchesBig(t *testing.T) {
	vals := []*big.Int{new(big.Int).Lsh(big.NewInt(1), 127), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))}
	for p := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil); p.BitLen() < 128; p = new(big.Int).Mul(p, big.NewInt(10)) {
		vals = append(vals, p, new(big.Int).Sub(p, big.NewInt(1)), new(big.Int).Add(p, big.NewInt(7)))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		v := new(big.Int).Lsh(new(big.Int).SetUint64(rng.Uint64()>>rng.IntN(64)), uint(rng.IntN(64)))
		vals = append(vals, v.Or(v, new(big.Int).SetUint64(rng.Uint64())))
	}
	for _, v := range vals {
		for _, sign := range []int{1, -1} {
			x := new(big.Int).Mul(v, big.NewInt(int64(sign)))
			if x.BitLen() > 127 {
				continue // outside decimal128 (its minimum is checked below)
			}
			n := decimal128.FromBigInt(x)
			for scale := int32(-2); scale <= 40; scale++ {
				want := string(appendBig([]byte("x"), n.BigInt(), scale))
				if got := string(appendDecimal128([]byte("x"), n, scale)); got != want {
					t.Fatalf("%s scale %d: %q, want %q", x, scale, got, want)
				}
			}
		}
	}
	minimum := decimal128.New(math.MinInt64, 0) // -2^127, its own negation
	if got, want := string(appendDecimal128(nil, minimum, 3)), string(appendBig(nil, minimum.BigInt(), 3)); got != want {
		t.Errorf("-2^127: %q, want %q", got, want)
	}
}

// A wide table's data pages are cut smaller, so that the pages its columns
// build at once stay within pageBudget; a narrow table's keep 128 KiB.
func TestParquetWideTablesCutSmallerPages(t *testing.T) {
	for _, cols := range []int{8, 200} {
		fields := make([]arrow.Field, cols)
		for i := range fields {
			fields[i] = arrow.Field{Name: fmt.Sprintf("c%03d", i), Type: arrow.PrimitiveTypes.Int64}
		}
		sch := arrow.NewSchema(fields, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		const rows = 50_000
		for i := range fields {
			for r := 0; r < rows; r++ {
				// Distinct values: plain pages of 8 bytes a row.
				b.Field(i).(*array.Int64Builder).Append(int64(r*cols + i))
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		largest, _ := dataPages(t, sch, rec, cols-1)
		// The writer checks a page's size every 1,024 values (8 KiB here).
		want := min(128<<10, pageBudget/cols)
		if largest > want+8<<10 || largest < want/2 {
			t.Errorf("%d columns: largest data page %d bytes, want about %d", cols, largest, want)
		}
		// 200 columns of 40 KiB pages took hp to 150 MB on the wide
		// benchmark table, 20 KiB pages 118–127 MB.
		if cols == 200 && largest > 28<<10 {
			t.Errorf("200 columns: largest data page %d bytes, want at most 28 KiB", largest)
		}
	}
}

// A column of long values is written longValueBatch values at a time, so
// its pages are cut near the page size, not once per batch: 64 values of
// 256 KiB made one 16 MiB page, held several times over while it was
// built.
func TestParquetLongValuesCutPages(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "body", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	const rows, size = 64, 256 << 10
	for r := range rows {
		b.Field(0).(*array.Int64Builder).Append(int64(r))
		b.Field(1).(*array.StringBuilder).Append(strings.Repeat(string(rune('a'+r%26)), size))
	}
	rec := b.NewRecordBatch()
	b.Release()
	largest, values := dataPages(t, sch, rec, 1)
	if values != rows {
		t.Fatalf("pages hold %d values, want %d", values, rows)
	}
	if want := longValueBatch*(size+4) + 1<<10; largest > want {
		t.Errorf("largest data page %d bytes, want at most %d (%d values)", largest, want, longValueBatch)
	}
}

// dataPages writes rec (released) as uncompressed Parquet and returns the
// largest data page of column col, in bytes, and the values its pages hold.
func dataPages(t *testing.T, sch *arrow.Schema, rec arrow.RecordBatch, col int) (largest, values int) {
	t.Helper()
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, sch, WithFormat(Parquet), WithCompression(None))
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Write(rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := pf.RowGroup(0).GetColumnPageReader(col)
	if err != nil {
		t.Fatal(err)
	}
	for pr.Next() {
		if p, ok := pr.Page().(file.DataPage); ok {
			largest = max(largest, len(p.Data()))
			values += int(p.NumValues())
		}
	}
	if err := pr.Err(); err != nil {
		t.Fatal(err)
	}
	return largest, values
}

// BenchmarkAppendDecimal renders the decimals shape's values: numeric(18,4)
// within int64 and numeric(38,10) beyond it (17 integer digits).
func BenchmarkAppendDecimal(b *testing.B) {
	var d64 []int64
	var d128 []decimal128.Num
	for i := range int64(1000) {
		d64 = append(d64, -49999999999983+17*i)
		v, _ := new(big.Int).SetString(strconv.FormatInt(10000030000012345+i*10000030000012345, 10)+"7159370367", 10)
		d128 = append(d128, decimal128.FromBigInt(v))
	}
	buf := make([]byte, 0, 64)
	b.Run("18,4", func(b *testing.B) {
		for b.Loop() {
			for _, v := range d64 {
				buf = appendDecimal64(buf[:0], v, 4)
			}
		}
	})
	b.Run("38,10", func(b *testing.B) {
		for b.Loop() {
			for _, v := range d128 {
				buf = appendDecimal128(buf[:0], v, 10)
			}
		}
	})
}
