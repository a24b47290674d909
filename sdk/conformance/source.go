package conformance

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// SourceFixture tells the source suite what the connector's test database
// holds.
type SourceFixture struct {
	// Conn connects to the test database.
	Conn sdk.Connection
	// Table holds exactly the rows of Expected. Read must return Expected's
	// schema (names, types, nullability) and values; rows are compared
	// after ordering by KeyColumn. Expected should hold NULLs in every
	// nullable column and at least 10 rows.
	Table    sdk.ObjectRef
	Expected arrow.RecordBatch
	// KeyColumn is a unique, non-NULL integer column of Table, used for
	// range filters, ordering and bounds.
	KeyColumn string
	// Empty has Table's schema and no rows; zero value skips "empty".
	Empty sdk.ObjectRef
	// Large has enough rows for many batches (100,000 or more); zero value
	// skips "cancellation". LargeConn, when its DSN is set, is used to read
	// it instead of Conn.
	Large     sdk.ObjectRef
	LargeConn sdk.Connection
	// LargeValues holds values of several MiB; zero value skips
	// "large_values". LargeValuesMinBytes is the size at least one value
	// must have (default 4 MiB).
	LargeValues         sdk.ObjectRef
	LargeValuesMinBytes int
	// Missing must not exist; zero value uses an unlikely name.
	Missing sdk.ObjectRef
}

func obj(r sdk.ObjectRef) sdk.Source { return sdk.Source{Object: &r} }

// RunSourceSuite runs the source conformance tests.
func RunSourceSuite(t *testing.T, c sdk.Connector, f SourceFixture) {
	t.Helper()
	if f.Missing.Name == "" {
		f.Missing = sdk.ObjectRef{Name: "hp_conformance_no_such_table"}
	}
	if f.Expected == nil || f.KeyColumn == "" || f.Table.Name == "" {
		t.Fatal("SourceFixture needs Table, Expected and KeyColumn")
	}
	key := f.Expected.Schema().FieldIndices(f.KeyColumn)
	if len(key) != 1 {
		t.Fatalf("KeyColumn %q is not a column of Expected", f.KeyColumn)
	}
	want := sortedBy(t, f.Expected, f.KeyColumn)
	defer want.Release()
	keys := int64Keys(t, want.Column(key[0]))
	if len(keys) < 2 {
		t.Fatal("Expected needs at least 2 rows")
	}

	t.Run("info", func(t *testing.T) { testInfo(t, c) })
	t.Run("check", func(t *testing.T) {
		if _, err := c.Check(context.Background(), f.Conn); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("list_objects", func(t *testing.T) {
		l, ok := c.(sdk.ObjectLister)
		if !ok || !has(c, sdk.CapListObjects) {
			t.Skip("connector cannot list objects")
		}
		objs, err := l.ListObjects(context.Background(), f.Conn, f.Table.Schema)
		if err != nil {
			t.Fatalf("ListObjects: %v", err)
		}
		for _, o := range objs {
			if strings.EqualFold(o.Ref.Name, f.Table.Name) {
				return
			}
		}
		t.Fatalf("ListObjects did not list %s: %v", f.Table, objs)
	})
	t.Run("describe", func(t *testing.T) {
		d, ok := c.(sdk.Describer)
		if !ok || !has(c, sdk.CapDescribe) {
			t.Skip("connector cannot describe")
		}
		desc, err := d.Describe(context.Background(), f.Conn, obj(f.Table))
		if err != nil {
			t.Fatalf("Describe: %v", err)
		}
		compareSchemas(t, desc.Schema, want.Schema())
		if len(desc.Columns) != desc.Schema.NumFields() {
			t.Errorf("Describe returned %d columns for %d fields", len(desc.Columns), desc.Schema.NumFields())
		}
		for i, col := range desc.Columns {
			if i < desc.Schema.NumFields() && col.Name != desc.Schema.Field(i).Name {
				t.Errorf("column %d is %q, schema field is %q", i, col.Name, desc.Schema.Field(i).Name)
			}
			if col.NativeType == "" {
				t.Errorf("column %q has no native type", col.Name)
			}
		}
		for _, k := range desc.PrimaryKey {
			if len(desc.Schema.FieldIndices(k)) != 1 {
				t.Errorf("primary key column %q is not in the schema", k)
			}
		}
	})

	reader, canRead := c.(sdk.Reader)
	needRead := func(t *testing.T) {
		if !canRead || !has(c, sdk.CapRead) {
			t.Skip("connector cannot read")
		}
	}
	t.Run("read_all", func(t *testing.T) {
		needRead(t)
		got := readAll(t, reader, sdk.ReadRequest{Conn: f.Conn, Source: obj(f.Table), BatchMaxRows: int64(max(2, len(keys)/3))})
		defer got.Release()
		compareSchemas(t, got.Schema(), want.Schema())
		sorted := sortedBy(t, got, f.KeyColumn)
		defer sorted.Release()
		compareRecords(t, sorted, want, f.KeyColumn)
	})
	t.Run("null_handling", func(t *testing.T) {
		needRead(t)
		got := readAll(t, reader, sdk.ReadRequest{Conn: f.Conn, Source: obj(f.Table)})
		defer got.Release()
		sorted := sortedBy(t, got, f.KeyColumn)
		defer sorted.Release()
		withNulls := 0
		for i, fld := range want.Schema().Fields() {
			wc := want.Column(i)
			if !fld.Nullable || wc.NullN() == 0 {
				continue
			}
			withNulls++
			gi := sorted.Schema().FieldIndices(fld.Name)
			if len(gi) != 1 {
				t.Fatalf("column %q missing", fld.Name)
			}
			gc := sorted.Column(gi[0])
			for r := 0; r < wc.Len() && r < gc.Len(); r++ {
				if wc.IsNull(r) != gc.IsNull(r) {
					t.Errorf("column %q row with %s=%d: NULL=%v, want NULL=%v", fld.Name, f.KeyColumn, keys[r], gc.IsNull(r), wc.IsNull(r))
				}
			}
		}
		if withNulls == 0 {
			t.Error("Expected holds no NULLs: the fixture must exercise NULL handling")
		}
	})
	t.Run("read_columns", func(t *testing.T) {
		needRead(t)
		if want.NumCols() < 2 {
			t.Skip("table has one column")
		}
		names := []string{want.Schema().Field(int(want.NumCols()) - 1).Name, f.KeyColumn}
		got := readAll(t, reader, sdk.ReadRequest{Conn: f.Conn, Source: obj(f.Table), Columns: names})
		defer got.Release()
		if got.NumCols() != 2 || got.Schema().Field(0).Name != names[0] || got.Schema().Field(1).Name != names[1] {
			t.Fatalf("projection %v returned %v", names, got.Schema())
		}
		if got.NumRows() != want.NumRows() {
			t.Fatalf("projection returned %d rows, want %d", got.NumRows(), want.NumRows())
		}
	})
	t.Run("read_range", func(t *testing.T) {
		needRead(t)
		testRanges(t, reader, f, keys)
	})
	t.Run("order_by", func(t *testing.T) {
		needRead(t)
		got := readAll(t, reader, sdk.ReadRequest{Conn: f.Conn, Source: obj(f.Table), OrderBy: []sdk.OrderBy{{Column: f.KeyColumn, Descending: true}}})
		defer got.Release()
		ids := int64Keys(t, got.Column(got.Schema().FieldIndices(f.KeyColumn)[0]))
		if !sort.SliceIsSorted(ids, func(a, b int) bool { return ids[a] > ids[b] }) || len(ids) != len(keys) {
			t.Fatalf("descending order returned %v", head(ids))
		}
	})
	t.Run("bounds", func(t *testing.T) {
		b, ok := c.(sdk.Bounder)
		if !ok || !has(c, sdk.CapBounds) {
			t.Skip("connector cannot compute bounds")
		}
		res, err := b.Bounds(context.Background(), sdk.BoundsRequest{Conn: f.Conn, Source: obj(f.Table), Column: f.KeyColumn})
		if err != nil {
			t.Fatalf("Bounds: %v", err)
		}
		checkBound(t, "min", res.Min, keys[0])
		checkBound(t, "max", res.Max, keys[len(keys)-1])
		if res.Count != int64(len(keys)) || res.NullCount != 0 {
			t.Errorf("count %d nulls %d, want %d and 0", res.Count, res.NullCount, len(keys))
		}
		mid := keys[len(keys)/2]
		res, err = b.Bounds(context.Background(), sdk.BoundsRequest{Conn: f.Conn, Source: obj(f.Table), Column: f.KeyColumn,
			Range: &sdk.RangeFilter{Column: f.KeyColumn, Lower: sdk.Int64Value(mid), LowerInclusive: false}})
		if err != nil {
			t.Fatalf("Bounds with range: %v", err)
		}
		wantCount := int64(len(keys) - len(keys)/2 - 1)
		if res.Count != wantCount {
			t.Errorf("count above %d = %d, want %d", mid, res.Count, wantCount)
		}
		if wantCount > 0 {
			checkBound(t, "min above mid", res.Min, keys[len(keys)/2+1])
		}
	})
	t.Run("empty", func(t *testing.T) {
		needRead(t)
		if f.Empty.Name == "" {
			t.Skip("fixture has no Empty table")
		}
		got := readAll(t, reader, sdk.ReadRequest{Conn: f.Conn, Source: obj(f.Empty)})
		defer got.Release()
		if got.NumRows() != 0 {
			t.Fatalf("empty table returned %d rows", got.NumRows())
		}
		compareSchemas(t, got.Schema(), want.Schema())
	})
	t.Run("large_values", func(t *testing.T) {
		needRead(t)
		if f.LargeValues.Name == "" {
			t.Skip("fixture has no LargeValues table")
		}
		minBytes := f.LargeValuesMinBytes
		if minBytes == 0 {
			minBytes = 4 << 20
		}
		got := readAll(t, reader, sdk.ReadRequest{Conn: f.Conn, Source: obj(f.LargeValues)})
		defer got.Release()
		largest := 0
		for i := 0; i < int(got.NumCols()); i++ {
			switch a := got.Column(i).(type) {
			case *array.Binary:
				for r := 0; r < a.Len(); r++ {
					largest = max(largest, len(a.Value(r)))
				}
			case *array.String:
				for r := 0; r < a.Len(); r++ {
					largest = max(largest, len(a.Value(r)))
				}
			case *array.LargeString:
				for r := 0; r < a.Len(); r++ {
					largest = max(largest, len(a.Value(r)))
				}
			}
		}
		if largest < minBytes {
			t.Fatalf("largest value is %d bytes, want at least %d", largest, minBytes)
		}
	})
	t.Run("cancellation", func(t *testing.T) {
		needRead(t)
		if f.Large.Name == "" {
			t.Skip("fixture has no Large table")
		}
		testCancel(t, reader, f)
	})
	t.Run("batch_limits", func(t *testing.T) {
		needRead(t)
		limit := int64(max(1, len(keys)/4))
		rr, err := reader.Read(context.Background(), sdk.ReadRequest{Conn: f.Conn, Source: obj(f.Table), BatchMaxRows: limit})
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		total := int64(0)
		for rr.Next() {
			n := rr.RecordBatch().NumRows()
			if n > limit {
				t.Fatalf("batch of %d rows exceeds BatchMaxRows %d", n, limit)
			}
			total += n
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		if total != int64(len(keys)) {
			t.Fatalf("read %d rows, want %d", total, len(keys))
		}
	})
	t.Run("unknown_object", func(t *testing.T) {
		if d, ok := c.(sdk.Describer); ok && has(c, sdk.CapDescribe) {
			_, err := d.Describe(context.Background(), f.Conn, obj(f.Missing))
			checkNotFound(t, "Describe", err, f.Missing.Name)
		}
		if canRead && has(c, sdk.CapRead) {
			rr, err := reader.Read(context.Background(), sdk.ReadRequest{Conn: f.Conn, Source: obj(f.Missing)})
			if err == nil {
				for rr.Next() {
				}
				err = rr.Err()
				rr.Release()
			}
			checkNotFound(t, "Read", err, f.Missing.Name)
		}
	})
}

func testInfo(t *testing.T, c sdk.Connector) {
	info := c.Info()
	if info.Name == "" || info.Version == "" || len(info.Schemes) == 0 || info.DSNExample == "" || info.DSNFormat == "" {
		t.Errorf("Info lacks name, version, schemes, DSN format or example: %+v", info)
	}
	if info.Description == "" {
		t.Error("Info has no description")
	}
	if len(info.TypeMappings) == 0 {
		t.Error("Info documents no type mappings")
	}
	for _, o := range info.Options {
		if o.Name == "" || o.Description == "" || o.Type == "" {
			t.Errorf("option %+v is not documented", o)
		}
	}
}

func checkNotFound(t *testing.T, call string, err error, name string) {
	t.Helper()
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("%s of a missing object: error %v does not wrap sdk.ErrNotFound", call, err)
		return
	}
	if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(name)) {
		t.Errorf("%s of a missing object: error %q does not name %q", call, err, name)
	}
}

func checkBound(t *testing.T, what string, v *sdk.Value, want int64) {
	t.Helper()
	if v == nil {
		t.Errorf("%s is missing, want %d", what, want)
		return
	}
	if got := v.String(); got != fmt.Sprint(want) {
		t.Errorf("%s = %s, want %d", what, got, want)
	}
}

func testRanges(t *testing.T, r sdk.Reader, f SourceFixture, keys []int64) {
	lo, hi, mid := keys[0], keys[len(keys)-1], keys[len(keys)/2]
	count := func(pred func(int64) bool) []int64 {
		var out []int64
		for _, k := range keys {
			if pred(k) {
				out = append(out, k)
			}
		}
		return out
	}
	cases := []struct {
		name string
		rf   sdk.RangeFilter
		want []int64
	}{
		{"lower_inclusive_at_min", sdk.RangeFilter{Lower: sdk.Int64Value(lo), LowerInclusive: true}, keys},
		{"lower_exclusive_at_min", sdk.RangeFilter{Lower: sdk.Int64Value(lo)}, keys[1:]},
		{"upper_inclusive_at_max", sdk.RangeFilter{Upper: sdk.Int64Value(hi), UpperInclusive: true}, keys},
		{"upper_exclusive_at_max", sdk.RangeFilter{Upper: sdk.Int64Value(hi)}, keys[:len(keys)-1]},
		{"exclusive_beyond_max", sdk.RangeFilter{Lower: sdk.Int64Value(hi)}, nil},
		{"mid_inclusive_both", sdk.RangeFilter{Lower: sdk.Int64Value(mid), LowerInclusive: true, Upper: sdk.Int64Value(hi), UpperInclusive: true}, count(func(k int64) bool { return k >= mid })},
		{"mid_exclusive_both", sdk.RangeFilter{Lower: sdk.Int64Value(lo), Upper: sdk.Int64Value(mid)}, count(func(k int64) bool { return k > lo && k < mid })},
		{"open_upper_from_mid", sdk.RangeFilter{Lower: sdk.Int64Value(mid)}, count(func(k int64) bool { return k > mid })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rf := tc.rf
			rf.Column = f.KeyColumn
			got := readAll(t, r, sdk.ReadRequest{Conn: f.Conn, Source: obj(f.Table), Range: &rf})
			defer got.Release()
			idx := got.Schema().FieldIndices(f.KeyColumn)
			if len(idx) != 1 {
				t.Fatalf("key column missing from %v", got.Schema())
			}
			ids := int64Keys(t, got.Column(idx[0]))
			sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) && !(len(ids) == 0 && len(tc.want) == 0) {
				t.Fatalf("range returned %d keys %v, want %d keys %v", len(ids), head(ids), len(tc.want), head(tc.want))
			}
		})
	}
}

func head(v []int64) []int64 {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}

func testCancel(t *testing.T, r sdk.Reader, f SourceFixture) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn := f.Conn
	if f.LargeConn.DSN != "" {
		conn = f.LargeConn
	}
	rr, err := r.Read(ctx, sdk.ReadRequest{Conn: conn, Source: obj(f.Large), BatchMaxRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatalf("no first batch: %v", rr.Err())
	}
	cancel()
	start := time.Now()
	batches := 0
	for rr.Next() {
		batches++
		if time.Since(start) > 2*time.Second {
			t.Fatalf("still reading %v after cancellation (%d batches)", time.Since(start), batches)
		}
	}
	if rr.Err() == nil {
		t.Fatal("a cancelled read ended without an error: it looks complete")
	}
}

// readAll reads everything into one batch.
func readAll(t *testing.T, r sdk.Reader, req sdk.ReadRequest) arrow.RecordBatch {
	t.Helper()
	rr, err := r.Read(context.Background(), req)
	if err != nil {
		t.Fatalf("Read %s: %v", req.Source, err)
	}
	defer rr.Release()
	var recs []arrow.RecordBatch
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rr.Err(); err != nil {
		t.Fatalf("Read %s: %v", req.Source, err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	tbl := array.NewTableFromRecords(rr.Schema(), recs)
	defer tbl.Release()
	return concat(t, tbl)
}

func concat(t *testing.T, tbl arrow.Table) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, tbl.NumCols())
	for i := range cols {
		chunks := tbl.Column(i).Data().Chunks()
		if len(chunks) == 0 {
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, tbl.Schema().Field(i).Type, 0)
			continue
		}
		a, err := array.Concatenate(chunks, memory.DefaultAllocator)
		if err != nil {
			t.Fatalf("concatenate: %v", err)
		}
		cols[i] = a
	}
	rec := array.NewRecordBatch(tbl.Schema(), cols, tbl.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// sortedBy returns rec ordered by an integer column.
func sortedBy(t *testing.T, rec arrow.RecordBatch, col string) arrow.RecordBatch {
	t.Helper()
	idx := rec.Schema().FieldIndices(col)
	if len(idx) != 1 {
		t.Fatalf("no column %q in %v", col, rec.Schema())
	}
	keys := int64Keys(t, rec.Column(idx[0]))
	order := make([]int64, len(keys))
	for i := range order {
		order[i] = int64(i)
	}
	sort.SliceStable(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	return take(t, rec, order)
}

// take reorders rows by copying runs of consecutive indices, which works
// for every Arrow type (compute's Take does not cover them all).
func take(t *testing.T, rec arrow.RecordBatch, order []int64) arrow.RecordBatch {
	t.Helper()
	var parts []arrow.RecordBatch
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && order[j] == order[j-1]+1 {
			j++
		}
		parts = append(parts, rec.NewSlice(order[i], order[j-1]+1))
		i = j
	}
	if len(parts) == 1 {
		return parts[0]
	}
	tbl := array.NewTableFromRecords(rec.Schema(), parts)
	defer tbl.Release()
	for _, p := range parts {
		p.Release()
	}
	return concat(t, tbl)
}

// int64Keys reads an integer column as int64s.
func int64Keys(t *testing.T, a arrow.Array) []int64 {
	t.Helper()
	out := make([]int64, a.Len())
	for i := range out {
		if a.IsNull(i) {
			t.Fatalf("key column has a NULL at row %d", i)
		}
		switch x := a.(type) {
		case *array.Int64:
			out[i] = x.Value(i)
		case *array.Int32:
			out[i] = int64(x.Value(i))
		case *array.Int16:
			out[i] = int64(x.Value(i))
		case *array.Int8:
			out[i] = int64(x.Value(i))
		case *array.Uint32:
			out[i] = int64(x.Value(i))
		case *array.Uint64:
			out[i] = int64(x.Value(i))
		default:
			t.Fatalf("key column has type %s; the suite needs an integer key", a.DataType())
		}
	}
	return out
}

func compareSchemas(t *testing.T, got, want *arrow.Schema) {
	t.Helper()
	if got.NumFields() != want.NumFields() {
		t.Fatalf("schema has %d fields, want %d:\n got %v\nwant %v", got.NumFields(), want.NumFields(), got, want)
	}
	for i := range want.Fields() {
		g, w := got.Field(i), want.Field(i)
		if g.Name != w.Name || !arrow.TypeEqual(g.Type, w.Type) || g.Nullable != w.Nullable {
			t.Errorf("field %d = %s %s nullable=%v, want %s %s nullable=%v", i, g.Name, g.Type, g.Nullable, w.Name, w.Type, w.Nullable)
		}
	}
}

// compareRecords compares value by value and reports the first few
// differences by key, column, got and want.
func compareRecords(t *testing.T, got, want arrow.RecordBatch, keyCol string) {
	t.Helper()
	if got.NumRows() != want.NumRows() {
		t.Fatalf("read %d rows, want %d", got.NumRows(), want.NumRows())
	}
	keys := int64Keys(t, want.Column(want.Schema().FieldIndices(keyCol)[0]))
	errs := 0
	for i, fld := range want.Schema().Fields() {
		gi := got.Schema().FieldIndices(fld.Name)
		if len(gi) != 1 {
			t.Errorf("column %q missing", fld.Name)
			continue
		}
		gc, wc := got.Column(gi[0]), want.Column(i)
		if array.ApproxEqual(gc, wc, array.WithNaNsEqual(true)) && arrow.TypeEqual(gc.DataType(), wc.DataType()) {
			continue
		}
		for r := 0; r < wc.Len() && errs < 10; r++ {
			gs, ws := cellString(gc, r), cellString(wc, r)
			if gs != ws {
				t.Errorf("%s=%d column %q: got %s, want %s", keyCol, keys[r], fld.Name, gs, ws)
				errs++
			}
		}
		if errs == 0 {
			t.Errorf("column %q differs (type %s vs %s)", fld.Name, gc.DataType(), wc.DataType())
			errs++
		}
	}
}

func cellString(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	s := a.ValueStr(i)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}
