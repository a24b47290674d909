package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// kind is the family a value is compared in: values of two databases
// whose Arrow types differ (int32 and int64, decimal(12,2) and
// decimal(14,4), timestamps with and without a zone) meet here.
type kind uint8

const (
	kNull  kind = iota
	kInt        // neg and u: sign and magnitude
	kFloat      // f
	kDec        // d and scale for a decimal128, else s: canonical text
	kStr        // s
	kBytes      // s holds the bytes
	kBool       // u: 0 or 1
	kTime       // an instant: sec and nsec since the epoch (UTC)
	kDate       // days since the epoch in sec
	kClock      // time of day: sec and nsec since midnight
	kOther      // s: the value as arrow-go prints it
)

// val is one value, normalised for comparison.
type val struct {
	k    kind
	neg  bool
	u    uint64
	f    float64
	s    string
	sec  int64
	nsec int32
	// A decimal128, compared without text when the scales allow.
	d     decimal128.Num
	scale int32
	isNum bool
}

// getter reads row i of an array as a val.
type getter func(i int) val

// kindOf is the family of an Arrow type; getterFor returns vals of it.
func kindOf(t arrow.DataType) kind {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return kInt
	case arrow.FLOAT32, arrow.FLOAT64:
		return kFloat
	case arrow.DECIMAL128, arrow.DECIMAL256:
		return kDec
	case arrow.STRING, arrow.LARGE_STRING:
		return kStr
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY:
		return kBytes
	case arrow.BOOL:
		return kBool
	case arrow.TIMESTAMP:
		return kTime
	case arrow.DATE32, arrow.DATE64:
		return kDate
	case arrow.TIME32, arrow.TIME64:
		return kClock
	}
	return kOther
}

func signed(v int64) val {
	if v < 0 {
		return val{k: kInt, neg: true, u: uint64(-(v + 1)) + 1}
	}
	return val{k: kInt, u: uint64(v)}
}

// split turns a count of unit since an origin into seconds and nanoseconds,
// flooring, so that negative values order correctly.
func split(v int64, perSec int64) (int64, int32) {
	sec, rem := v/perSec, v%perSec
	if rem < 0 {
		sec, rem = sec-1, rem+perSec
	}
	return sec, int32(rem * (1e9 / perSec))
}

func perSecond(u arrow.TimeUnit) int64 {
	return map[arrow.TimeUnit]int64{arrow.Second: 1, arrow.Millisecond: 1e3, arrow.Microsecond: 1e6, arrow.Nanosecond: 1e9}[u]
}

func getterFor(a arrow.Array) getter {
	null := func(g getter) getter {
		if a.NullN() == 0 {
			return g
		}
		return func(i int) val {
			if a.IsNull(i) {
				return val{}
			}
			return g(i)
		}
	}
	switch x := a.(type) {
	case *array.Int8:
		return null(func(i int) val { return signed(int64(x.Value(i))) })
	case *array.Int16:
		return null(func(i int) val { return signed(int64(x.Value(i))) })
	case *array.Int32:
		return null(func(i int) val { return signed(int64(x.Value(i))) })
	case *array.Int64:
		return null(func(i int) val { return signed(x.Value(i)) })
	case *array.Uint8:
		return null(func(i int) val { return val{k: kInt, u: uint64(x.Value(i))} })
	case *array.Uint16:
		return null(func(i int) val { return val{k: kInt, u: uint64(x.Value(i))} })
	case *array.Uint32:
		return null(func(i int) val { return val{k: kInt, u: uint64(x.Value(i))} })
	case *array.Uint64:
		return null(func(i int) val { return val{k: kInt, u: x.Value(i)} })
	case *array.Float32:
		return null(func(i int) val { return val{k: kFloat, f: float64(x.Value(i))} })
	case *array.Float64:
		return null(func(i int) val { return val{k: kFloat, f: x.Value(i)} })
	case *array.Decimal128:
		scale := x.DataType().(*arrow.Decimal128Type).Scale
		return null(func(i int) val { return val{k: kDec, d: x.Value(i), scale: scale, isNum: true} })
	case *array.Decimal256:
		scale := x.DataType().(*arrow.Decimal256Type).Scale
		return null(func(i int) val { return val{k: kDec, s: canonical(x.Value(i).ToString(scale))} })
	case *array.String:
		return null(func(i int) val { return val{k: kStr, s: x.Value(i)} })
	case *array.LargeString:
		return null(func(i int) val { return val{k: kStr, s: x.Value(i)} })
	case *array.Binary:
		return null(func(i int) val { return val{k: kBytes, s: string(x.Value(i))} })
	case *array.LargeBinary:
		return null(func(i int) val { return val{k: kBytes, s: string(x.Value(i))} })
	case *array.FixedSizeBinary:
		return null(func(i int) val { return val{k: kBytes, s: string(x.Value(i))} })
	case *array.Boolean:
		return null(func(i int) val {
			if x.Value(i) {
				return val{k: kBool, u: 1}
			}
			return val{k: kBool}
		})
	case *array.Timestamp:
		// An instant; a timestamp without a zone is UTC wall time, as
		// connectors read it.
		per := perSecond(x.DataType().(*arrow.TimestampType).Unit)
		return null(func(i int) val {
			sec, nsec := split(int64(x.Value(i)), per)
			return val{k: kTime, sec: sec, nsec: nsec}
		})
	case *array.Date32:
		return null(func(i int) val { return val{k: kDate, sec: int64(x.Value(i))} })
	case *array.Date64:
		return null(func(i int) val {
			days, _ := split(int64(x.Value(i)), 86400e3)
			return val{k: kDate, sec: days}
		})
	case *array.Time32:
		per := perSecond(x.DataType().(*arrow.Time32Type).Unit)
		return null(func(i int) val {
			sec, nsec := split(int64(x.Value(i)), per)
			return val{k: kClock, sec: sec, nsec: nsec}
		})
	case *array.Time64:
		per := perSecond(x.DataType().(*arrow.Time64Type).Unit)
		return null(func(i int) val {
			sec, nsec := split(int64(x.Value(i)), per)
			return val{k: kClock, sec: sec, nsec: nsec}
		})
	}
	return null(func(i int) val { return val{k: kOther, s: a.ValueStr(i)} })
}

// canonical drops a decimal's trailing fraction zeros: 1.50 and 1.5 are
// one number.
func canonical(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// text is an integer's or decimal's canonical text.
func (v val) text() string {
	if v.isNum {
		return canonical(v.d.ToString(v.scale))
	}
	if v.k == kDec {
		return v.s
	}
	t := strconv.FormatUint(v.u, 10)
	if v.neg {
		t = "-" + t
	}
	return t
}

// comparable reports whether values of the two kinds can be compared:
// the same kind, or integers and decimals, or booleans and integers.
func comparable(a, b kind) bool {
	return a == b || pair(a, b, kInt, kDec) || pair(a, b, kBool, kInt)
}

func pair(a, b, x, y kind) bool { return a == x && b == y || a == y && b == x }

// equal reports whether two values are the same: NULL equals NULL only,
// NaN equals NaN, an integer equals the decimal of the same number.
func equal(a, b val) bool {
	if a.k != b.k {
		switch {
		case pair(a.k, b.k, kInt, kDec):
			return a.text() == b.text()
		case pair(a.k, b.k, kBool, kInt):
			return !a.neg && !b.neg && a.u == b.u
		}
		return false
	}
	switch a.k {
	case kNull:
		return true
	case kInt, kBool:
		return a.neg == b.neg && a.u == b.u
	case kFloat:
		return a.f == b.f || math.IsNaN(a.f) && math.IsNaN(b.f)
	case kTime, kDate, kClock:
		return a.sec == b.sec && a.nsec == b.nsec
	case kDec:
		if c, ok := compareNums(a, b); ok {
			return c == 0
		}
		return a.text() == b.text()
	}
	return a.s == b.s
}

// compareNums compares two decimal128 values at the larger of their
// scales; ok is false when either is not a decimal128 or rescaling would
// overflow.
func compareNums(a, b val) (int, bool) {
	if !a.isNum || !b.isNum {
		return 0, false
	}
	x, y := a.d, b.d
	// Rescale does not report an overflow: only a value of at most
	// 38-delta digits stays within 38 digits scaled up by delta.
	up := func(n decimal128.Num, from, to int32) (decimal128.Num, bool) {
		if to-from > 38 || !n.FitsInPrecision(38-(to-from)) {
			return n, false
		}
		n, err := n.Rescale(from, to)
		return n, err == nil
	}
	ok := true
	switch {
	case a.scale < b.scale:
		x, ok = up(x, a.scale, b.scale)
	case a.scale > b.scale:
		y, ok = up(y, b.scale, a.scale)
	}
	if !ok {
		return 0, false
	}
	return x.Cmp(y), true
}

// compare orders two non-NULL key values of comparable kinds as the
// databases order them: numbers by value, text and bytes byte by byte,
// time in time.
func compare(a, b val) int {
	if c, ok := compareNums(a, b); ok {
		return c
	}
	if a.k != b.k || a.k == kDec {
		ra, _ := new(big.Rat).SetString(a.text())
		rb, _ := new(big.Rat).SetString(b.text())
		return ra.Cmp(rb)
	}
	switch a.k {
	case kInt, kBool:
		switch {
		case a.neg != b.neg:
			if a.neg {
				return -1
			}
			return 1
		case a.u == b.u:
			return 0
		case (a.u < b.u) != a.neg:
			return -1
		}
		return 1
	case kFloat:
		switch {
		case a.f < b.f:
			return -1
		case a.f > b.f:
			return 1
		}
		return 0
	case kTime, kDate, kClock:
		if a.sec != b.sec {
			if a.sec < b.sec {
				return -1
			}
			return 1
		}
		return int(a.nsec) - int(b.nsec)
	}
	return strings.Compare(a.s, b.s)
}

// json writes the value as JSON: numbers as numbers (exact text), text as
// strings, bytes in base64, instants in RFC 3339 (UTC), dates and times
// of day in ISO 8601.
func (v val) json(w *bytes.Buffer) {
	var x any
	switch v.k {
	case kNull:
		x = nil
	case kInt, kDec:
		x = json.Number(v.text())
	case kFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			x = fmt.Sprint(v.f)
		} else {
			x = v.f
		}
	case kBool:
		x = v.u == 1
	case kBytes:
		x = []byte(v.s)
	case kTime:
		x = time.Unix(v.sec, int64(v.nsec)).UTC().Format(time.RFC3339Nano)
	case kDate:
		x = time.Unix(v.sec*86400, 0).UTC().Format(time.DateOnly)
	case kClock:
		x = time.Unix(v.sec, int64(v.nsec)).UTC().Format("15:04:05.999999999")
	default:
		x = v.s
	}
	b, _ := json.Marshal(x)
	w.Write(b)
}
