package runs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/runs"
	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/verify/verifytest"
)

func hp(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, env, args...)
}

func TestRunsListsPublishedRunsByStartTime(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// Written out of order; listed by start time.
	pq, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x/orders", Start: t0.Add(2 * time.Hour), Format: format.Parquet, FileRows: []int{500, 20}})
	csv, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x/orders", Start: t0, Format: format.CSV, FileRows: []int{100}})
	hpl, _ := verifytest.Write(t, dir, verifytest.Run{Target: "x", Layout: "halfpipe", Start: t0.Add(time.Hour), Format: format.JSONL, FileRows: []int{7}})
	verifytest.Write(t, dir, verifytest.Run{Target: "xy", Start: t0, FileRows: []int{1}}) // another prefix
	bad := filepath.Join(dir, "x", "broken", "r", "_manifest.json")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HP_OUT_DSN": dir}

	code, out, errOut := hp(t, env, "runs", "out.x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "RUN ID") {
		t.Fatalf("want a header and 3 runs:\n%s", out)
	}
	for i, want := range [][]string{
		{csv.RunID, "2026-03-01T10:00:00Z", "snap", "csv", "100", "1"},
		{hpl.RunID, "2026-03-01T11:00:00Z", "snap", "jsonl", "7", "1"},
		{pq.RunID, "2026-03-01T12:00:00Z", "snap", "parquet", "520", "2"},
	} {
		got := strings.Fields(lines[i+1])
		if len(got) != 10 || strings.Join(got[:6], " ") != strings.Join(want, " ") || got[8] != "narrow" {
			t.Errorf("line %d = %q, want %v ... narrow <manifest>", i+1, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[2], "file://"+filepath.ToSlash(dir)+"/x-20260301T110000.manifest.json") {
		t.Errorf("halfpipe manifest URL missing: %q", lines[2])
	}
	if !strings.Contains(errOut, "warning") || !strings.Contains(errOut, "x/broken/r/_manifest.json") {
		t.Errorf("stderr should warn about the broken manifest: %q", errOut)
	}

	code, out, _ = hp(t, env, "runs", "out.x/orders", "--output", "json")
	var entries []runs.Entry
	if err := json.Unmarshal([]byte(out), &entries); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if len(entries) != 2 || entries[0].RunID != csv.RunID || entries[1].RunID != pq.RunID {
		t.Fatalf("%+v", entries)
	}
	e := entries[1]
	if e.Mode != "snap" || e.Rows != 520 || e.Files != 2 || e.Bytes != pq.TotalBytes || e.SourceObject != "narrow" ||
		e.TargetObject != "x/orders" || !e.StartedAt.Equal(t0.Add(2*time.Hour)) || !strings.HasSuffix(e.ManifestURL, "/_manifest.json") {
		t.Errorf("%+v", e)
	}
	if !strings.Contains(out, `"started_at": "2026-03-01T12:00:00Z"`) || !strings.Contains(out, `"manifest_url"`) {
		t.Errorf("JSON field names:\n%s", out)
	}
}

func TestRunsUnderAnEmptyPrefix(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	code, out, errOut := hp(t, env, "runs", "out.nothing/here")
	if code != 0 || out != "" || !strings.Contains(errOut, "no runs under file://"+filepath.ToSlash(dir)+"/nothing/here") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = hp(t, env, "runs", "out.nothing", "--output", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("json: exit %d, %q", code, out)
	}
}

func TestRunsUsageErrors(t *testing.T) {
	env := map[string]string{"HP_OUT_DSN": t.TempDir(), "HP_PG_DSN": "postgres://u:secret@h/db"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"runs"}, "takes one"},
		{[]string{"runs", "nosuch.x"}, "HP_NOSUCH_DSN"},
		{[]string{"runs", "pg.x"}, "not a file or s3 target"},
		{[]string{"runs", "stdout.x"}, "not a file or s3 target"},
		{[]string{"runs", "out.x", "--output", "yaml"}, "yaml"},
	} {
		code, _, errOut := hp(t, env, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "secret") {
			t.Errorf("%v: exit %d, stderr %q (want exit 2 mentioning %q)", tc.args, code, errOut, tc.want)
		}
	}
}
