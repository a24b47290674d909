// Package verifytest writes published runs (data files encoded by hp's own
// encoder, and their manifest) into a directory, for tests of verify,
// `hp runs` and `hp verify`.
package verifytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
)

// Run describes a run to write.
type Run struct {
	Target      string // object or prefix/object, as in <conn>.<target>
	RunID       string // default: layout.NewRunID(Start)
	Start       time.Time
	Layout      string // default or halfpipe
	Format      format.Format
	Compression format.Compression // default: the format's default
	// FileRows are the rows of each data file (none: a zero-row run).
	FileRows []int
	// NoHeader writes CSV without a header row; NoCSVSection leaves the
	// manifest's csv object out, as manifests of older hp versions.
	NoHeader, NoCSVSection bool
}

// Schema is the schema of the rows written.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// Notes are the string values, cycled: quotes, delimiters and newlines
// inside values are what a naive row count gets wrong.
var Notes = []string{"plain", "new\nline", `quote " inside`, "cr\r\nlf", "", "comma, here", `""`, "\n\n", `"`, "end\n"}

// Records builds n rows starting at id first, in batches of at most 300.
func Records(first, n int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	b := array.NewRecordBuilder(memory.DefaultAllocator, Schema)
	defer b.Release()
	for done := 0; done < n; {
		k := min(300, n-done)
		for i := done; i < done+k; i++ {
			id := first + i
			b.Field(0).(*array.Int64Builder).Append(int64(id))
			if id%11 == 5 {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.StringBuilder).Append(Notes[id%len(Notes)])
			}
		}
		out = append(out, b.NewRecordBatch())
		done += k
	}
	return out
}

// Encode encodes rows [first, first+n) with opts.
func Encode(t testing.TB, first, n int, opts ...format.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := format.NewEncoder(&buf, Schema, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range Records(first, n) {
		if err := enc.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Write writes the run's data files and manifest under dir and returns the
// manifest and its key.
func Write(t testing.TB, dir string, r Run) (*manifest.Manifest, string) {
	t.Helper()
	if r.Start.IsZero() {
		r.Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	if r.RunID == "" {
		r.RunID = layout.NewRunID(r.Start)
	}
	if r.Format == "" {
		r.Format = format.CSV
	}
	if r.Compression == "" {
		r.Compression = format.DefaultCompression(r.Format)
	}
	l, err := layout.New(r.Layout, "")
	if err != nil {
		t.Fatal(err)
	}
	prefix, object := layout.SplitTarget(r.Target)
	v := layout.Vars{Prefix: prefix, Object: object, RunID: r.RunID, Ext: format.Extension(r.Format, r.Compression), Start: r.Start}
	schema, err := manifest.SchemaOf(Schema)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{
		Version: manifest.Version, Tool: "halfpipe", ToolVersion: "test", RunID: r.RunID, Mode: "snap", Layout: l.Name,
		StartedAt: r.Start, FinishedAt: r.Start.Add(time.Second),
		Source: manifest.Source{Type: "gen", DSN: "gen://", Object: "narrow"},
		Target: manifest.Target{Type: "file", URL: dir, Object: r.Target},
		Format: string(r.Format), Compression: string(r.Compression), Schema: schema,
	}
	if r.Format == format.CSV && !r.NoCSVSection {
		m.CSV = &manifest.CSV{Header: !r.NoHeader, Delimiter: ","}
	}
	opts := []format.Option{format.WithFormat(r.Format), format.WithCompression(r.Compression)}
	switch r.Format {
	case format.CSV:
		opts = append(opts, format.WithCSVHeader(!r.NoHeader))
	case format.Parquet:
		opts = append(opts, format.WithParquetRowGroupRows(250))
	}
	first := 0
	for i, n := range r.FileRows {
		key := l.File(v, i+1)
		data := Encode(t, first, n, opts...)
		first += n
		put(t, dir, key, data)
		sum := sha256.Sum256(data)
		m.Files = append(m.Files, manifest.File{Path: key, URL: fileURL(dir, key), Part: i + 1, Rows: int64(n),
			Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Format: m.Format, Compression: m.Compression})
		m.TotalRows += int64(n)
		m.TotalBytes += int64(len(data))
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	key := l.Manifest(v)
	put(t, dir, key, data)
	return m, key
}

func put(t testing.TB, dir, key string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileURL(dir, key string) string {
	return fmt.Sprintf("file://%s/%s", filepath.ToSlash(dir), key)
}

// FlipByte inverts one byte of the file at key, at offset (negative: from
// the end).
func FlipByte(t testing.TB, dir, key string, offset int) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if offset < 0 {
		offset += len(data)
	}
	data[offset] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
