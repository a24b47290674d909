// Package delta plans incremental extractions: it keeps the high-water
// mark of a delta-driver column in a small state object beside the output,
// turns it into exact, typed ranges, and commits it only after a run is
// published, so a failure anywhere re-extracts the same range and no row
// is ever skipped.
package delta

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Driver types as named in state files and manifests.
var kindNames = map[sdk.ValueKind]string{
	sdk.KindTimestamp: "timestamp", sdk.KindDate: "date", sdk.KindInt64: "int64",
	sdk.KindUint64: "uint64", sdk.KindDecimal: "decimal", sdk.KindString: "string",
}

// KindName names a driver kind; floats and other kinds are not usable as
// drivers (a float's high-water mark is not exact).
func KindName(k sdk.ValueKind) (string, error) {
	if n, ok := kindNames[k]; ok {
		return n, nil
	}
	return "", sdk.InvalidArgumentf("a delta driver must be a timestamp, date, integer, decimal or string column (floats are not exact)")
}

func kindOf(name string) (sdk.ValueKind, error) {
	for k, n := range kindNames {
		if n == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown driver type %q", name)
}

// Format renders a value exactly, as state files keep it.
func Format(v *sdk.Value) string { return v.String() }

// Parse reads a value of the named driver type, as Format writes it.
// Timestamps also accept Halfpipe's YYYYMMDDTHHMMSS and ISO 8601 without a
// zone (taken as UTC); dates accept a timestamp at midnight.
func Parse(kind, text string) (*sdk.Value, error) {
	k, err := kindOf(kind)
	if err != nil {
		return nil, err
	}
	text = strings.TrimSpace(text)
	switch k {
	case sdk.KindTimestamp:
		t, err := ParseTime(text)
		if err != nil {
			return nil, err
		}
		return sdk.TimestampValue(t), nil
	case sdk.KindDate:
		t, err := ParseTime(text)
		if err != nil {
			return nil, err
		}
		if t != t.Truncate(24*time.Hour) {
			return nil, fmt.Errorf("%q is not a date", text)
		}
		return sdk.DateValue(int32(t.Unix() / 86400)), nil
	case sdk.KindInt64:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a 64-bit integer", text)
		}
		return sdk.Int64Value(n), nil
	case sdk.KindUint64:
		n, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an unsigned 64-bit integer", text)
		}
		return &sdk.Value{Kind: sdk.KindUint64, Uint: n}, nil
	case sdk.KindDecimal:
		if _, ok := new(big.Rat).SetString(text); !ok || strings.ContainsAny(text, "/eE") {
			return nil, fmt.Errorf("%q is not a decimal number", text)
		}
		return sdk.DecimalValue(text), nil
	}
	return sdk.StringValue(text), nil
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02", "20060102T150405", "20060102T150405Z", "20060102",
}

// ParseTime reads ISO 8601 / RFC 3339 (a missing zone means UTC) and
// Halfpipe's YYYYMMDDTHHMMSS.
func ParseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or time (use ISO 8601, e.g. 2024-03-31T00:00:00Z, or YYYYMMDDTHHMMSS)", s)
}

// Compare orders two values of one kind.
func Compare(a, b *sdk.Value) int {
	switch a.Kind {
	case sdk.KindTimestamp:
		return a.Time.Compare(b.Time)
	case sdk.KindDate, sdk.KindInt64:
		return cmpInt(a.Int, b.Int)
	case sdk.KindUint64:
		switch {
		case a.Uint < b.Uint:
			return -1
		case a.Uint > b.Uint:
			return 1
		}
		return 0
	case sdk.KindDecimal:
		x, _ := new(big.Rat).SetString(a.Str)
		y, _ := new(big.Rat).SetString(b.Str)
		return x.Cmp(y)
	}
	return strings.Compare(a.Str, b.Str)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Step is a distance along a driver: a duration for timestamps and dates,
// a number for integer and decimal drivers.
type Step struct {
	text string
	dur  time.Duration
	num  *big.Rat
}

// ParseStep reads "90s", "15m", "6h", "7d" (days) or a number "1000".
func ParseStep(s string) (Step, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Step{}, nil
	}
	if n, ok := new(big.Rat).SetString(s); ok && !strings.ContainsAny(s, "/eE") {
		if n.Sign() < 0 {
			return Step{}, fmt.Errorf("%q must not be negative", s)
		}
		return Step{text: s, num: n}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return Step{}, fmt.Errorf("%q is not a duration", s)
		}
		return Step{text: s, dur: time.Duration(n * float64(24*time.Hour))}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return Step{}, fmt.Errorf("%q is neither a duration (90s, 15m, 6h, 7d) nor a number", s)
	}
	return Step{text: s, dur: d}, nil
}

// IsZero reports an empty step.
func (s Step) IsZero() bool { return s.num == nil && s.dur == 0 }

func (s Step) String() string { return s.text }

// Move returns v moved by sign×s (sign is +1 or -1). A step of the wrong
// kind for the driver is an error.
func Move(v *sdk.Value, s Step, sign int) (*sdk.Value, error) {
	if s.IsZero() {
		return v, nil
	}
	switch v.Kind {
	case sdk.KindTimestamp:
		if s.num != nil {
			return nil, fmt.Errorf("%s: a timestamp driver takes a duration (e.g. 15m, 6h, 7d)", s)
		}
		return sdk.TimestampValue(v.Time.Add(time.Duration(sign) * s.dur)), nil
	case sdk.KindDate:
		if s.num != nil || s.dur%(24*time.Hour) != 0 {
			return nil, fmt.Errorf("%s: a date driver takes whole days (e.g. 1d, 7d)", s)
		}
		return sdk.DateValue(int32(v.Int + int64(sign)*int64(s.dur/(24*time.Hour)))), nil
	case sdk.KindInt64, sdk.KindUint64, sdk.KindDecimal:
		if s.num == nil || (v.Kind != sdk.KindDecimal && !s.num.IsInt()) {
			return nil, fmt.Errorf("%s: a numeric driver takes a number (e.g. 1000)", s)
		}
		return moveNumber(v, s, sign)
	}
	return nil, fmt.Errorf("%s: a string driver cannot be moved by a step; drop --lookback, --delta-lag and --delta-size", s)
}

func moveNumber(v *sdk.Value, step Step, sign int) (*sdk.Value, error) {
	d := new(big.Rat).Set(step.num)
	if sign < 0 {
		d.Neg(d)
	}
	switch v.Kind {
	case sdk.KindInt64:
		n := new(big.Int).Add(big.NewInt(v.Int), d.Num())
		if !n.IsInt64() {
			return sdk.Int64Value(clampInt(n)), nil
		}
		return sdk.Int64Value(n.Int64()), nil
	case sdk.KindUint64:
		n := new(big.Int).Add(new(big.Int).SetUint64(v.Uint), d.Num())
		if n.Sign() < 0 {
			n.SetInt64(0)
		}
		if !n.IsUint64() {
			n.SetUint64(^uint64(0))
		}
		return &sdk.Value{Kind: sdk.KindUint64, Uint: n.Uint64()}, nil
	}
	x, _ := new(big.Rat).SetString(v.Str)
	x.Add(x, d)
	return sdk.DecimalValue(x.FloatString(max(fractionDigits(v.Str), fractionDigits(step.text)))), nil
}

func clampInt(n *big.Int) int64 {
	if n.Sign() < 0 {
		return -1 << 63
	}
	return 1<<63 - 1
}

// fractionDigits counts the digits after the point of a decimal text.
func fractionDigits(text string) int {
	if i := strings.IndexByte(text, '.'); i >= 0 {
		return len(text) - i - 1
	}
	return 0
}
