// Package batch builds Arrow record batches that stay within a row and a
// byte budget, so that a wide row and a narrow row table both travel in
// batches of a few MiB.
//
// A producer appends rows to a [Builder]'s field builders and calls
// [Builder.EndRow] after each row, which reports whether the batch is full;
// [NewReader] turns such a producer (a [FillFunc], which reports whether
// more rows follow) into an [array.RecordReader], which is what a
// connector's Read returns.
package batch

import (
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk/internal/batchmem"
)

// Defaults for batch limits.
const (
	DefaultMaxRows  = 128 * 1024
	DefaultMaxBytes = 4 << 20
)

// minRowCap is the fewest rows reserved for a batch: a short batch (the
// end of a partition, say) does not hold back the ones after it.
const minRowCap = 1024

// checkEvery is the most rows that pass between byte estimates; estimating
// walks every column, so doing it on every row would cost more than the
// rows themselves for narrow tables. Large rows are checked sooner: the
// next check comes when half the remaining budget may have been used, at
// the rate seen so far, so a batch of multi-megabyte values stops at the
// first row that crosses the budget.
const checkEvery = 32

type config struct {
	maxRows  int
	maxBytes int
	mem      memory.Allocator
}

// Option configures a Builder or Reader.
type Option func(*config)

// WithMaxRows caps the rows of each batch (0 or less = default).
func WithMaxRows(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxRows = int(n)
		}
	}
}

// WithMaxBytes caps the estimated bytes of each batch (0 or less =
// default). A single row larger than the cap still makes a batch of one.
func WithMaxBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBytes = int(n)
		}
	}
}

// WithAllocator sets the Arrow allocator (default: [Allocator]).
func WithAllocator(mem memory.Allocator) Option { return func(c *config) { c.mem = mem } }

// Allocator returns the allocator for batches a connector sends: a pool
// that hands the buffers of a batch the host has received to the next
// one. A connector that makes a batch's buffers itself takes them from
// here (memory.NewResizableBuffer) so that they return to the pool.
func Allocator() memory.Allocator { return batchmem.Allocator() }

// OverwrittenAllocator returns the pool of [Allocator] for buffers the
// connector writes in full before it sends them, such as the bytes of
// variable-length values appended one after the other: a reused buffer
// is handed out as the last batch left it, not cleared (clearing costs
// as much as writing the bytes once more), so the connector must write
// every byte its arrays cover and give each [memory.Buffer] only those
// bytes (a Go slice of the written length). Under
// plugintest.PoisonBatches its buffers come filled with
// plugintest.PoisonByte, so a test shows a byte read before it is
// written.
func OverwrittenAllocator() memory.Allocator { return batchmem.Overwritten() }

func newConfig(opts []Option) config {
	c := config{maxRows: DefaultMaxRows, maxBytes: DefaultMaxBytes, mem: Allocator()}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Builder is an [array.RecordBuilder] that knows when its batch is full.
type Builder struct {
	*array.RecordBuilder
	cfg      config
	rows     int
	nextSize int
	dataLen  []int // per field, of the last batch
	// rowCap is the rows reserved for the batch being built (0: none
	// yet); the batch is full when it reaches them.
	rowCap int
}

// NewBuilder returns a Builder for the schema.
func NewBuilder(schema *arrow.Schema, opts ...Option) *Builder {
	cfg := newConfig(opts)
	return &Builder{RecordBuilder: array.NewRecordBuilder(cfg.mem, schema), cfg: cfg, nextSize: 1}
}

// Rows is the number of rows in the batch being built.
func (b *Builder) Rows() int { return b.rows }

// EndRow records that one more row has been appended to every field and
// reports whether the batch is now full: a [FillFunc] then returns, and
// the rows appended so far become one batch.
func (b *Builder) EndRow() (full bool) {
	b.rows++
	if b.rows >= b.cfg.maxRows || (b.rowCap > 0 && b.rows >= b.rowCap) {
		return true
	}
	if b.rows < b.nextSize {
		return false
	}
	est := b.EstimatedBytes()
	if est >= b.cfg.maxBytes {
		return true
	}
	perRow := max(1, est/b.rows)
	b.nextSize = b.rows + max(1, min(checkEvery, (b.cfg.maxBytes-est)/perRow/2))
	return false
}

// EstimatedBytes estimates the memory held by the batch being built.
func (b *Builder) EstimatedBytes() int {
	n := 0
	for _, f := range b.Fields() {
		n += builderBytes(f)
	}
	return n
}

// NewBatch returns the built batch and resets the builder, sized like the
// batch just built: builders that grow by doubling copy their buffers over
// and over through every batch, which costs more than the rows themselves.
//
// The next batch gets the rows of this one and an eighth, exactly, and is
// full when it reaches them. Builders round what they reserve up to a
// power of two: a batch cut by bytes at 2,600 rows of 200 columns held
// memory for 4,096 (its arrays trim their buffers by reslicing, which
// keeps the memory under them) until it was released, beyond the bytes
// counted in flight. Variable-length data gets an eighth more than the
// last batch's too, up to one and a half budgets: a batch of 1 MiB values
// ends past its budget, and a data buffer reserved at the budget doubled
// to 8 MiB for the value that crossed it.
func (b *Builder) NewBatch() arrow.RecordBatch {
	rows := b.rows
	fields := b.Fields()
	if len(b.dataLen) != len(fields) {
		b.dataLen = make([]int, len(fields))
	}
	for i, f := range fields {
		if d, ok := f.(interface{ DataLen() int }); ok {
			b.dataLen[i] = d.DataLen()
		}
	}
	b.rows = 0
	b.nextSize = 1
	rec := b.RecordBuilder.NewRecordBatch()
	b.rowCap = min(b.cfg.maxRows, max(minRowCap, rows+rows/8))
	for i, f := range fields {
		f.Resize(b.rowCap)
		if d, ok := f.(interface{ ReserveData(int) }); ok && b.dataLen[i] > 0 {
			d.ReserveData(min(b.dataLen[i]+b.dataLen[i]/8, b.cfg.maxBytes+b.cfg.maxBytes/2))
		}
	}
	return rec
}

func builderBytes(b array.Builder) int {
	n := b.Len()
	switch x := b.(type) {
	case *array.BinaryBuilder:
		return x.DataLen() + 8*n
	case *array.StringBuilder:
		return x.DataLen() + 8*n
	case *array.LargeStringBuilder:
		return x.DataLen() + 8*n
	case *array.ListBuilder:
		return builderBytes(x.ValueBuilder()) + 4*n
	case *array.StructBuilder:
		s := 0
		for i := 0; i < x.NumField(); i++ {
			s += builderBytes(x.FieldBuilder(i))
		}
		return s + n
	case *array.FixedSizeBinaryBuilder:
		return x.Type().(*arrow.FixedSizeBinaryType).ByteWidth*n + n
	}
	if fw, ok := b.Type().(arrow.FixedWidthDataType); ok {
		w := fw.BitWidth() / 8
		if w == 0 {
			w = 1
		}
		return w*n + n/8
	}
	return 8 * n
}

// FillFunc appends rows to b until [Builder.EndRow] reports the batch full
// or the source has no rows left. It reports whether more rows follow:
// more=true when it stopped because the batch is full and rows remain (it
// is called again for the next batch), more=false when the source is
// exhausted. Either way the rows it appended are delivered. A non-nil err
// ends the stream with that error; rows appended in that call are dropped.
//
// A fill function that returns more=true without appending a row is
// called again; one that can tell only after reading that no row
// remained may simply return false then.
type FillFunc func(b *Builder) (more bool, err error)

// NewReader returns a RecordReader that calls fill to build each batch.
// release, when not nil, is called once when the reader is released (to
// close a cursor, say).
func NewReader(schema *arrow.Schema, fill FillFunc, release func(), opts ...Option) array.RecordReader {
	r := &reader{schema: schema, fill: fill, release: release, b: NewBuilder(schema, opts...)}
	r.refs.Store(1)
	return r
}

type reader struct {
	refs    atomic.Int64
	schema  *arrow.Schema
	fill    FillFunc
	release func()
	b       *Builder
	cur     arrow.RecordBatch
	done    bool
	err     error
}

func (r *reader) Retain()                        { r.refs.Add(1) }
func (r *reader) Schema() *arrow.Schema          { return r.schema }
func (r *reader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *reader) Record() arrow.RecordBatch      { return r.cur }
func (r *reader) Err() error                     { return r.err }

func (r *reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for !r.done && r.err == nil {
		more, err := r.fill(r.b)
		r.done, r.err = !more, err
		if err != nil {
			return false
		}
		if r.b.Rows() > 0 {
			r.cur = r.b.NewBatch()
			return true
		}
	}
	return false
}

func (r *reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.b.Release()
	if r.release != nil {
		r.release()
	}
}
