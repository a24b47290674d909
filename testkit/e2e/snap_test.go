package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/klauspost/compress/zstd"
	pq "github.com/parquet-go/parquet-go"

	"github.com/halfpipe-io/halfpipe/plugins/gen/gen"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// manifestDoc is the part of the manifest the tests read, decoded
// independently of hp's own types.
type manifestDoc struct {
	RunID     string `json:"run_id"`
	TotalRows int64  `json:"total_rows"`
	Source    struct {
		DSN string `json:"dsn"`
	} `json:"source"`
	Files []struct {
		Path   string `json:"path"`
		Rows   int64  `json:"rows"`
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	} `json:"files"`
}

// findManifest returns the only manifest under dir.
func findManifests(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (d.Name() == "_manifest.json" || strings.HasSuffix(d.Name(), ".manifest.json")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func allFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// readManifest loads the single manifest under dir and checks every file's
// size and SHA-256 against it.
func readManifest(t *testing.T, dir string) (manifestDoc, string) {
	t.Helper()
	ms := findManifests(t, dir)
	if len(ms) != 1 {
		t.Fatalf("want one manifest under %s, found %v (files: %v)", dir, ms, allFiles(t, dir))
	}
	data, err := os.ReadFile(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	var m manifestDoc
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest is not JSON: %v", err)
	}
	sum := int64(0)
	for _, f := range m.Files {
		body, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatalf("manifest lists %s: %v", f.Path, err)
		}
		h := sha256.Sum256(body)
		if hex.EncodeToString(h[:]) != f.SHA256 || int64(len(body)) != f.Bytes {
			t.Errorf("%s: sha256/bytes in the manifest do not match the file", f.Path)
		}
		sum += f.Rows
	}
	if sum != m.TotalRows {
		t.Errorf("file rows add up to %d, total_rows %d", sum, m.TotalRows)
	}
	return m, ms[0]
}

func decompressed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case strings.HasSuffix(path, ".zst"):
		zr, _ := zstd.NewReader(nil)
		defer zr.Close()
		out, err := zr.DecodeAll(raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return raw
}

// cell is the expected text of one gen value, computed here from the Arrow
// value with the standard library, not with hp's encoder.
func cell(a arrow.Array, i int) (string, bool) {
	if a.IsNull(i) {
		return "", false
	}
	switch x := a.(type) {
	case *array.Int64:
		return fmt.Sprint(x.Value(i)), true
	case *array.String:
		return x.Value(i), true
	case *array.Binary:
		return base64.StdEncoding.EncodeToString(x.Value(i)), true
	case *array.Timestamp:
		return time.UnixMicro(int64(x.Value(i))).UTC().Format("2006-01-02T15:04:05.000000Z"), true
	case *array.Decimal128:
		v := x.Value(i).BigInt()
		s := new(big.Int).Abs(v).String()
		for len(s) <= 10 {
			s = "0" + s
		}
		s = s[:len(s)-10] + "." + s[len(s)-10:]
		if v.Sign() < 0 {
			s = "-" + s
		}
		return s, true
	}
	panic(fmt.Sprintf("no expectation for %T", a))
}

var checked = []string{"id", "string_col", "decimal128_col", "ts_us_utc_col", "binary_col"}

func TestSnapGenEveryFormat(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	for _, f := range []string{"csv", "parquet", "jsonl"} {
		t.Run(f, func(t *testing.T) {
			out := t.TempDir()
			res := bin.Run(t, []string{"HP_GEN_DSN=" + allTypesDSN, "HP_OUT_DSN=" + out}, "cp", "snap", "gen.all_types", "out.x/all", "--format", f, "--max-file-rows", "1000")
			if res.Code != 0 {
				t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
			}
			checkAllTypes(t, out, f, 3)
		})
	}
}

// allTypesDSN is the gen source checkAllTypes expects.
const (
	allTypesRows = 3000
	allTypesDSN  = "gen://?rows=3000&seed=3"
)

// checkAllTypes reads back a snapshot of gen.all_types (allTypesDSN) under
// dir, in the given format, and compares every checked value with what gen
// says it produced.
func checkAllTypes(t *testing.T, out, f string, files int) {
	t.Helper()
	const rows = allTypesRows
	want, err := gen.Expected(allTypesDSN, "all_types", 1, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	col := func(name string) arrow.Array { return want.Column(want.Schema().FieldIndices(name)[0]) }
	m, _ := readManifest(t, out)
	if m.TotalRows != rows || len(m.Files) != files {
		t.Fatalf("manifest: %d rows in %d files", m.TotalRows, len(m.Files))
	}
	row := 0
	for _, file := range m.Files {
		path := filepath.Join(out, file.Path)
		switch f {
		case "csv":
			text := decompressed(t, path)
			recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			header := recs[0]
			idx := map[string]int{}
			for i, h := range header {
				idx[h] = i
			}
			for _, rec := range recs[1:] {
				for _, name := range checked {
					w, ok := cell(col(name), row)
					w = strings.ReplaceAll(w, "\r\n", "\n") // encoding/csv folds CRLF in quotes
					if got := rec[idx[name]]; got != w || (!ok && got != "") {
						t.Fatalf("row %d %s: got %q, want %q (null=%v)", row+1, name, got, w, !ok)
					}
				}
				row++
			}
			// NULL is an empty field, the empty string is "".
			if !bytes.Contains(text, []byte(`,"",`)) {
				t.Error(`no empty string written as ""`)
			}
		case "jsonl":
			dec := json.NewDecoder(bytes.NewReader(decompressed(t, path)))
			dec.UseNumber()
			for dec.More() {
				var obj map[string]any
				if err := dec.Decode(&obj); err != nil {
					t.Fatal(err)
				}
				for _, name := range checked {
					w, ok := cell(col(name), row)
					got := obj[name]
					if !ok {
						if got != nil {
							t.Fatalf("row %d %s: got %v, want null", row+1, name, got)
						}
						continue
					}
					if fmt.Sprint(got) != w {
						t.Fatalf("row %d %s: got %v, want %q", row+1, name, got, w)
					}
				}
				row++
			}
		case "parquet":
			fh, _ := os.Open(path)
			st, _ := fh.Stat()
			pf, err := pq.OpenFile(fh, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			idx := map[string]int{}
			for i, c := range pf.Schema().Columns() {
				idx[c[0]] = i
			}
			r := pq.NewReader(pf)
			buf := make([]pq.Row, 256)
			for {
				n, err := r.ReadRows(buf)
				for _, prow := range buf[:n] {
					vals := map[int]pq.Value{}
					for _, v := range prow {
						vals[v.Column()] = v
					}
					for _, name := range checked {
						w, ok := cell(col(name), row)
						v := vals[idx[name]]
						if v.IsNull() != !ok {
							t.Fatalf("row %d %s: null=%v, want null=%v", row+1, name, v.IsNull(), !ok)
						}
						if !ok {
							continue
						}
						var got string
						switch name {
						case "id":
							got = fmt.Sprint(v.Int64())
						case "string_col":
							got = string(v.ByteArray())
						case "binary_col":
							got = base64.StdEncoding.EncodeToString(v.ByteArray())
						case "ts_us_utc_col":
							got = time.UnixMicro(v.Int64()).UTC().Format("2006-01-02T15:04:05.000000Z")
						case "decimal128_col":
							b := v.ByteArray()
							n := new(big.Int).SetBytes(b)
							if len(b) > 0 && b[0]&0x80 != 0 {
								n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
							}
							got, _ = cell(array.MakeFromData(col(name).Data()), row)
							if n.Cmp(col(name).(*array.Decimal128).Value(row).BigInt()) != 0 {
								t.Fatalf("row %d decimal: got %s", row+1, n)
							}
						}
						if got != w {
							t.Fatalf("row %d %s: got %q, want %q", row+1, name, got, w)
						}
					}
					row++
				}
				if err != nil {
					break
				}
			}
		}
	}
	if row != rows {
		t.Fatalf("read back %d rows, want %d", row, rows)
	}
}
