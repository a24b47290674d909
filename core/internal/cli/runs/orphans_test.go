package runs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/runs"
	"github.com/halfpipe-io/halfpipe/core/internal/verify/verifytest"
)

// killedRun leaves what a killed run leaves in dir: a finished data file,
// a temporary file, and returns their paths. Everything is age old.
func killedRun(t *testing.T, dir, runDir string, age time.Duration) (data, tmp string) {
	t.Helper()
	d := filepath.Join(dir, filepath.FromSlash(runDir))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	data = filepath.Join(d, "part-00001.csv.gz")
	tmp = filepath.Join(d, ".part-00002.csv.gz.tmp-0123456789ab")
	for _, p := range []string{data, tmp} {
		if err := os.WriteFile(p, []byte("some bytes"), 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	return data, tmp
}

func TestRunsOrphans(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	pub, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x/orders", Start: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), FileRows: []int{3}})
	data, tmp := killedRun(t, dir, "x/orders/20260301T110000Z-0badf00d", 3*time.Hour)

	code, out, errOut := hp(t, env, "runs", "out.x", "--orphans")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, pub.RunID) {
		t.Errorf("a published run is listed as an orphan:\n%s", out)
	}
	for _, want := range []string{"x/orders/20260301T110000Z-0badf00d", "3h", "1 ", "10 B", "file://" + filepath.ToSlash(tmp)} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = hp(t, env, "runs", "out", "--orphans", "--output", "json")
	var got runs.Orphans
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if len(got.Runs) != 1 || got.Runs[0].Run != "x/orders/20260301T110000Z-0badf00d" || got.Runs[0].Objects != 1 || got.Runs[0].Bytes != 10 ||
		got.Runs[0].AgeSeconds < 3*3600-60 || !strings.HasSuffix(got.Runs[0].URL, "/x/orders/20260301T110000Z-0badf00d") {
		t.Errorf("runs: %+v", got.Runs)
	}
	if len(got.Pending) != 1 || !strings.HasSuffix(got.Pending[0].URL, filepath.ToSlash(tmp)) || got.Pending[0].Bytes != 10 {
		t.Errorf("pending: %+v", got.Pending)
	}
	_ = data

	// Nothing left over: says so, exits 0.
	clean := t.TempDir()
	verifytest.Write(t, clean, verifytest.Run{Target: "x/orders", FileRows: []int{3}})
	code, out, errOut = hp(t, map[string]string{"HP_OUT_DSN": clean}, "runs", "out.x", "--orphans")
	if code != 0 || out != "" || !strings.Contains(errOut, "no unpublished runs or unfinished writes under") {
		t.Errorf("clean store: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
