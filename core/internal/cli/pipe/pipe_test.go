package pipe_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
	"github.com/halfpipe-io/halfpipe/core/internal/pipe"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pipe.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// env has a PostgreSQL connection whose connector is not installed (an
// empty plugin directory) and a directory target.
func env(t *testing.T) (map[string]string, string) {
	out := t.TempDir()
	return map[string]string{"HP_PG_DSN": "postgres://u:s3cret@127.0.0.1:1/db", "HP_LAKE_DSN": out, "HP_PLUGIN_DIR": t.TempDir()}, out
}

const twoJobs = `defaults:
  kind: snap
  target: lake.raw/{table}
  format: parquet
jobs:
  - source: pg.public.orders
  - name: customers
    source: pg.public.customers
    kind: delta
    delta-driver: updated_at
`

func TestPipeDryRunPrintsTheJobs(t *testing.T) {
	vars, out := env(t)
	for _, args := range [][]string{{"pipe", "run", "--dry-run", write(t, twoJobs)}, {"pipe", "validate", write(t, twoJobs)}} {
		code, stdout, stderr := clitest.Run(t, vars, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		clitestContains(t, stdout, "NAME", "pg.public.orders", "snap", "lake.raw/orders", "customers", "delta", "pg.public.customers", "lake.raw/customers")
		clitestContains(t, stderr, "2 jobs, all valid")
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a dry run wrote %v", entries)
	}
	// HP_PIPE holds the YAML itself, in 12-factor mode too (no arguments),
	// and is no unknown variable.
	vars["HP_PIPE"] = twoJobs
	code, stdout, stderr := clitest.Run(t, vars, "pipe", "validate")
	if code != 0 || !strings.Contains(stdout, "lake.raw/customers") {
		t.Fatalf("HP_PIPE inline: exit %d\n%s%s", code, stdout, stderr)
	}
	for k, v := range map[string]string{"HP_12FACTOR_MODE": "1", "HP_COMMAND": "pipe", "HP_SUBCOMMAND": "run", "HP_DRY_RUN": "true", "HP_JOBS": "2"} {
		vars[k] = v
	}
	code, stdout, stderr = clitest.Run(t, vars)
	if code != 0 || !strings.Contains(stdout, "lake.raw/customers") || strings.Contains(stderr, "matches no flag") {
		t.Fatalf("12-factor mode: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestPipeBadFileIsAUsageError(t *testing.T) {
	vars, _ := env(t)
	for _, c := range []struct {
		yaml string
		want []string
	}{
		{"jobs:\n  - kind: snap\n    source: pg.a\n    target: lake.a\n    formt: csv\n", []string{"line 5", `"formt"`, `"format"`}},
		{"jobs:\n  - {kind: snap, source: pg.a, target: lake.a, compression: lz9}\n  - {kind: delta, source: pg.b, target: lake.b}\n", []string{"job pg.a (line 2)", "--compression", "job pg.b (line 3)", "--delta-driver"}},
	} {
		code, stdout, stderr := clitest.Run(t, vars, "pipe", "run", write(t, c.yaml))
		if code != 2 || stdout != "" {
			t.Errorf("exit %d, stdout %q, want 2 and nothing", code, stdout)
		}
		clitestContains(t, stderr, c.want...)
	}
	code, _, stderr := clitest.Run(t, vars, "pipe", "run")
	if code != 2 || !strings.Contains(stderr, "no pipeline") {
		t.Errorf("no file: exit %d\n%s", code, stderr)
	}
	code, _, stderr = clitest.Run(t, vars, "pipe", "run", "a.yaml", "b.yaml")
	if code != 2 || !strings.Contains(stderr, "one FILE") {
		t.Errorf("two files: exit %d\n%s", code, stderr)
	}
}

// TestPipeFailedJobsExitOne runs jobs that fail (their connector is not
// installed): each job is reported, the summary names them with the
// error, secrets masked, and the pipe exits 1, not 2.
func TestPipeFailedJobsExitOne(t *testing.T) {
	vars, out := env(t)
	summary := filepath.Join(t.TempDir(), "summary.json")
	code, stdout, stderr := clitest.Run(t, vars, "pipe", "run", write(t, twoJobs), "--summary", summary, "--jobs", "1")
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	clitestContains(t, stderr, "pipe: failed  pg.public.orders", "pipe: failed  customers", "0 ok, 2 failed, 0 not run")
	raw, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	var s pipe.Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.Failed != 2 || len(s.Jobs) != 2 || s.Jobs[0].Name != "pg.public.orders" || s.Jobs[1].Name != "customers" {
		t.Fatalf("summary %s", raw)
	}
	for _, j := range s.Jobs {
		if j.Status != pipe.StatusFailed || !strings.Contains(j.Error, "postgres") || j.RunID != "" {
			t.Errorf("job %+v", j)
		}
	}
	if strings.Contains(string(raw)+stderr, "s3cret") {
		t.Error("a password reached the summary or the log")
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("failed jobs left %v", entries)
	}
	// --failed-from reruns both; --only one (the summary on stdout).
	code, stdout, _ = clitest.Run(t, vars, "pipe", "run", write(t, twoJobs), "--only", "customers")
	if err := json.Unmarshal([]byte(stdout), &s); code != 1 || err != nil || len(s.Jobs) != 1 || s.Jobs[0].Name != "customers" {
		t.Fatalf("--only: exit %d, %s (%v)", code, stdout, err)
	}
	code, stdout, _ = clitest.Run(t, vars, "pipe", "run", write(t, twoJobs), "--failed-from", summary)
	if err := json.Unmarshal([]byte(stdout), &s); code != 1 || err != nil || len(s.Jobs) != 2 {
		t.Fatalf("--failed-from: exit %d, %s (%v)", code, stdout, err)
	}
}

func clitestContains(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("output does not mention %q:\n%s", p, s)
		}
	}
}
