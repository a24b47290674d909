package shard

import (
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
