package delta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func mustParse(t *testing.T, kind, text string) *sdk.Value {
	t.Helper()
	v, err := Parse(kind, text)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustStep(t *testing.T, s string) Step {
	t.Helper()
	st, err := ParseStep(s)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestValuesRoundTripExactly(t *testing.T) {
	for _, c := range []struct{ kind, in, out string }{
		{"timestamp", "2024-03-31T01:59:59.123456Z", "2024-03-31T01:59:59.123456Z"},
		{"timestamp", "2024-03-31T03:59:59.1234567+02:00", "2024-03-31T01:59:59.1234567Z"},
		{"timestamp", "20240331T015959", "2024-03-31T01:59:59Z"},
		{"timestamp", "2024-03-31 01:59:59", "2024-03-31T01:59:59Z"},
		{"date", "2024-02-29", "2024-02-29"},
		{"int64", "-9223372036854775808", "-9223372036854775808"},
		{"uint64", "18446744073709551615", "18446744073709551615"},
		{"decimal", "123456789012345678901234567890.0123456789", "123456789012345678901234567890.0123456789"},
		{"string", "ab c", "ab c"},
	} {
		v := mustParse(t, c.kind, c.in)
		if got := Format(v); got != c.out {
			t.Errorf("%s %q: %q, want %q", c.kind, c.in, got, c.out)
		}
		if back := mustParse(t, c.kind, Format(v)); Compare(back, v) != 0 {
			t.Errorf("%s %q does not round-trip", c.kind, c.in)
		}
	}
	for _, c := range []struct{ kind, in string }{
		{"timestamp", "yesterday"}, {"date", "2024-02-30"}, {"date", "2024-02-03T01:00:00Z"},
		{"int64", "9223372036854775808"}, {"decimal", "1e5"}, {"bogus", "1"},
	} {
		if _, err := Parse(c.kind, c.in); err == nil {
			t.Errorf("%s %q parsed", c.kind, c.in)
		}
	}
	if _, err := KindName(sdk.KindFloat64); err == nil {
		t.Error("a float driver was accepted")
	}
}

func TestMove(t *testing.T) {
	for _, c := range []struct{ kind, v, step, want string }{
		{"timestamp", "2024-03-31T00:00:00.000001Z", "15m", "2024-03-30T23:45:00.000001Z"},
		{"timestamp", "2024-03-31T00:00:00Z", "2d", "2024-03-29T00:00:00Z"},
		{"date", "2024-03-01", "1d", "2024-02-29"},
		{"int64", "1000", "1000", "0"},
		{"int64", "-9223372036854775800", "100", "-9223372036854775808"},
		{"uint64", "5", "10", "0"},
		{"decimal", "100.05", "0.5", "99.55"},
		{"decimal", "100", "0.25", "99.75"},
	} {
		got, err := Move(mustParse(t, c.kind, c.v), mustStep(t, c.step), -1)
		if err != nil || Format(got) != c.want {
			t.Errorf("%s %s - %s = %v (%v), want %s", c.kind, c.v, c.step, got, err, c.want)
		}
	}
	for _, c := range []struct{ kind, v, step string }{
		{"timestamp", "2024-03-31T00:00:00Z", "10"}, {"int64", "5", "1h"}, {"date", "2024-03-01", "6h"},
		{"int64", "5", "0.5"}, {"string", "a", "1"},
	} {
		if _, err := Move(mustParse(t, c.kind, c.v), mustStep(t, c.step), -1); err == nil {
			t.Errorf("%s %s - %s was accepted", c.kind, c.v, c.step)
		}
	}
	if _, err := ParseStep("-5m"); err == nil {
		t.Error("a negative step was accepted")
	}
}

func describe(rs []Range) string {
	var parts []string
	for _, r := range rs {
		open := "("
		if r.LowInclusive {
			open = "["
		}
		low := "-inf"
		if r.Low != nil {
			low = Format(r.Low)
		}
		parts = append(parts, fmt.Sprintf("%s%s,%s]", open, low, Format(r.High)))
	}
	return strings.Join(parts, " ")
}

func TestPlan(t *testing.T) {
	i := func(s string) *sdk.Value { return mustParse(t, "int64", s) }
	ts := func(s string) *sdk.Value { return mustParse(t, "timestamp", s) }
	for _, c := range []struct {
		name          string
		hwm, min, max *sdk.Value
		o             Options
		want          string
	}{
		{"first run, everything", nil, i("1"), i("100"), Options{}, "(-inf,100]"},
		{"first run from a start", nil, i("1"), i("100"), Options{Start: i("50")}, "[50,100]"},
		{"after a run", i("100"), i("1"), i("250"), Options{}, "(100,250]"},
		{"nothing new", i("250"), i("1"), i("250"), Options{}, ""},
		{"empty source", nil, nil, nil, Options{}, ""},
		{"lookback", i("100"), i("1"), i("250"), Options{Lookback: mustStep(t, "20")}, "(80,250]"},
		{"lag", i("100"), i("1"), i("250"), Options{Lag: mustStep(t, "50")}, "(100,200]"},
		{"lag leaves nothing yet", i("100"), i("1"), i("120"), Options{Lag: mustStep(t, "50")}, ""},
		{"chunks", i("100"), i("1"), i("250"), Options{Size: mustStep(t, "60")}, "(100,160] (160,220] (220,250]"},
		{"chunks from the minimum", nil, i("7"), i("20"), Options{Size: mustStep(t, "10")}, "[7,17] (17,20]"},
		{"start equals max", nil, i("1"), i("50"), Options{Start: i("50")}, "[50,50]"},
		{"timestamps with lag and chunks", ts("2024-01-01T00:00:00Z"), nil, ts("2024-01-03T06:00:00.000001Z"),
			Options{Lag: mustStep(t, "6h"), Size: mustStep(t, "1d")},
			"(2024-01-01T00:00:00Z,2024-01-02T00:00:00Z] (2024-01-02T00:00:00Z,2024-01-03T00:00:00Z] (2024-01-03T00:00:00Z,2024-01-03T00:00:00.000001Z]"},
	} {
		rs, err := Plan(c.hwm, c.min, c.max, c.o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := describe(rs); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestStateLockAndAdvance(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h, err := Acquire(ctx, st, "x/_state.json", "file:///x/_state.json", "out.x", testSrc, "updated_at", "run1", time.Hour, now)
	if err != nil || h.Found {
		t.Fatalf("first acquire: %v (found %v)", err, h != nil && h.Found)
	}
	// A second run is refused while the lock is live, and takes over once
	// it has expired.
	if _, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "run2", time.Hour, now.Add(time.Minute)); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "run1") {
		t.Fatalf("second acquire: %v", err)
	}
	high := mustParse(t, "timestamp", "2025-12-31T23:59:59.999999Z")
	if err := h.Advance(ctx, "updated_at", "timestamp", high, "run1", "file:///m.json", now); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	h2, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "run2", time.Hour, now.Add(time.Minute))
	if err != nil || !h2.Found {
		t.Fatalf("acquire after release: %v", err)
	}
	if got, _ := h2.State.High(); Compare(got, high) != 0 || h2.State.LastManifest != "file:///m.json" {
		t.Fatalf("state after release: %+v", h2.State)
	}
	if _, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "other_col", "run3", time.Hour, now.Add(2*time.Hour)); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("another driver: %v", err)
	}
	// The holder that lost its lock to an expiry cannot commit.
	h3, err := Acquire(ctx, st, "x/_state.json", "u", "out.x", testSrc, "updated_at", "run3", time.Hour, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.Advance(ctx, "updated_at", "timestamp", high, "run2", "m2", now); !errors.Is(err, ErrLocked) {
		t.Fatalf("stale holder advanced the state: %v", err)
	}
	_ = h3.Release()
}
