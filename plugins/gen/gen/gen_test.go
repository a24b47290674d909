package gen_test

import (
	"context"
	"math"
	"math/big"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/gen/gen"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/host"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

const dsn = "gen://?rows=2500&seed=7&value_bytes=5000000"

func fixture(t *testing.T) conformance.SourceFixture {
	expected, err := gen.Expected(dsn, "all_types", 1, 2500)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(expected.Release)
	return conformance.SourceFixture{
		Conn: sdk.Connection{DSN: dsn}, Table: sdk.ObjectRef{Name: "all_types"}, Expected: expected, KeyColumn: "id",
		Empty: sdk.ObjectRef{Name: "empty"}, Large: sdk.ObjectRef{Name: "narrow"}, LargeConn: sdk.Connection{DSN: "gen://?rows=5000000"}, LargeValues: sdk.ObjectRef{Name: "large_values"},
	}
}

func TestConformanceInProcess(t *testing.T) {
	conformance.RunSourceSuite(t, plugintest.Serve(t, gen.New()), fixture(t))
}

// TestConformancePluginProcess runs the suite against the real plugin
// binary, launched by the host exactly as hp launches it.
func TestConformancePluginProcess(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, host.BinaryPrefix+"gen"), "..").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	h := host.New([]host.Dir{{Path: dir}}, host.DiscoverOptions{}, nil)
	defer h.Close()
	inst, err := h.ForScheme(context.Background(), "gen")
	if err != nil {
		t.Fatal(err)
	}
	conformance.RunSourceSuite(t, inst.Remote, fixture(t))
}

func read(t *testing.T, table string, rf *sdk.RangeFilter, part *sdk.Partition) arrow.RecordBatch {
	t.Helper()
	rr, err := gen.New().Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: "gen://?rows=1000"}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}, Range: rf, Partition: part, BatchMaxRows: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var recs []arrow.RecordBatch
	for rr.Next() {
		rr.RecordBatch().Retain()
		recs = append(recs, rr.RecordBatch())
	}
	if rr.Err() != nil {
		t.Fatal(rr.Err())
	}
	cols := make([]arrow.Array, rr.Schema().NumFields())
	n := int64(0)
	for i := range cols {
		var chunks []arrow.Array
		for _, r := range recs {
			chunks = append(chunks, r.Column(i))
		}
		c, err := array.Concatenate(chunks, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		cols[i], n = c, int64(c.Len())
	}
	return array.NewRecordBatch(rr.Schema(), cols, n)
}

func TestEdgeValues(t *testing.T) {
	rec := read(t, "all_types", &sdk.RangeFilter{Column: "id", Lower: sdk.Int64Value(1), LowerInclusive: true, Upper: sdk.Int64Value(200), UpperInclusive: true}, nil)
	defer rec.Release()
	col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
	row := func(id int64) int { return int(id - 1) }
	// id%97 == 1 → minimum, == 2 → maximum (unless NULL: (id+salt)%13 == 0).
	if v := col("int64_col").(*array.Int64).Value(row(98)); v != math.MinInt64 {
		t.Errorf("int64_col at id 98 = %d, want min int64", v)
	}
	if v := col("int64_col").(*array.Int64).Value(row(2)); v != math.MaxInt64 {
		t.Errorf("int64_col at id 2 = %d, want max int64", v)
	}
	if !col("int64_col").IsNull(row(99)) {
		t.Error("int64_col at id 99 should be NULL ((99+5)%13 == 0)")
	}
	if v := col("uint64_col").(*array.Uint64).Value(row(2)); v != math.MaxUint64 {
		t.Errorf("uint64_col at id 2 = %d", v)
	}
	f := col("float64_col").(*array.Float64)
	if !math.IsNaN(f.Value(row(90))) || !math.IsInf(f.Value(row(91)), 1) || !math.IsInf(f.Value(row(92)), -1) {
		t.Errorf("float64 specials: %v %v %v", f.Value(row(90)), f.Value(row(91)), f.Value(row(92)))
	}
	// Every 5th id holds the largest 38-digit decimal, ±(10^38-1).
	d := col("decimal128_col").(*array.Decimal128)
	nines := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil), big.NewInt(1))
	if got := new(big.Int).Abs(d.Value(row(5)).BigInt()); got.Cmp(nines) != 0 {
		t.Errorf("decimal128 at id 5 = %s, want ±%s", d.Value(row(5)).BigInt(), nines)
	}
	s := col("string_col").(*array.String)
	if s.Value(row(2)) != "comma, inside" || s.Value(row(13)) != "plain" || s.Value(row(14)) != "" || s.IsNull(row(14)) {
		t.Errorf("string_col: %q %q %q", s.Value(row(2)), s.Value(row(13)), s.Value(row(14)))
	}
	// NULL every 13th row per column, shifted by the column's salt.
	if !col("bool_col").IsNull(row(12)) || col("bool_col").IsNull(row(13)) {
		t.Error("bool_col NULL pattern")
	}
	if col("id").NullN() != 0 {
		t.Error("id has NULLs")
	}
}

func TestDeterministicAndPartitioned(t *testing.T) {
	full := read(t, "narrow", nil, nil)
	defer full.Release()
	again := read(t, "narrow", nil, nil)
	defer again.Release()
	if !array.RecordEqual(full, again) {
		t.Fatal("two reads differ")
	}
	seen := map[int64]int{}
	for i := 0; i < 3; i++ {
		p := read(t, "narrow", nil, &sdk.Partition{Index: i, Count: 3})
		for _, id := range p.Column(0).(*array.Int64).Int64Values() {
			seen[id]++
		}
		// Each partition's rows equal the same ids of the full read.
		lo := p.Column(0).(*array.Int64).Value(0)
		want := full.NewSlice(lo-1, lo-1+p.NumRows())
		if !array.RecordEqual(p, want) {
			t.Errorf("partition %d differs from the full read", i)
		}
		want.Release()
		p.Release()
	}
	if len(seen) != 1000 {
		t.Fatalf("partitions covered %d ids", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("id %d in %d partitions", id, n)
		}
	}
}

func TestBadDSN(t *testing.T) {
	_, err := gen.New().Check(context.Background(), sdk.Connection{DSN: "gen://?rows=lots"})
	if err == nil {
		t.Fatal("bad rows accepted")
	}
}

func BenchmarkNarrow(b *testing.B) {
	c := gen.New()
	rows := int64(0)
	for i := 0; i < b.N; i++ {
		rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: "gen://?rows=1000000"}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: "narrow"}}})
		if err != nil {
			b.Fatal(err)
		}
		for rr.Next() {
			rows += rr.RecordBatch().NumRows()
		}
		rr.Release()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
