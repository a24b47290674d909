package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
	"github.com/halfpipe-io/halfpipe/sdk/host"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// memConnector is a tiny connector over an in-memory table of (id, blob).
type memConnector struct {
	rows      int
	blobSize  int
	written   []int64
	lastRange *sdk.RangeFilter
}

var memSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "blob", Type: arrow.BinaryTypes.Binary, Nullable: true},
}, nil)

func (m *memConnector) Info() sdk.Info {
	return sdk.Info{Name: "mem", Version: "1.2.3", Schemes: []string{"mem"}, DSNExample: "mem://", Features: []sdk.Capability{sdk.CapReadQuery}}
}

func (m *memConnector) Check(ctx context.Context, c sdk.Connection) (string, error) {
	if c.DSN == "mem://bad" {
		return "", sdk.Errorf(sdk.ErrUnauthenticated, "login refused for user bob")
	}
	return "mem 1", nil
}

func (m *memConnector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	if req.Source.Object == nil || req.Source.Object.Name != "t" {
		return nil, sdk.NotFoundf("table %s does not exist", req.Source)
	}
	m.lastRange = req.Range
	next := 0
	blob := bytes.Repeat([]byte{0xAB}, m.blobSize)
	fill := func(b *batch.Builder) (bool, error) {
		ids := b.Field(0).(*array.Int64Builder)
		bl := b.Field(1).(*array.BinaryBuilder)
		for next < m.rows {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			ids.Append(int64(next))
			if next%3 == 0 {
				bl.AppendNull()
			} else {
				bl.Append(blob)
			}
			next++
			if b.EndRow() {
				return next < m.rows, nil
			}
		}
		return false, nil
	}
	return batch.NewReader(memSchema, fill, nil, batch.WithMaxRows(req.BatchMaxRows)), nil
}

func (m *memConnector) Bounds(ctx context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	return &sdk.Bounds{Min: req.Range.Lower, Max: req.Range.Upper, Count: 7, NullCount: 2}, nil
}

func (m *memConnector) Write(ctx context.Context, req sdk.WriteRequest, rr array.RecordReader) (*sdk.WriteResult, error) {
	var got []int64
	for rr.Next() {
		ids := rr.RecordBatch().Column(0).(*array.Int64)
		got = append(got, ids.Int64Values()...)
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("stream broke: %w", err)
	}
	m.written = got
	return &sdk.WriteResult{RowsWritten: int64(len(got))}, nil
}

func TestRemoteInfoAndCapabilities(t *testing.T) {
	r := plugintest.Serve(t, &memConnector{})
	info := r.Info()
	if info.Name != "mem" || info.Version != "1.2.3" || info.ProtocolVersion != sdk.ProtocolVersion {
		t.Fatalf("info = %+v", info)
	}
	for _, c := range []sdk.Capability{sdk.CapCheck, sdk.CapRead, sdk.CapBounds, sdk.CapWrite, sdk.CapReadQuery} {
		if !info.Has(c) {
			t.Errorf("missing capability %s in %v", c, info.Capabilities)
		}
	}
	for _, c := range []sdk.Capability{sdk.CapDescribe, sdk.CapLoad, sdk.CapExec, sdk.CapPlanTable} {
		if info.Has(c) {
			t.Errorf("unexpected capability %s", c)
		}
	}
	_, err := r.Describe(t.Context(), sdk.Connection{}, sdk.Source{Query: "x"})
	if !errors.Is(err, sdk.ErrUnimplemented) {
		t.Fatalf("Describe on a connector without it: %v", err)
	}
	_, err = r.PlanTable(t.Context(), sdk.PlanTableRequest{Schema: arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)})
	if !errors.Is(err, sdk.ErrUnimplemented) || !strings.Contains(err.Error(), "planning tables") {
		t.Fatalf("PlanTable on a connector without it: %v", err)
	}
}

func TestRemoteErrorKinds(t *testing.T) {
	r := plugintest.Serve(t, &memConnector{})
	_, err := r.Check(t.Context(), sdk.Connection{DSN: "mem://bad"})
	if !errors.Is(err, sdk.ErrUnauthenticated) || !strings.Contains(err.Error(), "login refused") {
		t.Fatalf("Check error = %v", err)
	}
	_, err = r.Read(t.Context(), sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "nope"}}})
	if !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Read error = %v", err)
	}
}

func TestRemoteReadLargeValuesAndBatches(t *testing.T) {
	// 5 MiB values are larger than one gRPC chunk: they must arrive whole.
	m := &memConnector{rows: 10, blobSize: 5 << 20}
	r := plugintest.Serve(t, m)
	rr, err := r.Read(t.Context(), sdk.ReadRequest{
		Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}, BatchMaxRows: 4,
		Range: &sdk.RangeFilter{Column: "id", Lower: sdk.DecimalValue("-12345678901234567890.123456789"), LowerInclusive: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Schema().Equal(memSchema) {
		t.Fatalf("schema = %v", rr.Schema())
	}
	var ids []int64
	batches := 0
	for rr.Next() {
		rec := rr.RecordBatch()
		batches++
		if rec.NumRows() > 4 {
			t.Fatalf("batch of %d rows exceeds BatchMaxRows 4", rec.NumRows())
		}
		bl := rec.Column(1).(*array.Binary)
		for i := 0; i < int(rec.NumRows()); i++ {
			id := rec.Column(0).(*array.Int64).Value(i)
			ids = append(ids, id)
			if id%3 == 0 != bl.IsNull(i) {
				t.Fatalf("row %d null = %v", id, bl.IsNull(i))
			}
			if !bl.IsNull(i) && (len(bl.Value(i)) != 5<<20 || bl.Value(i)[12345] != 0xAB) {
				t.Fatalf("row %d blob corrupted: %d bytes", id, len(bl.Value(i)))
			}
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	// Batches end at 4 rows or at the row that crosses 4 MiB, whichever
	// comes first.
	if len(ids) != 10 || ids[9] != 9 || batches < 3 {
		t.Fatalf("ids %v in %d batches", ids, batches)
	}
	if m.lastRange == nil || m.lastRange.Lower.Kind != sdk.KindDecimal || m.lastRange.Lower.Str != "-12345678901234567890.123456789" || !m.lastRange.LowerInclusive || m.lastRange.Upper != nil {
		t.Fatalf("range arrived as %+v", m.lastRange)
	}
}

// TestRemoteReadKeepsBatchesUntilSent: the chunks sent reference a batch's
// buffers, so the batch must live until gRPC has written them, and be
// released then; the host's batches are released once each. Both sides'
// batches are poisoned once freed.
func TestRemoteReadKeepsBatchesUntilSent(t *testing.T) {
	alloc := plugintest.PoisonBatches(t)
	const rows = 300
	r := plugintest.Serve(t, &memConnector{rows: rows, blobSize: 64 << 10})
	rr, err := r.Read(t.Context(), sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}, BatchMaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rr.Next() {
		rec := rr.RecordBatch()
		ids, bl := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Binary)
		for i := 0; i < int(rec.NumRows()); i++ {
			if ids.Value(i) != int64(n) {
				t.Fatalf("row %d has id %d", n, ids.Value(i))
			}
			if v := bl.Value(i); !bl.IsNull(i) && (len(v) != 64<<10 || bytes.Count(v, []byte{0xAB}) != len(v)) {
				t.Fatalf("row %d: blob of %d bytes, %d of them as sent", n, len(v), bytes.Count(v, []byte{0xAB}))
			}
			n++
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	rr.Release()
	if n != rows {
		t.Fatalf("%d rows, want %d", n, rows)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alloc.Live() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if live := alloc.Live(); live != 0 {
		t.Fatalf("%d buffers of the batches never released", live)
	}
}

func TestRemoteEmptyReadKeepsSchema(t *testing.T) {
	r := plugintest.Serve(t, &memConnector{rows: 0})
	rr, err := r.Read(t.Context(), sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Schema().Equal(memSchema) || rr.Next() || rr.Err() != nil {
		t.Fatalf("schema %v err %v", rr.Schema(), rr.Err())
	}
}

func TestRemoteBoundsValuesExact(t *testing.T) {
	r := plugintest.Serve(t, &memConnector{})
	ts := time.Date(2024, 3, 31, 1, 59, 59, 123456789, time.FixedZone("x", 3600))
	b, err := r.Bounds(t.Context(), sdk.BoundsRequest{Column: "c", Range: &sdk.RangeFilter{Column: "c",
		Lower: sdk.TimestampValue(ts), Upper: &sdk.Value{Kind: sdk.KindUint64, Uint: 1<<64 - 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Min.Time.Equal(ts) || b.Min.Time.Location() != time.UTC || b.Max.Uint != 1<<64-1 || b.Count != 7 || b.NullCount != 2 {
		t.Fatalf("bounds = %+v / %+v", b.Min, b.Max)
	}
}

func TestRemoteWrite(t *testing.T) {
	m := &memConnector{}
	r := plugintest.Serve(t, m)
	mk := func(from, n int64) arrow.RecordBatch {
		bld := array.NewRecordBuilder(memory.DefaultAllocator, memSchema)
		defer bld.Release()
		for i := from; i < from+n; i++ {
			bld.Field(0).(*array.Int64Builder).Append(i)
			bld.Field(1).AppendNull()
		}
		return bld.NewRecordBatch()
	}
	rr, _ := array.NewRecordReader(memSchema, []arrow.RecordBatch{mk(0, 3), mk(3, 4)})
	res, err := r.Write(t.Context(), sdk.WriteRequest{Table: sdk.ObjectRef{Name: "t"}, Mode: sdk.Append}, rr)
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 7 || len(m.written) != 7 || m.written[6] != 6 {
		t.Fatalf("wrote %d: %v", res.RowsWritten, m.written)
	}

	// A source that fails mid-stream must fail the Write, not commit part of it.
	m.written = nil
	bad := batch.NewReader(memSchema, func(b *batch.Builder) (bool, error) { return false, errors.New("source died") }, nil)
	_, err = r.Write(t.Context(), sdk.WriteRequest{Table: sdk.ObjectRef{Name: "t"}, Mode: sdk.Append}, bad)
	if err == nil || !strings.Contains(err.Error(), "source died") {
		t.Fatalf("Write with a failing source: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if m.written != nil {
		t.Fatalf("connector committed %v from a broken stream", m.written)
	}
}

// dyingReader fails once its records are read, as a source that dies.
type dyingReader struct{ array.RecordReader }

func (d *dyingReader) Err() error { return errors.New("source died") }

// slowCleanup is a target whose roll-back takes a while once its records
// fail, as dropping a table it created or removing staged files does.
type slowCleanup struct {
	cleaned atomic.Bool
	saw     atomic.Value // the records' error
}

func (s *slowCleanup) Info() sdk.Info {
	return sdk.Info{Name: "slow", Version: "1", Schemes: []string{"slow"}, DSNExample: "slow://"}
}

func (s *slowCleanup) Check(context.Context, sdk.Connection) (string, error) { return "slow", nil }

func drain(rr array.RecordReader) error {
	for rr.Next() {
	}
	return rr.Err()
}

// cleanup rolls back after err, slowly.
func (s *slowCleanup) cleanup(err error) error {
	if err != nil {
		s.saw.Store(err.Error())
		time.Sleep(300 * time.Millisecond)
		s.cleaned.Store(true)
	}
	return err
}

func (s *slowCleanup) Write(_ context.Context, _ sdk.WriteRequest, rr array.RecordReader) (*sdk.WriteResult, error) {
	return &sdk.WriteResult{}, s.cleanup(drain(rr))
}

func (s *slowCleanup) Sync(_ context.Context, _ sdk.WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*sdk.SyncResult, error) {
	err := drain(upserts)
	if err == nil {
		var dk array.RecordReader
		if dk, err = deleteKeys(); err == nil {
			err = drain(dk)
		}
	}
	return &sdk.SyncResult{}, s.cleanup(err)
}

// A Write or Sync whose records fail returns only once the plugin has
// rolled back: hp stops the plugin right after, which must not cut its
// clean-up short.
func TestRemoteWriteAbortWaitsForCleanup(t *testing.T) {
	// A batch goes through, then the source dies.
	failing := func() array.RecordReader {
		rec := func() arrow.RecordBatch {
			bld := array.NewRecordBuilder(memory.DefaultAllocator, memSchema)
			defer bld.Release()
			bld.Field(0).(*array.Int64Builder).Append(1)
			bld.Field(1).AppendNull()
			return bld.NewRecordBatch()
		}()
		ok, _ := array.NewRecordReader(memSchema, []arrow.RecordBatch{rec})
		return &dyingReader{RecordReader: ok}
	}
	empty := func() (array.RecordReader, error) { return array.NewRecordReader(memSchema, nil) }
	req := sdk.WriteRequest{Table: sdk.ObjectRef{Name: "t"}, Mode: sdk.Append}
	for name, call := range map[string]func(*host.Remote) error{
		"write": func(r *host.Remote) error { _, err := r.Write(t.Context(), req, failing()); return err },
		"sync upserts": func(r *host.Remote) error {
			_, err := r.Sync(t.Context(), req, failing(), empty)
			return err
		},
		"sync deletes": func(r *host.Remote) error {
			ok, _ := array.NewRecordReader(memSchema, nil)
			_, err := r.Sync(t.Context(), req, ok, func() (array.RecordReader, error) { return failing(), nil })
			return err
		},
	} {
		s := &slowCleanup{}
		r := plugintest.Serve(t, s)
		if !r.Info().Has(sdk.CapWriteAbort) {
			t.Fatalf("%s: capabilities %v lack %s", name, r.Info().Capabilities, sdk.CapWriteAbort)
		}
		err := call(r)
		if err == nil || !strings.Contains(err.Error(), "source died") {
			t.Fatalf("%s: %v, want the source's error", name, err)
		}
		if !s.cleaned.Load() {
			t.Fatalf("%s returned before the plugin's clean-up ended", name)
		}
		if saw, _ := s.saw.Load().(string); !strings.Contains(saw, "aborted") {
			t.Errorf("%s: the connector's records failed with %q, want the host's abort", name, saw)
		}
	}
}
