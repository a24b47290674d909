package conformance_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// memDB is an in-memory connector holding tables of conformance.TargetSchema,
// rows in the order they were written. It lets the suites run against a
// known-good connector; broken variants (one deliberate bug each) show
// that the suites catch mistakes.
type memDB struct {
	mu     sync.Mutex
	tables map[string][]arrow.RecordBatch
	// ignoreRanges returns every row whatever the range filter.
	ignoreRanges bool
	// ignoreOrder returns rows as stored whatever OrderBy asks.
	ignoreOrder bool
	// countNonNull makes Bounds.Count count non-NULL values, not rows.
	countNonNull bool
	// commitBroken commits the rows a Write took before its stream
	// broke (and still returns the stream's error); a Sync, the upserts
	// it took.
	commitBroken bool
	// skipNullKeys makes Sync skip a NULL key to delete, not refuse it.
	skipNullKeys bool
}

func newMemDB() *memDB { return &memDB{tables: map[string][]arrow.RecordBatch{}} }

func (m *memDB) Info() sdk.Info {
	return sdk.Info{Name: "mem", Version: "0.0.1", Description: "in-memory test connector", Schemes: []string{"mem"},
		DSNFormat: "mem://", DSNExample: "mem://", TypeMappings: []sdk.TypeMapping{{NativeType: "any", ArrowType: "any"}}}
}

func (m *memDB) Check(context.Context, sdk.Connection) (string, error) { return "mem", nil }

func (m *memDB) table(src sdk.Source) ([]arrow.RecordBatch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, ok := m.tables[src.Object.Name]
	if !ok {
		return nil, sdk.NotFoundf("no table %s", src.Object.Name)
	}
	return recs, nil
}

func (m *memDB) Describe(_ context.Context, _ sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	if _, err := m.table(src); err != nil {
		return nil, err
	}
	d := &sdk.Description{Schema: conformance.TargetSchema, PrimaryKey: []string{"id"}}
	for _, f := range conformance.TargetSchema.Fields() {
		d.Columns = append(d.Columns, sdk.Column{Name: f.Name, NativeType: f.Type.String(), Nullable: f.Nullable})
	}
	return d, nil
}

// memRow is one row of a memDB table.
type memRow struct {
	id    int64
	name  string
	nnull bool
	score float64
	snull bool
}

// rowsOf returns the rows of recs in stored order, keeping those whose id
// passes the range.
func (m *memDB) rowsOf(recs []arrow.RecordBatch, rf *sdk.RangeFilter) []memRow {
	var rows []memRow
	for _, rec := range recs {
		ids, names, scores := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String), rec.Column(2).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			id := ids.Value(i)
			if rf != nil && !m.ignoreRanges {
				if rf.Lower != nil && (id < rf.Lower.Int || id == rf.Lower.Int && !rf.LowerInclusive) {
					continue
				}
				if rf.Upper != nil && (id > rf.Upper.Int || id == rf.Upper.Int && !rf.UpperInclusive) {
					continue
				}
			}
			rows = append(rows, memRow{id, names.Value(i), names.IsNull(i), scores.Value(i), scores.IsNull(i)})
		}
	}
	return rows
}

// compareBy orders two rows by one column, NULL first.
func compareBy(a, b memRow, col string) int {
	switch col {
	case "id":
		return cmp.Compare(a.id, b.id)
	case "score":
		switch {
		case a.snull || b.snull:
			return cmp.Compare(boolInt(!a.snull), boolInt(!b.snull))
		}
		return cmp.Compare(a.score, b.score)
	}
	return strings.Compare(a.name, b.name)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// record builds one batch of rows, projected to cols (empty: all).
func record(rows []memRow, cols []string) arrow.RecordBatch {
	schema := conformance.TargetSchema
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, x := range rows {
		b.Field(0).(*array.Int64Builder).Append(x.id)
		b.Field(1).(*array.StringBuilder).AppendValues([]string{x.name}, []bool{!x.nnull})
		b.Field(2).(*array.Float64Builder).AppendValues([]float64{x.score}, []bool{!x.snull})
	}
	full := b.NewRecordBatch()
	if len(cols) == 0 {
		return full
	}
	defer full.Release()
	var fields []arrow.Field
	var arrs []arrow.Array
	for _, c := range cols {
		i := schema.FieldIndices(c)[0]
		fields = append(fields, schema.Field(i))
		arrs = append(arrs, full.Column(i))
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, full.NumRows())
}

func (m *memDB) Read(_ context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	recs, err := m.table(req.Source)
	if err != nil {
		return nil, err
	}
	rows := m.rowsOf(recs, req.Range)
	if !m.ignoreOrder {
		slices.SortStableFunc(rows, func(a, b memRow) int {
			for _, o := range req.OrderBy {
				c := compareBy(a, b, o.Column)
				if o.Descending {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	rec := record(rows, req.Columns)
	defer rec.Release()
	// Split into batches honouring BatchMaxRows.
	step := rec.NumRows()
	if req.BatchMaxRows > 0 && req.BatchMaxRows < step {
		step = req.BatchMaxRows
	}
	var out []arrow.RecordBatch
	for off := int64(0); off < rec.NumRows(); off += max(1, step) {
		out = append(out, rec.NewSlice(off, min(off+max(1, step), rec.NumRows())))
	}
	return array.NewRecordReader(rec.Schema(), out)
}

func (m *memDB) Bounds(_ context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	recs, err := m.table(req.Source)
	if err != nil {
		return nil, err
	}
	if req.Column != "id" && req.Column != "score" {
		return nil, sdk.InvalidArgumentf("mem bounds id and score only, not %q", req.Column)
	}
	b := &sdk.Bounds{}
	var lo, hi *memRow
	for _, r := range m.rowsOf(recs, req.Range) {
		b.Count++
		if req.Column == "score" && r.snull {
			b.NullCount++
			continue
		}
		if lo == nil || compareBy(r, *lo, req.Column) < 0 {
			lo = &r
		}
		if hi == nil || compareBy(r, *hi, req.Column) > 0 {
			hi = &r
		}
	}
	if m.countNonNull {
		b.Count -= b.NullCount
	}
	if lo != nil {
		if req.Column == "id" {
			b.Min, b.Max = sdk.Int64Value(lo.id), sdk.Int64Value(hi.id)
		} else {
			b.Min, b.Max = &sdk.Value{Kind: sdk.KindFloat64, Float: lo.score}, &sdk.Value{Kind: sdk.KindFloat64, Float: hi.score}
		}
	}
	return b, nil
}

func (m *memDB) Write(_ context.Context, req sdk.WriteRequest, rr array.RecordReader) (*sdk.WriteResult, error) {
	var recs []arrow.RecordBatch
	n := int64(0)
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
		n += rec.NumRows()
	}
	if err := rr.Err(); err != nil {
		if m.commitBroken {
			m.commit(req, recs)
		}
		return nil, err
	}
	m.commit(req, recs)
	return &sdk.WriteResult{RowsWritten: n}, nil
}

func (m *memDB) Sync(_ context.Context, req sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	merge := req
	merge.Mode = sdk.Merge
	var recs []arrow.RecordBatch
	n := int64(0)
	for upserts.Next() {
		rec := upserts.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
		n += rec.NumRows()
	}
	if err := upserts.Err(); err != nil {
		if m.commitBroken {
			m.commit(merge, recs)
		}
		return nil, err
	}
	dk, err := deleteKeys()
	if err != nil {
		return nil, err
	}
	del := map[int64]bool{}
	for dk.Next() {
		ids := dk.RecordBatch().Column(0).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			if ids.IsNull(i) && !m.skipNullKeys {
				return nil, sdk.InvalidArgumentf("a NULL key to delete")
			}
			del[ids.Value(i)] = !ids.IsNull(i)
		}
	}
	if err := dk.Err(); err != nil {
		if m.commitBroken {
			m.commit(merge, recs)
		}
		return nil, err
	}
	m.commit(merge, recs)
	m.mu.Lock()
	defer m.mu.Unlock()
	var kept []arrow.RecordBatch
	deleted := int64(0)
	for _, r := range m.tables[req.Table.Name] {
		ids := r.Column(0).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			if del[ids.Value(i)] {
				deleted++
			} else {
				kept = append(kept, r.NewSlice(int64(i), int64(i+1)))
			}
		}
	}
	m.tables[req.Table.Name] = kept
	return &sdk.SyncResult{RowsWritten: n, RowsDeleted: deleted}, nil
}

func (m *memDB) commit(req sdk.WriteRequest, recs []arrow.RecordBatch) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch req.Mode {
	case sdk.Append:
		m.tables[req.Table.Name] = append(m.tables[req.Table.Name], recs...)
	case sdk.Replace:
		m.tables[req.Table.Name] = recs
	case sdk.Merge:
		incoming := map[int64]bool{}
		for _, r := range recs {
			for _, id := range r.Column(0).(*array.Int64).Int64Values() {
				incoming[id] = true
			}
		}
		var kept []arrow.RecordBatch
		for _, r := range m.tables[req.Table.Name] {
			ids := r.Column(0).(*array.Int64)
			for i := 0; i < ids.Len(); i++ {
				if !incoming[ids.Value(i)] {
					kept = append(kept, r.NewSlice(int64(i), int64(i+1)))
				}
			}
		}
		m.tables[req.Table.Name] = append(kept, recs...)
	}
}

// seed fills a table through the connector's own Write, in the order
// given by at: row k of n (1-based) gets id at(k, n)*10. score is NULL
// in every third row and otherwise in neither order by id.
func seed(t *testing.T, c sdk.Writer, name string, n int64, at func(k, n int64) int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, conformance.TargetSchema)
	defer b.Release()
	for k := int64(1); k <= n; k++ {
		id := at(k, n)
		b.Field(0).(*array.Int64Builder).Append(id * 10)
		if id%4 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append("n" + strings.Repeat("x", int(id%3)))
		}
		if id%3 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(float64(id%7) / 3)
		}
	}
	rec := b.NewRecordBatch()
	rr, _ := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if _, err := c.Write(context.Background(), sdk.WriteRequest{Table: sdk.ObjectRef{Name: name}, Mode: sdk.Replace}, rr); err != nil {
		t.Fatal(err)
	}
	return rec
}

// shuffled stores rows in neither order (7 is prime to the sizes used).
func shuffled(k, n int64) int64 { return k*7%n + 1 }

// descending stores rows in descending key order, which a connector
// that ignores OrderBy gets right for descending reads.
func descending(k, n int64) int64 { return n + 1 - k }

func fixture(t *testing.T, db *memDB, at func(k, n int64) int64) conformance.SourceFixture {
	expected := seed(t, db, "t", 30, at)
	t.Cleanup(expected.Release)
	seed(t, db, "large", 20000, shuffled).Release()
	db.tables["empty"] = nil
	return conformance.SourceFixture{Conn: sdk.Connection{DSN: "mem://"}, Table: sdk.ObjectRef{Name: "t"}, Expected: expected,
		KeyColumn: "id", OrderColumn: "score", Empty: sdk.ObjectRef{Name: "empty"}, Large: sdk.ObjectRef{Name: "large"}}
}

func targetFixture() conformance.TargetFixture {
	n := 0
	return conformance.TargetFixture{Conn: sdk.Connection{DSN: "mem://"}, NewTable: func(t *testing.T) sdk.ObjectRef {
		n++
		return sdk.ObjectRef{Name: fmt.Sprintf("target%d", n)}
	}}
}

// The suites pass with every batch's memory poisoned once freed: they
// keep no value of a batch past its release.
func TestSuitesPassOnAGoodConnector(t *testing.T) {
	plugintest.PoisonBatches(t)
	db := newMemDB()
	conformance.RunSourceSuite(t, plugintest.Serve(t, db), fixture(t, db, shuffled))
	conformance.RunTargetSuite(t, db, targetFixture())
}

// A mutant is memDB with one deliberate bug, and the subtests of the
// suite that must fail (and some that must pass) because of it.
type mutant struct {
	name   string
	bug    func(*memDB)
	target bool // run the target suite, not the source suite
	// storedAt is the storage order of the source table.
	storedAt func(k, n int64) int64
	fail     []string
	pass     []string
}

var mutants = []mutant{
	{name: "ignore_ranges", bug: func(m *memDB) { m.ignoreRanges = true }, storedAt: shuffled,
		fail: []string{"read_range/"}, pass: []string{"read_all", "order_by", "bounds/key"}},
	// Stored descending, the table passed the old order_by test, which
	// read descending only.
	{name: "ignore_order", bug: func(m *memDB) { m.ignoreOrder = true }, storedAt: descending,
		fail: []string{"order_by/key_ascending", "order_by/nullable_ascending", "order_by/nullable_descending"},
		pass: []string{"read_all", "read_range", "order_by/key_descending", "bounds"}},
	{name: "count_non_null", bug: func(m *memDB) { m.countNonNull = true }, storedAt: shuffled,
		fail: []string{"bounds/nullable"}, pass: []string{"bounds/key", "read_all", "order_by"}},
	{name: "commit_broken", bug: func(m *memDB) { m.commitBroken = true }, target: true,
		fail: []string{
			"broken_stream/append_in_process", "broken_stream/append_protocol",
			"broken_stream/replace_in_process", "broken_stream/replace_protocol",
			"broken_stream/merge_in_process", "broken_stream/merge_protocol",
			"broken_stream/new_table_in_process", "broken_stream/new_table_protocol",
			"sync/broken_upserts", "sync/broken_deletes",
		},
		pass: []string{"create_append", "replace", "merge", "sync/applies", "sync/null_delete_key"}},
	{name: "skip_null_keys", bug: func(m *memDB) { m.skipNullKeys = true }, target: true,
		fail: []string{"sync/null_delete_key"}, pass: []string{"sync/applies", "sync/broken_upserts", "sync/broken_deletes"}},
}

// TestSuiteFailsABrokenConnector runs the suite against each mutant in a
// child process, and expects it to fail exactly where the bug shows.
func TestSuiteFailsABrokenConnector(t *testing.T) {
	const test = "TestSuiteFailsABrokenConnector"
	if name := os.Getenv("CONFORMANCE_MUTANT"); name != "" {
		i := slices.IndexFunc(mutants, func(m mutant) bool { return m.name == name })
		if i < 0 {
			t.Fatalf("no mutant %q", name)
		}
		m, db := mutants[i], newMemDB()
		m.bug(db)
		if m.target {
			conformance.RunTargetSuite(t, db, targetFixture())
		} else {
			conformance.RunSourceSuite(t, plugintest.Serve(t, db), fixture(t, db, m.storedAt))
		}
		return
	}
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
			cmd.Env = append(os.Environ(), "CONFORMANCE_MUTANT="+m.name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed mutant %s:\n%s", m.name, out)
			}
			// A name ending in / stands for any of its subtests.
			line := func(result, sub string) string {
				l := "--- " + result + ": " + test + "/" + sub
				if !strings.HasSuffix(sub, "/") {
					l += " ("
				}
				return l
			}
			for _, sub := range m.fail {
				if !strings.Contains(string(out), line("FAIL", sub)) {
					t.Errorf("mutant %s: %s did not fail", m.name, sub)
				}
			}
			for _, sub := range m.pass {
				if strings.Contains(string(out), line("FAIL", sub)) {
					t.Errorf("mutant %s: %s failed although its bug does not touch it", m.name, sub)
				}
				if !strings.Contains(string(out), line("PASS", sub)) {
					t.Errorf("mutant %s: %s did not pass", m.name, sub)
				}
			}
			if t.Failed() {
				t.Logf("suite output:\n%s", out)
			}
		})
	}
}
