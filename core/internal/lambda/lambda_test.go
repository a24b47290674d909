package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pluginDir holds an executable plugin with no SHA256SUMS entry.
func pluginDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hp-plugin-gen"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func handler(env map[string]string) *Handler {
	return &Handler{
		Version:   "test",
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string {
			var out []string
			for k, v := range env {
				out = append(out, k+"="+v)
			}
			return out
		},
		Stderr: io.Discard,
	}
}

// snap is the event of a snapshot from the gen connector into dir.
func snap(dir string, extra ...string) json.RawMessage {
	ev := map[string]string{"HP_COMMAND": "cp", "HP_SUBCOMMAND": "snap", "HP_SOURCE_DSN": "gen://?rows=10",
		"HP_SOURCE_OBJECT": "t", "HP_TARGET_DSN": dir, "HP_TARGET_OBJECT": "out"}
	for i := 0; i+1 < len(extra); i += 2 {
		ev[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(ev)
	return b
}

func TestLambdaRequiresChecksums(t *testing.T) {
	env := map[string]string{"HP_PLUGIN_DIR": pluginDir(t)}
	_, err := handler(env).Invoke(context.Background(), snap(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "checksums are required") {
		t.Fatalf("an unlisted plugin in Lambda: %v", err)
	}
	// The function's own configuration may opt out: the plugin then starts
	// (and, being a stub, fails otherwise).
	env["HP_REQUIRE_CHECKSUMS"] = "false"
	_, err = handler(env).Invoke(context.Background(), snap(t.TempDir()))
	if err == nil || strings.Contains(err.Error(), "checksums are required") {
		t.Fatalf("HP_REQUIRE_CHECKSUMS=false in the function's configuration: %v", err)
	}
}

func TestLambdaEventCannotChangePlugins(t *testing.T) {
	env := map[string]string{"HP_PLUGIN_DIR": t.TempDir()}
	for _, key := range []string{"HP_PLUGIN_DIR", "HP_REQUIRE_CHECKSUMS", "HP_CACHE_DIR"} {
		val := pluginDir(t)
		if key == "HP_REQUIRE_CHECKSUMS" {
			val = "false"
		}
		out, err := handler(env).Invoke(context.Background(), snap(t.TempDir(), key, val))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("event setting %s: %v, output %s", key, err, out)
		}
	}
}

// TestLambdaRunsOnlyCopies: the function runs cp snap, cp delta, sync
// batch, pipe and the shard steps, and says so for anything else, as a
// configuration error.
func TestLambdaRunsOnlyCopies(t *testing.T) {
	for _, ev := range []string{`{"HP_COMMAND":"plugins","HP_SUBCOMMAND":"list"}`, `{"HP_COMMAND":"cp","HP_SUBCOMMAND":"sync"}`,
		`{"HP_COMMAND":"sync","HP_SUBCOMMAND":"stream"}`, `{"HP_COMMAND":"diff"}`, `{}`} {
		_, err := handler(map[string]string{}).Invoke(context.Background(), json.RawMessage(ev))
		var je *JobError
		if !errors.As(err, &je) || je.Code != 2 || !strings.Contains(err.Error(), "in AWS Lambda hp runs cp snap, cp delta, sync batch, pipe, plan, shard and commit") {
			t.Errorf("event %s: %v", ev, err)
		}
	}
}

// TestLambdaSyncBatch: HP_COMMAND=sync HP_SUBCOMMAND=batch runs hp sync
// batch between HP_SOURCE_* and HP_TARGET_*, its flags taken from HP_
// variables of the environment or the event, checked before any plugin
// starts. (testkit/e2e TestLambdaSyncBatch runs one against databases.)
func TestLambdaSyncBatch(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_PLUGIN_DIR": pluginDir(t), "HP_COMMAND": "sync", "HP_SUBCOMMAND": "batch",
		"HP_SOURCE_DSN": dir, "HP_SOURCE_OBJECT": "a", "HP_TARGET_DSN": "postgres://u:s3cret@127.0.0.1:1/db", "HP_TARGET_OBJECT": "public.b"}
	for _, c := range []struct {
		event, want string
	}{
		{`{}`, `connection "source" (` + dir + `) is a file store, not a database`},
		{`{"HP_SOURCE_DSN": "mysql://u:s3cret@127.0.0.1:1/db"}`, `no plugin serves DSN scheme "mysql"`},
		{`{"HP_CHUNK_ROWS": -5}`, "--chunk-rows -5: give a positive number of rows"},
		{`{"HP_DRY_RUN": "maybe"}`, "HP_DRY_RUN"},
		{`{"HP_SOURCE_OBJECT": ""}`, "HP_SOURCE_OBJECT is not set"},
	} {
		var log strings.Builder
		h := handler(env)
		h.Stderr = &log
		_, err := h.Invoke(context.Background(), json.RawMessage(c.event))
		var je *JobError
		if !errors.As(err, &je) || je.Code != 2 || je.Command != "sync batch" || !strings.Contains(err.Error(), c.want) {
			t.Errorf("event %s: %v; want exit 2 and %q", c.event, err, c.want)
		}
		if strings.Contains(err.Error()+log.String(), "s3cret") {
			t.Errorf("event %s: a password shows: %v\n%s", c.event, err, log.String())
		}
	}
	// sync batch's flags are known variables; a misspelt one is warned about.
	var log strings.Builder
	h := handler(env)
	h.Stderr = &log
	_, _ = h.Invoke(context.Background(), json.RawMessage(`{"HP_NO_DELETE": "true", "HP_PRIMARY_KEYS": "id", "HP_WHERE": "id > 1", "HP_CHUNK_ROWS": "10", "HP_NO_DELET": "1"}`))
	testWarned(t, log.String(), []string{"HP_NO_DELET", "HP_NO_DELETE"}, []string{"HP_PRIMARY_KEYS", "HP_WHERE", "HP_CHUNK_ROWS", "HP_DRY_RUN is"})
}

// testWarned checks that log mentions every one of want and none of not.
func testWarned(t *testing.T, log string, want, not []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("the log does not mention %s:\n%s", w, log)
		}
	}
	for _, n := range not {
		if strings.Contains(log, n) {
			t.Errorf("the log mentions %s:\n%s", n, log)
		}
	}
}

// TestLambdaRefusesStdout: a function has no stdout to stream to, so a
// stdout target is a configuration error (exit 2) before any plugin starts.
func TestLambdaRefusesStdout(t *testing.T) {
	_, err := handler(map[string]string{"HP_PLUGIN_DIR": pluginDir(t)}).Invoke(context.Background(), snap("stdout"))
	var je *JobError
	if !errors.As(err, &je) || je.Code != 2 || !strings.Contains(err.Error(), "HP_TARGET_DSN=stdout") {
		t.Fatalf("stdout target: %v", err)
	}
}

// A misspelt variable of the event or the environment is warned about in
// the function's log, with the name it probably meant.
func TestLambdaWarnsOfMisspeltVariables(t *testing.T) {
	var log strings.Builder
	h := handler(map[string]string{"HP_PLUGIN_DIR": t.TempDir(), "HP_AUTH_KEY": "x"})
	h.Stderr = &log
	_, _ = h.Invoke(context.Background(), snap(t.TempDir(), "HP_MAX_FILE_ROWZ", "10"))
	for _, want := range []string{"HP_MAX_FILE_ROWZ", "HP_MAX_FILE_ROWS", "HP_AUTH_KEY is ignored"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not mention %s:\n%s", want, log.String())
		}
	}
	if strings.Contains(log.String(), "HP_SOURCE_OBJECT") {
		t.Errorf("a known variable was warned about:\n%s", log.String())
	}
}

// TestLambdaPipe: HP_COMMAND=pipe runs the pipeline of HP_PIPE; a bad
// file is a configuration error naming its line, a failed job a job
// error naming the job.
func TestLambdaPipe(t *testing.T) {
	env := map[string]string{"HP_PLUGIN_DIR": t.TempDir(), "HP_PG_DSN": "postgres://u:s3cret@127.0.0.1:1/db", "HP_LAKE_DSN": t.TempDir()}
	invoke := func(yaml string) error {
		ev, _ := json.Marshal(map[string]string{"HP_COMMAND": "pipe", "HP_PIPE": yaml})
		_, err := handler(env).Invoke(context.Background(), ev)
		return err
	}
	err := invoke("jobs:\n  - {kind: snap, source: pg.public.a, target: lake.a, formt: csv}\n")
	var je *JobError
	if !errors.As(err, &je) || je.Code != 2 || je.Command != "pipe" || !strings.Contains(err.Error(), `line 2: unknown key "formt"`) {
		t.Fatalf("bad pipeline: %v", err)
	}
	err = invoke("defaults: {kind: snap}\njobs:\n  - {source: pg.public.a, target: lake.a}\n  - {source: pg.public.b, target: lake.b}\n")
	if !errors.As(err, &je) || je.Code != 1 || !strings.Contains(err.Error(), "2 of 2 jobs failed") ||
		!strings.Contains(err.Error(), "pg.public.a (failed): ") || !strings.Contains(err.Error(), "pg.public.b (failed): ") {
		t.Fatalf("failed jobs: %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows a password: %v", err)
	}
}

func TestShardEventsSetTheirVariables(t *testing.T) {
	got, err := parseEvent([]byte(`{"plan": "s3://b/p.json", "index": 3}`))
	if err != nil || got["HP_COMMAND"] != "shard" || got["HP_PLAN"] != "s3://b/p.json" || got["HP_INDEX"] != "3" {
		t.Fatalf("a map item: %v %v", got, err)
	}
	got, err = parseEvent([]byte(`{"command": "commit", "plan": "s3://b/p.json"}`))
	if err != nil || got["HP_COMMAND"] != "commit" || got["HP_PLAN"] != "s3://b/p.json" || len(got) != 2 {
		t.Fatalf("a commit: %v %v", got, err)
	}
	if _, err := parseEvent([]byte(`{"command": "shard", "index": [1]}`)); err == nil {
		t.Fatal("an index that is a list was taken")
	}
}

// TestCacheDirWithoutHome: Lambda sets no HOME, so the plugin info cache
// goes to /tmp, which lasts across the invocations of an execution
// environment; with a user cache directory the Factory's default stays.
func TestCacheDirWithoutHome(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if got, want := defaultCacheDir(), filepath.Join(tmp, "halfpipe"); got != want {
		t.Fatalf("without HOME: %q, want %q", got, want)
	}
	t.Setenv("HOME", tmp)
	if got := defaultCacheDir(); got != "" {
		t.Fatalf("with HOME: %q, want the Factory's default", got)
	}
}
