package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Connector is the PostgreSQL connector: the generic sqlsource connector,
// with table reads served by COPY ... TO STDOUT (FORMAT binary) decoded
// straight into Arrow buffers (columns.go).
type Connector struct {
	*sqlsource.Connector
}

// literal renders a filter value as a SQL literal of the column's own
// type: COPY takes no parameters. Every form is validated or escaped, so a value cannot carry
// SQL.
func literal(v *sdk.Value) (string, error) {
	switch v.Kind {
	case sdk.KindInt64:
		return strconv.FormatInt(v.Int, 10), nil
	case sdk.KindUint64:
		return strconv.FormatUint(v.Uint, 10), nil
	case sdk.KindFloat64:
		return "'" + strconv.FormatFloat(v.Float, 'g', -1, 64) + "'::float8", nil
	case sdk.KindDecimal:
		if _, err := sqlsource.ParseDecimal(v.Str, 16383); err != nil {
			return "", sdk.InvalidArgumentf("bound %q is not a decimal", v.Str)
		}
		return "'" + v.Str + "'::numeric", nil
	case sdk.KindString:
		return "'" + strings.ReplaceAll(v.Str, "'", "''") + "'", nil
	case sdk.KindTimestamp:
		// Untyped, so it takes the column's type: a timestamptz literal
		// would turn a timestamp column into an instant in the session's
		// zone. A timestamp column ignores the offset; timestamptz uses it.
		return "'" + v.Time.UTC().Format("2006-01-02 15:04:05.999999") + "+00'", nil
	case sdk.KindDate:
		return "'" + time.Unix(v.Int*86400, 0).UTC().Format("2006-01-02") + "'::date", nil
	case sdk.KindBool:
		return strconv.FormatBool(v.Bool), nil
	}
	return "", sdk.InvalidArgumentf("bounds of kind %v are not supported", v.Kind)
}

// Read serves table reads with COPY BINARY when every column has a binary
// decoder here, and everything else through the generic reader.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	if req.Source.Object == nil {
		return c.Connector.Read(ctx, req)
	}
	if req.Where != "" {
		if err := sqlguard.Predicate(sqlguard.Postgres, req.Where); err != nil {
			return nil, fmt.Errorf("%w: where %q: %w", sdk.ErrInvalidArgument, req.Where, err)
		}
	}
	// Only the columns read are mapped: an unmappable column left out by
	// --columns does not fail the read.
	desc, err := c.Connector.DescribeColumns(ctx, req.Conn, req.Source, req.Columns)
	if err != nil {
		return nil, err
	}
	n := len(desc.Columns)
	fields := make([]arrow.Field, n)
	decoders := make([]binDecoder, n)
	quoted := make([]string, n)
	natives := make([]string, n)
	for k, col := range desc.Columns {
		fields[k] = desc.Schema.Field(k)
		natives[k] = col.NativeType
		var cast string
		cast, decoders[k] = copyPlan(natives[k], fields[k].Type)
		if decoders[k] == nil {
			return c.Connector.Read(ctx, req)
		}
		quoted[k] = sqlsource.QuoteDouble(col.Name) + cast
	}
	slice, err := c.Connector.Slice(ctx, req)
	if err != nil {
		return nil, err
	}
	if slice != nil {
		defer slice.Abandon()
		req.Where = slice.Filter(req.Where)
	}
	q, err := copySQL(req, quoted)
	if err != nil {
		return nil, err
	}
	return startCopy(ctx, req, arrow.NewSchema(fields, nil), natives, decoders, q, slice)
}

// copyPlan returns how COPY selects a column (a cast to append to its
// name, or "") and the decoder of what it sends. Types read as text that
// have no binary decoder here are cast to text, arrays of them to text[],
// so a table read never leaves COPY; nil means the generic reader.
func copyPlan(native string, typ arrow.DataType) (string, binDecoder) {
	if dec := binaryDecoder(native); dec != nil {
		return "", dec
	}
	if lt, ok := typ.(*arrow.ListType); ok && lt.Elem().ID() == arrow.STRING {
		if _, ok := arrayElement(strings.ToLower(native)); ok {
			return "::text[]", decodeArray(decodeText)
		}
	}
	if typ.ID() == arrow.STRING {
		return "::text", decodeText
	}
	return "", nil
}

func copySQL(req sdk.ReadRequest, cols []string) (string, error) {
	from := quoteTable(*req.Source.Object)
	var conds []string
	r := req.Range
	if spans := sqlsource.RangeSpans(r); len(spans) > 0 {
		// Many spans as a condition are a scan of the whole key range
		// around them, each row tested against every span; as a join, an
		// index range scan per span. The spans hold the range's bounds.
		from, r = sqlsource.SpansFrom(from, sqlsource.QuoteDouble(r.Column), req.Where, spans), nil
	} else if req.Where != "" {
		conds = append(conds, "("+req.Where+")")
	}
	if r != nil {
		col := sqlsource.QuoteDouble(r.Column)
		if r.Lower != nil {
			lit, err := literal(r.Lower)
			if err != nil {
				return "", err
			}
			op := ">"
			if r.LowerInclusive {
				op = ">="
			}
			conds = append(conds, col+" "+op+" "+lit)
		}
		if r.Upper != nil {
			lit, err := literal(r.Upper)
			if err != nil {
				return "", err
			}
			op := "<"
			if r.UpperInclusive {
				op = "<="
			}
			conds = append(conds, col+" "+op+" "+lit)
		}
		if len(r.Spans) > 0 {
			conds = append(conds, sqlsource.SpansSQL(col, r.Spans))
		}
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + from
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	if len(req.OrderBy) > 0 {
		parts := make([]string, len(req.OrderBy))
		for i, o := range req.OrderBy {
			col := sqlsource.QuoteDouble(o.Column)
			if o.Binary {
				col += ` COLLATE "C"`
			}
			// PostgreSQL sorts NULL last ascending; the contract wants it first.
			parts[i] = col + " NULLS FIRST"
			if o.Descending {
				parts[i] = col + " DESC NULLS LAST"
			}
		}
		q += " ORDER BY " + strings.Join(parts, ", ")
	}
	return "COPY (" + q + ") TO STDOUT (FORMAT binary)", nil
}

// headerSeen waits until a COPY has sent its header or ended, and reports
// whether the header came: a COPY that ended may have sent it too, and
// select picks at random among channels that are both closed.
func headerSeen(started, done <-chan struct{}) bool {
	select {
	case <-started:
		return true
	case <-done:
	}
	select {
	case <-started:
		return true
	default:
		return false
	}
}

// startCopy runs COPY on its own connection, not one of the pool's: on
// PostgreSQL 15 a binary COPY of a wide table that is not the session's
// first statement took eight times the server's CPU (docs/benchmarks.md,
// "Cold start"). pgconn hands each CopyData
// message (one row) to a rowDecoder, which decodes the fields in place into
// Arrow columns on that goroutine and passes full batches to the returned
// reader, so decoding overlaps with whatever consumes the batches.
func startCopy(ctx context.Context, req sdk.ReadRequest, schema *arrow.Schema, natives []string, decoders []binDecoder, q string, slice *sqlsource.Slice) (array.RecordReader, error) {
	ctx, cancel := context.WithCancel(ctx)
	cfg, err := pgconn.ParseConfig(req.Conn.DSN)
	var pc *pgconn.PgConn
	if err == nil {
		// pgproto3 reads the socket 8 KiB at a time; a larger buffer beneath
		// it takes what the server has sent in one system call.
		cfg.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
			return pgproto3.NewFrontend(bufio.NewReaderSize(r, 256<<10), w)
		}
		pc, err = pgconn.ConnectConfig(ctx, cfg)
	}
	if err != nil {
		cancel()
		if te := tlsError(err, req.Conn.DSN); te != nil {
			return nil, te
		}
		return nil, sdk.MaskErr(dialect.Classify(err), req.Conn.DSN)
	}
	// COPY runs in a read-only transaction too (a slice's in its group's
	// snapshot); the connection is closed after the read, which ends it.
	begin := func() error {
		_, err := pc.Exec(ctx, "BEGIN READ ONLY").ReadAll()
		return err
	}
	if slice != nil {
		begin = func() error {
			_, err := slice.Begin(ctx, pc)
			return err
		}
	}
	if r := req.Range; r != nil && len(r.Spans) > 0 {
		// The join of spans (copySQL): see spansSession.
		next := begin
		begin = func() error {
			if err := next(); err != nil {
				return err
			}
			for _, s := range spansSession {
				if _, err := pc.Exec(ctx, s).ReadAll(); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := begin(); err != nil {
		pc.Close(context.Background())
		cancel()
		return nil, sdk.MaskErr(dialect.Classify(fmt.Errorf("beginning a read-only transaction: %w", err)), req.Conn.DSN)
	}
	d := newRowDecoder(ctx, schema, natives, decoders, req.BatchMaxRows, req.BatchMaxBytes)
	r := &copyReader{schema: schema, d: d, cancel: cancel, pc: pc, done: make(chan struct{})}
	r.refs.Store(1)
	go func() {
		defer close(r.done)
		defer close(d.out)
		defer d.release()
		_, err := pc.CopyTo(ctx, d, q)
		if d.err != nil {
			// The decoder's own error, which pgconn returned as it was.
			err = d.err
		} else if err != nil {
			err = dialect.Classify(err)
		} else {
			err = d.finish()
		}
		r.err = err
	}()
	// Wait for the header, so that a bad query fails Read itself.
	if headerSeen(d.started, r.done) {
		return r, nil
	}
	err = r.err
	r.Release()
	if err == nil {
		err = errors.New("COPY ended before its header")
	}
	return nil, err
}

// copyReader is the RecordReader of a COPY: it takes the batches the
// decoder sends.
type copyReader struct {
	refs   atomic.Int64
	schema *arrow.Schema
	d      *rowDecoder
	cancel context.CancelFunc
	pc     *pgconn.PgConn
	cur    arrow.RecordBatch
	done   chan struct{}
	err    error // set before done is closed
	ended  bool
	once   sync.Once
}

func (r *copyReader) Retain()                        { r.refs.Add(1) }
func (r *copyReader) Schema() *arrow.Schema          { return r.schema }
func (r *copyReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *copyReader) Record() arrow.RecordBatch      { return r.cur }

func (r *copyReader) Next() bool {
	if r.cur != nil {
		r.d.flight.Done(r.cur)
		r.cur.Release()
		r.cur = nil
	}
	if rec, ok := <-r.d.out; ok {
		r.cur = rec
		return true
	}
	<-r.done
	r.ended = true
	return false
}

func (r *copyReader) Err() error {
	if r.ended {
		return r.err
	}
	return nil
}

// Release stops a COPY still running (cancelling closes its connection),
// waits for its goroutine and closes the connection.
func (r *copyReader) Release() {
	if r.refs.Add(-1) > 0 {
		return
	}
	r.once.Do(func() {
		r.cancel()
		if r.cur != nil {
			r.d.flight.Done(r.cur)
			r.cur.Release()
			r.cur = nil
		}
		for rec := range r.d.out {
			rec.Release()
		}
		<-r.done
		r.pc.Close(context.Background())
	})
}
