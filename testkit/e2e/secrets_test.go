package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

const canary = "Zq7Canary"

func noCanary(t *testing.T, what string, res testkit.Result) {
	t.Helper()
	if strings.Contains(res.Stdout+res.Stderr, canary) {
		t.Errorf("%s printed the canary secret:\nstdout: %s\nstderr: %s", what, res.Stdout, res.Stderr)
	}
}

// A canary secret in every connector's DSN form never reaches hp's output,
// errors, debug logs, the connections list or a manifest.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel() // nothing shared
	bin := testkit.Build(t)
	for _, dsn := range []string{
		"postgres://bob:" + canary + "?x@127.0.0.1:1/app",
		"postgres://bob:" + canary + "@127.0.0.1:1/app?connect_timeout=2&sslmode=disable",
		"host=127.0.0.1 port=1 user=bob password=" + canary + " sslpassword=" + canary + " dbname=app connect_timeout=2",
		"mysql://root:" + canary + "%zz@127.0.0.1:1/test",
		"mysql://root:" + canary + "@127.0.0.1:1/test?timeout=1s",
		"sqlserver://sa:" + canary + "/x@127.0.0.1:1?database=x",
		"sqlserver://sa:" + canary + "@127.0.0.1:1?database=x&dial+timeout=1",
		"Server=127.0.0.1,1;User ID=sa;Password=" + canary + ";Database=x",
		"sqlite:///nonexistent/x.db?_auth_pass=" + canary,
		"gen://?rows=notanumber&password=" + canary,
	} {
		env := []string{"HP_CONFIG_DIR=" + t.TempDir(), "HP_SRC_DSN=" + dsn}
		res := bin.Run(t, env, "--log-level", "debug", "query", "src", "SELECT 1")
		if res.Code == 0 {
			t.Errorf("query with a bad DSN succeeded")
		}
		noCanary(t, "query", res)
		res = bin.Run(t, env, "config", "connections", "list")
		noCanary(t, "connections list", res)
		if !strings.Contains(res.Stdout, "xxxxx") {
			t.Errorf("connections list shows no mask: %s", res.Stdout)
		}
	}

	cfg := t.TempDir()
	env := []string{"HP_CONFIG_DIR=" + cfg}
	res := bin.Run(t, env, "config", "connections", "add", "bad", "--dsn", "postgres://bob:"+canary+"?x@db/app")
	if res.Code != 2 || !strings.Contains(res.Stderr, "percent-encode") {
		t.Errorf("add with an unencoded password: exit %d: %s", res.Code, res.Stderr)
	}
	noCanary(t, "connections add", res)

	out := t.TempDir()
	env = []string{"HP_SRC_DSN=gen://?rows=3&password=" + canary + "&api_key=" + canary, "HP_OUT_DSN=" + out}
	res = bin.Run(t, env, "--log-level", "debug", "cp", "snap", "src.narrow", "out.x", "--format", "csv")
	noCanary(t, "cp snap", res)
	if res.Code == 0 {
		for _, m := range findManifests(t, out) {
			b, _ := os.ReadFile(m)
			if strings.Contains(string(b), canary) {
				t.Errorf("manifest %s holds the canary", m)
			}
		}
	}
}

// A libpq key=value DSN works end to end against PostgreSQL, stored with
// hp config connections add, and is masked in the manifest.
func TestLibpqDSNEndToEnd(t *testing.T) {
	t.Parallel() // its own table and config directory
	table := fmt.Sprintf("secrets_libpq_%d", time.Now().UnixNano())
	pgExec(t, "CREATE TABLE "+table+" (id int PRIMARY KEY, name text); INSERT INTO "+table+" VALUES (1, 'a'), (2, 'b')")
	t.Cleanup(func() { pgExec(t, "DROP TABLE IF EXISTS "+table) })
	bin := testkit.Build(t)
	cfg, dir := t.TempDir(), t.TempDir()
	env := []string{"HP_CONFIG_DIR=" + cfg}
	dsn := "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable application_name=hp password='" + canary + " x'"
	res := bin.Run(t, env, "config", "connections", "add", "pg", "--dsn", dsn)
	if res.Code != 0 {
		t.Fatalf("add: exit %d: %s", res.Code, res.Stderr)
	}
	cmd := bin.Command(t.Context(), t, env, "config", "connections", "add", "out", "--dsn", "./out")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), filepath.Join(dir, "out")) {
		t.Fatalf("add ./out: %v: %s", err, b)
	}
	res = bin.Run(t, env, "cp", "snap", "pg.public."+table, "out.x", "--format", "csv", "--compression", "none")
	noCanary(t, "cp snap", res)
	if res.Code != 0 {
		t.Fatalf("snap: exit %d: %s", res.Code, res.Stderr)
	}
	m, _ := readManifest(t, filepath.Join(dir, "out"))
	if len(m.Files) != 1 {
		t.Fatalf("manifest files: %+v", m.Files)
	}
	for _, p := range findManifests(t, filepath.Join(dir, "out")) {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), canary) || !strings.Contains(string(b), "password=xxxxx") {
			t.Errorf("manifest: %s", b)
		}
	}
}
