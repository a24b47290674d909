package runread

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Plain files, which no manifest describes, are read in name order, each
// file's format and compression known by its extension (or given), the
// schema given, Parquet's own, a CSV header's names as text, or inferred
// from the first JSON Lines (format.InferJSONL).

// TSV is CSV with a tab delimiter, as far as reading goes.
const TSV format.Format = "tsv"

// FilesOptions say how plain files are read.
type FilesOptions struct {
	// Format is csv, tsv, jsonl or parquet for every file; "" goes by
	// each file's extension.
	Format format.Format
	// CSV options; Delimiter 0 is ',' (a tab for TSV).
	CSV format.CSVReadOptions
	// Schema is the columns and types; nil is Parquet's own, a CSV
	// header's names (every column utf8), or inferred from JSON Lines; the
	// first file's, for every file.
	Schema *arrow.Schema
}

// Match lists the objects under prefix whose keys below it match glob
// (path.Match: '*', '?' and '[...]' within one path segment), in name
// order. No match is an error naming where hp looked.
func Match(ctx context.Context, st store.Store, prefix, glob string) ([]store.ObjectInfo, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	// List only below the glob's literal directories.
	lit := glob
	if i := strings.IndexAny(lit, `*?[\`); i >= 0 {
		lit = lit[:i]
	}
	lit = lit[:strings.LastIndex(lit, "/")+1]
	objs, err := st.List(ctx, prefix+lit)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", st.URL(prefix+lit), err)
	}
	var out []store.ObjectInfo
	for _, o := range objs {
		rel, ok := strings.CutPrefix(o.Key, prefix)
		if !ok {
			continue
		}
		if m, err := path.Match(glob, rel); err != nil {
			return nil, sdk.InvalidArgumentf("--files %q: %v", glob, err)
		} else if m {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return nil, sdk.NotFoundf("no file under %s matches %q", st.URL(strings.TrimSuffix(prefix, "/")), glob)
	}
	return out, nil
}

// FileFormat is the format and compression of a file named name: by its
// extension, the format given (f) taking precedence.
func FileFormat(name string, f format.Format) (format.Format, format.Compression, error) {
	base := strings.ToLower(path.Base(name))
	comp := format.None
	for ext, c := range map[string]format.Compression{".gz": format.Gzip, ".gzip": format.Gzip, ".zst": format.Zstd, ".zstd": format.Zstd, ".sz": format.Snappy, ".snappy": format.Snappy} {
		if b, ok := strings.CutSuffix(base, ext); ok {
			base, comp = b, c
			break
		}
	}
	if f == "" {
		switch path.Ext(base) {
		case ".csv", ".txt":
			f = format.CSV
		case ".tsv", ".tab":
			f = TSV
		case ".jsonl", ".ndjson":
			f = format.JSONL
		case ".parquet", ".pq":
			f = format.Parquet
		default:
			return "", "", fmt.Errorf("unknown file type (extensions .csv, .tsv, .jsonl, .ndjson, .parquet, optionally .gz, .zst or .sz; or give --files-format)")
		}
	}
	if f == format.Parquet && comp != format.None {
		return "", "", fmt.Errorf("a Parquet file is compressed inside, not as a whole (%s)", comp)
	}
	return f, comp, nil
}

// FilesReader reads plain files as one stream of record batches. It is an
// array.RecordReader; Err names the file at fault (and the line and
// column for a text file).
type FilesReader struct {
	ctx    context.Context
	st     store.Store
	files  []store.ObjectInfo
	o      FilesOptions
	schema *arrow.Schema
	refs   atomic.Int64

	next int
	cur  *plain
	rec  arrow.RecordBatch
	err  error
}

// OpenFiles starts reading files from st. It opens the first file, so a
// file that cannot be read, or a schema that cannot be known, fails here.
func OpenFiles(ctx context.Context, st store.Store, files []store.ObjectInfo, o FilesOptions) (*FilesReader, error) {
	r := &FilesReader{ctx: ctx, st: st, files: files, o: o, schema: o.Schema}
	r.refs.Store(1)
	if err := r.open(); err != nil {
		return nil, err
	}
	r.schema = r.cur.dec.Schema()
	return r, nil
}

// Files is how many files match.
func (r *FilesReader) Files() int { return len(r.files) }

func (r *FilesReader) Schema() *arrow.Schema { return r.schema }

func (r *FilesReader) Retain() { r.refs.Add(1) }

func (r *FilesReader) Release() {
	if r.refs.Add(-1) == 0 {
		r.drop()
		r.closeCur()
	}
}

func (r *FilesReader) drop() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

func (r *FilesReader) closeCur() {
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
}

func (r *FilesReader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record is RecordBatch.
//
// Deprecated: use RecordBatch.
func (r *FilesReader) Record() arrow.RecordBatch { return r.rec }

func (r *FilesReader) Err() error { return r.err }

func (r *FilesReader) Next() bool {
	r.drop()
	for r.err == nil {
		if r.cur == nil {
			if r.next == len(r.files) {
				return false
			}
			if r.err = r.open(); r.err != nil {
				return false
			}
		}
		rec, err := r.cur.dec.Read()
		switch {
		case err == nil:
			r.rec = rec
			return true
		case errors.Is(err, io.EOF):
			r.closeCur()
		default:
			r.err = fmt.Errorf("file %s: %w", r.cur.url, err)
			r.closeCur()
		}
	}
	return false
}

// open opens the next file.
func (r *FilesReader) open() error {
	f := r.files[r.next]
	r.next++
	url := r.st.URL(f.Key)
	p, err := openPlain(r.ctx, r.st, f.Key, url, r.o, r.schema)
	if err != nil {
		return fmt.Errorf("file %s: %w", url, err)
	}
	r.cur = p
	return nil
}

// plain is one plain file being read.
type plain struct {
	url     string
	dec     format.Decoder
	closers []func()
}

func (p *plain) close() {
	if p.dec != nil {
		p.dec.Release()
	}
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

// openPlain opens the file at key, read into schema (nil: the file's own).
func openPlain(ctx context.Context, st store.Store, key, url string, o FilesOptions, schema *arrow.Schema) (p *plain, err error) {
	ff, comp, err := FileFormat(key, o.Format)
	if err != nil {
		return nil, err
	}
	body, err := st.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	p = &plain{url: url, closers: []func(){func() { _ = body.Close() }}}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if ff == format.Parquet {
		// The footer comes first: a local copy to read it from.
		tmp, err := os.CreateTemp("", "hp-files-*.parquet")
		if err != nil {
			return p, fmt.Errorf("a temporary file for a Parquet file: %w", err)
		}
		p.closers = append(p.closers, func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) })
		if _, err := io.Copy(tmp, body); err != nil {
			return p, err
		}
		p.dec, err = format.NewParquetDecoder(ctx, tmp, schema)
		return p, err
	}
	raw, err := format.NewDecompressor(body, comp)
	if err != nil {
		return p, fmt.Errorf("decompressing (%s): %w", comp, err)
	}
	p.closers = append(p.closers, func() { _ = raw.Close() })
	text := skipBOM(raw)
	if ff == format.JSONL {
		if schema == nil {
			if schema, text, err = format.InferJSONL(text); err != nil {
				return p, err
			}
		}
		p.dec, err = format.NewJSONLDecoder(text, schema)
		return p, err
	}
	co := o.CSV
	if ff == TSV && co.Delimiter == 0 {
		co.Delimiter = '\t'
	}
	switch {
	case schema != nil:
		p.dec, err = format.NewCSVDecoder(text, schema, co)
	case !co.Header:
		err = errors.New("CSV files without a header (--files-header=false) need --schema (name:type,...)")
	default:
		p.dec, err = format.NewCSVHeaderDecoder(text, co)
	}
	return p, err
}

var bom = []byte("\xef\xbb\xbf")

// skipBOM drops a UTF-8 byte order mark, which spreadsheets write.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 256<<10)
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		_, _ = br.Discard(len(bom))
	}
	return br
}
