package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestVerifySnapshotsAndRuns snapshots gen rows in every format, lists the
// runs with hp runs and checks them with hp verify, then damages files.
func TestVerifySnapshotsAndRuns(t *testing.T) {
	t.Parallel() // its own directory
	bin := testkit.Build(t, "gen")
	out := t.TempDir()
	const rows = 50000
	env := []string{fmt.Sprintf("HP_GEN_DSN=gen://?rows=%d", rows), "HP_OUT_DSN=" + out}
	for _, args := range [][]string{
		{"--format", "csv", "--compression", "gzip", "--max-file-rows", "20000"},
		{"--format", "parquet"},
		{"--format", "jsonl"},
	} {
		res := bin.Run(t, env, append([]string{"cp", "snap", "gen.narrow", "out.x"}, args...)...)
		if res.Code != 0 {
			t.Fatalf("snap %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}

	res := bin.Run(t, env, "runs", "out.x", "--output", "json")
	if res.Code != 0 {
		t.Fatalf("hp runs: exit %d\n%s", res.Code, res.Stderr)
	}
	var runs []struct {
		RunID       string `json:"run_id"`
		Mode        string `json:"mode"`
		Rows        int64  `json:"rows"`
		Files       int    `json:"files"`
		Format      string `json:"format"`
		ManifestURL string `json:"manifest_url"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &runs); err != nil {
		t.Fatalf("hp runs --output json: %v\n%s", err, res.Stdout)
	}
	if len(runs) != 3 {
		t.Fatalf("hp runs lists %d runs, want 3:\n%s", len(runs), res.Stdout)
	}
	for i, f := range []string{"csv", "parquet", "jsonl"} {
		r := runs[i]
		if r.Format != f || r.Rows != rows || r.Mode != "snap" || !strings.HasPrefix(r.ManifestURL, "file://") {
			t.Errorf("run %d: %+v, want %s with %d rows", i, r, f, rows)
		}
	}
	if runs[0].Files != 3 {
		t.Errorf("csv run has %d files, want 3", runs[0].Files)
	}
	res = bin.Run(t, env, "runs", "out.x")
	if res.Code != 0 || strings.Count(res.Stdout, "\n") != 4 {
		t.Errorf("hp runs text: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	res = bin.Run(t, env, "verify", "out.x")
	if res.Code != 0 {
		t.Fatalf("hp verify of intact runs: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	testkit.Contains(t, "hp verify", res.Stdout, "rows=20000 sha256 ok", fmt.Sprintf("rows=%d sha256 ok", rows), "all 5 files ok")

	// One flipped byte in the second CSV file.
	csvRun := manifestOf(t, out, runs[0].RunID)
	damaged := csvRun.Files[1].Path
	flip(t, filepath.Join(out, damaged))
	res = bin.Run(t, env, "verify", "out.x")
	if res.Code != 1 {
		t.Fatalf("hp verify after a flipped byte: exit %d, want 1\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	testkit.Contains(t, "hp verify stdout", res.Stdout, "FAIL file://"+filepath.ToSlash(filepath.Join(out, damaged)), "sha256: expected "+csvRun.Files[1].SHA256)
	testkit.Contains(t, "hp verify stderr", res.Stderr, "1 of 3 files in run "+runs[0].RunID, damaged)

	// The other runs are intact on their own; then one loses its file.
	pqRun := manifestOf(t, out, runs[1].RunID)
	if res := bin.Run(t, env, "verify", "out.x/"+runs[1].RunID); res.Code != 0 {
		t.Fatalf("hp verify of the intact parquet run: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if err := os.Remove(filepath.Join(out, pqRun.Files[0].Path)); err != nil {
		t.Fatal(err)
	}
	res = bin.Run(t, env, "verify", "out.x/"+runs[1].RunID)
	if res.Code != 1 {
		t.Fatalf("hp verify after a deleted file: exit %d, want 1\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	testkit.Contains(t, "hp verify stdout", res.Stdout, pqRun.Files[0].Path+": missing")
	testkit.Contains(t, "hp verify stderr", res.Stderr, "1 of 1 files in run "+runs[1].RunID)

	if res := bin.Run(t, env, "verify", "out.nothing"); res.Code != 1 || !strings.Contains(res.Stderr, "nothing to verify") {
		t.Errorf("hp verify of an empty prefix: exit %d\n%s", res.Code, res.Stderr)
	}
}

// manifestOf reads the manifest of run id under dir.
func manifestOf(t *testing.T, dir, id string) manifestDoc {
	t.Helper()
	for _, p := range findManifests(t, dir) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m manifestDoc
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if m.RunID == id {
			return m
		}
	}
	t.Fatalf("no manifest of run %s under %s", id, dir)
	return manifestDoc{}
}

// flip inverts the byte in the middle of a file.
func flip(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
