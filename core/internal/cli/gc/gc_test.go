package gc_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/gc"
	"github.com/halfpipe-io/halfpipe/core/internal/verify/verifytest"
)

func write(t *testing.T, p string, age time.Duration) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-age)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
}

// tree lists every file and directory under dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type fixture struct {
	dir                             string
	oldRun, youngRun, oldTmp, hpOld string
	published                       []string
}

// leftovers publishes two runs, one of them 3 days old, and leaves
// behind an old and a young unpublished run, an old temporary file in an
// otherwise empty run directory, and an old halfpipe-layout orphan.
func leftovers(t *testing.T) *fixture {
	dir := t.TempDir()
	f := &fixture{dir: dir}
	old := 72 * time.Hour
	m, key := verifytest.Write(t, dir, verifytest.Run{Target: "x/orders", FileRows: []int{3, 4}})
	f.published = append(f.published, key)
	for _, file := range m.Files {
		f.published = append(f.published, file.Path)
	}
	h, hkey := verifytest.Write(t, dir, verifytest.Run{Target: "x/h", Layout: "halfpipe", FileRows: []int{3}})
	f.published = append(f.published, hkey, h.Files[0].Path)
	for _, p := range f.published {
		old := time.Now().Add(-old)
		if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(p)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	// A published run's file the manifest does not name is not gc's.
	write(t, filepath.Join(dir, filepath.Dir(filepath.FromSlash(key)), "part-00099.csv.gz"), old)
	f.oldRun = "x/orders/20260101T000000Z-01d0f00d"
	write(t, filepath.Join(dir, "x/orders/20260101T000000Z-01d0f00d/part-00001.csv.gz"), old)
	write(t, filepath.Join(dir, "x/orders/20260101T000000Z-01d0f00d/part-00002.csv.gz"), old)
	f.youngRun = "x/orders/20260102T000000Z-00000001"
	write(t, filepath.Join(dir, "x/orders/20260102T000000Z-00000001/part-00001.csv.gz"), time.Hour)
	f.oldTmp = "x/orders/20260103T000000Z-00000002/.part-00001.csv.gz.tmp-0123456789ab"
	write(t, filepath.Join(dir, filepath.FromSlash(f.oldTmp)), old)
	f.hpOld = "x/h-20250101T000000_000001.csv.gz"
	write(t, filepath.Join(dir, filepath.FromSlash(f.hpOld)), old)
	write(t, filepath.Join(dir, "x/notes.txt"), old) // not hp's
	return f
}

func TestGCDryRunChangesNothing(t *testing.T) {
	f := leftovers(t)
	before := tree(t, f.dir)
	code, out, errOut := clitest.Run(t, map[string]string{"HP_OUT_DSN": f.dir}, "gc", "out.x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := tree(t, f.dir); strings.Join(got, "\n") != strings.Join(before, "\n") {
		t.Fatalf("a dry run changed the store:\nbefore %v\nafter  %v", before, got)
	}
	for _, want := range []string{f.oldRun, "x/h-20250101T000000", "x/orders/20260103T000000Z-00000002/part-00001.csv.gz"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run does not name %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, f.youngRun) {
		t.Errorf("dry run names the young run:\n%s", out)
	}
	if !strings.Contains(errOut, "dry run") || !strings.Contains(errOut, "--delete") {
		t.Errorf("stderr must say it was a dry run: %q", errOut)
	}
}

func TestGCDeletesOnlyOldOrphans(t *testing.T) {
	f := leftovers(t)
	env := map[string]string{"HP_OUT_DSN": f.dir}
	code, out, errOut := clitest.Run(t, env, "gc", "out", "--delete", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var sum gc.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(sum.Runs) != 2 || len(sum.Pending) != 1 || !sum.Runs[0].Deleted || !sum.Pending[0].Deleted {
		t.Errorf("summary: %+v", sum)
	}
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(f.dir, filepath.FromSlash(p))); return err == nil }
	for _, gone := range []string{f.oldRun, f.oldTmp, filepath.Dir(f.oldTmp), f.hpOld} {
		if exists(gone) {
			t.Errorf("%s is left", gone)
		}
	}
	for _, kept := range append([]string{f.youngRun + "/part-00001.csv.gz", "x/notes.txt"}, f.published...) {
		if !exists(kept) {
			t.Errorf("%s was deleted", kept)
		}
	}
	// With a shorter threshold the young run goes too; published runs never.
	if code, _, errOut := clitest.Run(t, env, "gc", "out.x", "--delete", "--older-than", "1m"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if exists(f.youngRun) {
		t.Errorf("--older-than 1m left %s", f.youngRun)
	}
	for _, kept := range f.published {
		if !exists(kept) {
			t.Errorf("published %s was deleted", kept)
		}
	}
	if code, _, errOut := clitest.Run(t, env, "gc", "out", "--older-than", "-1h"); code != 2 {
		t.Errorf("negative --older-than: exit %d %s", code, errOut)
	}
}
