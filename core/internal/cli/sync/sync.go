// Package sync implements `hp sync batch`: apply the differences `hp diff`
// finds to the target, in one target transaction.
package sync

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/diff"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/meta"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	merge "github.com/halfpipe-io/halfpipe/core/internal/diff"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// batchRows is how many rows one batch of upserts or delete keys holds.
const batchRows = 8192

// Options are the inputs of `hp sync batch`.
type Options struct {
	IO             *cliutil.IOStreams
	Host           func() *host.Host
	Conns          *config.Store
	Source, Target string
	PrimaryKeys    []string
	Where          string
	NoDelete       bool
	ChunkRows      int64
	DryRun         bool
	Output         string
}

// Result is the summary `hp sync batch` prints.
type Result struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	DryRun   bool   `json:"dry_run"`
	Inserted int64  `json:"inserted"`
	Updated  int64  `json:"updated"`
	Deleted  int64  `json:"deleted"`
	// Kept counts the target's rows without a source row left in place by
	// --no-delete.
	Kept int64 `json:"kept"`
	// Chunks counts the transactions committed with --chunk-rows.
	Chunks     int64   `json:"chunks,omitempty"`
	SourceRows int64   `json:"source_rows"`
	TargetRows int64   `json:"target_rows"`
	Seconds    float64 `json:"seconds"`
}

// NewCmd returns `hp sync` with its subcommand batch.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "sync", Short: "Keep a target table in step with a source table (batch)"}
	cmd.AddCommand(newBatchCmd(f))
	return cmd
}

func newBatchCmd(f *cliutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Host: f.Host, Conns: f.Conns()}
	cmd := &cobra.Command{
		Use:   "batch <conn>.[<schema>.]<table> <conn>.[<schema>.]<table>",
		Short: "Apply the differences between two tables to the target, in one transaction",
		Long: `Make the target table hold the source table's rows: compare them by key
exactly as hp diff does, then, in one transaction of the target, upsert
the source's rows that are new or changed and delete the target's rows
whose key the source lacks (unless --no-delete). Either all of it is
applied or, on any failure, none: the target is left as it was.

The key is --primary-keys, else the source's primary key. The columns
written are the source's columns the target has (by name); a column only
the target has keeps its value in PostgreSQL, while targets that update by
DELETE and INSERT (MySQL, SQLite) give it its default. --where filters both
tables (it must read the same in both dialects): rows outside it are
neither compared nor touched.

--chunk-rows N commits every N differences (rows upserted or deleted)
instead, in key order: a failure then leaves the chunks committed before
it, and a rerun applies the rest.

--dry-run compares and prints the counts without writing. The summary
(rows inserted, updated, deleted) goes to stdout, as JSON with --output
json. The target's connector must be able to sync (PostgreSQL, MySQL,
MariaDB, SQLite). Exits 0 on success, 2 on any error.`,
		Example: `  hp sync batch pg.public.orders my.orders
  hp sync batch pg.public.orders my.orders --primary-keys region,id --no-delete
  hp sync batch pg.public.orders my.orders --dry-run --output json
  hp sync batch pg.public.orders my.orders --chunk-rows 100000`,
		Args: cliutil.ExactArgs(2, "a source and a target table (<conn>.<table> <conn>.<table>)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Source, o.Target = args[0], args[1]
			return Run(cmd.Context(), o)
		},
	}
	BindFlags(cmd.Flags(), o)
	cmd.Flags().StringVar(&o.Output, "output", "text", "Summary format: text or json")
	return cmd
}

// BindFlags adds the flags of sync batch that choose what is synced and
// how (all but --output) to fl: the command line's and AWS Lambda's.
func BindFlags(fl *pflag.FlagSet, o *Options) {
	fl.StringSliceVar(&o.PrimaryKeys, "primary-keys", nil, "Key columns, comma-separated (default: the source's primary key)")
	fl.StringVar(&o.Where, "where", "", "Predicate applied to both tables")
	fl.BoolVar(&o.NoDelete, "no-delete", false, "Keep the target's rows whose key the source lacks")
	fl.BoolVar(&o.DryRun, "dry-run", false, "Print the counts without writing")
	fl.Int64Var(&o.ChunkRows, "chunk-rows", 0, "Commit every this many differences (rows upserted or deleted) instead of in one transaction")
}

// Run syncs the tables; any error exits 2.
func Run(ctx context.Context, o *Options) error {
	res, err := Batch(ctx, o)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, res)
	}
	verb := ""
	if res.DryRun {
		verb = " (dry run: nothing written)"
	} else if res.Chunks > 0 {
		verb = fmt.Sprintf(" in %d chunks", res.Chunks)
	}
	fmt.Fprintf(o.IO.Out, "sync batch %s %s: %d inserted, %d updated, %d deleted, %d kept%s in %.1fs\n",
		res.Source, res.Target, res.Inserted, res.Updated, res.Deleted, res.Kept, verb, res.Seconds)
	return nil
}

// Batch syncs the tables and returns the summary; any error exits 2.
func Batch(ctx context.Context, o *Options) (*Result, error) {
	res, err := batch(ctx, o)
	if err != nil {
		return nil, cliutil.ExitWith(cliutil.ExitUsage, err)
	}
	return res, nil
}

func batch(ctx context.Context, o *Options) (*Result, error) {
	start := time.Now()
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return nil, err
	}
	if o.ChunkRows < 0 {
		return nil, cliutil.UsageErrorf("--chunk-rows %d: give a positive number of rows, or 0 for one transaction", o.ChunkRows)
	}
	canSync := func(t meta.Table) error {
		if t.Inst.Info.Has(sdk.CapWriteSync) {
			return nil
		}
		return fmt.Errorf("target %s cannot sync: the %s connector does not apply differences (no %s capability): %w", t, t.Inst.Info.Name, sdk.CapWriteSync, sdk.ErrUnimplemented)
	}
	p, err := diff.Open(ctx, &diff.Options{IO: o.IO, Host: o.Host, Conns: o.Conns, Source: o.Source, Target: o.Target, PrimaryKeys: o.PrimaryKeys, Where: o.Where}, canSync)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	res := &Result{Source: p.Source.String(), Target: p.Target.String(), DryRun: o.DryRun}
	var sum merge.Summary
	switch {
	case o.DryRun:
		sum, err = merge.Compare(p.Src, p.Tgt, func(merge.Difference) error { return nil })
	case o.ChunkRows > 0:
		sum, res.Chunks, err = applyChunks(ctx, p, o.NoDelete, o.ChunkRows)
	default:
		sum, err = apply(ctx, p, o.NoDelete)
	}
	if err != nil {
		return nil, err
	}
	res.Inserted, res.Updated, res.Deleted = sum.New, sum.Changed, sum.Deleted
	if o.NoDelete {
		res.Deleted, res.Kept = 0, sum.Deleted
	}
	res.SourceRows, res.TargetRows = sum.SourceRows, sum.TargetRows
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// apply runs the comparison while the target's Sync consumes its
// upserts, and hands it the keys to delete, kept in memory, at the end.
func apply(ctx context.Context, p *diff.Pair, noDelete bool) (merge.Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	up, err := newRows(p.Src, p.Src.Keys, p.Src.Columns, append(append([]string(nil), p.Tgt.Keys...), p.Tgt.Columns...))
	if err != nil {
		return merge.Summary{}, err
	}
	del, err := newRows(p.Tgt, p.Tgt.Keys, nil, p.Tgt.Keys)
	if err != nil {
		return merge.Summary{}, err
	}
	upserts := &stream{schema: up.schema, ch: make(chan arrow.RecordBatch, 1)}
	var deletes []arrow.RecordBatch
	var sum merge.Summary
	var cmpErr error
	done := make(chan struct{})
	send := func(rec arrow.RecordBatch) error {
		select {
		case upserts.ch <- rec:
			return nil
		case <-ctx.Done():
			rec.Release()
			return ctx.Err()
		}
	}
	go func() {
		defer close(done)
		defer close(upserts.ch)
		sum, cmpErr = merge.Compare(p.Src, p.Tgt, func(d merge.Difference) error {
			switch {
			case d.Status != merge.Deleted:
				if n, err := up.add(d.Record, d.Row); err != nil || n == batchRows {
					if err != nil {
						return err
					}
					rec, err := up.flush()
					if err != nil {
						return err
					}
					return send(rec)
				}
			case !noDelete:
				if n, err := del.add(d.Record, d.Row); err != nil || n == batchRows {
					if err != nil {
						return err
					}
					rec, err := del.flush()
					if err != nil {
						return err
					}
					deletes = append(deletes, rec)
				}
			}
			return nil
		})
		if cmpErr == nil && up.n > 0 {
			var rec arrow.RecordBatch
			if rec, cmpErr = up.flush(); cmpErr == nil {
				cmpErr = send(rec)
			}
		}
		if cmpErr == nil && del.n > 0 {
			var rec arrow.RecordBatch
			if rec, cmpErr = del.flush(); cmpErr == nil {
				deletes = append(deletes, rec)
			}
		}
		upserts.err.Store(&cmpErr)
	}()
	tgt := p.Target
	res, err := tgt.Inst.Sync(ctx, sdk.WriteRequest{Conn: tgt.Conn.Wire(), Table: tgt.Ref, Mode: sdk.Sync, Keys: p.Tgt.Keys}, upserts,
		func() (array.RecordReader, error) {
			<-done
			if cmpErr != nil {
				return nil, cmpErr
			}
			return array.NewRecordReader(del.schema, deletes)
		})
	cancel()
	<-done
	upserts.drain()
	up.release()
	del.release()
	for _, rec := range deletes {
		rec.Release()
	}
	// A comparison cancelled because the sync ended is not the cause.
	if cmpErr != nil && !errors.Is(cmpErr, context.Canceled) {
		return sum, fmt.Errorf("%w (%s was not changed)", cmpErr, tgt)
	}
	if err != nil {
		return sum, fmt.Errorf("syncing %s: %w (%s was not changed)", tgt, err, tgt)
	}
	if cmpErr != nil {
		return sum, cmpErr
	}
	if want := sum.New + sum.Changed; res.RowsWritten != want {
		return sum, fmt.Errorf("the %s connector wrote %d rows into %s, not the %d sent", tgt.Inst.Info.Name, res.RowsWritten, tgt, want)
	}
	return sum, nil
}

// applyChunks applies the differences in transactions of at most
// chunkRows rows upserted or deleted each, committed in key order as the
// comparison reaches them; it returns how many were committed. A failure
// leaves the target at the end of the last chunk committed: a rerun
// compares again and applies the rest.
func applyChunks(ctx context.Context, p *diff.Pair, noDelete bool, chunkRows int64) (merge.Summary, int64, error) {
	up, err := newRows(p.Src, p.Src.Keys, p.Src.Columns, append(append([]string(nil), p.Tgt.Keys...), p.Tgt.Columns...))
	if err != nil {
		return merge.Summary{}, 0, err
	}
	del, err := newRows(p.Tgt, p.Tgt.Keys, nil, p.Tgt.Keys)
	if err != nil {
		return merge.Summary{}, 0, err
	}
	var ups, dels []arrow.RecordBatch
	var pending, written, chunks int64
	release := func() {
		for _, r := range append(ups, dels...) {
			r.Release()
		}
		ups, dels, pending, written = nil, nil, 0, 0
	}
	defer func() { up.release(); del.release(); release() }()
	flush := func(r *rows, to *[]arrow.RecordBatch) error {
		if r.n == 0 {
			return nil
		}
		if r == up {
			written += int64(r.n)
		}
		rec, err := r.flush()
		if err == nil {
			*to = append(*to, rec)
		}
		return err
	}
	tgt := p.Target
	committed := func() string {
		return fmt.Sprintf("%s holds the %d chunks committed before it; rerun to apply the rest", tgt, chunks)
	}
	commit := func() error {
		// A sync stopped (a deadline, a signal) starts no chunk.
		if err := ctx.Err(); err != nil {
			return &chunkError{fmt.Errorf("stopped before chunk %d: %w (%s)", chunks+1, err, committed())}
		}
		if err := flush(up, &ups); err != nil {
			return err
		}
		if err := flush(del, &dels); err != nil {
			return err
		}
		upserts, err := array.NewRecordReader(up.schema, ups)
		if err != nil {
			return err
		}
		defer upserts.Release()
		res, err := tgt.Inst.Sync(ctx, sdk.WriteRequest{Conn: tgt.Conn.Wire(), Table: tgt.Ref, Mode: sdk.Sync, Keys: p.Tgt.Keys}, upserts,
			func() (array.RecordReader, error) { return array.NewRecordReader(del.schema, dels) })
		if err == nil && res.RowsWritten != written {
			err = fmt.Errorf("the %s connector wrote %d rows, not the %d sent", tgt.Inst.Info.Name, res.RowsWritten, written)
		}
		if err != nil {
			return &chunkError{fmt.Errorf("syncing chunk %d into %s: %w (%s)", chunks+1, tgt, err, committed())}
		}
		chunks++
		release()
		return nil
	}
	sum, err := merge.Compare(p.Src, p.Tgt, func(d merge.Difference) error {
		r, to := up, &ups
		if d.Status == merge.Deleted {
			if noDelete {
				return nil
			}
			r, to = del, &dels
		}
		if n, err := r.add(d.Record, d.Row); err != nil {
			return err
		} else if n == batchRows {
			if err := flush(r, to); err != nil {
				return err
			}
		}
		if pending++; pending == chunkRows {
			return commit()
		}
		return nil
	})
	if err == nil && pending > 0 {
		err = commit()
	}
	// A comparison that fails (a read cut by a deadline) between chunks
	// leaves the chunks committed so far.
	var ce *chunkError
	if err != nil && !errors.As(err, &ce) {
		err = fmt.Errorf("%w (%s)", err, committed())
	}
	return sum, chunks, err
}

// chunkError is a chunk's failure or a stop before one, which names the
// chunks committed.
type chunkError struct{ error }

func (e *chunkError) Unwrap() error { return e.error }

// rows gathers rows of a side's batches into new batches of some of its
// columns, renamed: runs of consecutive rows of a batch are sliced, and
// the slices concatenated when the batch is made.
type rows struct {
	schema *arrow.Schema
	idx    []int // column of each field in the side's batches
	runs   []span
	n      int
}

type span struct {
	rec        arrow.RecordBatch
	start, end int
	gathered   bool // rec is an earlier flush: its columns are the fields'
}

// newRows gathers the columns keys and cols of side, named names.
func newRows(side merge.Side, keys, cols, names []string) (*rows, error) {
	in := side.Records.Schema()
	r := &rows{}
	var fields []arrow.Field
	for i, c := range append(append([]string(nil), keys...), cols...) {
		f := in.FieldIndices(c)
		if len(f) != 1 {
			return nil, fmt.Errorf("%s has no column %q", side.Name, c)
		}
		field := in.Field(f[0])
		field.Name = names[i]
		fields = append(fields, field)
		r.idx = append(r.idx, f[0])
	}
	r.schema = arrow.NewSchema(fields, nil)
	return r, nil
}

// maxRuns bounds the batches a rows holds: rows spread thinly over a
// side (one in thousands) would otherwise keep every batch they came
// from until batchRows of them are gathered.
const maxRuns = 32

// add adds row of rec and returns the rows gathered. Past maxRuns
// batches, the rows gathered so far are copied into one batch and the
// batches they came from let go.
func (r *rows) add(rec arrow.RecordBatch, row int) (int, error) {
	if k := len(r.runs) - 1; k >= 0 && r.runs[k].rec == rec && r.runs[k].end == row {
		r.runs[k].end++
		r.n++
		return r.n, nil
	}
	if len(r.runs) == maxRuns {
		n := r.n
		gathered, err := r.flush()
		if err != nil {
			return 0, err
		}
		r.runs, r.n = []span{{rec: gathered, start: 0, end: n, gathered: true}}, n
	}
	rec.Retain()
	r.runs = append(r.runs, span{rec: rec, start: row, end: row + 1})
	r.n++
	return r.n, nil
}

// flush makes a batch of the rows gathered.
func (r *rows) flush() (arrow.RecordBatch, error) {
	defer r.release()
	cols := make([]arrow.Array, len(r.idx))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, ci := range r.idx {
		parts := make([]arrow.Array, len(r.runs))
		for j, s := range r.runs {
			col := ci
			if s.gathered {
				col = i
			}
			parts[j] = array.NewSlice(s.rec.Column(col), int64(s.start), int64(s.end))
		}
		var err error
		cols[i], err = array.Concatenate(parts, memory.DefaultAllocator)
		for _, a := range parts {
			a.Release()
		}
		if err != nil {
			return nil, fmt.Errorf("gathering column %q: %w", r.schema.Field(i).Name, err)
		}
	}
	return array.NewRecordBatch(r.schema, cols, int64(r.n)), nil
}

func (r *rows) release() {
	for _, s := range r.runs {
		s.rec.Release()
	}
	r.runs, r.n = nil, 0
}

// stream is the upserts as an array.RecordReader fed by the comparison.
type stream struct {
	schema *arrow.Schema
	ch     chan arrow.RecordBatch
	cur    arrow.RecordBatch
	err    atomic.Pointer[error]
}

func (s *stream) Schema() *arrow.Schema { return s.schema }
func (s *stream) Retain()               {}
func (s *stream) Release()              {}

func (s *stream) Next() bool {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	rec, ok := <-s.ch
	s.cur = rec
	return ok
}

func (s *stream) RecordBatch() arrow.RecordBatch { return s.cur }

// Record is RecordBatch, for the interface's older name.
func (s *stream) Record() arrow.RecordBatch { return s.cur }

func (s *stream) Err() error {
	if e := s.err.Load(); e != nil {
		return *e
	}
	return nil
}

// drain releases what the consumer left.
func (s *stream) drain() {
	for s.Next() {
	}
}
