package verify_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/verify"
	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/verify/verifytest"
)

func hp(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, env, args...)
}

type target struct {
	dir  string
	env  map[string]string
	runs []*manifest.Manifest
}

// publish writes three runs under x/orders (csv.gz with quoted newlines,
// parquet, jsonl) and one halfpipe-layout run of object h.
func publish(t *testing.T) *target {
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tg := &target{dir: dir, env: map[string]string{"HP_OUT_DSN": dir}}
	for i, f := range []format.Format{format.CSV, format.Parquet, format.JSONL} {
		m, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x/orders", Start: t0.Add(time.Duration(i) * time.Hour), Format: f, FileRows: []int{400, 400, 33}})
		tg.runs = append(tg.runs, m)
	}
	m, _ := verifytest.Write(t, dir, verifytest.Run{Target: "h", Layout: "halfpipe", Start: t0, Compression: format.None, FileRows: []int{10, 5}})
	tg.runs = append(tg.runs, m)
	return tg
}

func (tg *target) path(m *manifest.Manifest, i int) string {
	return filepath.Join(tg.dir, filepath.FromSlash(m.Files[i].Path))
}

func fileURL(tg *target, m *manifest.Manifest, i int) string {
	return "file://" + filepath.ToSlash(tg.path(m, i))
}

func TestVerifyPassesOnIntactRuns(t *testing.T) {
	tg := publish(t)
	code, out, errOut := hp(t, tg.env, "verify", "out.x")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, m := range tg.runs[:3] {
		for i, f := range m.Files {
			if want := "ok " + fileURL(tg, m, i) + " rows=" + itoa(f.Rows) + " sha256 ok\n"; !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q", want)
			}
		}
		if !strings.Contains(out, "run "+m.RunID+": ok, 3 files, 833 rows") {
			t.Errorf("stdout lacks the summary of run %s:\n%s", m.RunID, out)
		}
	}
	if !strings.Contains(out, "verified 3 runs under file://"+filepath.ToSlash(tg.dir)+"/x: all 9 files ok, 2499 rows") {
		t.Errorf("overall summary:\n%s", out)
	}

	// One run by id, in either layout.
	for _, m := range []*manifest.Manifest{tg.runs[1], tg.runs[3]} {
		obj := "x/orders"
		if m.Layout == "halfpipe" {
			obj = "h"
		}
		code, out, errOut = hp(t, tg.env, "verify", "out."+obj+"/"+m.RunID)
		if code != 0 || linesStarting(out, "ok ") != len(m.Files) || !strings.Contains(out, "verified 1 run ") {
			t.Errorf("verify %s/%s: exit %d\n%s%s", obj, m.RunID, code, out, errOut)
		}
	}
}

func TestVerifyFailsOnAlteredOrMissingFiles(t *testing.T) {
	tg := publish(t)
	csvRun, pqRun := tg.runs[0], tg.runs[1]
	verifytest.FlipByte(t, tg.dir, csvRun.Files[1].Path, 100)
	code, out, errOut := hp(t, tg.env, "verify", "out.x")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "FAIL "+fileURL(tg, csvRun, 1)+": ") || !strings.Contains(out, "sha256: expected "+csvRun.Files[1].SHA256) {
		t.Errorf("stdout should name the altered file:\n%s", out)
	}
	if !strings.Contains(out, "run "+csvRun.RunID+": FAILED: 1 of 3 files failed") || !strings.Contains(out, "run "+pqRun.RunID+": ok") {
		t.Errorf("run summaries:\n%s", out)
	}
	if !strings.Contains(errOut, "verification failed: 1 of 3 files in run "+csvRun.RunID+" ("+csvRun.Files[1].Path+")") {
		t.Errorf("stderr: %q", errOut)
	}

	// The other runs still verify on their own.
	if code, out, _ := hp(t, tg.env, "verify", "out.x/orders/"+pqRun.RunID); code != 0 {
		t.Errorf("the intact run fails: %s", out)
	}

	if err := os.Remove(tg.path(pqRun, 2)); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = hp(t, tg.env, "verify", "out.x", "--output", "json")
	if code != 1 || !strings.Contains(errOut, "in run "+pqRun.RunID) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var rep verify.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.OK || rep.Files != 9 || rep.FailedFiles != 2 || len(rep.Runs) != 3 || rep.Runs[1].OK || rep.Runs[2].FailedFiles != 0 {
		t.Fatalf("%+v", rep)
	}
	missing := rep.Runs[1].Files[2]
	if missing.OK || missing.Path != pqRun.Files[2].Path || !strings.Contains(strings.Join(missing.Problems, ";"), "missing") {
		t.Errorf("%+v", missing)
	}
}

func TestVerifyFailsWhenNothingIsPublished(t *testing.T) {
	tg := publish(t)
	code, out, errOut := hp(t, tg.env, "verify", "out.nothing")
	if code != 1 || out != "" || !strings.Contains(errOut, "nothing to verify under file://"+filepath.ToSlash(tg.dir)+"/nothing") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := hp(t, tg.env, "verify", "out.x/orders/20260101T000000Z-00000000"); code != 1 || !strings.Contains(errOut, "nothing to verify") {
		t.Fatalf("unknown run id: exit %d, %q", code, errOut)
	}
}

func TestVerifyFailsOnAnUnreadableManifest(t *testing.T) {
	tg := publish(t)
	bad := filepath.Join(tg.dir, "x", "orders", "zz", "_manifest.json")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"manifest_version": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := hp(t, tg.env, "verify", "out.x")
	if code != 1 || !strings.Contains(out, "FAIL file://"+filepath.ToSlash(bad)+": manifest unreadable") || !strings.Contains(errOut, "1 unreadable manifest") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	env := map[string]string{"HP_OUT_DSN": t.TempDir()}
	for _, args := range [][]string{
		{"verify"}, {"verify", "a", "b"}, {"verify", "out.x", "--parallel", "0"},
		{"verify", "out.x", "--output", "xml"}, {"verify", "stdout.x"},
	} {
		if code, _, errOut := hp(t, env, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errOut)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func linesStarting(text, prefix string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
