package run

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/runread"
)

// FilesSpec is --files: plain files, which no manifest describes, as the
// source of a snapshot. Its zero value holds the flags' defaults.
type FilesSpec struct {
	Glob, Format string
	// NoHeader is --files-header=false.
	NoHeader  bool
	Delimiter string
	// Quote is one character, "" for '"', or "none".
	Null, Quote string
	Schema      string
}

func bindFilesFlags(fl *pflag.FlagSet, s *FilesSpec) {
	fl.StringVar(&s.Glob, "files", "", "Read plain files (no manifest) matching this glob under the source connection, in name order: "+
		"CSV, TSV, JSON Lines or Parquet by extension, optionally .gz, .zst or .sz")
	fl.StringVar(&s.Format, "files-format", "", "With --files: csv, tsv, jsonl or parquet for every file (default: by each file's extension)")
	fl.VarPF(notFlag{&s.NoHeader}, "files-header", "", "With --files: CSV and TSV files start with a header row naming the columns").NoOptDefVal = "true"
	fl.StringVar(&s.Delimiter, "files-delimiter", "", "With --files: the CSV field delimiter, one character (default , for csv and a tab for tsv)")
	fl.StringVar(&s.Null, "files-null", "", "With --files: the text of NULL in CSV and TSV (default: an empty unquoted field; \"\" is the empty string)")
	fl.StringVar(&s.Quote, "files-quote", "", "With --files: the CSV quote character, one ASCII character (default \"), or none")
	fl.StringVar(&s.Schema, "schema", "", "With --files: the columns and their types, name:type,... e.g. id:int64,name:utf8,amount:decimal(18,2),ts:timestamp[us,UTC] "+
		"(default: Parquet's own; for CSV the header's names, every column utf8; for JSON Lines inferred from the first 100 lines when simple)")
}

// notFlag is a boolean flag, true by default, kept negated so that the
// zero value of what it sets is its default.
type notFlag struct{ not *bool }

func (f notFlag) String() string   { return strconv.FormatBool(!*f.not) }
func (f notFlag) Type() string     { return "bool" }
func (f notFlag) IsBoolFlag() bool { return true }
func (f notFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	*f.not = !v
	return err
}

// given reports whether any --files option other than --files is set.
func (s FilesSpec) given() bool {
	return s != FilesSpec{Glob: s.Glob}
}

// splitSource splits the source into connection and object; with --files
// the source may be a bare connection (the glob is matched under its root).
func splitSource(s Spec) (conn, object string, err error) {
	if s.Files.Glob == "" {
		if s.Files.given() {
			return "", "", usagef("--files-format, --files-header, --files-delimiter, --files-null, --files-quote and --schema apply with --files")
		}
		return config.SplitConnObject(s.Source)
	}
	if !strings.Contains(s.Source, ".") && s.Source != "" {
		return s.Source, "", nil
	}
	return config.SplitConnObject(s.Source)
}

// filesSource validates --files: the source is the plain files matching
// the glob under the object's prefix, read whole.
func (p *Plan) filesSource(prefix string) (runread.FilesOptions, error) {
	s := p.Spec.Files
	var o runread.FilesOptions
	if strings.Contains(prefix, "@") {
		return o, usagef("--files reads plain files, not a run: drop the @<run_id> from the source")
	}
	if p.Kind == KindDelta {
		return o, usagef("--files applies to hp cp snap")
	}
	g := s.Glob
	if strings.HasPrefix(g, "/") || g != path.Clean(g) || g == ".." || strings.HasPrefix(g, "../") {
		return o, usagef("--files %q: a relative glob below the source (e.g. 'in/*.csv.gz')", g)
	}
	if _, err := path.Match(g, ""); err != nil {
		return o, usagef("--files %q: %v", g, err)
	}
	if s.Format != "" {
		switch f := format.Format(strings.ToLower(s.Format)); f {
		case format.CSV, runread.TSV, format.JSONL, format.Parquet:
			o.Format = f
		default:
			return o, usagef("--files-format %q: want csv, tsv, jsonl or parquet", s.Format)
		}
	}
	o.CSV = format.CSVReadOptions{Header: !s.NoHeader, Null: s.Null}
	if s.Delimiter != "" {
		d := strings.ReplaceAll(s.Delimiter, `\t`, "\t")
		if utf8.RuneCountInString(d) != 1 {
			return o, usagef("--files-delimiter %q must be exactly one character", s.Delimiter)
		}
		o.CSV.Delimiter, _ = utf8.DecodeRuneInString(d)
	}
	switch {
	case s.Quote == "":
	case strings.EqualFold(s.Quote, "none"):
		o.CSV.NoQuote = true
	case len(s.Quote) != 1 || s.Quote[0] >= utf8.RuneSelf:
		return o, usagef("--files-quote %q must be one ASCII character, or none", s.Quote)
	default:
		o.CSV.Quote = s.Quote[0]
	}
	q := rune(o.CSV.Quote)
	if q == 0 {
		q = '"'
	}
	if !o.CSV.NoQuote && (q == o.CSV.Delimiter || (q == ',' && o.CSV.Delimiter == 0 && o.Format != runread.TSV)) {
		return o, usagef("--files-quote and --files-delimiter must differ")
	}
	if s.Schema != "" {
		schema, err := format.ParseSchema(s.Schema)
		if err != nil {
			return o, usagef("--schema: %v", err)
		}
		o.Schema = schema
	}
	return o, nil
}

// filesName is the layout's {table} for files: the glob's last literal
// directory, else the connection's name.
func filesName(conn, prefix, glob string) string {
	dir := path.Join(prefix, glob)
	if i := strings.IndexAny(dir, `*?[\`); i >= 0 {
		dir = dir[:i]
	}
	if i := strings.LastIndex(dir, "/"); i >= 0 {
		return path.Base(dir[:i])
	}
	return conn
}

// snapshotFiles copies the plain files the glob matches into the target:
// all of them, or, on any error (a value that does not parse, a file that
// does not match the first one's columns), nothing.
func snapshotFiles(ctx context.Context, env Env, p *Plan) (*Summary, error) {
	o, err := p.filesSource(p.SrcRun.Object)
	if err != nil {
		return nil, err
	}
	src, err := registry.OpenStore(ctx, p.Src, p.Spec.SourceType, nil, p.Spec.S3)
	if err != nil {
		return nil, err
	}
	matched, err := runread.Match(ctx, src, p.SrcRun.Object, p.SrcRun.Files)
	if err != nil {
		return nil, err
	}
	r, err := runread.OpenFiles(ctx, src, matched, o)
	if err != nil {
		return nil, err
	}
	l, err := newRunLoader(ctx, env, p)
	if err != nil {
		r.Release()
		return nil, err
	}
	from := copyFrom{what: fmt.Sprintf("%d files matching %q under %s", len(matched), p.SrcRun.Files, src.URL(p.SrcRun.Object)),
		name: p.SourceName(), object: p.SrcRun.String()}
	s, err := l.copyRecords(ctx, r, from, p.WriteMode, p.Keys)
	if err != nil {
		return nil, err
	}
	s.Mode = string(KindSnap)
	return s, nil
}
