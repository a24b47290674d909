// Package diff implements `hp diff`: compare a source and a target table
// by key and print the keys that differ.
package diff

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/meta"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	merge "github.com/halfpipe-io/halfpipe/core/internal/diff"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Options are the inputs of `hp diff`.
type Options struct {
	IO             *cliutil.IOStreams
	Host           func() *host.Host
	Conns          *config.Store
	Source, Target string
	PrimaryKeys    []string
	Columns        []string
	Where          string
	Output         string
	// Hash compares per-range checksums first (--hash); HashRows is the
	// rows per range, HashParallel the checksum queries run at once on
	// each side.
	Hash         bool
	HashRows     int64
	HashParallel int
}

// Result is the summary `hp diff --output json` prints on stderr.
type Result struct {
	Source string `json:"source"`
	Target string `json:"target"`
	merge.Summary
	Hash    *HashStats `json:"hash,omitempty"`
	Seconds float64    `json:"seconds"`
}

// NewCmd returns `hp diff`.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Host: f.Host, Conns: f.Conns()}
	cmd := &cobra.Command{
		Use:   "diff <conn>.[<schema>.]<table> <conn>.[<schema>.]<table>",
		Short: "Compare two tables by key: print the new, changed and deleted keys as JSON lines",
		Long: `Compare a source and a target table by key, in any two databases.

Both tables are read ordered by the key (text keys by their UTF-8 bytes, so
that databases of different collations agree) and merged, holding one batch
of each at a time whatever their size. Values compare exactly by type:
integers of any width, decimals of any scale (1.50 equals 1.5), integers
with decimals, timestamps as instants (a timestamp without a zone is UTC).

Each key that differs is one JSON line on stdout:
  {"status":"new","key":{"id":7},"columns":[]}          only in the source
  {"status":"changed","key":{"id":8},"columns":["total"]} columns that differ
  {"status":"deleted","key":{"id":9},"columns":[]}      only in the target
and a summary goes to stderr (as JSON with --output json).

The key is --primary-keys, else the source's primary key. A row whose key
holds a NULL cannot be matched and fails the diff. The compared columns
are --columns, else every source column the target has (by name; others
are named on stderr). --where filters both tables (it must read the same
in both dialects).

--hash first compares checksums of ranges of the (integer) first key,
computed in each database over a canonical text of the rows, and reads
only the ranges whose checksums differ: a table that is almost in sync
compares without a full read. --hash-parallel runs that many checksum
queries at once on each side, over contiguous parts of the key span (a
database runs each query on one core, or a few). Both connectors must compute checksums
(PostgreSQL, MySQL/MariaDB) and every compared column must have a
canonical text (floats, JSON and the like do not: leave them out with
--columns). A side where hp checksums is installed for the compared
columns sums the hashes its database maintains instead of hashing every
row; the summary says which sides did. See docs/sync.md.

Exits 0 when the tables hold the same rows, 1 when they differ, 2 on any
error.`,
		Example: `  hp diff pg.public.orders my.orders
  hp diff pg.public.orders my.orders --primary-keys region,id --columns total,updated_at
  hp diff pg.public.orders my.orders --where "created >= '2026-01-01'" --output json
  hp diff pg.public.orders my.orders --hash --hash-rows 200 --hash-parallel 8`,
		Args: cliutil.ExactArgs(2, "a source and a target table (<conn>.<table> <conn>.<table>)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Source, o.Target = args[0], args[1]
			return Run(cmd.Context(), o)
		},
	}
	cmd.Flags().StringSliceVar(&o.PrimaryKeys, "primary-keys", nil, "Key columns, comma-separated (default: the source's primary key)")
	cmd.Flags().StringSliceVar(&o.Columns, "columns", nil, "Columns to compare, comma-separated (default: every source column the target has)")
	cmd.Flags().StringVar(&o.Where, "where", "", "Predicate applied to both tables")
	cmd.Flags().StringVar(&o.Output, "output", "text", "Summary format on stderr: text or json")
	cmd.Flags().BoolVar(&o.Hash, "hash", false, "Compare checksums of key ranges computed in each database first, and read only the ranges that differ")
	cmd.Flags().Int64Var(&o.HashRows, "hash-rows", 100, "Rows per checksum range with --hash")
	cmd.Flags().IntVar(&o.HashParallel, "hash-parallel", merge.DefaultPlan.Parallel, "Checksum queries run at once on each side with --hash (one connection each)")
	return cmd
}

// Run compares the tables: exit 1 for tables that differ, 2 for any error
// (usage, connection, NULL key, ...).
func Run(ctx context.Context, o *Options) error {
	res, err := run(ctx, o)
	if err != nil {
		return cliutil.ExitWith(cliutil.ExitUsage, err)
	}
	if n := res.Differences(); n > 0 {
		return cliutil.ExitWith(cliutil.ExitFailed, fmt.Errorf("%s and %s differ: %d new, %d changed, %d deleted", res.Source, res.Target, res.New, res.Changed, res.Deleted))
	}
	return nil
}

func run(ctx context.Context, o *Options) (*Result, error) {
	start := time.Now()
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return nil, err
	}
	if o.Hash && o.HashRows < 1 {
		return nil, cliutil.UsageErrorf("--hash-rows must be at least 1, not %d", o.HashRows)
	}
	if o.Hash && o.HashParallel < 1 {
		return nil, cliutil.UsageErrorf("--hash-parallel must be at least 1, not %d", o.HashParallel)
	}
	out := bufio.NewWriterSize(o.IO.Out, 64<<10)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	emit := func(d merge.Difference) error { return enc.Encode(d) }
	var src, tgt tableSide
	var sum merge.Summary
	var hs *HashStats
	var err error
	if o.Hash {
		if src, tgt, err = prepare(ctx, o, nil); err != nil {
			return nil, err
		}
		sum, hs, err = compareHashed(ctx, o, src, tgt, emit)
	} else {
		var p *Pair
		if p, err = Open(ctx, o, nil); err != nil {
			return nil, err
		}
		defer p.Close()
		src.t, tgt.t = p.Source, p.Target
		sum, err = merge.Compare(p.Src, p.Tgt, emit)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	res := &Result{Source: src.t.String(), Target: tgt.t.String(), Summary: sum, Hash: hs, Seconds: time.Since(start).Seconds()}
	if o.Output == "json" {
		return res, cliutil.WriteJSON(o.IO.ErrOut, res)
	}
	fmt.Fprintf(o.IO.ErrOut, "diff %s %s: %d source rows, %d target rows: %d new, %d changed, %d deleted in %.1fs\n",
		res.Source, res.Target, sum.SourceRows, sum.TargetRows, sum.New, sum.Changed, sum.Deleted, res.Seconds)
	if hs != nil {
		fmt.Fprintf(o.IO.ErrOut, "diff --hash: %d of %d ranges differ: %d source rows and %d target rows read; checksums %s on the source, %s on the target\n",
			hs.RangesDiffering, hs.Ranges, hs.FetchedSource, hs.FetchedTarget, maintained(hs.SourceMaintained), maintained(hs.TargetMaintained))
	}
	return res, nil
}

func maintained(m bool) string {
	if m {
		return "maintained"
	}
	return "computed"
}

// Pair is a comparison ready to run (merge.Compare): both tables open and
// read ordered by the key.
type Pair struct {
	Source, Target meta.Table
	// Src and Tgt are the sides: each table's reader, key and compared
	// columns, named as in that table.
	Src, Tgt merge.Side
	cancel   func()
}

// Close stops the reads.
func (p *Pair) Close() {
	p.cancel()
	p.Src.Records.Release()
	p.Tgt.Records.Release()
}

// Open opens the two tables of o, works out the key and the compared
// columns (naming on o.IO.ErrOut those only one side has) and starts the
// ordered reads, as hp diff does. checkTarget, when set, vets the target
// before anything is read (hp sync batch needs a target that can sync).
func Open(ctx context.Context, o *Options, checkTarget func(meta.Table) error) (*Pair, error) {
	src, tgt, err := prepare(ctx, o, checkTarget)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	srcSide, err := read(ctx, src.t, src.schema, src.keys, src.cols, o.Where, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	tgtSide, err := read(ctx, tgt.t, tgt.schema, tgt.keys, tgt.cols, o.Where, nil)
	if err != nil {
		cancel()
		srcSide.Records.Release()
		return nil, err
	}
	return &Pair{Source: src.t, Target: tgt.t, Src: srcSide, Tgt: tgtSide, cancel: cancel}, nil
}

// tableSide is one table of a comparison: described, with its names of
// the key and of the compared columns.
type tableSide struct {
	t      meta.Table
	schema *arrow.Schema
	keys   []string
	cols   []string
}

// prepare opens and describes both tables of o and matches their keys and
// compared columns.
func prepare(ctx context.Context, o *Options, checkTarget func(meta.Table) error) (src, tgt tableSide, err error) {
	if src.t, err = meta.OpenTable(ctx, o.Host(), o.Conns, o.Source, sdk.CapRead); err != nil {
		return
	}
	if tgt.t, err = meta.OpenTable(ctx, o.Host(), o.Conns, o.Target, sdk.CapRead); err != nil {
		return
	}
	if checkTarget != nil {
		if err = checkTarget(tgt.t); err != nil {
			return
		}
	}
	sd, err := describe(ctx, src.t)
	if err != nil {
		return
	}
	td, err := describe(ctx, tgt.t)
	if err != nil {
		return
	}
	src.schema, tgt.schema = sd.Schema, td.Schema
	keys := o.PrimaryKeys
	if len(keys) == 0 {
		if keys = sd.PrimaryKey; len(keys) == 0 {
			err = cliutil.UsageErrorf("%s has no primary key: name the key columns with --primary-keys", src.t)
			return
		}
	}
	if src.keys, tgt.keys, err = match(src.t, sd.Schema, tgt.t, td.Schema, keys); err != nil {
		return
	}
	cols := o.Columns
	if len(cols) == 0 {
		cols = comparable(o, src.t, sd.Schema, tgt.t, td.Schema, src.keys, tgt.keys)
	}
	src.cols, tgt.cols, err = match(src.t, sd.Schema, tgt.t, td.Schema, cols)
	return
}

func describe(ctx context.Context, t meta.Table) (*sdk.Description, error) {
	if !t.Inst.Info.Has(sdk.CapDescribe) {
		return nil, fmt.Errorf("connection %q: the %s connector cannot describe a table: %w", t.Conn.Name, t.Inst.Info.Name, sdk.ErrUnimplemented)
	}
	d, err := t.Inst.Describe(ctx, t.Conn.Wire(), sdk.Source{Object: &t.Ref})
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", t, err)
	}
	return d, nil
}

// field finds a column by name: exactly, else the one column equal to it
// but for case (MySQL and SQL Server match names so; PostgreSQL folds
// unquoted ones).
func field(s *arrow.Schema, name string) (arrow.Field, bool) {
	if f := s.FieldIndices(name); len(f) == 1 {
		return s.Field(f[0]), true
	}
	var found []arrow.Field
	for _, f := range s.Fields() {
		if strings.EqualFold(f.Name, name) {
			found = append(found, f)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return arrow.Field{}, false
}

// match returns each side's names of the columns.
func match(src meta.Table, ss *arrow.Schema, tgt meta.Table, ts *arrow.Schema, names []string) ([]string, []string, error) {
	var sn, tn []string
	for _, n := range names {
		sf, ok := field(ss, n)
		if !ok {
			return nil, nil, fmt.Errorf("%s has no column %q: %w", src, n, sdk.ErrNotFound)
		}
		tf, ok := field(ts, n)
		if !ok {
			return nil, nil, fmt.Errorf("%s has no column %q: %w", tgt, n, sdk.ErrNotFound)
		}
		sn, tn = append(sn, sf.Name), append(tn, tf.Name)
	}
	return sn, tn, nil
}

// comparable lists the source's columns other than the keys that the
// target has too, and names on stderr those only one side has.
func comparable(o *Options, src meta.Table, ss *arrow.Schema, tgt meta.Table, ts *arrow.Schema, srcKeys, tgtKeys []string) []string {
	var cols []string
	for _, f := range ss.Fields() {
		if slices.Contains(srcKeys, f.Name) {
			continue
		}
		if _, ok := field(ts, f.Name); ok {
			cols = append(cols, f.Name)
		} else {
			fmt.Fprintf(o.IO.ErrOut, "diff: column %q of %s is not in %s: not compared\n", f.Name, src, tgt)
		}
	}
	for _, f := range ts.Fields() {
		if _, ok := field(ss, f.Name); !ok && !slices.Contains(tgtKeys, f.Name) {
			fmt.Fprintf(o.IO.ErrOut, "diff: column %q of %s is not in %s: not compared\n", f.Name, tgt, src)
		}
	}
	return cols
}

// read starts a side's read of its keys and columns (within rf unless
// nil), ordered by the keys, text keys by their bytes.
func read(ctx context.Context, t meta.Table, s *arrow.Schema, keys, cols []string, where string, rf *sdk.RangeFilter) (merge.Side, error) {
	req := sdk.ReadRequest{Conn: t.Conn.Wire(), Source: sdk.Source{Object: &t.Ref}, Columns: append(append([]string(nil), keys...), cols...), Where: where, Range: rf}
	for _, k := range keys {
		f, _ := field(s, k)
		id := f.Type.ID()
		req.OrderBy = append(req.OrderBy, sdk.OrderBy{Column: k, Binary: id == arrow.STRING || id == arrow.LARGE_STRING})
	}
	rr, err := t.Inst.Read(ctx, req)
	if err != nil {
		return merge.Side{}, fmt.Errorf("reading %s: %w", t, err)
	}
	return merge.Side{Name: t.String(), Records: rr, Keys: keys, Columns: cols}, nil
}
