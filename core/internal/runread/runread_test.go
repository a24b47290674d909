package runread

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/core/internal/engine"
	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

func batch(t *testing.T, from, n int) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%5 == 0 {
			for c := 1; c < 4; c++ {
				b.Field(c).AppendNull()
			}
			continue
		}
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row %d, \"quoted\"\n", i))
		b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i*101 - 5000)))
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 1_000_001))
	}
	return b.NewRecordBatch()
}

// publish writes rows [0, rows) as a run of object "orders" in dir, files
// of at most 300 rows, and returns its manifest.
func publish(t *testing.T, st store.Store, runID string, start time.Time, rows int, f format.Format, c format.Compression, csv *manifest.CSV, opts ...format.Option) *manifest.Manifest {
	t.Helper()
	rec := batch(t, 0, rows)
	defer rec.Release()
	rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{Version: manifest.Version, RunID: runID, Mode: "snap", StartedAt: start, Format: string(f), Compression: string(c), CSV: csv}
	opts = append([]format.Option{format.WithFormat(f), format.WithCompression(c)}, opts...)
	res, err := engine.Run(context.Background(), engine.Job{
		Records: rr, Store: st, Manifest: m, MaxFileRows: 300,
		FileKey:     func(part int) (string, error) { return fmt.Sprintf("orders/%s/part-%05d", runID, part), nil },
		ManifestKey: "orders/" + runID + "/_manifest.json",
		NewEncoder: func(w io.Writer, s *arrow.Schema) (format.Encoder, error) {
			return format.NewEncoder(w, s, opts...)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Manifest
}

func textOf(t *testing.T, recs ...arrow.RecordBatch) string {
	t.Helper()
	var buf bytes.Buffer
	enc, err := format.NewEncoder(&buf, schema, format.WithFormat(format.CSV), format.WithCompression(format.None))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := enc.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// readAll reads a run; it returns the text of the rows read before the
// error, and the error.
func readAll(t *testing.T, st store.Store, m *manifest.Manifest) (string, int64, error) {
	t.Helper()
	r, err := Open(context.Background(), st, m)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var recs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	return textOf(t, recs...), r.Rows.Load(), r.Err()
}

func local(t *testing.T) (store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

func TestReadsEveryFormatBackExactly(t *testing.T) {
	want := func() string { rec := batch(t, 0, 1000); defer rec.Release(); return textOf(t, rec) }()
	for _, tc := range []struct {
		f    format.Format
		c    format.Compression
		csv  *manifest.CSV
		opts []format.Option
	}{
		{format.CSV, format.Gzip, &manifest.CSV{Header: true, Delimiter: ","}, nil},
		{format.CSV, format.None, &manifest.CSV{Delimiter: "|", Null: `\N`}, []format.Option{format.WithCSVDelimiter('|'), format.WithCSVNull(`\N`), format.WithCSVHeader(false)}},
		{format.JSONL, format.Zstd, nil, nil},
		{format.Parquet, format.Snappy, nil, nil},
	} {
		st, _ := local(t)
		m := publish(t, st, "r1", time.Now(), 1000, tc.f, tc.c, tc.csv, tc.opts...)
		got, rows, err := readAll(t, st, m)
		if err != nil {
			t.Fatalf("%s: %v", m.Format, err)
		}
		if rows != 1000 || got != want || len(m.Files) != 4 {
			t.Fatalf("%s: %d rows in %d files; text differs: %v", m.Format, rows, len(m.Files), got != want)
		}
	}
}

func TestFindLatestAndByID(t *testing.T) {
	st, _ := local(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	publish(t, st, "20260101T000000Z-aaaaaaaa", t0, 10, format.CSV, format.Gzip, nil)
	publish(t, st, "20260101T010000Z-bbbbbbbb", t0.Add(time.Hour), 20, format.CSV, format.Gzip, nil)
	if err := st.Put(context.Background(), "orders/sub/x/_manifest.json", []byte("not one of orders' runs")); err != nil {
		t.Fatal(err)
	}
	// A custom layout's deeper run of orders counts; another object's not.
	before, err := Runs(context.Background(), st, "orders")
	if err != nil || len(before) != 2 {
		t.Fatalf("runs: %d %v", len(before), err)
	}
	deep := *before[0].Manifest
	deep.RunID, deep.StartedAt, deep.Target.Object = "20251231T000000Z-cccccccc", t0.Add(-time.Hour), "extracts/orders"
	other := deep
	other.RunID, other.Target.Object = "20251231T000000Z-dddddddd", "orders/daily"
	for key, m := range map[string]*manifest.Manifest{"orders/2025/12/_manifest.json": &deep, "orders/daily/x/_manifest.json": &other} {
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(context.Background(), key, data); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := Runs(context.Background(), st, "orders")
	if err != nil || len(runs) != 3 || runs[0].Key != "orders/2025/12/_manifest.json" {
		t.Fatalf("runs: %d %v", len(runs), err)
	}
	p, err := Find(context.Background(), st, "orders", "")
	if err != nil || p.Manifest.RunID != "20260101T010000Z-bbbbbbbb" {
		t.Fatalf("latest: %v %v", p, err)
	}
	if p, err = Find(context.Background(), st, "orders/", "20260101T000000Z-aaaaaaaa"); err != nil || p.Manifest.TotalRows != 10 {
		t.Fatalf("by id: %v %v", p, err)
	}
	if _, err = Find(context.Background(), st, "orders", "nope"); err == nil || !strings.Contains(err.Error(), "20260101T010000Z-bbbbbbbb") {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err = Find(context.Background(), st, "customers", ""); err == nil || !strings.Contains(err.Error(), "no published run") {
		t.Fatalf("no runs: %v", err)
	}
	if err := st.Put(context.Background(), "orders/broken/_manifest.json", []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err = Find(context.Background(), st, "orders", ""); err == nil || !strings.Contains(err.Error(), "orders/broken/_manifest.json") {
		t.Fatalf("broken manifest: %v", err)
	}
}

// TestDamageNamesTheFile: a file altered after publication fails the
// reader naming it, before the reader reports its end; a Parquet file
// fails before any of its rows.
func TestDamageNamesTheFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    format.Format
		c    format.Compression
		edit func([]byte) []byte
	}{
		{"csv same size", format.CSV, format.None, func(b []byte) []byte {
			return bytes.Replace(b, []byte("row 301"), []byte("row 391"), 1)
		}},
		{"csv gzip", format.CSV, format.Gzip, func(b []byte) []byte {
			b[len(b)/2] ^= 0xff
			return b
		}},
		{"csv appended", format.CSV, format.Gzip, func(b []byte) []byte {
			return append(b, 0)
		}},
		{"parquet", format.Parquet, format.Zstd, func(b []byte) []byte {
			b[len(b)/3] ^= 0x01
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, dir := local(t)
			m := publish(t, st, "r1", time.Now(), 1000, tc.f, tc.c, &manifest.CSV{Header: true, Delimiter: ","})
			victim := filepath.Join(dir, m.Files[1].Path)
			data, err := os.ReadFile(victim)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(victim, tc.edit(data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, rows, err := readAll(t, st, m)
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), m.Files[1].Path) {
				t.Fatalf("err = %v", err)
			}
			if rows > 300+300 || (tc.name == "parquet" && rows != 300) {
				t.Fatalf("%d rows read", rows)
			}
		})
	}
}
