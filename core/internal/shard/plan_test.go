package shard

import (
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// inSlice reports which slices hold key x (ints).
func holders(t *testing.T, slices []Slice, x int64) []int {
	t.Helper()
	var out []int
	for _, s := range slices {
		if s.Empty {
			continue
		}
		lo, hi := int64(-1<<63), int64(1<<63-1)
		if s.Lower != "" {
			lo, _ = strconv.ParseInt(s.Lower, 10, 64)
		}
		if s.Upper != "" {
			hi, _ = strconv.ParseInt(s.Upper, 10, 64)
		} else if x == hi {
			out = append(out, s.Index)
			continue
		}
		if x >= lo && x < hi {
			out = append(out, s.Index)
		}
	}
	return out
}

func TestCutIntegersCoverEveryKeyOnce(t *testing.T) {
	for _, c := range []struct{ lo, hi int64 }{{1, 1000}, {-5, 5}, {7, 9}, {-1 << 63, 1<<63 - 1}} {
		for _, n := range []int{1, 2, 3, 4, 7} {
			kind, slices, err := cut(sdk.Int64Value(c.lo), sdk.Int64Value(c.hi), n)
			if err != nil || kind != "int64" || len(slices) != n {
				t.Fatalf("[%d,%d]/%d: %q %d slices, %v", c.lo, c.hi, n, kind, len(slices), err)
			}
			for _, x := range []int64{c.lo - 1, c.lo, c.lo + 1, (c.lo/2 + c.hi/2), c.hi - 1, c.hi, c.hi + 1} {
				if (x == c.lo-1 && c.lo == -1<<63) || (x == c.hi+1 && c.hi == 1<<63-1) {
					continue // overflowed
				}
				if h := holders(t, slices, x); len(h) != 1 {
					t.Errorf("[%d,%d]/%d: key %d is in slices %v, want exactly one (%+v)", c.lo, c.hi, n, x, h, slices)
				}
			}
		}
	}
}

func TestCutNarrowRangeLeavesEmptySlices(t *testing.T) {
	_, slices, err := cut(sdk.Int64Value(10), sdk.Int64Value(11), 5)
	if err != nil {
		t.Fatal(err)
	}
	empty := 0
	for _, s := range slices {
		if s.Empty {
			empty++
		}
	}
	if empty != 2 || slices[0].Empty || slices[4].Empty {
		t.Fatalf("2 keys in 5 slices: %+v", slices)
	}
}

func TestCutTimestampsAndEmptyTables(t *testing.T) {
	a := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kind, slices, err := cut(sdk.TimestampValue(a), sdk.TimestampValue(a.Add(4*time.Hour)), 4)
	if err != nil || kind != "timestamp" || slices[1].Lower != slices[0].Upper || slices[1].Lower == "" {
		t.Fatalf("timestamps: %q %+v %v", kind, slices, err)
	}
	plan := &Plan{ShardBy: "at", KeyType: kind}
	f, err := plan.Filter(slices[2])
	if err != nil || !f.Lower.Time.Equal(a.Add(2*time.Hour)) || !f.Upper.Time.Equal(a.Add(3*time.Hour)) || !f.LowerInclusive || f.UpperInclusive {
		t.Fatalf("slice 2 filter: %+v %v", f, err)
	}
	_, slices, err = cut(nil, nil, 3)
	if err != nil || slices[0].Empty || slices[0].Lower != "" || slices[0].Upper != "" || !slices[1].Empty || !slices[2].Empty {
		t.Fatalf("an empty table: %+v %v", slices, err)
	}
	if _, _, err := cut(sdk.StringValue("a"), sdk.StringValue("z"), 2); err == nil {
		t.Fatal("a text key was cut")
	}
}

// A delta's first slice may exclude its lower bound (the mark) and its last
// includes its upper (the range's high); other slices are [lower, upper).
func TestFilterBoundsOfADeltaSlice(t *testing.T) {
	p := &Plan{ShardBy: "n", KeyType: "int64"}
	for _, c := range []struct {
		s    Slice
		want string
	}{
		{Slice{Lower: "5", LowerExclusive: true, Upper: "10"}, "n > 5 AND n < 10"},
		{Slice{Lower: "10", Upper: "20", UpperInclusive: true}, "n >= 10 AND n <= 20"},
		{Slice{Lower: "10", Upper: "20"}, "n >= 10 AND n < 20"},
		{Slice{Upper: "20", UpperInclusive: true}, "n <= 20"},
	} {
		f, err := p.Filter(c.s)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if f.Lower != nil {
			op := map[bool]string{true: ">=", false: ">"}[f.LowerInclusive]
			got = append(got, "n "+op+" "+f.Lower.String())
		}
		if f.Upper != nil {
			op := map[bool]string{true: "<=", false: "<"}[f.UpperInclusive]
			got = append(got, "n "+op+" "+f.Upper.String())
		}
		if s := strings.Join(got, " AND "); s != c.want {
			t.Errorf("%+v: %s, want %s", c.s, s, c.want)
		}
	}
}

// decimalHolders reports which slices hold the decimal x, bounds compared
// exactly (big.Rat), as the database compares them.
func decimalHolders(t *testing.T, slices []Slice, x *big.Rat) []int {
	t.Helper()
	var out []int
	for _, s := range slices {
		if s.Empty {
			continue
		}
		in := true
		if s.Lower != "" {
			lo := mustRat(t, s.Lower)
			c := x.Cmp(lo)
			in = in && (c > 0 || (c == 0 && !s.LowerExclusive))
		}
		if s.Upper != "" {
			hi := mustRat(t, s.Upper)
			c := x.Cmp(hi)
			in = in && (c < 0 || (c == 0 && s.UpperInclusive))
		}
		if in {
			out = append(out, s.Index)
		}
	}
	return out
}

func mustRat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.ContainsAny(s, "eE/") {
		t.Fatalf("%q is not an exact decimal text", s)
	}
	return r
}

// Decimal keys are cut exactly in units of their scale: consecutive
// slices meet (no gap, no overlap), every bound has the scale's digits
// and lies in the range, and every value of the scale's granularity at
// and around the edges and the cut points is in exactly one slice —
// also for 38-digit and negative values.
func TestCutDecimalsCoverEveryValueOnce(t *testing.T) {
	for _, c := range []struct {
		lo, hi string
		scale  int
	}{
		{"0.00", "100.00", 2},
		{"-5.5", "5.5", 1},
		{"1.00", "1.02", 2}, // 3 values, fewer than most n
		{"7", "7", 0},
		{"-12345678901234567890.12", "98765432109876543210.99", 2}, // beyond int64
		{"-99999999999999999999999999999999999999", "99999999999999999999999999999999999999", 0},
		{"0.00000000000000000000000000000000000001", "0.99999999999999999999999999999999999999", 38},
		{"100", "100.25", 2}, // the finer scale of the two
		{"-0.03", "-0.01", 2},
	} {
		for _, n := range []int{1, 2, 3, 4, 7, 16} {
			kind, slices, err := cut(sdk.DecimalValue(c.lo), sdk.DecimalValue(c.hi), n)
			if err != nil || kind != "decimal" || len(slices) != n {
				t.Fatalf("[%s,%s]/%d: %q %d slices, %v", c.lo, c.hi, n, kind, len(slices), err)
			}
			lo, hi := mustRat(t, c.lo), mustRat(t, c.hi)
			unit := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.scale)), nil))
			probes := []*big.Rat{lo, hi, new(big.Rat).Sub(lo, unit), new(big.Rat).Add(lo, unit), new(big.Rat).Sub(hi, unit), new(big.Rat).Add(hi, unit)}
			if slices[0].Lower != "" || slices[n-1].Upper != "" {
				t.Fatalf("[%s,%s]/%d: the outer slices are bounded: %+v", c.lo, c.hi, n, slices)
			}
			for i := 1; i < n; i++ {
				b := slices[i].Lower
				if b != slices[i-1].Upper || b == "" {
					t.Fatalf("[%s,%s]/%d: slice %d starts at %q, slice %d ends at %q", c.lo, c.hi, n, i, b, i-1, slices[i-1].Upper)
				}
				if fractionDigits(b) != c.scale {
					t.Errorf("[%s,%s]/%d: bound %q is not of scale %d", c.lo, c.hi, n, b, c.scale)
				}
				x := mustRat(t, b)
				if x.Cmp(lo) < 0 || x.Cmp(hi) > 0 {
					t.Errorf("[%s,%s]/%d: bound %s is outside the range", c.lo, c.hi, n, b)
				}
				probes = append(probes, x, new(big.Rat).Sub(x, unit), new(big.Rat).Add(x, unit))
			}
			for _, x := range probes {
				if h := decimalHolders(t, slices, x); len(h) != 1 {
					t.Errorf("[%s,%s]/%d: %s is in slices %v, want exactly one (%+v)", c.lo, c.hi, n, x.FloatString(c.scale), h, slices)
				}
			}
			if n == 1 {
				continue
			}
			// As evenly as integers: the middle cut of [lo, hi] in units.
			if n == 2 {
				want := new(big.Rat).Add(lo, new(big.Rat).Mul(unit, new(big.Rat).SetInt(halfSpan(t, lo, hi, unit))))
				if got := mustRat(t, slices[1].Lower); got.Cmp(want) != 0 {
					t.Errorf("[%s,%s]/2: cut at %s, want %s", c.lo, c.hi, slices[1].Lower, want.FloatString(c.scale))
				}
			}
		}
	}
}

// halfSpan is ⌊(values in [lo, hi] at unit) / 2⌋.
func halfSpan(t *testing.T, lo, hi, unit *big.Rat) *big.Int {
	t.Helper()
	d := new(big.Rat).Quo(new(big.Rat).Sub(hi, lo), unit)
	if !d.IsInt() {
		t.Fatalf("%s..%s is not a whole number of units", lo, hi)
	}
	n := new(big.Int).Add(d.Num(), big.NewInt(1))
	return n.Quo(n, big.NewInt(2))
}

// A range of fewer values than shards leaves empty slices, as for integers.
func TestCutTinyDecimalRange(t *testing.T) {
	_, slices, err := cut(sdk.DecimalValue("10.10"), sdk.DecimalValue("10.11"), 5)
	if err != nil {
		t.Fatal(err)
	}
	var bounds []string
	empty := 0
	for _, s := range slices {
		if s.Empty {
			empty++
		}
		bounds = append(bounds, s.Lower+"…"+s.Upper)
	}
	if empty != 2 || slices[0].Empty || slices[4].Empty || strings.Join(bounds, " ") != "…10.10 10.10…10.10 10.10…10.11 10.11…10.11 10.11…" {
		t.Fatalf("2 values in 5 slices: %d empty, %v", empty, bounds)
	}
	plan := &Plan{ShardBy: "v", KeyType: "decimal"}
	f, err := plan.Filter(slices[2])
	if err != nil || f.Lower.Kind != sdk.KindDecimal || f.Lower.Str != "10.10" || f.Upper.Str != "10.11" || !f.LowerInclusive || f.UpperInclusive {
		t.Fatalf("slice 2 filter: %+v %v", f, err)
	}
	for _, bad := range [][2]string{{"1e3", "2e3"}, {"NaN", "NaN"}, {"1", "Infinity"}} {
		if _, _, err := cut(sdk.DecimalValue(bad[0]), sdk.DecimalValue(bad[1]), 2); err == nil {
			t.Errorf("%v was cut", bad)
		}
	}
}

func TestFormatScaled(t *testing.T) {
	for _, c := range []struct {
		x     string
		scale int
		want  string
	}{{"0", 2, "0.00"}, {"5", 2, "0.05"}, {"-5", 2, "-0.05"}, {"-12345", 2, "-123.45"}, {"12345", 0, "12345"}, {"-1", 0, "-1"}, {"100", 3, "0.100"}} {
		x, _ := new(big.Int).SetString(c.x, 10)
		if got := formatScaled(x, c.scale); got != c.want {
			t.Errorf("%s/10^%d: %q, want %q", c.x, c.scale, got, c.want)
		}
		if back, err := scaledDecimal(c.want, c.scale); err != nil || back.Cmp(x) != 0 {
			t.Errorf("%q back: %v %v", c.want, back, err)
		}
	}
}
