// Package engine runs a snapshot: it pulls Arrow batches from a source
// plugin and pushes them through an encoder into files of bounded size in a
// store, then publishes a manifest. Reading and encoding run on separate
// goroutines joined by a small channel, so memory is bounded by a few
// batches whatever the table size, and a slow store slows the source.
//
// A run either publishes everything (data files, then the manifest) or
// nothing: on any failure the file being written is aborted, the files
// already committed by this run are deleted, and no manifest is written.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// Job describes one run.
type Job struct {
	// Records is the source stream; Run releases it.
	Records array.RecordReader
	Store   store.Store
	// FileKey names data file part (1-based).
	FileKey func(part int) (string, error)
	// ManifestKey is where the manifest goes; empty = publish no manifest
	// (stdout targets).
	ManifestKey string
	// Extra objects written after the manifest (e.g. Halfpipe's .man),
	// built from the final manifest.
	Extra func(m *manifest.Manifest) (map[string][]byte, error)
	// NewEncoder starts the encoder of one file.
	NewEncoder func(w io.Writer, schema *arrow.Schema) (format.Encoder, error)
	// MaxFileRows and MaxFileBytes rotate files; 0 = no limit. Bytes are
	// the bytes written to the store (after compression).
	MaxFileRows  int64
	MaxFileBytes int64
	// Manifest is filled in by the caller (run id, source, target, format,
	// mode); Run adds the schema, files, totals and finish time.
	Manifest *manifest.Manifest
	Stats    *Stats
	Logger   *slog.Logger
}

// Stats are live counters, safe to read while the job runs.
type Stats struct {
	Rows  atomic.Int64
	Bytes atomic.Int64
	Files atomic.Int64
}

// Result is a published run.
type Result struct {
	Manifest    *manifest.Manifest
	ManifestURL string
}

// queueDepth is how many batches may wait between the reader and the
// encoder: enough to keep both cores busy, small enough to bound memory.
// queueBytes bounds their bytes, with the batch being encoded: batches of a
// few MiB never reach it, but a batch of huge values waits until the one
// before it is encoded, so that no more than two are held at once (the
// encoded one and the one the reader just decoded).
const (
	queueDepth = 2
	queueBytes = 32 << 20
)

// byteBudget counts the bytes of the batches between the reader and the
// encoder. A batch larger than the budget is let through alone.
type byteBudget struct {
	mu   sync.Mutex
	cond sync.Cond
	used int64
}

func (b *byteBudget) acquire(n int64) {
	b.mu.Lock()
	for b.used > 0 && b.used+n > queueBytes {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}

// batchBytes is the size of a batch's buffers.
func batchBytes(rec arrow.RecordBatch) int64 {
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
		if d.DataType().ID() == arrow.DICTIONARY {
			walk(d.Dictionary())
		}
	}
	for _, c := range rec.Columns() {
		walk(c.Data())
	}
	return n
}

// queued is a batch with the bytes it holds of the budget.
type queued struct {
	rec   arrow.RecordBatch
	bytes int64
}

// Run executes the job.
func Run(ctx context.Context, job Job) (*Result, error) {
	if job.Stats == nil {
		job.Stats = &Stats{}
	}
	if job.Logger == nil {
		job.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	batches := make(chan queued, queueDepth)
	budget := &byteBudget{}
	budget.cond.L = &budget.mu
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(batches)
		for job.Records.Next() {
			rec := job.Records.RecordBatch()
			rec.Retain()
			q := queued{rec, batchBytes(rec)}
			budget.acquire(q.bytes)
			select {
			case batches <- q:
			case <-ctx.Done():
				rec.Release()
				budget.release(q.bytes)
				return
			}
		}
		readErr = job.Records.Err()
	}()

	w := &writer{job: &job, ctx: ctx, schema: job.Records.Schema()}
	err := w.consume(batches, budget)
	if err != nil {
		cancel()
	}
	for q := range batches {
		q.rec.Release()
		budget.release(q.bytes)
	}
	<-readDone
	job.Records.Release()
	if err == nil && readErr != nil {
		err = fmt.Errorf("reading the source: %w", readErr)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		w.rollback()
		return nil, err
	}
	return w.publish()
}

// writer owns the encoder and the file being written.
type writer struct {
	job    *Job
	ctx    context.Context
	schema *arrow.Schema
	cur    *file
	files  []manifest.File
	// chunkRows bounds the rows encoded between size checks when a byte
	// limit is set; it adapts to the observed bytes per row.
	chunkRows int64
}

type file struct {
	obj  store.Object
	out  *hashingWriter
	enc  format.Encoder
	rows int64
	part int
}

func (w *writer) consume(batches <-chan queued, budget *byteBudget) error {
	w.chunkRows = 1024
	if w.job.MaxFileBytes > 0 {
		// One row first: its bytes size the next chunk, so that the first
		// chunk cannot cross a limit that is small for the rows' width.
		w.chunkRows = 1
	}
	for q := range batches {
		err := w.write(q.rec)
		q.rec.Release()
		budget.release(q.bytes)
		if err != nil {
			return err
		}
	}
	return w.closeFile()
}

func (w *writer) write(rec arrow.RecordBatch) error {
	n := rec.NumRows()
	for off := int64(0); off < n; {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if w.cur == nil {
			if err := w.openFile(); err != nil {
				return err
			}
		}
		k := n - off
		if w.job.MaxFileRows > 0 {
			k = min(k, w.job.MaxFileRows-w.cur.rows)
		}
		if w.job.MaxFileBytes > 0 {
			k = min(k, w.chunkRows)
		}
		if err := w.encode(rec, off, k); err != nil {
			return err
		}
		off += k
		if w.full() {
			if err := w.closeFile(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *writer) encode(rec arrow.RecordBatch, off, k int64) error {
	part := rec
	if off != 0 || k != rec.NumRows() {
		part = rec.NewSlice(off, off+k)
		defer part.Release()
	}
	before := w.cur.out.n + w.cur.enc.Buffered()
	if err := w.cur.enc.Write(part); err != nil {
		return fmt.Errorf("encoding %s: %w", w.cur.obj.Key(), err)
	}
	w.cur.rows += k
	w.job.Stats.Rows.Add(k)
	if w.job.MaxFileBytes > 0 {
		if f, ok := w.cur.enc.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil {
				return fmt.Errorf("writing %s: %w", w.cur.obj.Key(), err)
			}
		}
		w.adaptChunk(k, w.cur.out.n+w.cur.enc.Buffered()-before)
	}
	return nil
}

// adaptChunk sizes the next chunk to about 1/16 of the byte limit, so a
// file overshoots its limit by at most that much.
func (w *writer) adaptChunk(rows, bytes int64) {
	if rows <= 0 {
		return
	}
	if bytes <= 0 {
		// The encoder holds the rows unseen: grow until it shows bytes.
		if w.chunkRows < 1024 {
			w.chunkRows = min(1024, 2*w.chunkRows)
		}
		return
	}
	perRow := max(1, bytes/rows)
	w.chunkRows = max(1, w.job.MaxFileBytes/16/perRow)
}

func (w *writer) full() bool {
	if w.job.MaxFileRows > 0 && w.cur.rows >= w.job.MaxFileRows {
		return true
	}
	if w.job.MaxFileBytes > 0 {
		size := w.cur.out.n + w.cur.enc.Buffered()
		// Rotate before the next chunk would cross the limit.
		return size+size/max(1, w.cur.rows)*w.chunkRows > w.job.MaxFileBytes
	}
	return false
}

func (w *writer) openFile() error {
	part := len(w.files) + 1
	key, err := w.job.FileKey(part)
	if err != nil {
		return err
	}
	obj, err := w.job.Store.Create(w.ctx, key)
	if err != nil {
		return fmt.Errorf("creating %s: %w", w.job.Store.URL(key), err)
	}
	out := &hashingWriter{w: obj, h: sha256.New(), stats: w.job.Stats}
	enc, err := w.job.NewEncoder(out, w.schema)
	if err != nil {
		_ = obj.Abort(w.ctx)
		return err
	}
	w.cur = &file{obj: obj, out: out, enc: enc, part: part}
	return nil
}

func (w *writer) closeFile() error {
	f := w.cur
	if f == nil {
		return nil
	}
	if err := f.enc.Close(); err != nil {
		return fmt.Errorf("finishing %s: %w", f.obj.Key(), err)
	}
	if err := f.obj.Commit(w.ctx); err != nil {
		return fmt.Errorf("committing %s: %w", w.job.Store.URL(f.obj.Key()), err)
	}
	w.cur = nil
	w.files = append(w.files, manifest.File{
		Path: f.obj.Key(), URL: w.job.Store.URL(f.obj.Key()), Part: f.part,
		Rows: f.rows, Bytes: f.out.n, SHA256: hex.EncodeToString(f.out.h.Sum(nil)),
		Format: w.job.Manifest.Format, Compression: w.job.Manifest.Compression,
	})
	w.job.Stats.Files.Add(1)
	w.job.Logger.Debug("file written", "url", w.job.Store.URL(f.obj.Key()), "rows", f.rows, "bytes", f.out.n)
	return nil
}

// rollback removes every trace of a failed run. It uses a fresh context:
// the run's own may be the reason it failed.
func (w *writer) rollback() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if w.cur != nil {
		if err := w.cur.obj.Abort(ctx); err != nil {
			w.job.Logger.Error("could not discard a partial file", "key", w.cur.obj.Key(), "error", err)
		}
		w.cur = nil
	}
	for _, f := range w.files {
		if err := w.job.Store.Delete(ctx, f.Path); err != nil {
			w.job.Logger.Error("could not delete a file of the failed run", "url", f.URL, "error", err)
		}
	}
	w.files = nil
}

func (w *writer) publish() (*Result, error) {
	m := w.job.Manifest
	schema, err := manifest.SchemaOf(w.schema)
	if err != nil {
		w.rollback()
		return nil, err
	}
	m.Schema = schema
	m.Files = w.files
	m.TotalRows, m.TotalBytes = 0, 0
	for _, f := range w.files {
		m.TotalRows += f.Rows
		m.TotalBytes += f.Bytes
	}
	m.FinishedAt = time.Now().UTC()
	res := &Result{Manifest: m}
	if w.job.ManifestKey == "" {
		return res, nil
	}
	data, err := m.Marshal()
	if err != nil {
		w.rollback()
		return nil, err
	}
	// Extra markers (Halfpipe's .man) go first and the manifest last: the
	// manifest is the commit point, so every failure before it unpublishes
	// the whole run.
	var extraKeys []string
	undo := func() {
		for _, k := range extraKeys {
			_ = w.job.Store.Delete(context.Background(), k)
		}
		w.rollback()
	}
	if w.job.Extra != nil {
		extra, err := w.job.Extra(m)
		if err != nil {
			w.rollback()
			return nil, err
		}
		for key, body := range extra {
			if err := w.job.Store.PutIfAbsent(w.ctx, key, body); err != nil {
				undo()
				return nil, fmt.Errorf("writing %s: %w", w.job.Store.URL(key), err)
			}
			extraKeys = append(extraKeys, key)
		}
	}
	if err := w.job.Store.PutIfAbsent(w.ctx, w.job.ManifestKey, data); err != nil {
		undo()
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("manifest %s already exists: another run published there; this run published nothing", w.job.Store.URL(w.job.ManifestKey))
		}
		return nil, fmt.Errorf("publishing manifest %s: %w", w.job.Store.URL(w.job.ManifestKey), err)
	}
	res.ManifestURL = w.job.Store.URL(w.job.ManifestKey)
	return res, nil
}

// hashingWriter computes the SHA-256 and size of a file while it streams.
type hashingWriter struct {
	w     io.Writer
	h     hash.Hash
	n     int64
	stats *Stats
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	hw.stats.Bytes.Add(int64(n))
	return n, err
}
