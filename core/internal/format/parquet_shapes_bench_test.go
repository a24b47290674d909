package format

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// shapeBatches builds batches like the benchmark tables' (testkit.Shapes)
// as the PostgreSQL plugin sends them, about 4 MiB each.
func shapeBatches(shape string, total int) (*arrow.Schema, []arrow.RecordBatch) {
	var fields []arrow.Field
	var rows int
	var fill func(b *array.RecordBuilder, g int)
	switch shape {
	case "decimals":
		for i := range 10 {
			fields = append(fields, arrow.Field{Name: fmt.Sprintf("d%d", i), Type: &arrow.Decimal128Type{Precision: 18, Scale: 4}, Nullable: true})
		}
		for i := range 10 {
			fields = append(fields, arrow.Field{Name: fmt.Sprintf("e%d", i), Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true})
		}
		rows = 4 << 20 / 320
		fill = func(b *array.RecordBuilder, g int) {
			for i := range 10 {
				b.Field(i).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(g*(i+17))%100000000000000 - 50000000000000))
			}
			for i := range 10 {
				v := decimal128.FromI64(int64(g)*1000003 + int64(i)).Mul(decimal128.FromU64(10000000000_0000000000 / 1e10)).Mul(decimal128.FromU64(1e10))
				b.Field(10 + i).(*array.Decimal128Builder).Append(v.Add(decimal128.FromI64(123456789 * int64(g%7))))
			}
		}
	case "text":
		fields = []arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "k1", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			{Name: "k2", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "t1", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "t2", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "t3", Type: arrow.BinaryTypes.String, Nullable: true},
		}
		rows = 4 << 20 / 850
		hex := func(seed string, g, n int) string {
			s := ""
			for len(s) < n {
				s += fmt.Sprintf("%032x", uint64(g)*0x9e3779b97f4a7c15^uint64(len(seed)))
			}
			return s[:n]
		}
		fill = func(b *array.RecordBuilder, g int) {
			b.Field(0).(*array.Int64Builder).Append(int64(g))
			b.Field(1).(*array.Int32Builder).Append(int32(g % 1000))
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("key-%d", g%5000))
			b.Field(3).(*array.StringBuilder).Append(hex("a", g, 50+g*37%451))
			b.Field(4).(*array.StringBuilder).Append(hex("bb", g, 50+g*53%451))
			b.Field(5).(*array.StringBuilder).Append(hex("ccc", g, 50+g*71%451))
		}
	}
	sch := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	var out []arrow.RecordBatch
	for g := 1; g <= total; g++ {
		fill(b, g)
		if g%rows == 0 || g == total {
			out = append(out, b.NewRecordBatch())
		}
	}
	return sch, out
}

// GOMEMLIMIT=80MiB go test -run X -bench ParquetShapes ./core/internal/format
// runs it under hp's soft memory limit (internal/memlimit.Floor).
func BenchmarkParquetShapes(b *testing.B) {
	for _, shape := range []string{"decimals", "text"} {
		sch, batches := shapeBatches(shape, 100_000)
		b.Run(shape, func(b *testing.B) {
			b.ReportAllocs()
			var out countingWriter
			for range b.N {
				enc, err := NewEncoder(&out, sch, WithFormat(Parquet))
				if err != nil {
					b.Fatal(err)
				}
				for _, rec := range batches {
					if err := enc.Write(rec); err != nil {
						b.Fatal(err)
					}
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.n)/float64(b.N)/(1<<20), "MB-out")
		})
	}
}
