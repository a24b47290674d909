package postgres

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// binaryNumeric is PostgreSQL's binary numeric of the decimal digits times
// 10^-scale, as the server sends it (without the field length).
func binaryNumeric(tb testing.TB, digits string, neg bool, scale int32) []byte {
	tb.Helper()
	b, err := appendNumeric(nil, []byte(digits), neg, scale, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return b[4:]
}

// BenchmarkDecodeNumeric decodes the values of the decimals shape
// (testkit.Shapes) into their column's decimal builder: numeric(38,10)
// of about 32 digits and numeric(18,4) of about 14; and lineitem's
// numeric(15,2) of up to 9.
func BenchmarkDecodeNumeric(b *testing.B) {
	for _, c := range []struct {
		typ    string
		scale  int32
		digits func(g int) string
	}{
		{"numeric(38,10)", 10, func(g int) string { return fmt.Sprintf("%d0123456789", (g*1000003+7)*10000000000) }},
		{"numeric(18,4)", 4, func(g int) string { return fmt.Sprintf("%d", g*17%100000000000000+50000000000) }},
		{"numeric(15,2)", 2, func(g int) string { return fmt.Sprintf("%d", g*31%10000000+100) }}, // lineitem's prices
	} {
		vals := make([][]byte, 1024)
		for i := range vals {
			vals[i] = binaryNumeric(b, c.digits(i*997+1), i%3 == 0, c.scale)
		}
		b.Run(c.typ, func(b *testing.B) {
			bld := array.NewDecimal128Builder(memory.DefaultAllocator, &arrow.Decimal128Type{Precision: 38, Scale: c.scale})
			defer bld.Release()
			dec := decodeNumeric(bld)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := dec(vals[i%len(vals)]); err != nil {
					b.Fatal(err)
				}
				if bld.Len() == 1<<16 {
					bld.NewArray().Release()
				}
			}
		})
	}
}
