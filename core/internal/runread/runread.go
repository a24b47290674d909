// Package runread reads published runs back as Arrow record batches: the
// schema from the manifest (so every type is the one that was written),
// the files in manifest order, each checked against the manifest while it
// streams (bytes, SHA-256, rows), never read twice from the store.
//
// CSV and JSON Lines are decoded as the bytes arrive; their check
// completes at the file's end, so a damaged file fails the reader before
// it reports its end, and a target that commits only at the end (a table
// written in one transaction, a run whose manifest is written last)
// receives nothing. A Parquet file needs its footer first: it is copied
// to a temporary file while hashed, and decoded only once it matched.
package runread

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Runs lists the published runs of object in st, oldest first: the
// manifests directly under it (<object>/<run>/_manifest.json, or the
// halfpipe preset's <object>-<time>.manifest.json), and those deeper
// (custom layouts) published for an object of the same name. A manifest
// that cannot be parsed is an error naming it: it may be the newest run.
func Runs(ctx context.Context, st store.Store, object string) ([]manifest.Published, error) {
	object = strings.Trim(object, "/")
	found, err := manifest.Find(ctx, st, object)
	if err != nil {
		return nil, fmt.Errorf("listing the runs of %s: %w", st.URL(object), err)
	}
	var out []manifest.Published
	for _, p := range found {
		if rest, ok := strings.CutPrefix(p.Key, object+"/"); ok && strings.Count(rest, "/") > 1 &&
			(p.Manifest == nil || path.Base(p.Manifest.Target.Object) != path.Base(object)) {
			continue // a run of an object below this one
		}
		if p.Err != nil {
			return nil, fmt.Errorf("manifest %s cannot be read: %w (move it away, or name a run with %s@<run_id>)", p.URL, p.Err, object)
		}
		out = append(out, p)
	}
	return out, nil
}

// Find returns the run of object with id runID, or the latest published
// run when runID is empty.
func Find(ctx context.Context, st store.Store, object, runID string) (*manifest.Published, error) {
	runs, err := Runs(ctx, st, object)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, sdk.NotFoundf("no published run of %s (no manifest under it)", st.URL(strings.Trim(object, "/")))
	}
	if runID == "" {
		return &runs[len(runs)-1], nil
	}
	for i := range runs {
		if runs[i].Manifest.RunID == runID {
			return &runs[i], nil
		}
	}
	var ids []string
	for _, p := range runs[max(0, len(runs)-5):] {
		ids = append(ids, p.Manifest.RunID)
	}
	return nil, sdk.NotFoundf("%s has no run %s (latest runs: %s)", st.URL(strings.Trim(object, "/")), runID, strings.Join(ids, ", "))
}

// Reader reads the rows of one run. It is an array.RecordReader; Err
// names the file at fault.
type Reader struct {
	ctx    context.Context
	st     store.Store
	m      *manifest.Manifest
	schema *arrow.Schema
	refs   atomic.Int64

	next int   // index of the next file to open
	cur  *part // the file being read
	rec  arrow.RecordBatch
	err  error
	// Rows counts the rows read so far.
	Rows atomic.Int64
}

// Open starts reading the run m describes from st.
func Open(ctx context.Context, st store.Store, m *manifest.Manifest) (*Reader, error) {
	schema, err := m.Schema.Arrow()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", m.RunID, err)
	}
	r := &Reader{ctx: ctx, st: st, m: m, schema: schema}
	r.refs.Store(1)
	return r, nil
}

// Manifest is the run's manifest.
func (r *Reader) Manifest() *manifest.Manifest { return r.m }

func (r *Reader) Schema() *arrow.Schema { return r.schema }

func (r *Reader) Retain() { r.refs.Add(1) }

func (r *Reader) Release() {
	if r.refs.Add(-1) == 0 {
		r.drop()
		r.closePart()
	}
}

func (r *Reader) drop() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

func (r *Reader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record is RecordBatch.
//
// Deprecated: use RecordBatch.
func (r *Reader) Record() arrow.RecordBatch { return r.rec }

func (r *Reader) Err() error { return r.err }

func (r *Reader) Next() bool {
	r.drop()
	if r.err != nil {
		return false
	}
	for {
		if r.cur == nil {
			if r.next == len(r.m.Files) {
				return false
			}
			f := r.m.Files[r.next]
			r.next++
			p, err := openPart(r.ctx, r.st, f, r.m, r.schema)
			if err != nil {
				r.err = fmt.Errorf("run %s, file %s: %w", r.m.RunID, fileName(r.st, f), err)
				return false
			}
			r.cur = p
		}
		rec, err := r.cur.read()
		if err == nil {
			r.rec = rec
			r.Rows.Add(rec.NumRows())
			return true
		}
		if !errors.Is(err, io.EOF) {
			r.err = fmt.Errorf("run %s, file %s: %w", r.m.RunID, r.cur.url, err)
			r.closePart()
			return false
		}
		if err := r.cur.finish(); err != nil {
			r.err = fmt.Errorf("run %s, file %s: %w", r.m.RunID, r.cur.url, err)
			r.closePart()
			return false
		}
		r.closePart()
	}
}

func (r *Reader) closePart() {
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
}

func fileName(st store.Store, f manifest.File) string {
	if key, err := store.CleanKey(f.Path); err == nil {
		return st.URL(key)
	}
	return f.Path
}

// ErrDamaged is a file that does not match its manifest entry.
var ErrDamaged = errors.New("does not match the manifest")

// part is one data file being read.
type part struct {
	f    manifest.File
	url  string
	body io.ReadCloser
	raw  *counter
	// tee feeds raw; the decoder reads from it (text formats).
	tee  io.Reader
	dec  format.Decoder
	rows int64
	temp *os.File
	// closers closes the body and whatever reads it.
	closers func()
}

func (p *part) close() {
	if p.dec != nil {
		p.dec.Release()
	}
	p.closers()
}

// counter counts and hashes the bytes read from the store.
type counter struct {
	n int64
	h hash.Hash
}

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func openPart(ctx context.Context, st store.Store, f manifest.File, m *manifest.Manifest, schema *arrow.Schema) (*part, error) {
	key, err := store.CleanKey(f.Path)
	if err != nil {
		return nil, fmt.Errorf("bad path in the manifest: %w", err)
	}
	fs, cs := m.FormatOf(f)
	ff, err := format.ParseFormat(fs)
	if err != nil {
		return nil, err
	}
	comp, err := format.ParseCompression(cs)
	if err != nil {
		return nil, err
	}
	body, err := st.Open(ctx, key)
	if errors.Is(err, store.ErrNotExist) {
		return nil, fmt.Errorf("missing: %w", err)
	}
	if err != nil {
		return nil, err
	}
	p := &part{f: f, url: st.URL(key), body: body, raw: &counter{h: sha256.New()}}
	p.tee = io.TeeReader(body, p.raw)
	p.closers = func() { _ = body.Close() }
	if ff == format.Parquet {
		if err := p.spool(ctx, schema); err != nil {
			p.close()
			return nil, err
		}
		return p, nil
	}
	if err := p.text(ff, comp, m, schema); err != nil {
		p.close()
		return nil, p.damaged(err)
	}
	return p, nil
}

// text starts decoding a CSV or JSON Lines file as it streams.
func (p *part) text(ff format.Format, comp format.Compression, m *manifest.Manifest, schema *arrow.Schema) error {
	raw, err := format.NewDecompressor(p.tee, comp)
	if err != nil {
		return err
	}
	prev := p.closers
	p.closers = func() { _ = raw.Close(); prev() }
	if ff == format.JSONL {
		p.dec, err = format.NewJSONLDecoder(raw, schema)
		return err
	}
	o := format.CSVReadOptions{Header: true, Delimiter: ','}
	if c := m.CSV; c != nil {
		o.Header, o.Null = c.Header, c.Null
		if c.Delimiter != "" {
			o.Delimiter, _ = utf8.DecodeRuneInString(c.Delimiter)
		}
	}
	p.dec, err = format.NewCSVDecoder(raw, schema, o)
	return err
}

// spool copies a Parquet file to a temporary file through the hash, and
// opens it once it matches the manifest.
func (p *part) spool(ctx context.Context, schema *arrow.Schema) error {
	tmp, err := os.CreateTemp("", "hp-run-*.parquet")
	if err != nil {
		return fmt.Errorf("a temporary file for a Parquet file: %w", err)
	}
	p.temp = tmp
	prev := p.closers
	p.closers = func() {
		prev()
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}
	if _, err := io.Copy(tmp, p.tee); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	p.dec, err = format.NewParquetDecoder(ctx, tmp, schema)
	return err
}

func (p *part) read() (arrow.RecordBatch, error) {
	rec, err := p.dec.Read()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, p.damaged(err)
	}
	if err == nil {
		p.rows += rec.NumRows()
	}
	return rec, err
}

// damaged reads what is left of a file that failed to decode, so that a
// file altered since its run was published is reported as such.
func (p *part) damaged(decodeErr error) error {
	if p.temp == nil {
		if _, err := io.Copy(io.Discard, p.tee); err != nil {
			return decodeErr
		}
		if err := p.check(); err != nil {
			return err
		}
	}
	return decodeErr
}

// finish checks a file read to its end.
func (p *part) finish() error {
	if p.temp == nil {
		// Bytes after the end of the compressed stream still count.
		if _, err := io.Copy(io.Discard, p.tee); err != nil {
			return err
		}
		if err := p.check(); err != nil {
			return err
		}
	}
	if p.rows != p.f.Rows {
		return fmt.Errorf("%w: %d rows, the manifest says %d", ErrDamaged, p.rows, p.f.Rows)
	}
	return nil
}

// check compares the bytes read with the manifest's size and SHA-256.
func (p *part) check() error {
	if p.raw.n != p.f.Bytes {
		return fmt.Errorf("%w: %d bytes, the manifest says %d", ErrDamaged, p.raw.n, p.f.Bytes)
	}
	if sum := hex.EncodeToString(p.raw.h.Sum(nil)); sum != p.f.SHA256 {
		return fmt.Errorf("%w: SHA-256 %s, the manifest says %s", ErrDamaged, sum, p.f.SHA256)
	}
	return nil
}
