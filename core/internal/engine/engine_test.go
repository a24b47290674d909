package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// rowText is row id as the CSV encoder writes it (no header, ',').
func rowText(id int64) []string {
	return []string{strconv.FormatInt(id, 10), fmt.Sprintf("name-%06d-%s", id, strings.Repeat("x", int(id%7)))}
}

// batch builds rows first..first+n-1.
func batch(first, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema)
	defer b.Release()
	for id := first; id < first+n; id++ {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(rowText(id)[1])
	}
	return b.NewRecordBatch()
}

// source is an in-process source: batches of size rows, then failWith
// (nil: a clean end), or batches for ever when endless. before runs ahead
// of each batch (0-based). It records its release.
type source struct {
	size, batches int64
	endless       bool
	failWith      error
	before        func(i int64)

	next     int64
	cur      arrow.RecordBatch
	err      error
	released atomic.Bool
}

func (s *source) Schema() *arrow.Schema          { return testSchema }
func (s *source) RecordBatch() arrow.RecordBatch { return s.cur }
func (s *source) Record() arrow.RecordBatch      { return s.cur }
func (s *source) Err() error                     { return s.err }
func (s *source) Retain()                        {}

func (s *source) Release() {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	s.released.Store(true)
}

func (s *source) Next() bool {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	if !s.endless && s.next == s.batches {
		s.err = s.failWith
		return false
	}
	if s.before != nil {
		s.before(s.next)
	}
	s.cur = batch(s.next*s.size, s.size)
	s.next++
	return true
}

type encOpts []format.Option

// testJob is a job into a local store at dir, files run/part-N.<ext>,
// the manifest run/_manifest.json.
func testJob(t *testing.T, dir string, src array.RecordReader, opts encOpts) Job {
	t.Helper()
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{Version: manifest.Version, Tool: "halfpipe", RunID: "run-1", Mode: "snap",
		Format: "csv", Compression: "none"}
	return Job{
		Records: src, Store: st, Manifest: m, Stats: &Stats{},
		FileKey:     func(part int) (string, error) { return fmt.Sprintf("run/part-%d.csv", part), nil },
		ManifestKey: "run/" + manifest.FileName,
		NewEncoder: func(w io.Writer, schema *arrow.Schema) (format.Encoder, error) {
			return format.NewEncoder(w, schema, opts...)
		},
	}
}

var plainCSV = encOpts{format.WithFormat(format.CSV), format.WithCompression(format.None), format.WithCSVHeader(false)}

// files lists every file under dir (temporary ones too), relative.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readCSV reads the rows of the published files, in part order.
func readCSV(t *testing.T, dir string, m *manifest.Manifest) [][]string {
	t.Helper()
	var rows [][]string
	for _, f := range m.Files {
		data, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if int64(len(recs)) != f.Rows {
			t.Errorf("%s holds %d rows, the manifest says %d", f.Path, len(recs), f.Rows)
		}
		rows = append(rows, recs...)
	}
	return rows
}

// checkAllRows checks the files hold rows 0..n-1 in order.
func checkAllRows(t *testing.T, rows [][]string, n int64) {
	t.Helper()
	if int64(len(rows)) != n {
		t.Fatalf("%d rows published, want %d", len(rows), n)
	}
	for i, r := range rows {
		if want := rowText(int64(i)); !slices.Equal(r, want) {
			t.Fatalf("row %d is %q, want %q", i, r, want)
		}
	}
}

// publishedManifest reads the manifest the run wrote.
func publishedManifest(t *testing.T, dir string) *manifest.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "run", manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRotationByRows(t *testing.T) {
	for _, c := range []struct {
		name              string
		size, batches     int64
		maxRows           int64
		want              []int64
		rotationsInABatch bool
	}{
		{"batches smaller than files", 25, 10, 100, []int64{100, 100, 50}, false},
		{"exact multiple: no empty last file", 50, 4, 100, []int64{100, 100}, false},
		{"a batch spans several files", 250, 2, 60, []int64{60, 60, 60, 60, 60, 60, 60, 60, 20}, true},
		{"no limit", 100, 3, 0, []int64{300}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			src := &source{size: c.size, batches: c.batches}
			job := testJob(t, dir, src, plainCSV)
			job.MaxFileRows = c.maxRows
			res, err := Run(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, f := range res.Manifest.Files {
				got = append(got, f.Rows)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("files of %v rows, want %v", got, c.want)
			}
			checkAllRows(t, readCSV(t, dir, publishedManifest(t, dir)), c.size*c.batches)
			if !src.released.Load() {
				t.Error("the source was not released")
			}
		})
	}
}

func TestRotationByBytes(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  encOpts
		limit int64
		rows  int64
		slack int64
	}{
		// Text files rotate before the next chunk, sized to 1/16 of the
		// limit from the rows so far, would cross the limit; rows wider
		// than those may overshoot it by a little.
		{"csv", plainCSV, 64 << 10, 20000, 4 << 10},
		// The first chunk of 1024 rows made the first file 19887 bytes.
		{"small limit", plainCSV, 4 << 10, 2000, 256},
		{"csv gzip", encOpts{format.WithCompression(format.Gzip), format.WithCSVHeader(false)}, 32 << 10, 60000, 2 << 10},
		// Parquet rotates between row groups of at most a quarter of the
		// limit (as cp snap sets them).
		{"parquet", encOpts{format.WithFormat(format.Parquet), format.WithParquetRowGroupBytes(64 << 10)}, 256 << 10, 100000, 64 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			src := &source{size: 1000, batches: c.rows / 1000}
			job := testJob(t, dir, src, c.opts)
			job.MaxFileBytes = c.limit
			res, err := Run(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if m.TotalRows != c.rows || len(m.Files) < 3 {
				t.Fatalf("%d rows in %d files", m.TotalRows, len(m.Files))
			}
			for i, f := range m.Files {
				if f.Bytes > c.limit+c.slack {
					t.Errorf("file %d is %d bytes, limit %d", i+1, f.Bytes, c.limit)
				}
				if i < len(m.Files)-1 && f.Bytes < c.limit/2 {
					t.Errorf("file %d is only %d bytes: rotation is far too early (limit %d)", i+1, f.Bytes, c.limit)
				}
			}
		})
	}
}

// TestManifestDescribesTheFiles checks the published manifest against the
// files on disk: paths, parts, rows, sizes, SHA-256, totals, schema, and
// the live counters.
func TestManifestDescribesTheFiles(t *testing.T) {
	dir := t.TempDir()
	src := &source{size: 70, batches: 5}
	job := testJob(t, dir, src, plainCSV)
	job.MaxFileRows = 100
	job.Extra = func(m *manifest.Manifest) (map[string][]byte, error) {
		return map[string][]byte{"run/run.man": halfpipe.Man(m.FilePaths())}, nil
	}
	start := time.Now().UTC()
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if want := job.Store.URL("run/" + manifest.FileName); res.ManifestURL != want {
		t.Errorf("manifest URL %q, want %q", res.ManifestURL, want)
	}
	m := publishedManifest(t, dir)
	if len(m.Files) != 4 {
		t.Fatalf("%d files, want 4", len(m.Files))
	}
	var rows, size int64
	for i, f := range m.Files {
		want := fmt.Sprintf("run/part-%d.csv", i+1)
		if f.Path != want || f.Part != i+1 || f.URL != job.Store.URL(want) {
			t.Errorf("file %d: path %q part %d url %q", i+1, f.Path, f.Part, f.URL)
		}
		if f.Format != "csv" || f.Compression != "none" {
			t.Errorf("file %d: format %q compression %q", i+1, f.Format, f.Compression)
		}
		data, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if f.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: sha256 %s, the file's is %x", f.Path, f.SHA256, sum)
		}
		if f.Bytes != int64(len(data)) {
			t.Errorf("%s: %d bytes in the manifest, %d on disk", f.Path, f.Bytes, len(data))
		}
		rows += f.Rows
		size += f.Bytes
	}
	if m.TotalRows != 350 || rows != 350 || m.TotalBytes != size {
		t.Errorf("totals %d rows %d bytes; files add up to %d rows %d bytes", m.TotalRows, m.TotalBytes, rows, size)
	}
	if got := [3]int64{job.Stats.Rows.Load(), job.Stats.Bytes.Load(), job.Stats.Files.Load()}; got != [3]int64{350, size, 4} {
		t.Errorf("stats rows, bytes, files = %v, want [350 %d 4]", got, size)
	}
	schema, err := m.Schema.Arrow()
	if err != nil {
		t.Fatal(err)
	}
	if !schema.Equal(testSchema) {
		t.Errorf("manifest schema %s, want %s", schema, testSchema)
	}
	if m.FinishedAt.Before(start) || m.RunID != "run-1" || m.Mode != "snap" {
		t.Errorf("finished %v (started %v), run id %q, mode %q", m.FinishedAt, start, m.RunID, m.Mode)
	}
	man, err := os.ReadFile(filepath.Join(dir, "run", "run.man"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "FileName\npart-1.csv\npart-2.csv\npart-3.csv\npart-4.csv\n"; string(man) != want {
		t.Errorf(".man is %q, want %q", man, want)
	}
	checkAllRows(t, readCSV(t, dir, m), 350)
}

// TestParquetFilesAreWhole reads every Parquet file of a rotated run.
func TestParquetFilesAreWhole(t *testing.T) {
	dir := t.TempDir()
	job := testJob(t, dir, &source{size: 1000, batches: 10}, encOpts{format.WithFormat(format.Parquet)})
	job.MaxFileRows = 3000
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	var next int64
	for _, f := range res.Manifest.Files {
		r, err := pqfile.OpenParquetFile(filepath.Join(dir, f.Path), false)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if r.NumRows() != f.Rows {
			t.Errorf("%s: %d rows, manifest %d", f.Path, r.NumRows(), f.Rows)
		}
		r.Close()
		next += f.Rows
	}
	if next != 10000 || len(res.Manifest.Files) != 4 {
		t.Errorf("%d rows in %d files", next, len(res.Manifest.Files))
	}
}

func TestZeroRowsPublishAnEmptyManifest(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), testJob(t, dir, &source{size: 10}, plainCSV))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Files) != 0 || res.Manifest.TotalRows != 0 {
		t.Fatalf("manifest of an empty run: %+v", res.Manifest)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"run/" + manifest.FileName}) {
		t.Fatalf("files %v, want the manifest alone", got)
	}
}

// noLeftovers checks a failed run left no file of any kind: no data file,
// no temporary file, no manifest. (The local store keeps the directories
// it created; they are empty.)
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("a failed run left %v", got)
	}
}

func TestFailingSourceRollsBack(t *testing.T) {
	boom := errors.New("connection reset by peer")
	dir := t.TempDir()
	src := &source{size: 40, batches: 9, failWith: boom}
	job := testJob(t, dir, src, plainCSV)
	job.MaxFileRows = 100
	res, err := Run(context.Background(), job)
	if err == nil {
		t.Fatalf("a failed source published %+v", res.Manifest)
	}
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "reading the source") {
		t.Errorf("error %q does not name the source's failure", err)
	}
	// Three files were committed before the failure: they must be gone.
	if job.Stats.Files.Load() < 3 {
		t.Errorf("only %d files were committed before the failure; the test wants some", job.Stats.Files.Load())
	}
	noLeftovers(t, dir)
	if !src.released.Load() {
		t.Error("the source was not released")
	}
}

func TestFailingEncoderRollsBack(t *testing.T) {
	dir := t.TempDir()
	job := testJob(t, dir, &source{size: 50, batches: 10}, plainCSV)
	job.MaxFileRows = 100
	broken := errors.New("encoder broke")
	var writes int
	job.NewEncoder = func(w io.Writer, schema *arrow.Schema) (format.Encoder, error) {
		enc, err := format.NewEncoder(w, schema, plainCSV...)
		return &failingEncoder{Encoder: enc, writes: &writes, after: 5, err: broken}, err
	}
	if _, err := Run(context.Background(), job); !errors.Is(err, broken) || !strings.Contains(err.Error(), "part-") {
		t.Errorf("error %v, want the encoder's naming the file", err)
	}
	noLeftovers(t, dir)
}

// failingEncoder fails the after-th Write of the run (writes counts
// them across files).
type failingEncoder struct {
	format.Encoder
	writes *int
	after  int
	err    error
}

func (e *failingEncoder) Write(rec arrow.RecordBatch) error {
	if *e.writes++; *e.writes >= e.after {
		return e.err
	}
	return e.Encoder.Write(rec)
}

// TestTakenManifestPublishesNothing: another run published at the same
// key first; this run's files go, the other manifest stays.
func TestTakenManifestPublishesNothing(t *testing.T) {
	dir := t.TempDir()
	other := []byte(`{"other": true}`)
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run", manifest.FileName), other, 0o644); err != nil {
		t.Fatal(err)
	}
	job := testJob(t, dir, &source{size: 50, batches: 4}, plainCSV)
	job.MaxFileRows = 100
	job.Extra = func(m *manifest.Manifest) (map[string][]byte, error) {
		return map[string][]byte{"run/run.man": halfpipe.Man(m.FilePaths())}, nil
	}
	_, err := Run(context.Background(), job)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("error %v, want the manifest already exists", err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"run/" + manifest.FileName}) {
		t.Errorf("files %v, want the other run's manifest alone", got)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "run", manifest.FileName)); !bytes.Equal(data, other) {
		t.Errorf("the other run's manifest was changed to %q", data)
	}
}

// TestCancelMidStream cancels the run once files have been committed,
// while the source keeps sending (it does not watch the context).
func TestCancelMidStream(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var job Job
	src := &source{size: 30, endless: true}
	src.before = func(i int64) {
		if i != 20 {
			return
		}
		// Wait for committed files, so that the rollback has some to remove.
		for deadline := time.Now().Add(10 * time.Second); job.Stats.Files.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}
	job = testJob(t, dir, src, plainCSV)
	job.MaxFileRows = 100
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, job)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if job.Stats.Files.Load() < 2 {
		t.Errorf("%d files committed before the cancel; the test wants some", job.Stats.Files.Load())
	}
	noLeftovers(t, dir)
	if !src.released.Load() {
		t.Error("the source was not released")
	}
}

// TestCancelBeforeTheFirstBatch: a run whose context is already done
// publishes nothing, not even an empty manifest.
func TestCancelBeforeTheFirstBatch(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, testJob(t, dir, &source{size: 10, batches: 3}, plainCSV))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	noLeftovers(t, dir)
}

// Batches larger than the queue's byte budget are not queued behind one
// another: when the reader starts on a batch, every batch but the last
// one it produced has been encoded, so no more than two such batches are
// held at once. The encoder is slow, so that a reader not held back would
// run ahead.
func TestHugeBatchesAreHeldAtMostTwice(t *testing.T) {
	huge := strings.Repeat("v", queueBytes)
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema)
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).(*array.StringBuilder).Append(huge)
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	var encoded atomic.Int64
	src := &reuse{rec: rec, n: 5, before: func(i int64) {
		if done := encoded.Load(); done < i-1 {
			t.Errorf("the reader starts batch %d with %d encoded: %d huge batches held", i, done, i-done+1)
		}
	}}
	job := testJob(t, t.TempDir(), src, plainCSV)
	job.NewEncoder = func(io.Writer, *arrow.Schema) (format.Encoder, error) {
		return countingEncoder{&encoded}, nil
	}
	if _, err := Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if encoded.Load() != 5 {
		t.Errorf("%d batches encoded, want 5", encoded.Load())
	}
}

// reuse serves rec n times.
type reuse struct {
	rec    arrow.RecordBatch
	n, i   int64
	before func(i int64)
}

func (r *reuse) Schema() *arrow.Schema          { return testSchema }
func (r *reuse) RecordBatch() arrow.RecordBatch { return r.rec }
func (r *reuse) Record() arrow.RecordBatch      { return r.rec }
func (r *reuse) Err() error                     { return nil }
func (r *reuse) Retain()                        {}
func (r *reuse) Release()                       {}
func (r *reuse) Next() bool {
	if r.i == r.n {
		return false
	}
	r.before(r.i)
	r.i++
	return true
}

// countingEncoder takes its time over each batch and counts it.
type countingEncoder struct{ n *atomic.Int64 }

func (e countingEncoder) Write(arrow.RecordBatch) error {
	time.Sleep(20 * time.Millisecond)
	e.n.Add(1)
	return nil
}
func (countingEncoder) Flush() error    { return nil }
func (countingEncoder) Buffered() int64 { return 0 }
func (countingEncoder) Close() error    { return nil }
