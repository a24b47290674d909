// Package run is what a run of hp is, whoever starts it: the command line,
// AWS Lambda, or a future server. A Spec holds the inputs as a user gives
// them (flags or HP_* variables); NewPlan validates it into a Plan;
// Snapshot and Delta carry the Plan out against an Env (plugins,
// connections, clock, logger) and return what was published.
package run

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// Kind is the kind of run.
type Kind string

// The kinds of run.
const (
	KindSnap  Kind = "snap"
	KindDelta Kind = "delta"
)

// DefaultRowGroupRows is --parquet-row-group-rows' default.
const DefaultRowGroupRows = 1_000_000

// Spec is a run as the user asked for it, before validation.
type Spec struct {
	// Source and Target are <conn>.<object> (Target may be "stdout").
	Source, Target         string
	SourceType, TargetType string
	Query, Columns, Where  string
	PrimaryKeys            string
	// WriteMode is replace, append or merge (snapshots into a table).
	WriteMode string

	Format, Compression string
	CSVHeader           bool
	CSVDelimiter        string
	CSVNull             string
	MaxFileRows         int64
	MaxFileBytes        string
	RowGroupRows        int64
	// Parallel is how many slices of the table (a delta: of each range)
	// are read at once; 0 means 1.
	Parallel     int
	Path, Layout string
	S3           store.S3Options
	// Stage and PublishTo send a run to a warehouse through a stage
	// (load.go).
	Stage, PublishTo string
	// Files reads plain files as the source (files_source.go).
	Files FilesSpec

	Delta DeltaSpec
}

// DeltaSpec is what a delta adds to a snapshot.
type DeltaSpec struct {
	Driver        string
	StartDate     string
	StartSequence string
	DeltaSize     string
	Lookback      string
	Lag           string
	MaxDuration   time.Duration
	StateURL      string
}

// BindFlags binds s to the flags of a run of the given kind: the same
// names serve the command line and, as HP_<FLAG>, the environment of
// 12-factor mode and AWS Lambda.
// parallelHelp is --parallel's help.
const parallelHelp = "Read the table in N slices at once, on N connections at one point in time where the database allows it (PostgreSQL, MySQL/MariaDB, SQL Server, Oracle; other sources read whole); not with --query"

func BindFlags(fl *pflag.FlagSet, s *Spec, kind Kind) {
	fl.StringVar(&s.SourceType, "source-type", "", "Expected source type (checked against the DSN; never required)")
	fl.StringVar(&s.TargetType, "target-type", "", "Expected target type (checked against the DSN; never required)")
	fl.StringVar(&s.Query, "query", "", "SQL to run instead of reading the table (a read, run in a read-only transaction where the database has one)")
	fl.StringVar(&s.Columns, "columns", "", "Comma-separated columns to read (default all)")
	fl.StringVar(&s.Where, "where", "", "One predicate in the source's SQL dialect (balanced parentheses, no ';', no UNION/ORDER BY/LIMIT outside parentheses)")
	fl.StringVar(&s.Format, "format", "", "Output format: csv, parquet or jsonl (default csv; parquet with --stage)")
	fl.StringVar(&s.Compression, "compression", "", "gzip, zstd, snappy or none (default gzip for csv/jsonl, zstd for parquet)")
	fl.BoolVar(&s.CSVHeader, "csv-header", true, "Write a CSV header row (csv only)")
	fl.StringVar(&s.CSVDelimiter, "csv-delimiter", ",", "CSV field delimiter, one character (csv only)")
	fl.StringVar(&s.CSVNull, "csv-null", "", "Text for NULL in CSV; an empty string that would read as NULL is written \"\" (csv only)")
	fl.Int64Var(&s.MaxFileRows, "max-file-rows", 0, "Start a new file after this many rows (0 = no limit)")
	fl.StringVar(&s.MaxFileBytes, "max-file-bytes", "0", "Start a new file before this many bytes are written, after compression (e.g. 256MiB; 0 = no limit)")
	fl.Int64Var(&s.RowGroupRows, "parquet-row-group-rows", DefaultRowGroupRows, "Rows per Parquet row group at most (parquet only)")
	fl.StringVar(&s.Path, "path", "", "Object name template: {prefix} {object} {schema} {table} {run_id} {date} {time} {part} {ext} (default "+layout.Default+")")
	fl.StringVar(&s.Layout, "layout", "default", "Naming preset: default, or halfpipe (original Halfpipe names and .man files)")
	// Halfpipe's names for the limits.
	fl.Int64Var(&s.MaxFileRows, "csv-rows", 0, "Alias of --max-file-rows")
	fl.StringVar(&s.MaxFileBytes, "csv-bytes", "0", "Alias of --max-file-bytes")
	_ = fl.MarkHidden("csv-rows")
	_ = fl.MarkHidden("csv-bytes")
	store.BindS3Flags(fl, &s.S3)
	fl.StringVar(&s.Stage, "stage", "", "Into a warehouse table (Snowflake): the external stage to load from, after publishing the run to --publish-to (a published run as the source loads its own files)")
	fl.StringVar(&s.PublishTo, "publish-to", "", "With --stage: CONN.PREFIX of the store (under the stage's URL) the run is published to before the warehouse loads it")
	switch kind {
	case KindSnap:
		fl.StringVar(&s.WriteMode, "write-mode", "", "Into a table: replace (default: the table then holds exactly the snapshot, in one transaction), append, or merge (on --primary-keys)")
		fl.StringVar(&s.PrimaryKeys, "primary-keys", "", "Comma-separated key columns: --write-mode merge updates the rows with these keys and inserts the rest")
		bindFilesFlags(fl, &s.Files)
		fl.IntVar(&s.Parallel, "parallel", 1, parallelHelp)
	case KindDelta:
		fl.IntVar(&s.Parallel, "parallel", 1, parallelHelp+"; each delta range is read in N slices and published as one run")
		fl.StringVar(&s.PrimaryKeys, "primary-keys", "", "Comma-separated key columns, recorded in the manifest for deduplication")
		BindDeltaFlags(fl, &s.Delta, true)
	}
}

// BindDeltaFlags binds a delta's flags: those of its range, and with
// chunks --delta-size and --max-duration (a sharded delta reads one range).
func BindDeltaFlags(fl *pflag.FlagSet, d *DeltaSpec, chunks bool) {
	fl.StringVar(&d.Driver, "delta-driver", "", "Column whose growth marks new and changed rows (timestamp, date, integer or decimal)")
	fl.StringVar(&d.StartDate, "start-date", "", "Where a first run starts (inclusive), for a time driver: ISO 8601 or YYYYMMDDTHHMMSS")
	fl.StringVar(&d.StartSequence, "start-sequence", "", "Where a first run starts (inclusive), for a numeric driver")
	fl.StringVar(&d.Lookback, "lookback", "", "Re-read this far below the high-water mark (15m, 1d, or a number) to catch late commits")
	fl.StringVar(&d.Lag, "delta-lag", "", "Leave the newest values (the maximum minus this) for the next run")
	fl.StringVar(&d.StateURL, "state", "", "Keep the delta state here (file:///dir/state.json, s3://bucket/key.json) instead of <object>/_state.json beside the output")
	if chunks {
		fl.StringVar(&d.DeltaSize, "delta-size", "", "Split the range into chunks of this width (6h, 1d, or a number), each published on its own")
		fl.DurationVar(&d.MaxDuration, "max-duration", 0, "Stop after the chunk in progress once this much time is near, reporting more to do (e.g. 13m)")
	}
}
