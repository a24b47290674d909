package format

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// appendFloat writes every double as strconv's shortest 'g' form, with
// or without its shortcut for multiples of 0.001: around them, their
// neighbours, the bounds of the shortcut and random doubles.
func TestAppendFloatAsStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 1))
	check := func(v float64) {
		t.Helper()
		if got, want := string(appendFloat(nil, v, 64, false)), strconv.FormatFloat(v, 'g', -1, 64); got != want {
			t.Fatalf("%v (%#x): %q, want %q", v, math.Float64bits(v), got, want)
		}
	}
	for _, v := range []float64{0, math.Copysign(0, -1), 0.001, -0.001, 0.0001, 0.1, 0.5, 1, 12.375, 999999.999, -999999.999, 1e6, 1e6 - 0.5, 123456, 1234567, 0.1 + 0.2, 1e-4, 5e-4} {
		for _, w := range []float64{v, math.Nextafter(v, math.Inf(1)), math.Nextafter(v, math.Inf(-1))} {
			check(w)
			check(-w)
		}
	}
	for range 300000 {
		k := rng.Int64N(2e9) - 1e9
		v := float64(k) / float64([]int{1, 2, 4, 8, 10, 100, 1000, 10000}[rng.IntN(8)])
		check(v)
		check(math.Nextafter(v, 0))
		check(float64(k) / 1000 * 1.0000000001)
		check(math.Float64frombits(rng.Uint64()))
		check(rng.NormFloat64() * 1000)
	}
}

// The wide shape's doubles: eighths below 1,200.
func BenchmarkAppendFloat(b *testing.B) {
	buf := make([]byte, 0, 64)
	for b.Loop() {
		for g := range 1000 {
			buf = appendFloat(buf[:0], float64(g%1000)/8.0+float64(g%199), 64, false)
		}
	}
}

// pad's shortcut for microseconds writes what its general path does.
func TestPadMicros(t *testing.T) {
	for v := int64(-2); v <= 1e6+1; v++ {
		if got, want := string(pad(nil, v, 6)), string(padSlow(nil, v, 6)); got != want || (v >= 0 && v < 1e6 && len(got) != 6) {
			t.Fatalf("pad(%d, 6) = %q, want %q", v, got, want)
		}
	}
}
