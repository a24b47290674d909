package sdk_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/internal/wire"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// echoBounds answers Bounds with the range it was given: Min is the
// lower bound, Max the upper, so a value crosses the protocol both ways.
type echoBounds struct{}

func (echoBounds) Info() sdk.Info {
	return sdk.Info{Name: "echo", Version: "1", Schemes: []string{"echo"}}
}
func (echoBounds) Check(context.Context, sdk.Connection) (string, error) { return "echo", nil }
func (echoBounds) Bounds(_ context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	return &sdk.Bounds{Min: req.Range.Lower, Max: req.Range.Upper}, nil
}

// TestValueKindsRoundTrip: every kind of Value, made by its constructor,
// keeps its kind and exact value from host to plugin and back.
func TestValueKindsRoundTrip(t *testing.T) {
	r := plugintest.Serve(t, echoBounds{})
	ts := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		v    *sdk.Value
		kind sdk.ValueKind
		str  string
		arg  any
	}{
		{sdk.Int64Value(math.MinInt64), sdk.KindInt64, "-9223372036854775808", int64(math.MinInt64)},
		{sdk.Uint64Value(math.MaxUint64), sdk.KindUint64, "18446744073709551615", uint64(math.MaxUint64)},
		{sdk.Float64Value(0.1), sdk.KindFloat64, "0.1", 0.1},
		{sdk.Float64Value(-1e300), sdk.KindFloat64, "-1e+300", -1e300},
		{sdk.BoolValue(true), sdk.KindBool, "true", true},
		{sdk.BoolValue(false), sdk.KindBool, "false", false},
		{sdk.StringValue("é"), sdk.KindString, "é", "é"},
		{sdk.DecimalValue("12345678901234567890.000001"), sdk.KindDecimal, "12345678901234567890.000001", "12345678901234567890.000001"},
		{sdk.TimestampValue(ts), sdk.KindTimestamp, "2026-03-04T04:06:07.123456789Z", ts.UTC()},
		{sdk.DateValue(-1), sdk.KindDate, "1969-12-31", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
	} {
		if tc.v.Kind != tc.kind || tc.v.String() != tc.str || tc.v.Arg() != tc.arg {
			t.Errorf("constructed %s: kind %d, %q, arg %#v; want kind %d, %q, %#v", tc.str, tc.v.Kind, tc.v.String(), tc.v.Arg(), tc.kind, tc.str, tc.arg)
		}
		res, err := r.Bounds(t.Context(), sdk.BoundsRequest{Column: "c", Range: &sdk.RangeFilter{Column: "c", Lower: tc.v, Upper: tc.v}})
		if err != nil {
			t.Fatalf("%s: %v", tc.str, err)
		}
		for _, got := range []*sdk.Value{res.Min, res.Max} {
			if got == nil || got.Kind != tc.kind || got.String() != tc.str || got.Arg() != tc.arg {
				t.Errorf("%s came back as %+v", tc.str, got)
			}
		}
	}
}

// claims sets what the SDK fills in.
type claims struct {
	echoBounds
	info sdk.Info
}

func (c claims) Info() sdk.Info { return c.info }

// TestServeRefusesInfoTheSDKFillsIn: Info.ProtocolVersion and
// Info.Capabilities are the SDK's; a connector that sets them is refused
// with a message naming the field, not silently overwritten.
func TestServeRefusesInfoTheSDKFillsIn(t *testing.T) {
	for field, info := range map[string]sdk.Info{
		"Info.ProtocolVersion": {Name: "c", ProtocolVersion: 1},
		"Info.Capabilities":    {Name: "c", Capabilities: []sdk.Capability{sdk.CapRead}},
	} {
		_, err := wire.NewServer(claims{info: info})
		if err == nil || !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), `"c"`) {
			t.Errorf("a connector setting %s: %v", field, err)
		}
	}
	if _, err := wire.NewServer(claims{info: sdk.Info{Name: "c", Features: []sdk.Capability{sdk.CapReadQuery}}}); err != nil {
		t.Errorf("a connector declaring Features: %v", err)
	}
}
