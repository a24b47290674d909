package e2e

import (
	"fmt"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

func TestRotationByRowsAndBytes(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	env := func(out string) []string { return []string{"HP_GEN_DSN=gen://?rows=200000", "HP_OUT_DSN=" + out} }
	for _, f := range []string{"csv", "jsonl", "parquet"} {
		t.Run(f+"/rows", func(t *testing.T) {
			out := t.TempDir()
			res := bin.Run(t, env(out), "cp", "snap", "gen.narrow", "out.n", "--format", f, "--max-file-rows", "30000")
			if res.Code != 0 {
				t.Fatalf("exit %d: %s", res.Code, res.Stderr)
			}
			m, _ := readManifest(t, out)
			if len(m.Files) != 7 {
				t.Fatalf("%d files, want 7", len(m.Files))
			}
			for i, file := range m.Files {
				want := int64(30000)
				if i == 6 {
					want = 20000
				}
				if file.Rows != want {
					t.Errorf("file %d has %d rows, want %d", i+1, file.Rows, want)
				}
			}
		})
		t.Run(f+"/bytes", func(t *testing.T) {
			out := t.TempDir()
			const limit = 400 << 10
			res := bin.Run(t, env(out), "cp", "snap", "gen.narrow", "out.n", "--format", f, "--max-file-bytes", fmt.Sprint(limit))
			if res.Code != 0 {
				t.Fatalf("exit %d: %s", res.Code, res.Stderr)
			}
			m, _ := readManifest(t, out)
			if m.TotalRows != 200000 || len(m.Files) < 3 {
				t.Fatalf("%d rows in %d files", m.TotalRows, len(m.Files))
			}
			// Parquet rotates between row groups of at most a quarter of
			// the limit; text files before the next chunk would cross it.
			slack := int64(0)
			if f == "parquet" {
				slack = limit / 4
			}
			for i, file := range m.Files {
				if file.Bytes > limit+slack {
					t.Errorf("file %d is %d bytes, limit %d", i+1, file.Bytes, limit)
				}
				if i < len(m.Files)-1 && file.Bytes < limit/2 {
					t.Errorf("file %d is only %d bytes: rotation is far too early", i+1, file.Bytes)
				}
			}
		})
	}
}

// TestZeroRowsStillPublish: an empty source publishes a manifest with no
// files and total_rows 0, so consumers can tell "nothing" from "not run".
func TestZeroRowsStillPublish(t *testing.T) {
	t.Parallel() // its own directory
	bin := testkit.Build(t)
	out := t.TempDir()
	res := bin.Run(t, []string{"HP_GEN_DSN=gen://", "HP_OUT_DSN=" + out}, "cp", "snap", "gen.empty", "out.e", "--format", "parquet")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	if m.TotalRows != 0 || len(m.Files) != 0 || len(allFiles(t, out)) != 1 {
		t.Fatalf("zero-row run: %+v, files %v", m, allFiles(t, out))
	}
}
