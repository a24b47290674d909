package conformance

import (
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// orderValue is a non-NULL value of OrderColumn as an exact number:
// numbers as themselves, dates in days and timestamps in nanoseconds
// since 1970-01-01, so the suite compares them without a database.
type orderValue struct {
	num  *big.Rat
	text string
}

// compareOrderValues orders values as ReadRequest.OrderBy does
// ascending: NULL (nil) before every other value.
func compareOrderValues(a, b *orderValue) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.num.Cmp(b.num)
}

// orderColumnOf returns the values of column name of rec, in its row
// order, and checks that the column can show where NULLs sort and that
// its values are in neither order when rec is ordered by its key.
func orderColumnOf(rec arrow.RecordBatch, name string) ([]*orderValue, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return nil, fmt.Errorf("%q is not a column of Expected", name)
	}
	col := rec.Column(idx[0])
	out := make([]*orderValue, col.Len())
	nulls, up, down := 0, false, false
	var prev *orderValue
	for i := range out {
		if col.IsNull(i) {
			nulls++
			continue
		}
		v, err := cellOrderValue(col, i)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
		out[i] = v
		if prev != nil {
			switch c := v.num.Cmp(prev.num); {
			case c > 0:
				up = true
			case c < 0:
				down = true
			}
		}
		prev = v
	}
	if nulls == 0 {
		return nil, fmt.Errorf("column %q holds no NULL in Expected, so where NULLs sort is not tested", name)
	}
	if !up || !down {
		return nil, fmt.Errorf("column %q is in key order (or holds one value), so ordering by it is not told apart from ordering by the key", name)
	}
	return out, nil
}

// cellOrderValue converts row i of a.
func cellOrderValue(a arrow.Array, i int) (*orderValue, error) {
	r := new(big.Rat)
	switch x := a.(type) {
	case *array.Int8:
		r.SetInt64(int64(x.Value(i)))
	case *array.Int16:
		r.SetInt64(int64(x.Value(i)))
	case *array.Int32:
		r.SetInt64(int64(x.Value(i)))
	case *array.Int64:
		r.SetInt64(x.Value(i))
	case *array.Uint8:
		r.SetUint64(uint64(x.Value(i)))
	case *array.Uint16:
		r.SetUint64(uint64(x.Value(i)))
	case *array.Uint32:
		r.SetUint64(uint64(x.Value(i)))
	case *array.Uint64:
		r.SetUint64(x.Value(i))
	case *array.Float32:
		if r.SetFloat64(float64(x.Value(i))) == nil {
			return nil, fmt.Errorf("row %d holds %v, which has no order", i, x.Value(i))
		}
	case *array.Float64:
		if r.SetFloat64(x.Value(i)) == nil {
			return nil, fmt.Errorf("row %d holds %v, which has no order", i, x.Value(i))
		}
	case *array.Decimal128:
		r.SetString(x.Value(i).ToString(x.DataType().(*arrow.Decimal128Type).Scale))
	case *array.Decimal256:
		r.SetString(x.Value(i).ToString(x.DataType().(*arrow.Decimal256Type).Scale))
	case *array.Date32:
		r.SetInt64(int64(x.Value(i)))
	case *array.Date64:
		r.SetFrac64(int64(x.Value(i)), 86_400_000)
	case *array.Timestamp:
		unit := x.DataType().(*arrow.TimestampType).Unit
		r.SetInt(new(big.Int).Mul(big.NewInt(int64(x.Value(i))), big.NewInt(int64(unit.Multiplier()))))
	default:
		return nil, fmt.Errorf("type %s is not one the suite can order (integer, floating-point, decimal, date or timestamp)", a.DataType())
	}
	return &orderValue{num: r, text: a.ValueStr(i)}, nil
}

// valueOrder converts a bound the connector returned.
func valueOrder(v *sdk.Value) (*orderValue, error) {
	r := new(big.Rat)
	switch v.Kind {
	case sdk.KindInt64, sdk.KindDate:
		r.SetInt64(v.Int)
	case sdk.KindUint64:
		r.SetUint64(v.Uint)
	case sdk.KindFloat64:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return nil, fmt.Errorf("float %v has no order", v.Float)
		}
		r.SetFloat64(v.Float)
	case sdk.KindDecimal, sdk.KindString:
		if _, ok := r.SetString(v.Str); !ok {
			return nil, fmt.Errorf("%q is not a number", v.Str)
		}
	case sdk.KindTimestamp:
		r.SetInt(new(big.Int).Add(new(big.Int).Mul(big.NewInt(v.Time.Unix()), big.NewInt(1e9)), big.NewInt(int64(v.Time.Nanosecond()))))
	default:
		return nil, fmt.Errorf("kind %d cannot bound a column of an ordered type", v.Kind)
	}
	return &orderValue{num: r, text: v.String()}, nil
}

// checkOrderBound compares a bound with the value it should be (nil: no
// non-NULL value, so no bound).
func checkOrderBound(t *testing.T, what string, got *sdk.Value, want *orderValue) {
	t.Helper()
	switch {
	case want == nil && got == nil:
		return
	case want == nil:
		t.Errorf("%s = %s, want none (no non-NULL value)", what, got)
		return
	case got == nil:
		t.Errorf("%s is missing, want %s", what, want.text)
		return
	}
	g, err := valueOrder(got)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if g.num.Cmp(want.num) != 0 {
		t.Errorf("%s = %s, want %s", what, g.text, want.text)
	}
}
