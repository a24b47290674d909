package configcmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
)

func run(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	io, _, out, errOut := cliutil.Test()
	f := &cliutil.Factory{IO: io,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string {
			var kv []string
			for k, v := range env {
				kv = append(kv, k+"="+v)
			}
			return kv
		}}
	cmd := NewCmd(f)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

// add reports a relative file DSN stored absolute; list and a refused add
// never show a canary password, whatever the DSN's form.
func TestConnectionsAddListMasking(t *testing.T) {
	const c = "Zq7canary"
	dir := t.TempDir()
	t.Chdir(dir)
	env := map[string]string{"HP_CONFIG_DIR": filepath.Join(dir, "cfg"), "HP_ENVPG_DSN": "host=h user=u sslpassword=" + c}
	_, stderr, err := run(t, env, "connections", "add", "out", "--dsn", "./out")
	if err != nil || !strings.Contains(stderr, "absolute path "+filepath.Join(dir, "out")) {
		t.Fatalf("add ./out: %v, stderr %q", err, stderr)
	}
	for name, dsn := range map[string]string{"pgkv": "host=db user=bob password=" + c + " dbname=app", "my": "mysql://root:" + c + "@db:3306/test"} {
		if _, _, err := run(t, env, "connections", "add", name, "--dsn", dsn); err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
	}
	_, stderr, err = run(t, env, "connections", "add", "bad", "--dsn", "postgres://bob:"+c+"?x@db/app")
	if err == nil || strings.Contains(err.Error()+stderr, c) || !strings.Contains(err.Error(), "percent-encode") {
		t.Fatalf("add with an unencoded password: %v, stderr %q", err, stderr)
	}
	for _, format := range []string{"text", "json"} {
		stdout, stderr, err := run(t, env, "connections", "list", "--output", format)
		if err != nil || strings.Contains(stdout+stderr, c) || strings.Count(stdout, "xxxxx") != 3 || !strings.Contains(stdout, filepath.Join(dir, "out")) {
			t.Fatalf("list %s: %v\n%s%s", format, err, stdout, stderr)
		}
	}
}

// add stores --option pairs; list hides every option value when no
// plugin tells which are secret, and a reserved name is refused.
func TestConnectionsAddOptions(t *testing.T) {
	const c = "Zq7canary"
	dir := t.TempDir()
	env := map[string]string{"HP_CONFIG_DIR": dir, "HP_PLUGIN_DIR": filepath.Join(dir, "none")}
	if _, _, err := run(t, env, "connections", "add", "g", "--dsn", "gen://", "--option", "rows=5", "--option", "api_key="+c); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, env, "connections", "list")
	if err != nil || strings.Contains(stdout+stderr, c) || !strings.Contains(stdout, "api_key=xxxxx,rows=xxxxx") {
		t.Fatalf("list: %v\n%s%s", err, stdout, stderr)
	}
	if _, _, err := run(t, env, "connections", "add", "h", "--dsn", "gen://", "--option", "dsn=x"); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("reserved option accepted: %v", err)
	}
}
