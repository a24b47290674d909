package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/measure"
)

// TestLargeValueMemory moves a 100 MiB bytea value from PostgreSQL to CSV
// and to Parquet and bounds the peak RSS of hp and of its plugin: a value
// is held about once in CSV (before: its base64 rendered whole, 282 MB for
// hp), and in Parquet no more than arrow-go's page writer needs (Arrow
// array, encoded values, page, compressed page: 490 MB; before, the
// buffered row group's copy too: 541 MB). The value must arrive byte-exact.
func TestLargeValueMemory(t *testing.T) {
	t.Parallel() // its own table
	bin := testkit.Build(t, "postgres")
	const table = "hp_e2e_largevals"
	const size = 100 << 20
	// 64 bytes of SHA-512 per row of the series: incompressible, made by
	// the server in a second or two.
	pgExec(t, fmt.Sprintf(`drop table if exists %[1]s; create table %[1]s (id int primary key, v bytea, note text);
		insert into %[1]s select 1, string_agg(sha512(int4send(g)), ''::bytea order by g), 'large' from generate_series(1, %[2]d) g;
		insert into %[1]s values (0, '\x00ff', 'small'), (2, null, 'null')`, table, size/64))
	t.Cleanup(func() { pgExec(t, "drop table if exists "+table) })
	want := pgExec(t, "select encode(sha256(v), 'hex') from "+table+" where id = 1")
	for _, tc := range []struct {
		format, compression string
		hp, plugin          int64 // bounds in bytes
	}{
		{"csv", "none", size + 100e6, size + 100e6},
		{"parquet", "zstd", 5 * size, size + 100e6},
	} {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := bin.Command(ctx, t, []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out},
				"cp", "snap", "pg."+table, "out.lv", "--format", tc.format, "--compression", tc.compression)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			u, err := measure.Run(cmd)
			if err != nil {
				t.Fatalf("hp: %v\n%s", err, stderr.String())
			}
			t.Logf("%s: peak RSS hp %s, plugin %s", tc.format, measure.MB(u.PeakRSS), measure.MB(u.ChildRSS))
			if u.PeakRSS > tc.hp || u.ChildRSS == 0 || u.ChildRSS > tc.plugin {
				t.Errorf("peak RSS hp %s, plugin %s; want at most %s and %s", measure.MB(u.PeakRSS), measure.MB(u.ChildRSS), measure.MB(tc.hp), measure.MB(tc.plugin))
			}
			values := map[string][]byte{}
			for _, path := range lvFiles(t, out, "."+tc.format) {
				if tc.format == "csv" {
					lvCSV(t, path, values)
				} else {
					lvParquet(t, path, values)
				}
			}
			if len(values) != 3 || string(values["0"]) != "\x00\xff" || values["2"] != nil {
				t.Errorf("small rows: %d rows, %q, %q", len(values), values["0"], values["2"])
			}
			if sum := sha256.Sum256(values["1"]); hex.EncodeToString(sum[:]) != want || len(values["1"]) != size {
				t.Errorf("the large value: %d bytes, SHA-256 %x; want %d bytes, %s", len(values["1"]), sum, size, want)
			}
		})
	}
}

// lvFiles lists the data files under dir ending in ext.
func lvFiles(t *testing.T, dir, ext string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ext) {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s file under %s: %v", ext, dir, err)
	}
	return files
}

// lvCSV reads id and v (base64; empty for NULL) of a CSV file with a header.
func lvCSV(t *testing.T, path string, values map[string][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = false
	if _, err := r.Read(); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var v []byte
		if rec[1] != "" {
			if v, err = base64.StdEncoding.DecodeString(rec[1]); err != nil {
				t.Fatalf("%s: row %s: %v", path, rec[0], err)
			}
		}
		values[rec[0]] = v
	}
}

// lvParquet reads id and v of a Parquet file.
func lvParquet(t *testing.T, path string, values map[string][]byte) {
	t.Helper()
	r := pq.NewReader(openParquet(t, path))
	defer r.Close()
	rows := make([]pq.Row, 4)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			var v []byte
			if !row[1].IsNull() {
				v = row[1].Clone().ByteArray()
			}
			values[row[0].String()] = v
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}
