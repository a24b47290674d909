package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
	"github.com/halfpipe-io/halfpipe/sdk/host"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// TargetFixture tells the target suite where it may create tables.
type TargetFixture struct {
	Conn sdk.Connection
	// NewTable returns a fresh table name that does not exist yet; the
	// suite creates it with WriteRequest.CreateTable.
	NewTable func(t *testing.T) sdk.ObjectRef
	// ReadBack returns the rows of a table, for connectors that cannot
	// Read; nil uses the connector's own Reader.
	ReadBack func(t *testing.T, table sdk.ObjectRef) arrow.RecordBatch
	// EmptyStringIsNull says the database stores an empty string as NULL
	// (Oracle): the suite then expects NULL where it wrote "".
	EmptyStringIsNull bool
}

// TargetSchema is the schema the target suite writes: a key, a nullable
// string and a nullable double.
var TargetSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// row is one row of TargetSchema; a nil name or score is NULL.
type row struct {
	id    int64
	name  *string
	score *float64
}

func rows(from, to int64, tag string) []row {
	var out []row
	for id := from; id <= to; id++ {
		r := row{id: id}
		if id%4 != 0 {
			s := fmt.Sprintf("%s-%d é \"q\"", tag, id)
			if id%5 == 0 {
				s = ""
			}
			r.name = &s
		}
		if id%3 != 0 {
			f := float64(id) / 8
			r.score = &f
		}
		out = append(out, r)
	}
	return out
}

// errSourceBroke is the error of a source that fails mid-stream.
var errSourceBroke = errors.New("conformance: the source failed mid-stream")

// recordsOf builds a reader over rs in batches of 3, so writes span
// several batches. With failAfter >= 0 the reader fails once it has
// delivered failAfter rows, after calling beforeFail when it is not nil.
func recordsOf(rs []row, failAfter int, beforeFail func()) array.RecordReader {
	i := 0
	fill := func(b *batch.Builder) (bool, error) {
		if failAfter >= 0 && i >= failAfter {
			if beforeFail != nil {
				beforeFail()
			}
			return false, errSourceBroke
		}
		for ; i < len(rs); i++ {
			r := rs[i]
			b.Field(0).(*array.Int64Builder).Append(r.id)
			if r.name == nil {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(*r.name)
			}
			if r.score == nil {
				b.Field(2).AppendNull()
			} else {
				b.Field(2).(*array.Float64Builder).Append(*r.score)
			}
			if b.EndRow() {
				i++
				return i < len(rs) || failAfter >= 0, nil
			}
		}
		return failAfter >= 0, nil
	}
	return batch.NewReader(TargetSchema, fill, nil, batch.WithMaxRows(3))
}

// RunTargetSuite runs the target conformance tests.
//
// c must be the connector's Go value, not a *host.Remote: the suite serves
// it over the protocol itself (package plugintest), as hp uses it, and
// watches the connector's Write behind the server, so that after a Write
// whose stream broke it reads the table back only once the connector's
// Write has returned. It also calls Write in-process, where the stream
// breaks without the call being cancelled.
func RunTargetSuite(t *testing.T, c sdk.Connector, f TargetFixture) {
	t.Helper()
	if _, ok := c.(*host.Remote); ok {
		t.Fatal("RunTargetSuite needs the connector itself, not a *host.Remote: it serves the connector over the protocol and must see when the connector's Write returns")
	}
	w, ok := c.(sdk.Writer)
	if !ok {
		t.Skip("connector cannot write")
	}
	s := &targetSuite{f: f, local: w, watch: &watchedWriter{Connector: c, w: w}}
	s.remote = plugintest.Serve(t, s.watch)
	if _, ok := c.(sdk.Reader); ok {
		s.reader = plugintest.Serve(t, c)
		s.readBack = func(t *testing.T, table sdk.ObjectRef) arrow.RecordBatch {
			return readAll(t, s.reader, sdk.ReadRequest{Conn: f.Conn, Source: obj(table)})
		}
	}
	if f.ReadBack != nil {
		s.readBack = f.ReadBack
	}
	if s.readBack == nil {
		t.Fatal("TargetFixture.ReadBack is needed for a connector that cannot read")
	}

	t.Run("create_append", s.createAppend)
	t.Run("replace", s.replace)
	t.Run("merge", s.merge)
	t.Run("broken_stream", s.brokenStream)
	t.Run("sync", func(t *testing.T) { s.sync(t, c) })
}

// targetSuite is one run of the target suite.
type targetSuite struct {
	f TargetFixture
	// local is the connector called in-process; remote is it behind the
	// protocol, its Write watched by watch.
	local  sdk.Writer
	remote *host.Remote
	watch  *watchedWriter
	// reader is the connector behind the protocol when it can read, used
	// to read tables back (unless the fixture brings ReadBack) and to tell
	// that a table does not exist.
	reader   *host.Remote
	readBack func(t *testing.T, table sdk.ObjectRef) arrow.RecordBatch
}

// write writes rs over the protocol.
func (s *targetSuite) write(table sdk.ObjectRef, mode sdk.WriteMode, rs []row, keys []string) (*sdk.WriteResult, error) {
	return s.remote.Write(context.Background(), s.request(table, mode, keys), recordsOf(rs, -1, nil))
}

func (s *targetSuite) request(table sdk.ObjectRef, mode sdk.WriteMode, keys []string) sdk.WriteRequest {
	return sdk.WriteRequest{Conn: s.f.Conn, Table: table, Mode: mode, Keys: keys, CreateTable: true}
}

// expect reads table back and compares it with want, in any order.
func (s *targetSuite) expect(t *testing.T, table sdk.ObjectRef, want []row) {
	t.Helper()
	got := s.readBack(t, table)
	defer got.Release()
	if s.f.EmptyStringIsNull {
		want = slices.Clone(want)
		for i, r := range want {
			if r.name != nil && *r.name == "" {
				want[i].name = nil
			}
		}
	}
	compareRows(t, got, want)
}

func (s *targetSuite) createAppend(t *testing.T) {
	table := s.f.NewTable(t)
	first := rows(1, 10, "a")
	res, err := s.write(table, sdk.Append, first, nil)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if res.RowsWritten != 10 {
		t.Errorf("RowsWritten = %d, want 10", res.RowsWritten)
	}
	s.expect(t, table, first)
	if _, err := s.write(table, sdk.Append, rows(11, 15, "b"), nil); err != nil {
		t.Fatalf("second append: %v", err)
	}
	s.expect(t, table, append(first, rows(11, 15, "b")...))
}

func (s *targetSuite) replace(t *testing.T) {
	table := s.f.NewTable(t)
	if _, err := s.write(table, sdk.Append, rows(1, 10, "a"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write(table, sdk.Replace, rows(5, 7, "r"), nil); err != nil {
		t.Fatalf("replace: %v", err)
	}
	s.expect(t, table, rows(5, 7, "r"))
}

func (s *targetSuite) merge(t *testing.T) {
	table := s.f.NewTable(t)
	if _, err := s.write(table, sdk.Append, rows(1, 10, "a"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write(table, sdk.Merge, rows(8, 14, "m"), []string{"id"}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	s.expect(t, table, append(rows(1, 7, "a"), rows(8, 14, "m")...))
	// Merging the same rows again changes nothing: reruns are idempotent.
	if _, err := s.write(table, sdk.Merge, rows(8, 14, "m"), []string{"id"}); err != nil {
		t.Fatalf("second merge: %v", err)
	}
	s.expect(t, table, append(rows(1, 7, "a"), rows(8, 14, "m")...))
}

// brokenRows is how many rows a broken stream delivers before it fails:
// two batches, so a connector that commits what it received has something
// to commit.
const brokenRows = 6

// brokenStream checks that a Write whose input stream fails leaves the
// table exactly as it was, in every write mode, both in-process (the
// reader's Err reports the failure) and over the protocol (hp aborts the
// call and waits for the connector's Write to return). A table the Write was to create must not exist afterwards.
func (s *targetSuite) brokenStream(t *testing.T) {
	for _, mode := range []sdk.WriteMode{sdk.Append, sdk.Replace, sdk.Merge} {
		t.Run(string(mode)+"_in_process", func(t *testing.T) { s.brokenWrite(t, mode, false) })
		t.Run(string(mode)+"_protocol", func(t *testing.T) { s.brokenWrite(t, mode, true) })
	}
	t.Run("new_table_in_process", func(t *testing.T) { s.brokenCreate(t, false) })
	t.Run("new_table_protocol", func(t *testing.T) { s.brokenCreate(t, true) })
}

func (s *targetSuite) brokenWrite(t *testing.T, mode sdk.WriteMode, protocol bool) {
	table := s.f.NewTable(t)
	base := rows(1, 10, "a")
	if _, err := s.write(table, sdk.Append, base, nil); err != nil {
		t.Fatal(err)
	}
	var keys []string
	incoming := rows(100, 120, "x")
	if mode == sdk.Merge {
		keys = []string{"id"}
		incoming = rows(7, 30, "x") // updates rows 7-10 before it breaks
	}
	s.writeBroken(t, s.request(table, mode, keys), incoming, protocol)
	s.expect(t, table, base)
}

func (s *targetSuite) brokenCreate(t *testing.T, protocol bool) {
	if s.reader == nil {
		t.Skip("the connector cannot read, so the suite cannot tell whether a table exists")
	}
	table := s.f.NewTable(t)
	s.writeBroken(t, s.request(table, sdk.Append, nil), rows(1, 20, "x"), protocol)
	rr, err := s.reader.Read(context.Background(), sdk.ReadRequest{Conn: s.f.Conn, Source: obj(table)})
	if err == nil {
		n := int64(0)
		for rr.Next() {
			n += rr.RecordBatch().NumRows()
		}
		err = rr.Err()
		rr.Release()
		if err == nil {
			t.Fatalf("a Write that was to create %s failed, but left the table behind with %d rows", table, n)
		}
	}
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("reading %s, which a failed Write was to create: %v, want an error wrapping sdk.ErrNotFound", table, err)
	}
}

// writeBroken writes rs with req through a stream that fails after
// brokenRows rows. Over the protocol the host's Write must not return
// before the connector's has: hp stops a plugin after its last call, and
// a clean-up still running then (dropping a table the Write created) would
// be cut short.
func (s *targetSuite) writeBroken(t *testing.T, req sdk.WriteRequest, rs []row, protocol bool) {
	t.Helper()
	if !protocol {
		_, err := s.local.Write(context.Background(), req, recordsOf(rs, brokenRows, nil))
		if err == nil {
			t.Errorf("Write to %s (%s) whose source failed mid-stream returned no error", req.Table, req.Mode)
		}
		return
	}
	s.watch.reset()
	consumed := true
	// The stream breaks only once the connector has taken the rows before
	// the failure, so a connector that commits them has them to commit.
	rr := recordsOf(rs, brokenRows, func() { consumed = s.watch.waitRows(brokenRows, 30*time.Second) })
	_, err := s.remote.Write(context.Background(), req, rr)
	if err == nil {
		t.Errorf("Write to %s (%s) whose source failed mid-stream succeeded", req.Table, req.Mode)
	}
	if !consumed {
		t.Errorf("the connector's Write took fewer than %d rows of its stream in 30s", brokenRows)
	}
	call := s.watch.current()
	if call == nil {
		t.Fatalf("the connector's Write to %s was never called", req.Table)
	}
	select {
	case <-call.done:
	default:
		t.Fatalf("Write to %s over the protocol returned before the connector's Write had: its clean-up could be cut short", req.Table)
	}
	if call.err == nil {
		t.Errorf("the connector's Write to %s (%s) returned success although its stream broke", req.Table, req.Mode)
	}
}

// watchedWriter is a connector that can only Check and Write, whose Write
// is the wrapped connector's, watched: the suite learns how many rows the
// connector has taken from its stream and whether its Write had returned
// when the host's did.
type watchedWriter struct {
	sdk.Connector
	w sdk.Writer

	mu   sync.Mutex
	call *writeCall
}

// writeCall is one call of a watched Write.
type writeCall struct {
	rows atomic.Int64
	done chan struct{}
	err  error // valid once done is closed
}

func (ww *watchedWriter) Write(ctx context.Context, req sdk.WriteRequest, rr array.RecordReader) (res *sdk.WriteResult, err error) {
	call := &writeCall{done: make(chan struct{})}
	ww.mu.Lock()
	ww.call = call
	ww.mu.Unlock()
	returned := false
	defer func() {
		call.err = err
		if !returned {
			call.err = errors.New("the connector's Write panicked")
		}
		close(call.done)
	}()
	res, err = ww.w.Write(ctx, req, &countingReader{RecordReader: rr, rows: &call.rows})
	returned = true
	return res, err
}

func (ww *watchedWriter) reset() {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	ww.call = nil
}

func (ww *watchedWriter) current() *writeCall {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	return ww.call
}

// waitRows waits until the current Write has taken n rows or returned.
func (ww *watchedWriter) waitRows(n int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if call := ww.current(); call != nil {
			select {
			case <-call.done:
				return call.rows.Load() >= n
			default:
			}
			if call.rows.Load() >= n {
				return true
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// countingReader counts the rows a connector takes from its stream.
type countingReader struct {
	array.RecordReader
	rows *atomic.Int64
}

func (r *countingReader) Next() bool {
	if !r.RecordReader.Next() {
		return false
	}
	r.rows.Add(r.RecordReader.RecordBatch().NumRows())
	return true
}

func compareRows(t *testing.T, got arrow.RecordBatch, want []row) {
	t.Helper()
	if got.NumRows() != int64(len(want)) {
		t.Fatalf("table holds %d rows, want %d", got.NumRows(), len(want))
	}
	sorted := sortedBy(t, got, "id")
	defer sorted.Release()
	sort.Slice(want, func(a, b int) bool { return want[a].id < want[b].id })
	idx := func(name string) arrow.Array {
		i := sorted.Schema().FieldIndices(name)
		if len(i) != 1 {
			t.Fatalf("column %q missing from %v", name, sorted.Schema())
		}
		return sorted.Column(i[0])
	}
	ids, names, scores := int64Keys(t, idx("id")), idx("name"), idx("score")
	for i, w := range want {
		if ids[i] != w.id {
			t.Fatalf("row %d: id %d, want %d", i, ids[i], w.id)
		}
		gotName := "NULL"
		if !names.IsNull(i) {
			gotName = fmt.Sprintf("%q", names.ValueStr(i))
		}
		wantName := "NULL"
		if w.name != nil {
			wantName = fmt.Sprintf("%q", *w.name)
		}
		if gotName != wantName {
			t.Errorf("id %d: name %s, want %s", w.id, gotName, wantName)
		}
		switch {
		case scores.IsNull(i) != (w.score == nil):
			t.Errorf("id %d: score NULL=%v, want NULL=%v", w.id, scores.IsNull(i), w.score == nil)
		case w.score != nil:
			if g, err := strconv.ParseFloat(scores.ValueStr(i), 64); err != nil || g != *w.score {
				t.Errorf("id %d: score %s, want %v", w.id, scores.ValueStr(i), *w.score)
			}
		}
	}
}
