package plugintest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Rows builds a record batch of schema from Go values, one slice per row
// and one value per field, for a test's expected data (a conformance
// fixture's Expected, say):
//
//	want := plugintest.Rows(t, schema, [][]any{
//		{int64(1), "one", nil},
//		{int64(2), "two", 2.5},
//	})
//
// nil is NULL (in a nullable field only). Other values must fit the
// field's type exactly, without loss:
//
//   - integer fields: any Go integer in the field's range;
//   - float fields: float32 or float64 (or an integer that is exact);
//   - boolean fields: bool;
//   - string and binary fields: string or []byte;
//   - timestamp fields: time.Time, truncated to nothing (a value finer than
//     the field's unit is an error); date32 fields: time.Time at midnight UTC;
//   - any type, including decimals: a string in the form Arrow parses for
//     it (array.Builder's AppendValueFromString), e.g. "123.45".
//
// A value that does not fit fails the test naming its row and field. The
// batch is released when the test ends.
func Rows(t testing.TB, schema *arrow.Schema, rows [][]any) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for r, row := range rows {
		if len(row) != schema.NumFields() {
			t.Fatalf("plugintest.Rows: row %d has %d values for %d fields", r, len(row), schema.NumFields())
		}
		for i, v := range row {
			f := schema.Field(i)
			if err := appendValue(b.Field(i), f, v); err != nil {
				t.Fatalf("plugintest.Rows: row %d, field %q (%s): %v", r, f.Name, f.Type, err)
			}
		}
	}
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec
}

func appendValue(fb array.Builder, f arrow.Field, v any) error {
	if v == nil {
		if !f.Nullable {
			return fmt.Errorf("nil in a field that is not nullable")
		}
		fb.AppendNull()
		return nil
	}
	if s, ok := v.(string); ok {
		switch fb := fb.(type) {
		case *array.StringBuilder:
			fb.Append(s)
		case *array.LargeStringBuilder:
			fb.Append(s)
		case *array.BinaryBuilder:
			fb.Append([]byte(s))
		default:
			return fb.AppendValueFromString(s)
		}
		return nil
	}
	switch fb := fb.(type) {
	case *array.BinaryBuilder:
		if p, ok := v.([]byte); ok {
			fb.Append(p)
			return nil
		}
	case *array.BooleanBuilder:
		if x, ok := v.(bool); ok {
			fb.Append(x)
			return nil
		}
	case *array.Float64Builder:
		if x, ok := toFloat(v); ok {
			fb.Append(x)
			return nil
		}
	case *array.Float32Builder:
		if x, ok := toFloat(v); ok && float64(float32(x)) == x {
			fb.Append(float32(x))
			return nil
		}
	case *array.TimestampBuilder:
		if x, ok := v.(time.Time); ok {
			unit := fb.Type().(*arrow.TimestampType).Unit
			ts, err := arrow.TimestampFromTime(x, unit)
			if err != nil {
				return err
			}
			if !ts.ToTime(unit).Equal(x) {
				return fmt.Errorf("%v is finer than the field's unit", x)
			}
			fb.Append(ts)
			return nil
		}
	case *array.Date32Builder:
		if x, ok := v.(time.Time); ok {
			d := arrow.Date32FromTime(x)
			if !d.ToTime().Equal(x) {
				return fmt.Errorf("%v is not midnight UTC", x)
			}
			fb.Append(d)
			return nil
		}
	}
	if n, ok := toInt(v); ok {
		return appendInt(fb, n)
	}
	return fmt.Errorf("cannot hold %T %v", v, v)
}

// toInt returns an integer value widened to a big enough type: int64, or
// uint64 for unsigned values above math.MaxInt64.
func toInt(v any) (any, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return uint64(x), true
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	return nil, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	if n, ok := toInt(v); ok {
		switch n := n.(type) {
		case int64:
			if f := float64(n); f < math.MaxInt64 && int64(f) == n {
				return f, true
			}
		case uint64:
			if f := float64(n); f < math.MaxUint64 && uint64(f) == n {
				return f, true
			}
		}
	}
	return 0, false
}

func appendInt(fb array.Builder, n any) error {
	var lo, hi int64 // the field's range, for signed values
	var uhi uint64   // for unsigned values
	signed := true
	switch fb.(type) {
	case *array.Int8Builder:
		lo, hi = math.MinInt8, math.MaxInt8
	case *array.Int16Builder:
		lo, hi = math.MinInt16, math.MaxInt16
	case *array.Int32Builder:
		lo, hi = math.MinInt32, math.MaxInt32
	case *array.Int64Builder:
		lo, hi = math.MinInt64, math.MaxInt64
	case *array.Uint8Builder:
		signed, uhi = false, math.MaxUint8
	case *array.Uint16Builder:
		signed, uhi = false, math.MaxUint16
	case *array.Uint32Builder:
		signed, uhi = false, math.MaxUint32
	case *array.Uint64Builder:
		signed, uhi = false, math.MaxUint64
	default:
		return fmt.Errorf("cannot hold the integer %v", n)
	}
	var s int64
	var u uint64
	switch n := n.(type) {
	case int64:
		s, u = n, uint64(n)
		if signed && (n < lo || n > hi) || !signed && (n < 0 || uint64(n) > uhi) {
			return fmt.Errorf("%d is out of the field's range", n)
		}
	case uint64:
		s, u = int64(n), n
		if signed && n > uint64(hi) || !signed && n > uhi {
			return fmt.Errorf("%d is out of the field's range", n)
		}
	}
	switch fb := fb.(type) {
	case *array.Int8Builder:
		fb.Append(int8(s))
	case *array.Int16Builder:
		fb.Append(int16(s))
	case *array.Int32Builder:
		fb.Append(int32(s))
	case *array.Int64Builder:
		fb.Append(s)
	case *array.Uint8Builder:
		fb.Append(uint8(u))
	case *array.Uint16Builder:
		fb.Append(uint16(u))
	case *array.Uint32Builder:
		fb.Append(uint32(u))
	case *array.Uint64Builder:
		fb.Append(u)
	}
	return nil
}
