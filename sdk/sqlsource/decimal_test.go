package sqlsource

import (
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkTextDecimal parses the decimals shape's values (testkit.Shapes)
// as MariaDB sends them: decimal(38,10) of about 32 digits and
// decimal(18,4) of about 14.
func BenchmarkTextDecimal(b *testing.B) {
	for _, c := range []struct {
		typ  *arrow.Decimal128Type
		text func(g int) string
	}{
		{&arrow.Decimal128Type{Precision: 38, Scale: 10}, func(g int) string { return fmt.Sprintf("%d.0123456789", (g*1000003+7)*10000000000) }},
		{&arrow.Decimal128Type{Precision: 18, Scale: 4}, func(g int) string { return fmt.Sprintf("%.4f", float64(g*17%100000000000000)/10000-5000000000) }},
	} {
		vals := make([][]byte, 1024)
		for i := range vals {
			vals[i] = []byte(c.text(i*997 + 1))
		}
		b.Run(c.typ.String(), func(b *testing.B) {
			bld := array.NewDecimal128Builder(memory.DefaultAllocator, c.typ)
			defer bld.Release()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := TextDecimal(bld, vals[i%len(vals)]); err != nil {
					b.Fatal(err)
				}
				if bld.Len() == 1<<16 {
					bld.NewArray().Release()
				}
			}
		})
	}
}

// checkTextDecimal compares TextDecimal with the exact path alone
// (appendDecimal): the same values accepted with the same result, the
// same refused. Plain text of at most 38 significant digits within the
// column must also take the fast path.
func checkTextDecimal(t *testing.T, typ arrow.DataType, text string) {
	t.Helper()
	fast, exact := array.NewBuilder(memory.DefaultAllocator, typ), array.NewBuilder(memory.DefaultAllocator, typ)
	defer fast.Release()
	defer exact.Release()
	errF, errE := TextDecimal(fast, []byte(text)), appendDecimal(exact, text)
	if (errF == nil) != (errE == nil) {
		t.Fatalf("%s %q: TextDecimal %v, exact path %v", typ, text, errF, errE)
	}
	a, b := fast.NewArray(), exact.NewArray()
	defer a.Release()
	defer b.Release()
	if !array.Equal(a, b) {
		t.Errorf("%s %q: TextDecimal %v, exact path %v", typ, text, a, b)
	}
	if errE == nil && plainDecimal(text, typ.(arrow.DecimalType).GetScale()) {
		if _, _, ok := fastDecimal([]byte(text), typ.(arrow.DecimalType).GetScale()); !ok {
			t.Errorf("%s %q left the fast path", typ, text)
		}
	}
}

// plainDecimal reports whether text is a sign, digits and a point with at
// most 38 significant digits at the scale: what the fast path must take.
func plainDecimal(text string, scale int32) bool {
	v, err := ParseDecimal(text, scale)
	if err != nil || strings.TrimLeft(text, "+-0123456789.") != "" || strings.TrimSpace(text) != text {
		return false
	}
	return len(new(big.Int).Abs(v).String()) <= 38
}

func TestTextDecimalAgreesWithExactPath(t *testing.T) {
	types := []arrow.DataType{
		&arrow.Decimal128Type{Precision: 38, Scale: 10}, &arrow.Decimal128Type{Precision: 18, Scale: 4},
		&arrow.Decimal128Type{Precision: 5, Scale: 2}, &arrow.Decimal128Type{Precision: 38, Scale: 0},
		&arrow.Decimal128Type{Precision: 38, Scale: 38}, &arrow.Decimal128Type{Precision: 1, Scale: 0},
		&arrow.Decimal128Type{Precision: 20, Scale: 1}, &arrow.Decimal128Type{Precision: 19, Scale: 0},
		&arrow.Decimal256Type{Precision: 65, Scale: 30}, &arrow.Decimal256Type{Precision: 76, Scale: 0}, &arrow.Decimal256Type{Precision: 76, Scale: 70},
	}
	nines := strings.Repeat("9", 38)
	texts := []string{
		"0", "-0", "+0", "0.000", "12.34", "-0.01", "1.5", "+7", "7.", ".5", "-.5", "999.99", "-999.99", "1000",
		"123.456", "1234.5", "12.3400000000000000000000000000000000000000000000",
		"999999999999999999", "9999999999999999999", "-1234567890123.45",
		nines, "-" + nines, nines + "9", "0." + nines, "0." + nines + "9", "-0.0000000001", "0.00000000001",
		"9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999",
		"99999999999999999999999999999", "9999999999999999999", "-9999999999999999999.9", "1844674407370955162", "18446744073709551616", "170141183460469231731687303715884105727", "340282366920938463463374607431768211456",
		strings.Repeat("0", 60) + "1.5", "1" + strings.Repeat("0", 37), "1" + strings.Repeat("0", 38),
		strings.Repeat("9", 60), "-" + strings.Repeat("9", 76),
		"", "-", "+", ".", "-.", "1.2.3", "1e5", "1.5E-1", " 12", "12 ", "0x10", "1_000", "--1", "+-1", "١",
	}
	for _, typ := range types {
		for _, s := range texts {
			checkTextDecimal(t, typ, s)
		}
	}
}

// TestTextDecimalRefusesBeyondPrecision: the fast path keeps the column's
// precision (it once appended 123456.78 into a decimal(5,2)).
func TestTextDecimalRefusesBeyondPrecision(t *testing.T) {
	b := array.NewDecimal128Builder(memory.DefaultAllocator, &arrow.Decimal128Type{Precision: 5, Scale: 2})
	defer b.Release()
	for _, s := range []string{"123456.78", "1000", "-1000.00"} {
		if err := TextDecimal(b, []byte(s)); err == nil || !strings.Contains(err.Error(), "does not fit decimal(5,2)") {
			t.Errorf("%q: %v", s, err)
		}
	}
	if b.Len() != 0 {
		t.Errorf("%d values appended", b.Len())
	}
}

// TestTextDecimalAllocs: a 38-digit decimal(38,10) parses without
// allocating.
func TestTextDecimalAllocs(t *testing.T) {
	b := array.NewDecimal128Builder(memory.DefaultAllocator, &arrow.Decimal128Type{Precision: 38, Scale: 10})
	defer b.Release()
	b.Reserve(1000)
	text := []byte("-9999999999999999999999999999.9999999999")
	if n := testing.AllocsPerRun(500, func() {
		if err := TextDecimal(b, text); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per value", n)
	}
}

func FuzzTextDecimal(f *testing.F) {
	for _, s := range []string{"12.34", "-0.0000000001", "9999999999999999999999999999.9999999999", "1.2300", "+3.", ".5", "1e5", "", "-"} {
		f.Add(s, uint8(38), uint8(10))
	}
	f.Add("123456.78", uint8(5), uint8(2))
	f.Add(strings.Repeat("9", 40), uint8(60), uint8(1))
	f.Fuzz(func(t *testing.T, text string, precision, scale uint8) {
		p := int64(precision%76) + 1
		typ, err := DecimalType(p, int64(scale)%(p+1))
		if err != nil {
			t.Fatal(err)
		}
		checkTextDecimal(t, typ, text)
	})
}

func TestParseDecimalHugeExponent(t *testing.T) {
	for _, s := range []string{"0e100000000", "-0.000e99999999"} {
		v, err := ParseDecimal(s, 2)
		if err != nil || v.Sign() != 0 {
			t.Errorf("ParseDecimal(%q) = %v, %v; want 0", s, v, err)
		}
	}
	if _, err := ParseDecimal("1e100000000", 0); err == nil || !strings.Contains(err.Error(), "more than 147455 digits") {
		t.Errorf("1e100000000: %v", err)
	}
	if v, err := ParseDecimal("1.5e74", 16383); err != nil || len(v.String()) != 75+16383 {
		t.Errorf("1.5e74 at scale 16383: %v", err)
	}
}
