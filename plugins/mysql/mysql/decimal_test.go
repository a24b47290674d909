package mysql

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// serverText is v's text as the server prints decimal(p,s): digits, the
// point and exactly s decimals.
func serverText(neg bool, intPart, frac string) string {
	s := intPart
	if frac != "" {
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return s
}

// textDecimal agrees with sqlsource.TextDecimal, the general parser, on
// what it appends and on what it refuses: the server's forms at every
// precision and scale (zeros, negatives, all nines, 19 and 20 digits
// around the uint64 split, 38 digits), NULLs between them, and text the
// server does not send.
func TestTextDecimalAsGeneralParser(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	digitsOf := func(n int, first byte) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		if n > 0 && first != 0 {
			b[0] = first
		}
		return string(b)
	}
	type ps struct{ p, s int }
	var types []ps
	for _, p := range []int{1, 2, 5, 9, 15, 18, 19, 20, 21, 28, 37, 38, 39, 65} {
		for _, s := range []int{0, 1, 2, 4, 10, 18, 19, 20, 30, 38} {
			if s <= p && s <= 38 {
				types = append(types, ps{p, s})
			}
		}
	}
	for _, ty := range types {
		dt, err := sqlsource.DecimalType(int64(ty.p), int64(ty.s))
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		nines, zeros := strings.Repeat("9", ty.s), strings.Repeat("0", ty.s)
		for _, neg := range []bool{false, true} {
			texts = append(texts,
				serverText(neg, "0", zeros),
				serverText(neg, strings.Repeat("9", max(1, ty.p-ty.s)), nines), // max digits (or 0.999)
				serverText(neg, "1", zeros),
				serverText(neg, "0", digitsOf(ty.s, 0)),
				serverText(neg, strings.Repeat("9", ty.p-ty.s+1), nines), // one digit too many
			)
			for n := 1; n <= ty.p-ty.s; n++ {
				for k := 0; k < 3; k++ {
					texts = append(texts, serverText(neg, digitsOf(n, byte('1'+rng.IntN(9))), digitsOf(ty.s, 0)))
				}
			}
		}
		// not the server's forms: the general parser decides
		texts = append(texts, "", "-", ".", "1.", ".5", "+1", "1e3", " 1", "1.5.5", "0x10", "--1",
			"1."+strings.Repeat("0", ty.s+1), "1."+strings.Repeat("5", max(0, ty.s-1)), "01", "00."+zeros, "1,5")
		mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
		fast, general := array.NewBuilder(mem, dt), array.NewBuilder(mem, dt)
		dec := textDecimal(dt)
		read := 0
		for _, text := range texts {
			errFast, errGeneral := dec(fast, []byte(text)), sqlsource.TextDecimal(general, []byte(text))
			if (errFast == nil) != (errGeneral == nil) {
				t.Errorf("decimal(%d,%d) %q: %v, general parser %v", ty.p, ty.s, text, errFast, errGeneral)
			}
			if errFast == nil {
				read++
			}
			fast.AppendNull()
			general.AppendNull()
		}
		a, b := fast.NewArray(), general.NewArray()
		if !array.Equal(a, b) {
			t.Errorf("decimal(%d,%d): %v, general parser %v", ty.p, ty.s, a, b)
		}
		// the server's forms that fit: at least the fixed ones (1.0 not
		// when p = s) and the random ones of each sign
		fixed := 4
		if ty.p == ty.s {
			fixed = 3
		}
		if a.Len() != read+len(texts) || a.NullN() != len(texts) || read < 2*(fixed+3*(ty.p-ty.s)) {
			t.Errorf("decimal(%d,%d): %d values, %d NULLs, %d read of %d", ty.p, ty.s, a.Len(), a.NullN(), read, len(texts))
		}
		a.Release()
		b.Release()
		fast.Release()
		general.Release()
		mem.AssertSize(t, 0)
	}
}

// The server's forms take the one-pass path: it is what they cost.
func TestServerDecimalTakesServerForms(t *testing.T) {
	for _, c := range []struct {
		text string
		p, s int
		want string
	}{
		{"-4999999999.9983", 18, 4, "-49999999999983"},
		{"10000030000012345.7159370367", 38, 10, "100000300000123457159370367"},
		{"-99999999999999999999999999999999999999", 38, 0, "-99999999999999999999999999999999999999"},
		{"0.9999999999999999999999999999999999999", 38, 37, "9999999999999999999999999999999999999"},
		{"-99999999999999999999.000000000000000001", 38, 18, "-99999999999999999999000000000000000001"},
		{"1234567890123456789.0", 20, 1, "12345678901234567890"},
		{"0", 1, 0, "0"},
		{"-0.00", 5, 2, "0"},
	} {
		n, ok := serverDecimal([]byte(c.text), c.p, c.s)
		if !ok || n.BigInt().String() != c.want {
			t.Errorf("%q as decimal(%d,%d): %v %v, want %s", c.text, c.p, c.s, n.BigInt(), ok, c.want)
		}
	}
}

func BenchmarkTextDecimal(b *testing.B) {
	for _, c := range []struct {
		name, text string
		p, s       int64
	}{{"18_4", "-4999999999.9983", 18, 4}, {"38_10", "10000030000012345.7159370367", 38, 10}, {"15_2", "900.01", 15, 2}} {
		dt, _ := sqlsource.DecimalType(c.p, c.s)
		for _, impl := range []struct {
			name string
			dec  sqlsource.TextDecoder
		}{{"general", sqlsource.TextDecimal}, {"server", textDecimal(dt)}} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				bld := array.NewBuilder(memory.DefaultAllocator, dt)
				text := []byte(c.text)
				for i := 0; i < b.N; i++ {
					if i&4095 == 0 {
						bld.NewArray().Release()
					}
					if err := impl.dec(bld, text); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

var _ arrow.DataType = (*arrow.Decimal128Type)(nil)
