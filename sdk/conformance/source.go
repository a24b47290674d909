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
	// OrderColumn is a nullable column of Table of an integer,
	// floating-point, decimal, date or timestamp type. In Expected it
	// must hold at least one NULL, and its other values, taken in
	// KeyColumn order, must be neither ascending nor descending (ties are
	// welcome). The suite reads Table ordered by it in both directions,
	// ties broken by KeyColumn, and asks for its bounds, so it checks where
	// NULLs sort and that Bounds.Count counts rows. Zero value skips
	// "order_by/nullable_*" and "bounds/nullable": set it for every
	// connector that can order and bound by columns other than its key.
	OrderColumn string
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

// sourceSuite is one run of the source suite: the connector, its fixture
// and what the fixture says a read must return.
type sourceSuite struct {
	c sdk.Connector
	f SourceFixture
	// want is Expected ordered by KeyColumn; keys are its keys, ascending.
	want arrow.RecordBatch
	keys []int64
	// order is OrderColumn's values in want's rows (nil for NULL), when
	// the fixture names one.
	order []*orderValue
}

// RunSourceSuite runs the source conformance tests.
func RunSourceSuite(t *testing.T, c sdk.Connector, f SourceFixture) {
	t.Helper()
	s := newSourceSuite(t, c, f)
	defer s.want.Release()

	t.Run("info", func(t *testing.T) { testInfo(t, c) })
	t.Run("check", s.check)
	t.Run("list_objects", s.listObjects)
	t.Run("describe", s.describe)
	t.Run("read_all", s.readAll)
	t.Run("null_handling", s.nullHandling)
	t.Run("read_columns", s.readColumns)
	t.Run("read_range", s.readRange)
	t.Run("order_by", s.orderBy)
	t.Run("bounds", s.bounds)
	t.Run("empty", s.empty)
	t.Run("large_values", s.largeValues)
	t.Run("cancellation", s.cancellation)
	t.Run("batch_limits", s.batchLimits)
	t.Run("unknown_object", s.unknownObject)
}

// newSourceSuite checks the fixture and works out what reads must return.
func newSourceSuite(t *testing.T, c sdk.Connector, f SourceFixture) *sourceSuite {
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
	s := &sourceSuite{c: c, f: f, want: sortedBy(t, f.Expected, f.KeyColumn)}
	s.keys = int64Keys(t, s.want.Column(key[0]))
	if len(s.keys) < 2 {
		s.want.Release()
		t.Fatal("Expected needs at least 2 rows")
	}
	if f.OrderColumn != "" {
		order, err := orderColumnOf(s.want, f.OrderColumn)
		if err != nil {
			s.want.Release()
			t.Fatalf("SourceFixture.OrderColumn: %v", err)
		}
		s.order = order
	}
	return s
}

// reader returns the connector's Reader, or skips a test of a connector
// that cannot read.
func (s *sourceSuite) reader(t *testing.T) sdk.Reader {
	t.Helper()
	r, ok := s.c.(sdk.Reader)
	if !ok || !has(s.c, sdk.CapRead) {
		t.Skip("connector cannot read")
	}
	return r
}

func (s *sourceSuite) read(t *testing.T, req sdk.ReadRequest) arrow.RecordBatch {
	t.Helper()
	req.Conn = s.f.Conn
	if req.Source.Object == nil && req.Source.Query == "" {
		req.Source = obj(s.f.Table)
	}
	return readAll(t, s.reader(t), req)
}

func (s *sourceSuite) check(t *testing.T) {
	if _, err := s.c.Check(context.Background(), s.f.Conn); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func (s *sourceSuite) listObjects(t *testing.T) {
	l, ok := s.c.(sdk.ObjectLister)
	if !ok || !has(s.c, sdk.CapListObjects) {
		t.Skip("connector cannot list objects")
	}
	objs, err := l.ListObjects(context.Background(), s.f.Conn, s.f.Table.Schema)
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	for _, o := range objs {
		if strings.EqualFold(o.Ref.Name, s.f.Table.Name) {
			return
		}
	}
	t.Fatalf("ListObjects did not list %s: %v", s.f.Table, objs)
}

func (s *sourceSuite) describe(t *testing.T) {
	d, ok := s.c.(sdk.Describer)
	if !ok || !has(s.c, sdk.CapDescribe) {
		t.Skip("connector cannot describe")
	}
	desc, err := d.Describe(context.Background(), s.f.Conn, obj(s.f.Table))
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	compareSchemas(t, desc.Schema, s.want.Schema())
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
}

func (s *sourceSuite) readAll(t *testing.T) {
	got := s.read(t, sdk.ReadRequest{BatchMaxRows: int64(max(2, len(s.keys)/3))})
	defer got.Release()
	compareSchemas(t, got.Schema(), s.want.Schema())
	sorted := sortedBy(t, got, s.f.KeyColumn)
	defer sorted.Release()
	compareRecords(t, sorted, s.want, s.f.KeyColumn)
}

func (s *sourceSuite) nullHandling(t *testing.T) {
	got := s.read(t, sdk.ReadRequest{})
	defer got.Release()
	sorted := sortedBy(t, got, s.f.KeyColumn)
	defer sorted.Release()
	withNulls := 0
	for i, fld := range s.want.Schema().Fields() {
		wc := s.want.Column(i)
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
				t.Errorf("column %q row with %s=%d: NULL=%v, want NULL=%v", fld.Name, s.f.KeyColumn, s.keys[r], gc.IsNull(r), wc.IsNull(r))
			}
		}
	}
	if withNulls == 0 {
		t.Error("Expected holds no NULLs: the fixture must exercise NULL handling")
	}
}

func (s *sourceSuite) readColumns(t *testing.T) {
	s.reader(t)
	if s.want.NumCols() < 2 {
		t.Skip("table has one column")
	}
	names := []string{s.want.Schema().Field(int(s.want.NumCols()) - 1).Name, s.f.KeyColumn}
	got := s.read(t, sdk.ReadRequest{Columns: names})
	defer got.Release()
	if got.NumCols() != 2 || got.Schema().Field(0).Name != names[0] || got.Schema().Field(1).Name != names[1] {
		t.Fatalf("projection %v returned %v", names, got.Schema())
	}
	if got.NumRows() != s.want.NumRows() {
		t.Fatalf("projection returned %d rows, want %d", got.NumRows(), s.want.NumRows())
	}
}

func (s *sourceSuite) readRange(t *testing.T) {
	testRanges(t, s.reader(t), s.f, s.keys)
}

// orderBy checks ReadRequest.OrderBy in both directions: on the key, and
// on a nullable column whose values are in neither order in the table, so
// a connector that returns rows as stored, or orders by the wrong column,
// or puts NULLs elsewhere than the contract says, fails.
func (s *sourceSuite) orderBy(t *testing.T) {
	s.reader(t)
	t.Run("key_ascending", func(t *testing.T) { s.orderByKey(t, false) })
	t.Run("key_descending", func(t *testing.T) { s.orderByKey(t, true) })
	t.Run("nullable_ascending", func(t *testing.T) { s.orderByNullable(t, false) })
	t.Run("nullable_descending", func(t *testing.T) { s.orderByNullable(t, true) })
}

func (s *sourceSuite) orderByKey(t *testing.T, desc bool) {
	got := s.read(t, sdk.ReadRequest{OrderBy: []sdk.OrderBy{{Column: s.f.KeyColumn, Descending: desc}}, BatchMaxRows: int64(max(2, len(s.keys)/3))})
	defer got.Release()
	want := append([]int64(nil), s.keys...)
	if desc {
		for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
			want[i], want[j] = want[j], want[i]
		}
	}
	s.compareOrder(t, got, want, fmt.Sprintf("ORDER BY %s%s", s.f.KeyColumn, direction(desc)))
}

func (s *sourceSuite) orderByNullable(t *testing.T, desc bool) {
	if s.f.OrderColumn == "" {
		t.Skip("fixture has no OrderColumn")
	}
	got := s.read(t, sdk.ReadRequest{
		OrderBy:      []sdk.OrderBy{{Column: s.f.OrderColumn, Descending: desc}, {Column: s.f.KeyColumn}},
		BatchMaxRows: int64(max(2, len(s.keys)/3)),
	})
	defer got.Release()
	rows := make([]int, len(s.keys))
	for i := range rows {
		rows[i] = i
	}
	sort.SliceStable(rows, func(a, b int) bool {
		c := compareOrderValues(s.order[rows[a]], s.order[rows[b]])
		if desc {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
		return s.keys[rows[a]] < s.keys[rows[b]]
	})
	want := make([]int64, len(rows))
	for i, r := range rows {
		want[i] = s.keys[r]
	}
	s.compareOrder(t, got, want, fmt.Sprintf("ORDER BY %s%s, %s (NULL sorts first ascending, last descending)", s.f.OrderColumn, direction(desc), s.f.KeyColumn))
}

func direction(desc bool) string {
	if desc {
		return " DESC"
	}
	return ""
}

// compareOrder checks that got holds every row, its keys in want's order,
// and names the first row out of place.
func (s *sourceSuite) compareOrder(t *testing.T, got arrow.RecordBatch, want []int64, what string) {
	t.Helper()
	idx := got.Schema().FieldIndices(s.f.KeyColumn)
	if len(idx) != 1 {
		t.Fatalf("key column missing from %v", got.Schema())
	}
	ids := int64Keys(t, got.Column(idx[0]))
	if len(ids) != len(want) {
		t.Fatalf("%s returned %d rows, want %d", what, len(ids), len(want))
	}
	for i := range want {
		if ids[i] != want[i] {
			lo := max(0, i-3)
			t.Fatalf("%s: row %d has %s=%d, want %d; from row %d got %v, want %v",
				what, i, s.f.KeyColumn, ids[i], want[i], lo, head(ids[lo:]), head(want[lo:]))
		}
	}
}

// bounds checks Bounds on the key and, when the fixture names one, on a
// nullable column: Count counts rows (NULL or not) under the filter,
// NullCount the rows whose value is NULL, and Min and Max the non-NULL
// values.
func (s *sourceSuite) bounds(t *testing.T) {
	b, ok := s.c.(sdk.Bounder)
	if !ok || !has(s.c, sdk.CapBounds) {
		t.Skip("connector cannot compute bounds")
	}
	t.Run("key", func(t *testing.T) { s.boundsKey(t, b) })
	t.Run("key_range", func(t *testing.T) { s.boundsKeyRange(t, b) })
	t.Run("nullable", func(t *testing.T) { s.boundsNullable(t, b) })
}

func (s *sourceSuite) boundsKey(t *testing.T, b sdk.Bounder) {
	res, err := b.Bounds(context.Background(), sdk.BoundsRequest{Conn: s.f.Conn, Source: obj(s.f.Table), Column: s.f.KeyColumn})
	if err != nil {
		t.Fatalf("Bounds: %v", err)
	}
	checkBound(t, "min", res.Min, s.keys[0])
	checkBound(t, "max", res.Max, s.keys[len(s.keys)-1])
	if res.Count != int64(len(s.keys)) || res.NullCount != 0 {
		t.Errorf("count %d nulls %d, want %d and 0", res.Count, res.NullCount, len(s.keys))
	}
}

func (s *sourceSuite) boundsKeyRange(t *testing.T, b sdk.Bounder) {
	keys := s.keys
	mid := keys[len(keys)/2]
	res, err := b.Bounds(context.Background(), sdk.BoundsRequest{Conn: s.f.Conn, Source: obj(s.f.Table), Column: s.f.KeyColumn,
		Range: &sdk.RangeFilter{Column: s.f.KeyColumn, Lower: sdk.Int64Value(mid), LowerInclusive: false}})
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
}

// boundsNullable asks for the bounds of OrderColumn over the whole table
// and over the rows above the middle key: a Count of non-NULL values
// instead of rows fails here.
func (s *sourceSuite) boundsNullable(t *testing.T, b sdk.Bounder) {
	if s.f.OrderColumn == "" {
		t.Skip("fixture has no OrderColumn")
	}
	mid := len(s.keys) / 2
	for _, tc := range []struct {
		name string
		rf   *sdk.RangeFilter
		from int
	}{
		{"whole table", nil, 0},
		{fmt.Sprintf("%s > %d", s.f.KeyColumn, s.keys[mid-1]), &sdk.RangeFilter{Column: s.f.KeyColumn, Lower: sdk.Int64Value(s.keys[mid-1])}, mid},
	} {
		res, err := b.Bounds(context.Background(), sdk.BoundsRequest{Conn: s.f.Conn, Source: obj(s.f.Table), Column: s.f.OrderColumn, Range: tc.rf})
		if err != nil {
			t.Fatalf("Bounds of %s, %s: %v", s.f.OrderColumn, tc.name, err)
		}
		var lo, hi *orderValue
		nulls := int64(0)
		for _, v := range s.order[tc.from:] {
			switch {
			case v == nil:
				nulls++
			case lo == nil:
				lo, hi = v, v
			default:
				if compareOrderValues(v, lo) < 0 {
					lo = v
				}
				if compareOrderValues(v, hi) > 0 {
					hi = v
				}
			}
		}
		rows := int64(len(s.keys) - tc.from)
		if res.Count != rows || res.NullCount != nulls {
			t.Errorf("Bounds of %s, %s: Count %d NullCount %d, want Count %d (every row, NULL or not) and NullCount %d",
				s.f.OrderColumn, tc.name, res.Count, res.NullCount, rows, nulls)
		}
		checkOrderBound(t, fmt.Sprintf("Bounds of %s, %s: Min", s.f.OrderColumn, tc.name), res.Min, lo)
		checkOrderBound(t, fmt.Sprintf("Bounds of %s, %s: Max", s.f.OrderColumn, tc.name), res.Max, hi)
	}
}

func (s *sourceSuite) empty(t *testing.T) {
	s.reader(t)
	if s.f.Empty.Name == "" {
		t.Skip("fixture has no Empty table")
	}
	got := s.read(t, sdk.ReadRequest{Source: obj(s.f.Empty)})
	defer got.Release()
	if got.NumRows() != 0 {
		t.Fatalf("empty table returned %d rows", got.NumRows())
	}
	compareSchemas(t, got.Schema(), s.want.Schema())
}

func (s *sourceSuite) largeValues(t *testing.T) {
	s.reader(t)
	if s.f.LargeValues.Name == "" {
		t.Skip("fixture has no LargeValues table")
	}
	minBytes := s.f.LargeValuesMinBytes
	if minBytes == 0 {
		minBytes = 4 << 20
	}
	got := s.read(t, sdk.ReadRequest{Source: obj(s.f.LargeValues)})
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
}

func (s *sourceSuite) cancellation(t *testing.T) {
	r := s.reader(t)
	if s.f.Large.Name == "" {
		t.Skip("fixture has no Large table")
	}
	testCancel(t, r, s.f)
}

func (s *sourceSuite) batchLimits(t *testing.T) {
	r := s.reader(t)
	limit := int64(max(1, len(s.keys)/4))
	rr, err := r.Read(context.Background(), sdk.ReadRequest{Conn: s.f.Conn, Source: obj(s.f.Table), BatchMaxRows: limit})
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
	if total != int64(len(s.keys)) {
		t.Fatalf("read %d rows, want %d", total, len(s.keys))
	}
}

func (s *sourceSuite) unknownObject(t *testing.T) {
	if d, ok := s.c.(sdk.Describer); ok && has(s.c, sdk.CapDescribe) {
		_, err := d.Describe(context.Background(), s.f.Conn, obj(s.f.Missing))
		checkNotFound(t, "Describe", err, s.f.Missing.Name)
	}
	if r, ok := s.c.(sdk.Reader); ok && has(s.c, sdk.CapRead) {
		rr, err := r.Read(context.Background(), sdk.ReadRequest{Conn: s.f.Conn, Source: obj(s.f.Missing)})
		if err == nil {
			for rr.Next() {
			}
			err = rr.Err()
			rr.Release()
		}
		checkNotFound(t, "Read", err, s.f.Missing.Name)
	}
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
		case *array.Decimal128:
			// NUMBER(p,0) and NUMERIC(p,0) keys: integers held as decimals.
			if x.DataType().(*arrow.Decimal128Type).Scale != 0 || !x.Value(i).FitsInPrecision(18) {
				t.Fatalf("key column has type %s; the suite needs an integer key", a.DataType())
			}
			out[i] = int64(x.Value(i).LowBits())
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
