package run

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/halfpipe-io/halfpipe/core/internal/bytesize"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Plan is a validated run: connections resolved, names and formats
// parsed. It is what a dry run prints.
type Plan struct {
	Kind Kind
	Spec Spec

	Src, Tgt      config.Connection
	SrcRef        sdk.ObjectRef
	TgtObject     string
	Columns, Keys []string
	Format        format.Format
	Compression   format.Compression
	Delimiter     rune
	MaxBytes      int64
	Layout        *layout.Layout
	Vars          layout.Vars
	Start         time.Time
	RunID         string
	TargetIsStore bool
	// Pub and PubObject are where a staged run is published (--publish-to).
	Pub       config.Connection
	PubObject string
	// WriteMode is a snapshot's mode into a table target.
	WriteMode sdk.WriteMode
	// Steps are a delta's --delta-size, --lookback and --delta-lag.
	Steps delta.Options
	// SrcRun is set when the source is published runs in a store.
	SrcRun *RunRef
}

// Resolver finds connections by name (config.Store).
type Resolver interface {
	Resolve(name string) (config.Connection, error)
}

// NewPlan validates s as a run of the given kind started at now. Its
// errors are the user's to fix (sdk.ErrInvalidArgument).
func NewPlan(kind Kind, s Spec, conns Resolver, now time.Time) (*Plan, error) {
	p := &Plan{Kind: kind, Spec: s, Start: now.UTC()}
	srcName, srcObj, err := splitSource(s)
	if err != nil {
		return nil, usagef("source: %v", err)
	}
	if p.Src, err = conns.Resolve(srcName); err != nil {
		return nil, usagef("source: %v", err)
	}
	if registry.IsStore(p.Src) {
		if err := p.runSource(srcObj); err != nil {
			return nil, err
		}
	} else if s.Files.Glob != "" {
		return nil, usagef("--files reads plain files from a file or S3 connection, not %s (%s)", srcName, p.Src.Scheme)
	} else if kind == KindDelta {
		if err := p.deltaSteps(); err != nil {
			return nil, err
		}
	}
	tgtName, tgtObj, err := config.SplitConnObject(s.Target)
	if err != nil {
		if s.Target != "stdout" {
			return nil, usagef("target: %v", err)
		}
		tgtName, tgtObj = "stdout", "stdout"
	}
	if p.Tgt, err = conns.Resolve(tgtName); err != nil {
		return nil, usagef("target: %v", err)
	}
	if p.SrcRun == nil {
		if p.SrcRef, err = config.ParseTable(srcObj); err != nil {
			return nil, usagef("source: %v", err)
		}
	}
	p.TgtObject = tgtObj
	p.TargetIsStore = registry.IsStore(p.Tgt)
	if p.TargetIsStore {
		// Stores are built in: a declared type is checked before any I/O,
		// so a dry run catches it too.
		if err := registry.CheckType(p.Tgt, s.TargetType, p.Tgt.Scheme, nil); err != nil {
			return nil, err
		}
	}
	p.Keys = splitList(s.PrimaryKeys)
	p.Columns = splitList(s.Columns)
	if p.Format, err = format.ParseFormat(p.formatName()); err != nil {
		return nil, usagef("--format: %v", err)
	}
	p.Compression = format.DefaultCompression(p.Format)
	if s.Compression != "" {
		if p.Compression, err = format.ParseCompression(s.Compression); err != nil {
			return nil, usagef("--compression: %v", err)
		}
	}
	if err := formatOptions(s, p.Format); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(s.CSVDelimiter) != 1 {
		return nil, usagef("--csv-delimiter %q must be exactly one character", s.CSVDelimiter)
	}
	p.Delimiter, _ = utf8.DecodeRuneInString(s.CSVDelimiter)
	if p.MaxBytes, err = bytesize.Parse(s.MaxFileBytes); err != nil {
		return nil, usagef("--max-file-bytes: %v", err)
	}
	if s.MaxFileRows < 0 {
		return nil, usagef("--max-file-rows must not be negative")
	}
	if p.Layout, err = layout.New(s.Layout, s.Path); err != nil {
		return nil, usagef("%v", err)
	}
	p.RunID = layout.NewRunID(p.Start)
	layoutObj, err := p.staging(conns, tgtObj)
	if err != nil {
		return nil, err
	}
	prefix, object := layout.SplitTarget(layoutObj)
	p.Vars = layout.Vars{Prefix: prefix, Object: object, Schema: p.SrcRef.Schema, Table: p.SrcRef.Name,
		RunID: p.RunID, Ext: format.Extension(p.Format, p.Compression), Start: p.Start}
	switch kind {
	case KindSnap:
		if p.WriteMode, err = writeMode(s.WriteMode, p.Keys, p.TargetIsStore); err != nil {
			return nil, err
		}
		if err := checkParallel(s, p.SrcRun != nil); err != nil {
			return nil, err
		}
	case KindDelta:
		if p.Tgt.Scheme == "stdout" {
			return nil, usagef("hp cp delta writes to file, S3 and database targets, not stdout: it keeps a high-water mark")
		}
		if err := checkParallel(s, p.SrcRun != nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Plan) deltaSteps() error {
	d := p.Spec.Delta
	if d.Driver == "" {
		return usagef("hp cp delta needs --delta-driver COL")
	}
	if d.StartDate != "" && d.StartSequence != "" {
		return usagef("give --start-date or --start-sequence, not both")
	}
	for _, s := range []struct {
		flag, text string
		to         *delta.Step
	}{{"--delta-size", d.DeltaSize, &p.Steps.Size}, {"--lookback", d.Lookback, &p.Steps.Lookback}, {"--delta-lag", d.Lag, &p.Steps.Lag}} {
		step, err := delta.ParseStep(s.text)
		if err != nil {
			return usagef("%s: %v", s.flag, err)
		}
		*s.to = step
	}
	return nil
}

// formatOptions refuses the options of another format than f, given as
// anything but their defaults (the flags' defaults, which Lambda and
// 12-factor mode share): an option that does nothing must not pass for
// one that worked.
func formatOptions(s Spec, f format.Format) error {
	for _, o := range []struct {
		flag   string
		format format.Format
		given  bool
	}{
		{"--csv-header", format.CSV, !s.CSVHeader},
		{"--csv-delimiter", format.CSV, s.CSVDelimiter != ","},
		{"--csv-null", format.CSV, s.CSVNull != ""},
		{"--parquet-row-group-rows", format.Parquet, s.RowGroupRows != DefaultRowGroupRows},
	} {
		if o.given && f != o.format {
			return usagef("%s applies to --format %s, not %s", o.flag, o.format, f)
		}
	}
	return nil
}

// SourceName names the source in messages: conn.table, or conn (query).
func (p *Plan) SourceName() string {
	if p.SrcRun != nil {
		return p.Src.Name + "." + p.SrcRun.String()
	}
	if p.Spec.Query != "" {
		return p.Src.Name + " (query)"
	}
	return p.Src.Name + "." + p.SrcRef.String()
}

// TargetName names the target in messages: conn.object.
func (p *Plan) TargetName() string { return p.Tgt.Name + "." + p.TgtObject }

// ReadRequest is what the source reads: the table or query, with the
// columns and predicate asked for.
func (p *Plan) ReadRequest() sdk.ReadRequest {
	req := sdk.ReadRequest{Conn: p.Src.Wire(), Columns: p.Columns, Where: p.Spec.Where}
	if p.Spec.Query != "" {
		req.Source = sdk.Source{Query: p.Spec.Query}
	} else {
		ref := p.SrcRef
		req.Source = sdk.Source{Object: &ref}
	}
	return req
}

// writeMode checks --write-mode and --primary-keys, which only a table
// target takes.
func writeMode(mode string, keys []string, toStore bool) (sdk.WriteMode, error) {
	if toStore {
		if mode != "" || len(keys) > 0 {
			return "", usagef("--write-mode and --primary-keys apply to a table target, not to files")
		}
		return "", nil
	}
	switch m := sdk.WriteMode(mode); m {
	case "", sdk.Replace, sdk.Append:
		if len(keys) > 0 {
			return "", usagef("--primary-keys applies to --write-mode merge")
		}
		if m == "" {
			return sdk.Replace, nil
		}
		return m, nil
	case sdk.Merge:
		if len(keys) == 0 {
			return "", usagef("--write-mode merge needs --primary-keys")
		}
		return m, nil
	}
	return "", usagef("--write-mode %q: want replace, append or merge", mode)
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

// usagef is an error in what the user asked for.
func usagef(format string, args ...any) error { return sdk.InvalidArgumentf(format, args...) }
