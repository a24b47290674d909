package sqlsource

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestHolds(t *testing.T) {
	ts := func(u arrow.TimeUnit, tz string) arrow.DataType { return &arrow.TimestampType{Unit: u, TimeZone: tz} }
	dec := func(p, s int32) arrow.DataType { return &arrow.Decimal128Type{Precision: p, Scale: s} }
	for _, c := range []struct {
		a, b arrow.DataType
		want bool
	}{
		{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32, true},
		{arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64, false},
		{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Uint32, true},
		{arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint32, false},
		{arrow.PrimitiveTypes.Uint64, arrow.PrimitiveTypes.Int8, false},
		{arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float32, true},
		{arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64, false},
		{dec(12, 2), dec(10, 2), true},
		{dec(12, 4), dec(10, 2), true},
		{dec(12, 4), dec(10, 1), false}, // 9 integer digits, not 8
		{dec(10, 2), dec(10, 3), false},
		{&arrow.Decimal256Type{Precision: 40, Scale: 2}, dec(38, 2), true},
		{ts(arrow.Microsecond, ""), ts(arrow.Millisecond, ""), true},
		{ts(arrow.Millisecond, ""), ts(arrow.Microsecond, ""), false},
		{ts(arrow.Microsecond, "UTC"), ts(arrow.Microsecond, ""), false},
		{arrow.BinaryTypes.LargeString, arrow.BinaryTypes.String, true},
		{arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64, false},
		{arrow.BinaryTypes.Binary, &arrow.FixedSizeBinaryType{ByteWidth: 16}, true},
	} {
		if got := holds(c.a, c.b); got != c.want {
			t.Errorf("holds(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
