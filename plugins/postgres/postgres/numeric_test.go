package postgres

import (
	"encoding/binary"
	"math/big"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// rawNumeric builds a binary numeric field from its parts as given,
// unnormalized groups and special signs included.
func rawNumeric(weight int16, sign uint16, dscale uint16, groups ...uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(groups)))
	b = binary.BigEndian.AppendUint16(b, uint16(weight))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, dscale)
	for _, g := range groups {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b
}

// checkFastNumeric compares the 128-bit path with the exact big-integer
// path: the same value whenever the fast path answers, and an answer from
// it whenever the exact value is well-formed and has at most 38 digits.
func checkFastNumeric(t *testing.T, d []byte, scale int32) {
	t.Helper()
	got, ok := fastNumeric128(d, scale)
	v, neg, err := numericUnscaled(d, scale)
	if err != nil {
		if ok {
			t.Errorf("% x scale %d: fast path gave %s, exact path fails: %v", d, scale, got.BigInt(), err)
		}
		return
	}
	if neg {
		v.Neg(v)
	}
	fits := new(big.Int).Abs(v).Cmp(new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil)) < 0
	if ok && got.BigInt().Cmp(v) != 0 {
		t.Errorf("% x scale %d: fast %s, exact %s", d, scale, got.BigInt(), v)
	}
	if !ok && fits && wellFormed(d) {
		t.Errorf("% x scale %d: %s (38 digits or fewer) left the fast path", d, scale, v)
	}
	if fits {
		n, err := numeric128(d, scale)
		if err != nil || n.BigInt().Cmp(v) != 0 {
			t.Errorf("% x scale %d: numeric128 %s, %v; exact %s", d, scale, n.BigInt(), err, v)
		}
	}
}

// wellFormed reports whether every group is a base-10000 digit, as the
// server sends them.
func wellFormed(d []byte) bool {
	n := int(binary.BigEndian.Uint16(d))
	for i := 0; i < n; i++ {
		if binary.BigEndian.Uint16(d[8+2*i:]) > 9999 {
			return false
		}
	}
	return true
}

func TestFastNumericAgreesWithExactPath(t *testing.T) {
	max38 := strings.Repeat("9", 38)
	for _, c := range []struct {
		digits string
		scale  int32 // the value's
		cols   []int32
	}{
		{"0", 0, []int32{0, 4, 10, 38}},
		{"1", 10, []int32{10, 20, 38}},
		{"123456789", 4, []int32{4, 5, 10}},
		{max38, 10, []int32{10}},
		{max38, 0, []int32{0}},
		{max38, 38, []int32{38}},
		{"1" + strings.Repeat("0", 37), 0, []int32{0, 1}}, // 10^37; times 10 has 39 digits
		{strings.Repeat("9", 39), 0, []int32{0}},
		{"170141183460469231731687303715884105727", 0, []int32{0}}, // 2^127-1
		{"340282366920938463463374607431768211455", 0, []int32{0}}, // 2^128-1
		{"99999999999999999999999999990123456789", 10, []int32{10, 11, 12}},
		{"12300000000", 10, []int32{2, 3, 10}}, // trailing zeros below the column's scale
		{"5", 3, []int32{2, 3}},                // 0.005 at scale 2: refused
		{"1000000", 0, []int32{0, 30}},
		{"10000", 8, []int32{0, 4, 8}},
		{"45", 20, []int32{20, 30, 38}}, // weight below -1
	} {
		for _, neg := range []bool{false, true} {
			for _, col := range c.cols {
				checkFastNumeric(t, binaryNumeric(t, c.digits, neg, c.scale), col)
			}
		}
	}
	for _, d := range [][]byte{
		rawNumeric(0, 0, 0),                                 // zero, no groups
		rawNumeric(5, 0x4000, 0),                            // negative zero, weight set
		rawNumeric(1, 0, 4, 12, 3400, 0, 0),                 // trailing zero groups
		rawNumeric(2, 0, 0, 0, 0, 7),                        // leading zero groups
		rawNumeric(-3, 0, 12, 12),                           // 0.000000000012
		rawNumeric(-3, 0x4000, 12, 1200),                    // partial group at scale 10
		rawNumeric(9, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0),   // 10^36
		rawNumeric(9, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0),  // 10^37
		rawNumeric(9, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0), // 10^38
		rawNumeric(-2, 0, 8, 0, 0, 0),                       // zeros below the scale
		rawNumeric(32767, 0, 0, 1),                          // far beyond 38 digits
		rawNumeric(-32768, 0, 0, 1),                         // far below any scale
		rawNumeric(0, 0xC000, 0),                            // NaN
		rawNumeric(0, 0xD000, 0),                            // Infinity
		rawNumeric(0, 0xF000, 0),                            // -Infinity
		rawNumeric(0, 0x1234, 0, 1),                         // unknown sign
		rawNumeric(0, 0, 0, 65535),                          // not a base-10000 digit
		rawNumeric(0, 0, 0, 1, 2)[:10],                      // short
		{0, 1},                                              // short header
	} {
		for _, col := range []int32{0, 2, 4, 10, 38} {
			checkFastNumeric(t, d, col)
		}
	}
}

// TestDecodeNumericSpecialValues: NaN and the infinities still fail with
// the error that says what to do, in both decimal widths.
func TestDecodeNumericSpecialValues(t *testing.T) {
	for _, dt := range []arrow.DataType{&arrow.Decimal128Type{Precision: 38, Scale: 10}, &arrow.Decimal256Type{Precision: 60, Scale: 10}} {
		b := array.NewBuilder(memory.DefaultAllocator, dt)
		dec := decodeNumeric(b)
		for sign, name := range map[uint16]string{0xC000: "NaN", 0xD000: "Infinity", 0xF000: "-Infinity"} {
			err := dec(rawNumeric(0, sign, 0))
			if err == nil || !strings.Contains(err.Error(), "numeric value "+name+" has no decimal form") {
				t.Errorf("%s %s: %v", dt, name, err)
			}
		}
		if b.Len() != 0 {
			t.Errorf("%s: %d values appended", dt, b.Len())
		}
		b.Release()
	}
}

// TestDecodeNumeric256 takes the fast path into decimal256 too, for
// negative values (sign-extended) and beyond 38 digits.
func TestDecodeNumeric256(t *testing.T) {
	b := array.NewDecimal256Builder(memory.DefaultAllocator, &arrow.Decimal256Type{Precision: 60, Scale: 10})
	defer b.Release()
	dec := decodeNumeric(b)
	in := []string{"-123456789012345678901234567.8901234567", "42", "-" + strings.Repeat("9", 50) + ".5"}
	for _, s := range in {
		digits, neg := strings.TrimPrefix(strings.ReplaceAll(s, ".", ""), "-"), s[0] == '-'
		scale := int32(0)
		if i := strings.IndexByte(s, '.'); i >= 0 {
			scale = int32(len(s) - i - 1)
		}
		if err := dec(binaryNumeric(t, digits, neg, scale)); err != nil {
			t.Fatal(err)
		}
	}
	a := b.NewDecimal256Array()
	defer a.Release()
	for i, s := range in {
		want, err := decimal256.FromString(s, 60, 10)
		if err != nil {
			t.Fatal(err)
		}
		if a.Value(i) != want {
			t.Errorf("%s: got %s", s, a.ValueStr(i))
		}
	}
}

// TestDecodeNumericAllocs: a 38-digit numeric(38,10) decodes without
// allocating.
func TestDecodeNumericAllocs(t *testing.T) {
	b := array.NewDecimal128Builder(memory.DefaultAllocator, &arrow.Decimal128Type{Precision: 38, Scale: 10})
	defer b.Release()
	b.Reserve(1000)
	dec := decodeNumeric(b)
	d := binaryNumeric(t, strings.Repeat("9", 38), true, 10)
	if n := testing.AllocsPerRun(500, func() {
		if err := dec(d); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per value", n)
	}
	a := b.NewDecimal128Array()
	defer a.Release()
	if got, want := a.Value(0), decimal128.GetMaxValue(38).Negate(); got != want {
		t.Errorf("got %s, want %s", got.BigInt(), want.BigInt())
	}
}

func FuzzFastNumeric128(f *testing.F) {
	f.Add(rawNumeric(1, 0, 4, 12, 3400, 0, 0), uint8(10))
	f.Add(rawNumeric(-3, 0x4000, 12, 1200), uint8(10))
	f.Add(rawNumeric(9, 0, 0, 99, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999), uint8(0))
	f.Add(rawNumeric(6, 0x4000, 10, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999, 9900), uint8(10))
	f.Add(rawNumeric(0, 0xC000, 0), uint8(2))
	f.Add(rawNumeric(-1, 0, 1, 5000), uint8(0))
	f.Fuzz(func(t *testing.T, d []byte, scale uint8) {
		checkFastNumeric(t, d, int32(scale%39))
	})
}
