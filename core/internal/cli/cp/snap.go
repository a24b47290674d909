package cp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/engine"
	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/job"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// SnapOptions are the inputs of `hp cp snap`.
type SnapOptions struct {
	IO      *cliutil.IOStreams
	Host    func() *host.Host
	Conns   *config.Store
	Logger  func() *slog.Logger
	Version string
	Now     func() time.Time

	Source, Target         string
	SourceType, TargetType string
	Query, Columns, Where  string
	PrimaryKeys            string
	WriteMode              string

	Format, Compression string
	CSVHeader           bool
	CSVDelimiter        string
	CSVNull             string
	MaxFileRows         int64
	MaxFileBytes        string
	RowGroupRows        int64
	Path, Layout        string
	Output              string
	DryRun              bool
	Stats               int
	S3                  store.S3Options
}

func newOptions(f *cliutil.Factory) *SnapOptions {
	return &SnapOptions{
		IO: f.IO, Host: f.Host, Version: f.Version, Now: time.Now,
		Logger: func() *slog.Logger { return f.Logger },
		Conns:  f.Conns(),
	}
}

func newSnapCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "snap <conn>.[<schema>.]<table> <conn>.<object>",
		Short: "Copy a whole table (or query result) into files or a table",
		Long: `Copy a whole table, or the result of --query, into CSV, Parquet or JSON
Lines files (local, S3, stdout) with a manifest, or into a table of another
database.

Files appear only when complete; the manifest (_manifest.json) is written
last and marks the run as published. A failed run leaves no manifest and
removes its files.`,
		Example: `  hp cp snap pg.public.orders out.extracts/orders --format parquet
  hp cp snap demo.sample_data out.sample --format csv --compression none --max-file-rows 100000
  hp cp snap pg.x out.y --query "select id, total from orders where total > 0"`,
		Args: cliutil.ExactArgs(2, "a source and a target (<conn>.<table> <conn>.<object>)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Source, o.Target = args[0], args[1]
			return RunSnap(cmd.Context(), o)
		},
	}
	bindFlags(cmd.Flags(), o)
	cmd.Flags().StringVar(&o.WriteMode, "write-mode", "", "Into a table: replace (default: the table then holds exactly the snapshot, in one transaction), append, or merge (on --primary-keys)")
	cmd.Flags().StringVar(&o.PrimaryKeys, "primary-keys", "", "Comma-separated key columns: --write-mode merge updates the rows with these keys and inserts the rest")
	return cmd
}

// bindFlags binds the source and output flags snap and delta share.
func bindFlags(fl *pflag.FlagSet, o *SnapOptions) {
	fl.StringVar(&o.SourceType, "source-type", "", "Expected source type (checked against the DSN; never required)")
	fl.StringVar(&o.TargetType, "target-type", "", "Expected target type (checked against the DSN; never required)")
	fl.StringVar(&o.Query, "query", "", "SQL to run instead of reading the table (a read, run in a read-only transaction where the database has one)")
	fl.StringVar(&o.Columns, "columns", "", "Comma-separated columns to read (default all)")
	fl.StringVar(&o.Where, "where", "", "One predicate in the source's SQL dialect (balanced parentheses, no ';', no UNION/ORDER BY/LIMIT outside parentheses)")
	fl.StringVar(&o.Format, "format", "csv", "Output format: csv, parquet or jsonl")
	fl.StringVar(&o.Compression, "compression", "", "gzip, zstd, snappy or none (default gzip for csv/jsonl, zstd for parquet)")
	fl.BoolVar(&o.CSVHeader, "csv-header", true, "Write a CSV header row")
	fl.StringVar(&o.CSVDelimiter, "csv-delimiter", ",", "CSV field delimiter (one character)")
	fl.StringVar(&o.CSVNull, "csv-null", "", "Text for NULL in CSV; an empty string that would read as NULL is written \"\"")
	fl.Int64Var(&o.MaxFileRows, "max-file-rows", 0, "Start a new file after this many rows (0 = no limit)")
	fl.StringVar(&o.MaxFileBytes, "max-file-bytes", "0", "Start a new file before this many bytes are written, after compression (e.g. 256MiB; 0 = no limit)")
	fl.Int64Var(&o.RowGroupRows, "parquet-row-group-rows", 1_000_000, "Rows per Parquet row group at most")
	fl.StringVar(&o.Path, "path", "", "Object name template: {prefix} {object} {schema} {table} {run_id} {date} {time} {part} {ext} (default "+layout.Default+")")
	fl.StringVar(&o.Layout, "layout", "default", "Naming preset: default, or halfpipe (original Halfpipe names and .man files)")
	fl.StringVar(&o.Output, "output", "text", "Summary format: text (stderr) or json (stdout)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "Print the plan and exit without reading anything")
	fl.IntVarP(&o.Stats, "stats", "L", 0, "Log a stats line every N seconds (0 = progress on a terminal only)")
	// Halfpipe's names for the limits.
	fl.Int64Var(&o.MaxFileRows, "csv-rows", 0, "Alias of --max-file-rows")
	fl.StringVar(&o.MaxFileBytes, "csv-bytes", "0", "Alias of --max-file-bytes")
	cliutil.AddS3Flags(fl, &o.S3)
	_ = fl.MarkHidden("csv-rows")
	_ = fl.MarkHidden("csv-bytes")
}

// plan is a validated snapshot.
type plan struct {
	src, tgt      config.Connection
	srcRef        sdk.ObjectRef
	tgtObject     string
	columns       []string
	format        format.Format
	compression   format.Compression
	delimiter     rune
	maxBytes      int64
	layout        *layout.Layout
	vars          layout.Vars
	start         time.Time
	runID         string
	targetIsStore bool
	keys          []string
	writeMode     sdk.WriteMode
}

func (o *SnapOptions) plan() (*plan, error) {
	p := &plan{start: o.Now().UTC()}
	srcName, srcObj, err := config.SplitConnObject(o.Source)
	if err != nil {
		return nil, cliutil.UsageErrorf("source: %v", err)
	}
	tgtName, tgtObj, err := config.SplitConnObject(o.Target)
	if err != nil {
		if o.Target != "stdout" {
			return nil, cliutil.UsageErrorf("target: %v", err)
		}
		tgtName, tgtObj = "stdout", "stdout"
	}
	if p.src, err = o.Conns.Resolve(srcName); err != nil {
		return nil, cliutil.UsageErrorf("source: %v", err)
	}
	if p.tgt, err = o.Conns.Resolve(tgtName); err != nil {
		return nil, cliutil.UsageErrorf("target: %v", err)
	}
	if p.srcRef, err = config.ParseTable(srcObj); err != nil {
		return nil, cliutil.UsageErrorf("source: %v", err)
	}
	p.tgtObject = tgtObj
	p.targetIsStore = job.IsStore(p.tgt)
	if p.targetIsStore {
		// Stores are built in: a declared type is checked before any I/O,
		// so a dry run catches it too.
		if err := job.CheckType(p.tgt, o.TargetType, p.tgt.Scheme, nil); err != nil {
			return nil, err
		}
	}
	p.keys = splitList(o.PrimaryKeys)
	p.columns = splitList(o.Columns)
	if p.format, err = format.ParseFormat(o.Format); err != nil {
		return nil, cliutil.UsageErrorf("--format: %v", err)
	}
	p.compression = format.DefaultCompression(p.format)
	if o.Compression != "" {
		if p.compression, err = format.ParseCompression(o.Compression); err != nil {
			return nil, cliutil.UsageErrorf("--compression: %v", err)
		}
	}
	if utf8.RuneCountInString(o.CSVDelimiter) != 1 {
		return nil, cliutil.UsageErrorf("--csv-delimiter %q must be exactly one character", o.CSVDelimiter)
	}
	p.delimiter, _ = utf8.DecodeRuneInString(o.CSVDelimiter)
	if p.maxBytes, err = cliutil.ParseSize(o.MaxFileBytes); err != nil {
		return nil, cliutil.UsageErrorf("--max-file-bytes: %v", err)
	}
	if o.MaxFileRows < 0 {
		return nil, cliutil.UsageErrorf("--max-file-rows must not be negative")
	}
	if p.layout, err = layout.New(o.Layout, o.Path); err != nil {
		return nil, cliutil.UsageErrorf("%v", err)
	}
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return nil, err
	}
	p.runID = layout.NewRunID(p.start)
	prefix, object := layout.SplitTarget(tgtObj)
	p.vars = layout.Vars{Prefix: prefix, Object: object, Schema: p.srcRef.Schema, Table: p.srcRef.Name,
		RunID: p.runID, Ext: format.Extension(p.format, p.compression), Start: p.start}
	return p, nil
}

// Summary is the result of a run, printed as text or JSON.
type Summary struct {
	RunID       string  `json:"run_id"`
	Mode        string  `json:"mode"`
	Source      string  `json:"source"`
	Target      string  `json:"target"`
	Rows        int64   `json:"rows"`
	Files       int     `json:"files"`
	Bytes       int64   `json:"bytes"`
	ManifestURL string  `json:"manifest_url,omitempty"`
	Seconds     float64 `json:"duration_seconds"`
	RowsPerSec  float64 `json:"rows_per_second"`
}

// RunSnap runs the snapshot.
func RunSnap(ctx context.Context, o *SnapOptions) error {
	p, err := o.plan()
	if err != nil {
		return err
	}
	if p.writeMode, err = writeMode(o.WriteMode, p.keys, p.targetIsStore); err != nil {
		return err
	}
	if o.DryRun {
		return o.printPlan(p)
	}
	src, err := job.Source(ctx, o.Host(), p.src, o.SourceType)
	if err != nil {
		return err
	}
	req := o.readRequest(p)
	if !p.targetIsStore {
		return o.toTable(ctx, p, src, req)
	}
	st, err := job.OpenStore(ctx, p.tgt, o.TargetType, o.IO.Out, o.S3)
	if err != nil {
		return err
	}
	m := o.newManifest(p, src.Info.Name, "snap")
	var total atomic.Int64
	if o.IO.ErrTTY && o.Stats <= 0 && o.Query == "" {
		go countRows(ctx, src, req, &total)
	}
	res, err := o.publish(ctx, p, src, st, req, m, &total)
	if err != nil {
		return fmt.Errorf("snapshot of %s to %s failed, nothing was published: %w", sourceName(p, o), st.URL(p.tgtObject), err)
	}
	return o.report(p, res.Manifest, res.ManifestURL)
}

// readRequest is what the source reads: the table or query, with the
// columns and predicate asked for.
func (o *SnapOptions) readRequest(p *plan) sdk.ReadRequest {
	req := sdk.ReadRequest{Conn: p.src.Wire(), Columns: p.columns, Where: o.Where}
	if o.Query != "" {
		req.Source = sdk.Source{Query: o.Query}
	} else {
		ref := p.srcRef
		req.Source = sdk.Source{Object: &ref}
	}
	return req
}

// newManifest starts the manifest of a run; the engine completes it.
func (o *SnapOptions) newManifest(p *plan, sourceType, mode string) *manifest.Manifest {
	m := &manifest.Manifest{
		Version: manifest.Version, Tool: "halfpipe", ToolVersion: o.Version, RunID: p.runID, Mode: mode,
		Layout: p.layout.Name, StartedAt: p.start,
		Source: manifest.Source{Type: sourceType, DSN: sdk.MaskDSN(p.src.DSN), Query: o.Query, Columns: p.columns, Where: o.Where},
		Target: manifest.Target{Type: p.tgt.Scheme, URL: sdk.MaskDSN(p.tgt.DSN), Object: p.tgtObject},
		Format: string(p.format), Compression: string(p.compression),
	}
	if o.Query == "" {
		m.Source.Object = p.srcRef.String()
	}
	if p.format == format.CSV {
		m.CSV = &manifest.CSV{Header: o.CSVHeader, Delimiter: string(p.delimiter), Null: o.CSVNull}
	}
	return m
}

// publish reads req from the source into files and a manifest in the
// store: one run of the engine, with progress shown as asked.
func (o *SnapOptions) publish(ctx context.Context, p *plan, src *host.Instance, st store.Store, req sdk.ReadRequest, m *manifest.Manifest, total *atomic.Int64) (*engine.Result, error) {
	records, err := src.Read(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("reading %s from %q: %w", req.Source, p.src.Name, err)
	}
	encOpts := []format.Option{
		format.WithFormat(p.format), format.WithCompression(p.compression), format.WithCSVHeader(o.CSVHeader),
		format.WithCSVDelimiter(p.delimiter), format.WithCSVNull(o.CSVNull), format.WithParquetRowGroupRows(o.RowGroupRows),
		format.WithConcurrency(runtime.GOMAXPROCS(0)),
	}
	if p.maxBytes > 0 {
		encOpts = append(encOpts, format.WithParquetRowGroupBytes(max(64<<10, min(format.DefaultRowGroupBytes, p.maxBytes/4))))
	}
	vars := p.vars
	vars.RunID = m.RunID
	j := engine.Job{
		Records: records, Store: st, Manifest: m, Logger: o.Logger(), Stats: &engine.Stats{},
		FileKey:      func(part int) (string, error) { return p.layout.File(vars, part), nil },
		ManifestKey:  p.layout.Manifest(vars),
		MaxFileRows:  o.MaxFileRows,
		MaxFileBytes: p.maxBytes,
		NewEncoder: func(w io.Writer, schema *arrow.Schema) (format.Encoder, error) {
			return format.NewEncoder(w, schema, encOpts...)
		},
	}
	if p.tgt.Scheme == "stdout" {
		j.ManifestKey = ""
		j.MaxFileRows, j.MaxFileBytes = 0, 0
	}
	if p.layout.Name == "halfpipe" {
		j.Extra = func(m *manifest.Manifest) (map[string][]byte, error) {
			return map[string][]byte{p.layout.HalfpipeMan(vars): manifest.HalfpipeMan(m.Files)}, nil
		}
	}
	if total == nil {
		total = &atomic.Int64{}
	}
	stop := startProgress(ctx, o.IO, o.Logger(), j.Stats, o.Stats, total)
	defer stop()
	return engine.Run(ctx, j)
}

// countRows asks the source for the row count, for the progress bar. It
// runs beside the snapshot and gives up silently: the bar is a nicety.
func countRows(ctx context.Context, src *host.Instance, req sdk.ReadRequest, total *atomic.Int64) {
	if !src.Info.Has(sdk.CapBounds) || !src.Info.Has(sdk.CapDescribe) {
		return
	}
	d, err := src.Describe(ctx, req.Conn, req.Source)
	if err != nil || d.Schema.NumFields() == 0 {
		return
	}
	col := d.Schema.Field(0).Name
	if len(d.PrimaryKey) > 0 {
		col = d.PrimaryKey[0]
	}
	b, err := src.Bounds(ctx, sdk.BoundsRequest{Conn: req.Conn, Source: req.Source, Column: col, Where: req.Where})
	if err == nil {
		total.Store(b.Count)
	}
}

func sourceName(p *plan, o *SnapOptions) string {
	if o.Query != "" {
		return p.src.Name + " (query)"
	}
	return p.src.Name + "." + p.srcRef.String()
}

// runSummary sums up one published run.
func runSummary(m *manifest.Manifest, manifestURL, source, target string) Summary {
	elapsed := m.FinishedAt.Sub(m.StartedAt).Seconds()
	s := Summary{RunID: m.RunID, Mode: m.Mode, Source: source, Target: target,
		Rows: m.TotalRows, Files: len(m.Files), Bytes: m.TotalBytes, ManifestURL: manifestURL, Seconds: elapsed}
	if elapsed > 0 {
		s.RowsPerSec = float64(m.TotalRows) / elapsed
	}
	return s
}

func (o *SnapOptions) report(p *plan, m *manifest.Manifest, manifestURL string) error {
	s := runSummary(m, manifestURL, sourceName(p, o), p.tgt.Name+"."+p.tgtObject)
	elapsed := s.Seconds
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, s)
	}
	where := manifestURL
	if where == "" {
		where = p.tgt.Name
	}
	fmt.Fprintf(o.IO.ErrOut, "%s: %d rows, %d files, %s in %.1fs (%.0f rows/s) → %s\n",
		s.Mode, s.Rows, s.Files, cliutil.HumanBytes(s.Bytes), elapsed, s.RowsPerSec, where)
	return nil
}

func (o *SnapOptions) printPlan(p *plan) error {
	w := o.IO.Out
	fmt.Fprintf(w, "plan (dry run, nothing is read or written)\n")
	fmt.Fprintf(w, "  source:   %s = %s (%s)\n", p.src.Name, sdk.MaskDSN(p.src.DSN), p.src.From)
	if o.Query != "" {
		fmt.Fprintf(w, "  query:    %s\n", o.Query)
	} else {
		fmt.Fprintf(w, "  table:    %s\n", p.srcRef)
	}
	if len(p.columns) > 0 {
		fmt.Fprintf(w, "  columns:  %s\n", strings.Join(p.columns, ", "))
	}
	if o.Where != "" {
		fmt.Fprintf(w, "  where:    %s\n", o.Where)
	}
	fmt.Fprintf(w, "  target:   %s = %s (%s)\n", p.tgt.Name, sdk.MaskDSN(p.tgt.DSN), p.tgt.From)
	if !p.targetIsStore {
		fmt.Fprintf(w, "  table:    %s (append)\n", p.tgtObject)
		return nil
	}
	fmt.Fprintf(w, "  format:   %s, compression %s\n", p.format, p.compression)
	fmt.Fprintf(w, "  files:    %s, ...\n", p.layout.File(p.vars, 1))
	fmt.Fprintf(w, "  manifest: %s\n", p.layout.Manifest(p.vars))
	return nil
}

// targetTable starts the plugin of a database target and names its table.
func (o *SnapOptions) targetTable(ctx context.Context, p *plan) (*host.Instance, sdk.ObjectRef, error) {
	tgt, err := o.Host().ForScheme(ctx, p.tgt.Scheme)
	if err != nil {
		return nil, sdk.ObjectRef{}, fmt.Errorf("connection %q: %w", p.tgt.Name, err)
	}
	if err := job.CheckType(p.tgt, o.TargetType, tgt.Info.Name, tgt.Info.Schemes); err != nil {
		return nil, sdk.ObjectRef{}, err
	}
	if err := p.tgt.Bind(tgt.Info); err != nil {
		return nil, sdk.ObjectRef{}, err
	}
	if !tgt.Info.Has(sdk.CapWrite) {
		return nil, sdk.ObjectRef{}, fmt.Errorf("connection %q: the %s connector cannot be written to: %w", p.tgt.Name, tgt.Info.Name, sdk.ErrUnimplemented)
	}
	ref, err := config.ParseTable(p.tgtObject)
	if err != nil {
		return nil, sdk.ObjectRef{}, cliutil.UsageErrorf("target: %v", err)
	}
	return tgt, ref, nil
}

// writeMode checks --write-mode and --primary-keys, which only a table
// target takes.
func writeMode(mode string, keys []string, toStore bool) (sdk.WriteMode, error) {
	if toStore {
		if mode != "" || len(keys) > 0 {
			return "", cliutil.UsageErrorf("--write-mode and --primary-keys apply to a table target, not to files")
		}
		return "", nil
	}
	switch m := sdk.WriteMode(mode); m {
	case "", sdk.Replace, sdk.Append:
		if len(keys) > 0 {
			return "", cliutil.UsageErrorf("--primary-keys applies to --write-mode merge")
		}
		if m == "" {
			return sdk.Replace, nil
		}
		return m, nil
	case sdk.Merge:
		if len(keys) == 0 {
			return "", cliutil.UsageErrorf("--write-mode merge needs --primary-keys")
		}
		return m, nil
	}
	return "", cliutil.UsageErrorf("--write-mode %q: want replace, append or merge", mode)
}

// splitList splits a comma-separated flag, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// toTable writes the rows into a table of a database target.
func (o *SnapOptions) toTable(ctx context.Context, p *plan, src *host.Instance, req sdk.ReadRequest) error {
	tgt, ref, err := o.targetTable(ctx, p)
	if err != nil {
		return err
	}
	records, err := src.Read(ctx, req)
	if err != nil {
		return fmt.Errorf("reading %s from %q: %w", req.Source, p.src.Name, err)
	}
	defer records.Release()
	start := time.Now()
	res, err := tgt.Write(ctx, sdk.WriteRequest{Conn: p.tgt.Wire(), Table: ref, Mode: p.writeMode, Keys: p.keys, CreateTable: true}, records)
	if err != nil {
		return fmt.Errorf("writing %s.%s: %w", p.tgt.Name, ref, err)
	}
	fmt.Fprintf(o.IO.ErrOut, "snap: %d rows into %s.%s in %.1fs\n", res.RowsWritten, p.tgt.Name, ref, time.Since(start).Seconds())
	return nil
}
