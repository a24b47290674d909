package sqlsource

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in    string
		scale int32
		want  string
	}{
		{"12.34", 4, "123400"}, {"-0.0000000001", 10, "-1"}, {"7", 2, "700"}, {"1.2300", 2, "123"},
		{"12345678901234567890123456.0123456789", 10, "123456789012345678901234560123456789"},
		{"1.5e3", 0, "1500"}, {"+3.", 1, "30"},
	}
	for _, c := range cases {
		got, err := ParseDecimal(c.in, c.scale)
		if err != nil || got.String() != c.want {
			t.Errorf("ParseDecimal(%q, %d) = %v, %v; want %s", c.in, c.scale, got, err, c.want)
		}
	}
	for _, bad := range []string{"1.234", "abc", "", "1e"} {
		if _, err := ParseDecimal(bad, 2); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
}

func TestSelectSQL(t *testing.T) {
	c := New(sdk.Info{}, &Dialect{Placeholder: func(n int) string { return "$" + string(rune('0'+n)) }})
	q, args, err := c.selectSQL(sdk.Source{Object: &sdk.ObjectRef{Schema: "s", Name: `we"ird`}}, c.selectList([]ColumnMeta{{Name: "a b"}, {Name: "id"}}, nil),
		"x > 1", &sdk.RangeFilter{Column: "id", Lower: sdk.Int64Value(5), Upper: sdk.Int64Value(9), UpperInclusive: true},
		[]sdk.OrderBy{{Column: "id", Descending: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT "a b", "id" FROM "s"."we""ird" WHERE (x > 1) AND "id" > $1 AND "id" <= $2 ORDER BY "id" DESC`
	if q != want || len(args) != 2 || args[0] != int64(5) || args[1] != int64(9) {
		t.Fatalf("got  %s %v\nwant %s", q, args, want)
	}
	q, _, _ = c.selectSQL(sdk.Source{Query: "select 1;"}, "*", "", &sdk.RangeFilter{Column: "c", Lower: sdk.Int64Value(1), LowerInclusive: true}, nil, nil)
	if !strings.HasPrefix(q, "SELECT * FROM (select 1) hp_q WHERE") {
		t.Fatalf("query wrap: %s", q)
	}
	q, _, _ = c.selectSQL(sdk.Source{Query: "select 1"}, "*", "", nil, nil, nil)
	if q != "select 1" {
		t.Fatalf("plain query changed: %s", q)
	}
	// A dialect's literals replace the parameters they cover, and only those.
	c.dialect.Literal = func(v *sdk.Value, col ColumnMeta) (string, bool) {
		return fmt.Sprintf("%d /* %s */", v.Int, col.Name), v.Kind == sdk.KindInt64
	}
	q, args, _ = c.selectSQL(sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}, "*", "", &sdk.RangeFilter{Column: "id", Lower: sdk.Int64Value(5),
		Upper: &sdk.Value{Kind: sdk.KindString, Str: "z"}}, nil, []ColumnMeta{{Name: "id"}})
	if want := `SELECT * FROM "t" WHERE "id" > 5 /* id */ AND "id" < $1`; q != want || len(args) != 1 || args[0] != "z" {
		t.Fatalf("literals: got %s %v, want %s [z]", q, args, want)
	}
}

func TestFastTimeAgreesWithTimeParse(t *testing.T) {
	for _, in := range []string{"1992-01-01", "2024-02-29 23:59:59", "1969-12-31 23:59:59.999999", "0001-01-01 00:00:00.1", "9999-12-31T12:00:00.000001", "1900-03-01"} {
		want, err := ParseTime(in)
		if err != nil {
			t.Fatal(err)
		}
		us, ok := fastTimestamp([]byte(in))
		if !ok || us != want.UnixMicro() {
			t.Errorf("%s: fast %d (%v), time.Parse %d", in, us, ok, want.UnixMicro())
		}
		if days, ok := fastDate([]byte(in[:10])); !ok || days != want.Unix()/86400-boolInt(want.Unix() < 0 && want.Unix()%86400 != 0) {
			t.Errorf("%s: fast date %d", in, days)
		}
	}
	for _, bad := range []string{"1992-1-01", "2024-02-29 24:00:00", "2024-02-29 23:59:59.1234567", "2024-02-29 23:59:59+02:00", "abcd-ef-gh"} {
		if _, ok := fastTimestamp([]byte(bad)); ok {
			t.Errorf("%q took the fast path", bad)
		}
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TestGettersCoverUnsigned: the unsigned types every dialect can create a
// column for must also be writable, uint64 above 2^63 included.
func TestGettersCoverUnsigned(t *testing.T) {
	for _, dt := range []arrow.DataType{arrow.PrimitiveTypes.Uint8, arrow.PrimitiveTypes.Uint16, arrow.PrimitiveTypes.Uint32, arrow.PrimitiveTypes.Uint64} {
		b := array.NewBuilder(memory.DefaultAllocator, dt)
		switch x := b.(type) {
		case *array.Uint8Builder:
			x.Append(255)
		case *array.Uint16Builder:
			x.Append(65535)
		case *array.Uint32Builder:
			x.Append(4294967295)
		case *array.Uint64Builder:
			x.Append(18446744073709551615)
		}
		b.AppendNull()
		a := b.NewArray()
		g, err := getter(a)
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		if fmt.Sprint(g(0)) != a.ValueStr(0) || g(1) != nil {
			t.Errorf("%s: got %v, %v", dt, g(0), g(1))
		}
	}
}

// The text decoders (rows read as bytes) give what the driver-value
// decoders give for the same text, fast path or not, and refuse the same.
// DecodeDecimal hands text to TextDecimal, so decimals are compared with
// the exact path alone.
func TestTextDecodersAgreeWithValueDecoders(t *testing.T) {
	exactDecimal := func(b array.Builder, v driver.Value) error { return appendDecimal(b, v.(string)) }
	cases := []struct {
		typ  arrow.DataType
		text func(array.Builder, []byte) error
		dec  Decoder
		ok   []string
		bad  []string
	}{
		{arrow.PrimitiveTypes.Int64, TextInt64, DecodeInt64,
			[]string{"0", "-0", "+7", "-42", "123456789012345678", "9223372036854775807", "-9223372036854775808", " 12 "},
			[]string{"", "-", "9223372036854775808", "1.5", "12a"}},
		{arrow.PrimitiveTypes.Int32, TextInt64, DecodeInt64, []string{"2147483647", "-2147483648"}, []string{"2147483648", "-2147483649"}},
		{arrow.PrimitiveTypes.Int8, TextInt64, DecodeInt64, []string{"127", "-128"}, []string{"128"}},
		{arrow.PrimitiveTypes.Uint64, TextUint64, DecodeUint64,
			[]string{"0", "18446744073709551615", "999999999999999999"}, []string{"-1", "18446744073709551616", "", "x"}},
		{arrow.PrimitiveTypes.Uint16, TextUint64, DecodeUint64, []string{"65535"}, []string{"65536"}},
		{&arrow.Decimal128Type{Precision: 15, Scale: 2}, TextDecimal, exactDecimal,
			[]string{"-1234567890123.45", "0.01", "7", "-0.5"}, []string{"1.234", "x", ""}},
		{&arrow.Decimal128Type{Precision: 38, Scale: 10}, TextDecimal, exactDecimal,
			[]string{"9999999999999999999999999999.9999999999", "-1.5"},
			// wider than 128 bits: refused, not a panic
			[]string{"1.00000000001", "12345678901234567890123456789012345678901234567890", "-1e40"}},
		{&arrow.Decimal256Type{Precision: 65, Scale: 30}, TextDecimal, exactDecimal,
			[]string{"12345678901234567890123456789012345.123456789012345678901234567890"},
			[]string{strings.Repeat("9", 80)}},
		{arrow.FixedWidthTypes.Date32, TextDate32, DecodeDate32, []string{"2024-02-29", "0001-01-01", "9999-12-31", "2024-02-29 10:00:00"}, []string{"2024-13-01", "x"}},
		{&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, TextTimestamp, DecodeTimestamp,
			[]string{"2038-01-19 03:14:07.999999", "1970-01-01", "2024-01-01T00:00:00.1+02:00", "2024-01-01 00:00:00.123456789"}, []string{"2024-01-01 25:00:00"}},
		{arrow.BinaryTypes.String, TextString, DecodeString, []string{"", "żółw"}, nil},
		{arrow.BinaryTypes.Binary, TextBinary, DecodeBinary, []string{"", "\x00\xff"}, nil},
	}
	for _, c := range cases {
		viaText := array.NewBuilder(memory.DefaultAllocator, c.typ)
		viaValue := array.NewBuilder(memory.DefaultAllocator, c.typ)
		for _, s := range c.ok {
			errT, errV := c.text(viaText, []byte(s)), c.dec(viaValue, s)
			if errT != nil || errV != nil {
				t.Errorf("%s %q: text %v, value %v", c.typ, s, errT, errV)
			}
		}
		for _, s := range c.bad {
			if err := c.text(viaText, []byte(s)); err == nil {
				t.Errorf("%s %q accepted as text", c.typ, s)
			}
		}
		a, b := viaText.NewArray(), viaValue.NewArray()
		if a.Len() != len(c.ok) || !array.Equal(a, b) {
			t.Errorf("%s: text %v, value %v", c.typ, a, b)
		}
		a.Release()
		b.Release()
		viaText.Release()
		viaValue.Release()
	}
}
