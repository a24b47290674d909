package diff

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// reader returns the rows as record batches of at most per rows each, so
// that the merge crosses batch boundaries on both sides. Each batch is
// released, and its memory poisoned, when the next is read, as the
// host's reader of a plugin's stream does with pooled memory.
func reader(t *testing.T, schema *arrow.Schema, per int, rows ...[]any) array.RecordReader {
	t.Helper()
	mem := plugintest.NewPoison(t)
	var recs []arrow.RecordBatch
	for start := 0; start < len(rows); start += per {
		b := array.NewRecordBuilder(mem, schema)
		for _, row := range rows[start:min(len(rows), start+per)] {
			for i, v := range row {
				fb := b.Field(i)
				if v == nil {
					fb.AppendNull()
					continue
				}
				switch fb := fb.(type) {
				case *array.Int32Builder:
					fb.Append(int32(v.(int)))
				case *array.Int64Builder:
					fb.Append(int64(v.(int)))
				case *array.StringBuilder:
					fb.Append(v.(string))
				case *array.Decimal128Builder:
					scale := schema.Field(i).Type.(*arrow.Decimal128Type).Scale
					n, err := decimal128.FromString(v.(string), schema.Field(i).Type.(*arrow.Decimal128Type).Precision, scale)
					if err != nil {
						t.Fatal(err)
					}
					fb.Append(n)
				case *array.TimestampBuilder:
					unit := schema.Field(i).Type.(*arrow.TimestampType).Unit
					ts, err := arrow.TimestampFromTime(v.(time.Time), unit)
					if err != nil {
						t.Fatal(err)
					}
					fb.Append(ts)
				case *array.Float64Builder:
					fb.Append(v.(float64))
				default:
					t.Fatalf("no test builder for %T", fb)
				}
			}
		}
		recs = append(recs, b.NewRecordBatch())
		b.Release()
	}
	return plugintest.OneShot(schema, recs...)
}

func run(t *testing.T, src, tgt Side) ([]string, Summary, error) {
	t.Helper()
	var lines []string
	sum, err := Compare(src, tgt, func(d Difference) error {
		// Record and Row locate the row of the key: the source's, or the
		// target's for a deleted key.
		key := src.Keys[0]
		if d.Status == Deleted {
			key = tgt.Keys[0]
		}
		if v := d.Record.Column(d.Record.Schema().FieldIndices(key)[0]).ValueStr(d.Row); !strings.Contains(string(d.Key), v) {
			t.Errorf("%s: the row located holds key %s", d.Key, v)
		}
		b, err := json.Marshal(d)
		lines = append(lines, string(b))
		return err
	})
	return lines, sum, err
}

// TestCompareMerge: composite keys of different integer widths, text
// keys in byte order (upper case before lower, accents after), decimals
// of different scales, instants with and without a zone and in different
// units; new, changed and deleted keys found exactly, across batches.
func TestCompareMerge(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	srcSchema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "code", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	tgtSchema := arrow.NewSchema([]arrow.Field{
		{Name: "ID", Type: arrow.PrimitiveTypes.Int32},
		{Name: "code", Type: arrow.BinaryTypes.String},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 4}, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true},
	}, nil)
	t0 := at("2024-03-31T01:30:00.123456Z")
	src := reader(t, srcSchema, 2,
		[]any{1, "A", "1.50", t0, "x"},
		[]any{1, "a", "2.00", t0, "y"},     // changed: amount
		[]any{1, "é", nil, nil, nil},       // equal: NULLs
		[]any{2, "B", "-0.10", t0, "z"},    // new
		[]any{3, "C", "5.00", t0, "same"},  // changed: at
		[]any{5, "E", "7.25", t0, "label"}, // changed: label (NULL in target)
	)
	tgt := reader(t, tgtSchema, 3,
		[]any{1, "A", "x", "1.5000", t0},
		[]any{1, "a", "y", "2.0100", t0},
		[]any{1, "é", nil, nil, nil},
		[]any{1, "ê", "old", "1.0000", t0},                                 // deleted
		[]any{3, "C", "same", "5.0000", at("2024-03-31T01:30:00.123457Z")}, // one microsecond later
		[]any{4, "D", "gone", "0.0000", nil},                               // deleted
		[]any{5, "E", nil, "7.2500", t0},
	)
	cols := []string{"amount", "at", "label"}
	lines, sum, err := run(t,
		Side{Name: "src", Records: src, Keys: []string{"id", "code"}, Columns: cols},
		Side{Name: "tgt", Records: tgt, Keys: []string{"ID", "code"}, Columns: cols})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"status":"changed","key":{"id":1,"code":"a"},"columns":["amount"]}`,
		`{"status":"deleted","key":{"id":1,"code":"ê"},"columns":[]}`,
		`{"status":"new","key":{"id":2,"code":"B"},"columns":[]}`,
		`{"status":"changed","key":{"id":3,"code":"C"},"columns":["at"]}`,
		`{"status":"deleted","key":{"id":4,"code":"D"},"columns":[]}`,
		`{"status":"changed","key":{"id":5,"code":"E"},"columns":["label"]}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("differences:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if sum != (Summary{SourceRows: 6, TargetRows: 7, New: 1, Changed: 3, Deleted: 2}) || sum.Differences() != 6 {
		t.Fatalf("summary %+v", sum)
	}
}

func TestCompareRefuses(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	side := func(name string, rows ...[]any) Side {
		return Side{Name: name, Records: reader(t, schema, 2, rows...), Keys: []string{"k"}, Columns: []string{"v"}}
	}
	_, _, err := run(t, side("src", []any{"a", 1}), side("tgt", []any{"a", 1}, []any{"b", 2}, []any{nil, 3}))
	if !errors.Is(err, ErrNullKey) || !strings.Contains(err.Error(), `key column "k" is NULL in row 3 of tgt`) {
		t.Fatalf("NULL key: %v", err)
	}
	// A database that orders by collation ("a" before "B") is caught, not
	// trusted: the merge would report wrong differences.
	_, _, err = run(t, side("src", []any{"a", 1}, []any{"B", 1}), side("tgt", []any{"a", 1}))
	if err == nil || !strings.Contains(err.Error(), `the rows of src are not in strictly ascending key order at key {"k":"B"} (after {"k":"a"})`) {
		t.Fatalf("rows out of order: %v", err)
	}
	_, _, err = run(t, side("src", []any{"a", 1}, []any{"a", 2}), side("tgt", []any{"a", 1}))
	if err == nil || !strings.Contains(err.Error(), "not in strictly ascending key order") {
		t.Fatalf("duplicate key: %v", err)
	}
	other := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String},
		{Name: "v", Type: arrow.BinaryTypes.String},
	}, nil)
	_, _, err = run(t, side("src", []any{"a", 1}), Side{Name: "tgt", Records: reader(t, other, 1, []any{"a", "1"}), Keys: []string{"k"}, Columns: []string{"v"}})
	if err == nil || !strings.Contains(err.Error(), `column "v" is int64 in the source and utf8 in the target: they cannot be compared`) {
		t.Fatalf("incomparable types: %v", err)
	}
}

func TestEqualAndCompare(t *testing.T) {
	dec := func(s string) val { return val{k: kDec, s: canonical(s)} }
	for _, c := range []struct {
		a, b  val
		equal bool
	}{
		{dec("1.50"), dec("1.5"), true},
		{dec("-0.00"), dec("0"), true},
		{dec("2.00"), signed(2), true},
		{dec("2.01"), signed(2), false},
		{signed(-1), val{k: kInt, u: math.MaxUint64}, false},
		{val{k: kBool, u: 1}, signed(1), true},
		{val{k: kFloat, f: math.NaN()}, val{k: kFloat, f: math.NaN()}, true},
		{val{}, val{}, true},
		{val{}, signed(0), false},
		{val{k: kStr, s: "a"}, val{k: kBytes, s: "a"}, false},
	} {
		if got := equal(c.a, c.b); got != c.equal {
			t.Errorf("equal(%+v, %+v) = %v", c.a, c.b, got)
		}
	}
	ordered := []val{signed(math.MinInt64), signed(-2), signed(0), dec("0.5"), signed(1), val{k: kInt, u: math.MaxUint64}}
	for i := 1; i < len(ordered); i++ {
		if compare(ordered[i-1], ordered[i]) >= 0 || compare(ordered[i], ordered[i-1]) <= 0 {
			t.Errorf("%+v should sort before %+v", ordered[i-1], ordered[i])
		}
	}
	for _, s := range [][2]string{{"Z", "a"}, {"a", "ab"}, {"e", "é"}, {"é", "ê"}} {
		if compare(val{k: kStr, s: s[0]}, val{k: kStr, s: s[1]}) >= 0 {
			t.Errorf("%q should sort before %q", s[0], s[1])
		}
	}
	// decimal128 values of different scales compare without text, unless
	// scaling one up would overflow 38 digits.
	num := func(s string, prec, scale int32) val {
		n, err := decimal128.FromString(s, prec, scale)
		if err != nil {
			t.Fatal(err)
		}
		return val{k: kDec, d: n, scale: scale, isNum: true}
	}
	huge := num("10000000000000000000000000000000000000", 38, 0)
	for _, c := range []struct {
		a, b val
		cmp  int
	}{
		{num("1.50", 10, 2), num("1.5000", 12, 4), 0},
		{num("-0.00", 10, 2), num("0", 5, 0), 0},
		{num("-1.25", 10, 2), num("-1.2499", 12, 4), -1},
		{huge, num("1.0000", 38, 4), 1},
		{num("-1.0000", 38, 4), huge, -1},
	} {
		if got := compare(c.a, c.b); got != c.cmp || equal(c.a, c.b) != (c.cmp == 0) {
			t.Errorf("compare(%s, %s) = %d, want %d", c.a.text(), c.b.text(), got, c.cmp)
		}
	}
	if sec, nsec := split(-1, 1e6); sec != -1 || nsec != 999999000 {
		t.Errorf("split(-1µs) = %d, %d", sec, nsec)
	}
}
