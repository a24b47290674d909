// Package verify re-reads the data files of a published run and checks
// them against its manifest: every file exists and has the size, SHA-256
// and row count the manifest records. Each object is streamed once, through
// the hash, a byte counter and a row counter that understands the file's
// format and compression, so memory stays small whatever the file size.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// Result is the check of one data file.
type Result struct {
	Path           string   `json:"path"`
	URL            string   `json:"url"`
	OK             bool     `json:"ok"`
	Rows           int64    `json:"rows"`
	ExpectedRows   int64    `json:"expected_rows"`
	Bytes          int64    `json:"bytes"`
	ExpectedBytes  int64    `json:"expected_bytes"`
	SHA256         string   `json:"sha256,omitempty"`
	ExpectedSHA256 string   `json:"expected_sha256"`
	Problems       []string `json:"problems,omitempty"`
}

// RunResult is the check of one run.
type RunResult struct {
	RunID         string   `json:"run_id"`
	ManifestURL   string   `json:"manifest_url,omitempty"`
	OK            bool     `json:"ok"`
	Files         []Result `json:"files"`
	FailedFiles   int      `json:"failed_files"`
	Rows          int64    `json:"rows"`
	ExpectedRows  int64    `json:"expected_rows"`
	Bytes         int64    `json:"bytes"`
	ExpectedBytes int64    `json:"expected_bytes"`
	Problems      []string `json:"problems,omitempty"`
}

// Options tune Run.
type Options struct {
	// Parallel is how many files are read at once (default 1).
	Parallel int
	// OnFile, when set, sees every file's result in manifest order as soon
	// as it and the files before it are checked.
	OnFile func(Result)
}

// copyBuffer is the read size: large enough that per-call overhead of the
// hash and counters vanishes.
const copyBuffer = 256 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, copyBuffer); return &b }}

// File checks one data file of manifest m. A missing, altered or
// unreadable file is a failed Result; the error is for failures to read
// the store itself (and cancellation), which say nothing about the file.
func File(ctx context.Context, st store.Store, f manifest.File, m *manifest.Manifest) (Result, error) {
	r := Result{Path: f.Path, URL: f.URL, ExpectedRows: f.Rows, ExpectedBytes: f.Bytes, ExpectedSHA256: f.SHA256}
	key, err := store.CleanKey(f.Path)
	if err != nil {
		r.Problems = append(r.Problems, "bad path in the manifest: "+err.Error())
		return r, nil
	}
	r.URL = st.URL(key)
	rc, err := st.Open(ctx, key)
	if errors.Is(err, store.ErrNotExist) {
		r.Problems = append(r.Problems, "missing: the object does not exist")
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("opening %s: %w", r.URL, err)
	}
	defer rc.Close()

	src := &sourceReader{ctx: ctx, r: rc}
	raw := &rawCounter{h: sha256.New()}
	counter, comp, problem := newCounter(f, m)
	if p, ok := counter.(*parquetRows); ok {
		defer p.release()
	}
	var contentErr error
	switch {
	case counter == nil:
		contentErr = pump(raw, src)
	case comp == format.None:
		contentErr = pump(io.MultiWriter(raw, counter), src)
	default:
		tee := io.TeeReader(src, raw)
		contentErr = decompress(counter, tee, comp)
		// Whatever the decompressor left (trailing bytes, or all of it
		// after an error) still counts for the size and hash.
		if err := pump(io.Discard, tee); err != nil && src.err == nil {
			src.err = err
		}
	}
	if src.err != nil {
		return r, fmt.Errorf("reading %s: %w", r.URL, src.err)
	}
	r.Bytes, r.SHA256 = raw.n, hex.EncodeToString(raw.h.Sum(nil))
	if r.Bytes != r.ExpectedBytes {
		r.Problems = append(r.Problems, fmt.Sprintf("bytes: expected %d, got %d", r.ExpectedBytes, r.Bytes))
	}
	if r.SHA256 != r.ExpectedSHA256 {
		r.Problems = append(r.Problems, fmt.Sprintf("sha256: expected %s, got %s", r.ExpectedSHA256, r.SHA256))
	}
	if problem == "" && contentErr == nil {
		r.Rows, contentErr = counter.Rows()
		if contentErr == nil && r.Rows != r.ExpectedRows {
			r.Problems = append(r.Problems, fmt.Sprintf("rows: expected %d, got %d", r.ExpectedRows, r.Rows))
		}
	}
	if p, ok := counter.(*parquetRows); ok && contentErr == nil {
		if sp := schemaProblem(p.md, m); sp != "" {
			r.Problems = append(r.Problems, sp)
		}
	}
	switch {
	case problem != "":
		r.Problems = append(r.Problems, problem)
	case contentErr != nil:
		r.Problems = append(r.Problems, "rows: cannot count: "+contentErr.Error())
	}
	r.OK = len(r.Problems) == 0
	return r, nil
}

// newCounter picks the row counter of a file's format. problem says why
// rows cannot be counted (the counter is then nil).
func newCounter(f manifest.File, m *manifest.Manifest) (rowCounter, format.Compression, string) {
	fs, cs := m.FormatOf(f)
	ff, err := format.ParseFormat(fs)
	if err != nil {
		return nil, "", "rows: cannot count: " + err.Error()
	}
	if ff == format.Parquet {
		// Parquet compresses pages, not the file.
		return newParquetRows(), format.None, ""
	}
	comp := format.None
	if cs != "" {
		if comp, err = format.ParseCompression(cs); err != nil {
			return nil, "", "rows: cannot count: " + err.Error()
		}
	}
	if ff == format.JSONL {
		return &lines{}, comp, ""
	}
	header := m.CSV == nil || m.CSV.Header // Halfpipe writes a header by default
	return &csvCounter{header: header}, comp, ""
}

// csvCounter discounts the header line.
type csvCounter struct {
	csvRows
	header bool
}

func (c *csvCounter) Rows() (int64, error) {
	n, _ := c.csvRows.Rows()
	if c.header && n > 0 {
		n--
	}
	return n, nil
}

func decompress(w io.Writer, r io.Reader, c format.Compression) error {
	var err error
	switch c {
	case format.Gzip:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(r); err == nil {
			err = pump(w, zr)
			_ = zr.Close()
		}
	case format.Zstd:
		var zr *zstd.Decoder
		if zr, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(2)); err == nil {
			err = pump(w, zr)
			zr.Close()
		}
	case format.Snappy:
		// The writer uses Snappy-compatible framing, which s2 reads.
		err = pump(w, s2.NewReader(r))
	default:
		return fmt.Errorf("compression %q is not supported", c)
	}
	if err != nil && !strings.HasPrefix(err.Error(), string(c)+":") {
		err = fmt.Errorf("%s: %w", c, err)
	}
	return err
}

// pump copies r to w through a pooled buffer.
func pump(w io.Writer, r io.Reader) error {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// sourceReader remembers the store's own read error, to tell a broken
// store from a broken file, and stops on cancellation.
type sourceReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

type rawCounter struct {
	h hash.Hash
	n int64
}

func (c *rawCounter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// Run checks every file of manifest m and the totals.
func Run(ctx context.Context, st store.Store, m *manifest.Manifest, o Options) (RunResult, error) {
	rr := RunResult{RunID: m.RunID, ExpectedRows: m.TotalRows, ExpectedBytes: m.TotalBytes, Files: make([]Result, len(m.Files))}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		done     = make([]bool, len(m.Files))
		next     int
		firstErr error
		wg       sync.WaitGroup
		work     = make(chan int)
	)
	finish := func(i int, r Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
				cancel()
			}
			return
		}
		rr.Files[i], done[i] = r, true
		for next < len(done) && done[next] && firstErr == nil {
			if o.OnFile != nil {
				o.OnFile(rr.Files[next])
			}
			next++
		}
	}
	for range max(1, min(o.Parallel, len(m.Files))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r, err := File(ctx, st, m.Files[i], m)
				finish(i, r, err)
			}
		}()
	}
feed:
	for i := range m.Files {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return rr, firstErr
	}
	if err := ctx.Err(); err != nil {
		return rr, err
	}
	for _, r := range rr.Files {
		rr.Rows += r.Rows
		rr.Bytes += r.Bytes
		if !r.OK {
			rr.FailedFiles++
		}
	}
	if rr.Rows != rr.ExpectedRows {
		rr.Problems = append(rr.Problems, fmt.Sprintf("total rows: expected %d, got %d", rr.ExpectedRows, rr.Rows))
	}
	if rr.Bytes != rr.ExpectedBytes {
		rr.Problems = append(rr.Problems, fmt.Sprintf("total bytes: expected %d, got %d", rr.ExpectedBytes, rr.Bytes))
	}
	rr.OK = rr.FailedFiles == 0 && len(rr.Problems) == 0
	return rr, nil
}
