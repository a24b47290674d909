package conformance_test

import (
	"context"
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

// memDB is an in-memory connector holding tables of conformance.TargetSchema.
// It lets the suites run against a known-good connector; broken variants
// show that the suites catch mistakes.
type memDB struct {
	mu     sync.Mutex
	tables map[string][]arrow.RecordBatch
	// ignoreRanges is a deliberate bug for the negative test.
	ignoreRanges bool
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

// filter keeps the rows of recs whose id passes the range, in one batch.
func (m *memDB) filter(recs []arrow.RecordBatch, rf *sdk.RangeFilter, cols []string, desc bool) arrow.RecordBatch {
	type r struct {
		id    int64
		name  string
		nnull bool
		score float64
		snull bool
	}
	var rows []r
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
			rows = append(rows, r{id, names.Value(i), names.IsNull(i), scores.Value(i), scores.IsNull(i)})
		}
	}
	slices.SortFunc(rows, func(a, b r) int {
		if desc {
			a, b = b, a
		}
		return int(a.id - b.id)
	})
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
	desc := len(req.OrderBy) > 0 && req.OrderBy[0].Descending
	rec := m.filter(recs, req.Range, req.Columns, desc)
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
	rec := m.filter(recs, req.Range, nil, false)
	defer rec.Release()
	b := &sdk.Bounds{Count: rec.NumRows()}
	if rec.NumRows() > 0 {
		ids := rec.Column(0).(*array.Int64)
		b.Min, b.Max = sdk.Int64Value(ids.Value(0)), sdk.Int64Value(ids.Value(ids.Len()-1))
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
		return nil, err
	}
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
	return &sdk.WriteResult{RowsWritten: n}, nil
}

// seed fills a table through the connector's own Write.
func seed(t *testing.T, c sdk.Writer, name string, rows int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, conformance.TargetSchema)
	defer b.Release()
	for id := int64(1); id <= rows; id++ {
		b.Field(0).(*array.Int64Builder).Append(id * 10)
		if id%4 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append("n" + strings.Repeat("x", int(id%3)))
		}
		if id%3 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(float64(id) / 3)
		}
	}
	rec := b.NewRecordBatch()
	rr, _ := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if _, err := c.Write(context.Background(), sdk.WriteRequest{Table: sdk.ObjectRef{Name: name}, Mode: sdk.Replace}, rr); err != nil {
		t.Fatal(err)
	}
	return rec
}

func fixture(t *testing.T, db *memDB) conformance.SourceFixture {
	expected := seed(t, db, "t", 30)
	seed(t, db, "large", 20000)
	db.tables["empty"] = nil
	return conformance.SourceFixture{Conn: sdk.Connection{DSN: "mem://"}, Table: sdk.ObjectRef{Name: "t"}, Expected: expected,
		KeyColumn: "id", Empty: sdk.ObjectRef{Name: "empty"}, Large: sdk.ObjectRef{Name: "large"}}
}

func TestSuitesPassOnAGoodConnector(t *testing.T) {
	db := newMemDB()
	f := fixture(t, db)
	remote := plugintest.Serve(t, db)
	conformance.RunSourceSuite(t, remote, f)
	n := 0
	conformance.RunTargetSuite(t, remote, conformance.TargetFixture{Conn: f.Conn, NewTable: func(t *testing.T) sdk.ObjectRef {
		n++
		return sdk.ObjectRef{Name: "target" + strings.Repeat("x", n)}
	}})
}

// TestSuiteFailsABrokenConnector runs the source suite against a connector
// that ignores range filters, in a child process, and expects it to fail
// in read_range only.
func TestSuiteFailsABrokenConnector(t *testing.T) {
	if os.Getenv("CONFORMANCE_BROKEN") == "1" {
		db := newMemDB()
		db.ignoreRanges = true
		conformance.RunSourceSuite(t, plugintest.Serve(t, db), fixture(t, db))
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteFailsABrokenConnector$", "-test.v")
	cmd.Env = append(os.Environ(), "CONFORMANCE_BROKEN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed a connector that ignores ranges:\n%s", out)
	}
	if !strings.Contains(string(out), "--- FAIL: TestSuiteFailsABrokenConnector/read_range/") {
		t.Fatalf("the suite failed, but not in read_range:\n%s", out)
	}
	if strings.Contains(string(out), "--- FAIL: TestSuiteFailsABrokenConnector/read_all") {
		t.Fatalf("read_all failed although full reads are correct:\n%s", out)
	}
}
