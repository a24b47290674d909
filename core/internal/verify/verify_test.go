package verify

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

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/core/internal/verify/verifytest"
)

func TestCSVRowsAtEveryChunkBoundary(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int64
	}{
		{"", 0},
		{"a,b\n1,2\n", 2},
		{"a,b\n1,2", 2},
		{"\"x\ny\",1\n\"q\"\"q\",2\n", 2},
		{"\"x\ny\",1\n\"q\"\"q\",2", 2},
		{"\"\"\"\",1\r\n\"a\r\nb\",2\r\n", 2},
		{"\n", 1}, // a one-column row holding an empty value
		{"x\n\"\"\n", 2},
		{"a,\"b\n\n\nc\"\"\n\"\n", 1},
		{"a,\"unterminated\n", 1},
		{"\"\"", 1},
	} {
		for size := 1; size <= max(1, len(tc.text)); size++ {
			var c csvRows
			for p := []byte(tc.text); len(p) > 0; {
				k := min(size, len(p))
				_, _ = c.Write(p[:k])
				p = p[k:]
			}
			if got, _ := c.Rows(); got != tc.want {
				t.Errorf("%q in chunks of %d: %d records, want %d", tc.text, size, got, tc.want)
				break
			}
		}
	}
}

func TestLinesCountsTerminatedLines(t *testing.T) {
	var l lines
	_, _ = l.Write([]byte("{\"a\":\"x\\ny\"}\n{}\n"))
	_, _ = l.Write([]byte("{}\n{"))
	if n, _ := l.Rows(); n != 3 {
		t.Fatalf("%d lines, want 3", n)
	}
}

type formatCase struct {
	f        format.Format
	c        format.Compression
	noHeader bool
	noCSV    bool
}

func (fc formatCase) String() string {
	s := string(fc.f) + "/" + string(fc.c)
	if fc.noHeader {
		s += "/no-header"
	}
	if fc.noCSV {
		s += "/no-csv-section"
	}
	return s
}

func formatCases() []formatCase {
	var out []formatCase
	for _, c := range []format.Compression{format.Gzip, format.Zstd, format.Snappy, format.None} {
		out = append(out, formatCase{f: format.CSV, c: c}, formatCase{f: format.CSV, c: c, noHeader: true},
			formatCase{f: format.JSONL, c: c}, formatCase{f: format.Parquet, c: c})
	}
	return append(out, formatCase{f: format.CSV, c: format.Gzip, noCSV: true})
}

func TestFileCountsRowsOfEveryFormat(t *testing.T) {
	for _, fc := range formatCases() {
		t.Run(fc.String(), func(t *testing.T) {
			dir := t.TempDir()
			m, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x/orders", Format: fc.f, Compression: fc.c,
				FileRows: []int{1000, 7, 1}, NoHeader: fc.noHeader, NoCSVSection: fc.noCSV})
			st := local(t, dir)
			for _, f := range m.Files {
				r, err := File(context.Background(), st, f, m)
				if err != nil {
					t.Fatal(err)
				}
				if !r.OK || r.Rows != f.Rows || r.Bytes != f.Bytes || r.SHA256 != f.SHA256 {
					t.Errorf("%s: %+v", f.Path, r)
				}
			}
		})
	}
}

func TestRunChecksFilesInOrderAndTotals(t *testing.T) {
	dir := t.TempDir()
	m, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x", Format: format.Parquet, FileRows: []int{300, 200, 100, 50, 5}})
	var seen []string
	rr, err := Run(context.Background(), local(t, dir), m, Options{Parallel: 3, OnFile: func(r Result) { seen = append(seen, r.Path) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.OK || rr.Rows != 655 || rr.Bytes != m.TotalBytes || rr.FailedFiles != 0 || len(rr.Problems) > 0 {
		t.Fatalf("%+v", rr)
	}
	for i, f := range m.Files {
		if i >= len(seen) || seen[i] != f.Path {
			t.Fatalf("OnFile saw %v, want the manifest's order", seen)
		}
	}

	if err := os.Remove(filepath.Join(dir, m.Files[2].Path)); err != nil {
		t.Fatal(err)
	}
	rr, err = Run(context.Background(), local(t, dir), m, Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rr.OK || rr.FailedFiles != 1 || rr.Rows != 555 || !strings.Contains(strings.Join(rr.Problems, ";"), "total rows: expected 655, got 555") {
		t.Fatalf("%+v", rr)
	}
}

func TestFileReportsDamage(t *testing.T) {
	type damage struct {
		name  string
		apply func(t *testing.T, path string)
		want  []string
	}
	flipAt := func(off func(data []byte) int) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			data := read(t, path)
			data[off(data)] ^= 0xff
			write(t, path, data)
		}
	}
	middle := flipAt(func(d []byte) int { return len(d) / 2 })
	truncate := func(t *testing.T, path string) { write(t, path, read(t, path)[:len(read(t, path))*2/3]) }
	remove := func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		fc formatCase
		damage
	}{
		{formatCase{f: format.CSV, c: format.Gzip}, damage{"flip", middle, []string{"sha256: expected "}}},
		{formatCase{f: format.CSV, c: format.Gzip}, damage{"truncate", truncate, []string{"bytes: expected ", "sha256", "rows: cannot count: gzip"}}},
		{formatCase{f: format.CSV, c: format.None}, damage{"first newline", flipAt(func(d []byte) int { return bytes.IndexByte(d, '\n') }),
			[]string{"sha256", "rows: expected 1000, got 999"}}},
		{formatCase{f: format.CSV, c: format.None}, damage{"truncate", truncate, []string{"bytes", "sha256", "rows: expected 1000, got"}}},
		{formatCase{f: format.JSONL, c: format.Zstd}, damage{"flip", middle, []string{"sha256"}}},
		{formatCase{f: format.JSONL, c: format.Snappy}, damage{"truncate", truncate, []string{"bytes", "sha256", "rows: cannot count: snappy"}}},
		{formatCase{f: format.Parquet, c: format.Zstd}, damage{"flip", middle, []string{"sha256"}}},
		{formatCase{f: format.Parquet, c: format.Zstd}, damage{"truncate", truncate, []string{"bytes", "sha256", "does not end with PAR1"}}},
		{formatCase{f: format.Parquet, c: format.Zstd}, damage{"footer length", flipAt(func(d []byte) int { return len(d) - 6 }),
			[]string{"sha256", "footer length"}}},
		{formatCase{f: format.Parquet, c: format.None}, damage{"delete", remove, []string{"missing"}}},
		{formatCase{f: format.CSV, c: format.Snappy}, damage{"delete", remove, []string{"missing"}}},
	} {
		t.Run(tc.fc.String()+"/"+tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x", Format: tc.fc.f, Compression: tc.fc.c, FileRows: []int{1000}})
			tc.apply(t, filepath.Join(dir, m.Files[0].Path))
			r, err := File(context.Background(), local(t, dir), m.Files[0], m)
			if err != nil {
				t.Fatal(err)
			}
			problems := strings.Join(r.Problems, "; ")
			if r.OK {
				t.Fatalf("damage not detected: %+v", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(problems, w) {
					t.Errorf("problems %q do not mention %q", problems, w)
				}
			}
		})
	}
}

func TestParquetFooterLargerThanTheTail(t *testing.T) {
	defer func(n int) { MaxParquetFooter = n }(MaxParquetFooter)
	MaxParquetFooter = 16
	dir := t.TempDir()
	m, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x", Format: format.Parquet, FileRows: []int{10}})
	r, err := File(context.Background(), local(t, dir), m.Files[0], m)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || !strings.Contains(strings.Join(r.Problems, ";"), "larger than") {
		t.Fatalf("%+v", r)
	}
}

func TestParquetTailSpansBlocks(t *testing.T) {
	// A stream much longer than the tail, written in odd sizes, must keep
	// exactly its last bytes.
	p := &parquetRows{max: 3*tailBlock + 17}
	defer p.release()
	var all []byte
	for i := 0; len(all) < 9*tailBlock; i++ {
		chunk := bytes.Repeat([]byte{byte(i)}, 1+(i*7919)%(tailBlock/3))
		all = append(all, chunk...)
		_, _ = p.Write(chunk)
	}
	if p.held < p.max || p.held > p.max+tailBlock {
		t.Fatalf("holds %d bytes for a tail of %d", p.held, p.max)
	}
	if got := p.last(p.max); !bytes.Equal(got, all[len(all)-p.max:]) {
		t.Fatal("the tail is not the end of the stream")
	}
}

// failingStore fails to read, as an unreachable S3 would.
type failingStore struct{ store.Store }

func (failingStore) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("connection reset by peer")
}

func TestStoreErrorsAreErrorsNotFailedFiles(t *testing.T) {
	dir := t.TempDir()
	m, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x", FileRows: []int{5, 5}})
	_, err := Run(context.Background(), failingStore{local(t, dir)}, m, Options{Parallel: 2})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, local(t, dir), m, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func TestUnknownFormatIsAFailure(t *testing.T) {
	dir := t.TempDir()
	m, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x", FileRows: []int{3}})
	f := m.Files[0]
	f.Format = "avro"
	r, err := File(context.Background(), local(t, dir), f, m)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || r.SHA256 != f.SHA256 || !strings.Contains(fmt.Sprint(r.Problems), "avro") {
		t.Fatalf("%+v", r)
	}
	f.Path = "../outside"
	if r, _ := File(context.Background(), local(t, dir), f, m); r.OK || !strings.Contains(fmt.Sprint(r.Problems), "bad path") {
		t.Fatalf("%+v", r)
	}
}

func local(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := store.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
