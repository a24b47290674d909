package root

import (
	"context"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := cliutil.Test()
	f := &cliutil.Factory{IO: io, Version: "1.2.3", LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	code := Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func TestVersionThroughInjectedStreams(t *testing.T) {
	code, out, _ := run(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "hp 1.2.3 (connector protocol 1,") {
		t.Fatalf("exit %d: %q", code, out)
	}
	code, out, _ = run(t, map[string]string{"HP_OUTPUT": "json"}, "version")
	if code != 0 || !strings.Contains(out, `"protocol_version": 1`) {
		t.Fatalf("HP_OUTPUT=json: exit %d %q", code, out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"nosuchcommand"}, "unknown command"},
		{nil, []string{"version", "--output", "yaml"}, `"yaml"`},
		{map[string]string{"HP_REQUIRE_CHECKSUMS": "maybe"}, []string{"version"}, "HP_REQUIRE_CHECKSUMS"},
		{map[string]string{"HP_LOG_LEVEL": "loud"}, []string{"version"}, "loud"},
	} {
		code, _, errOut := run(t, tc.env, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v %v: exit %d, stderr %q (want mention of %s)", tc.env, tc.args, code, errOut, tc.want)
		}
	}
}

func TestUnknownSubcommandsAndFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cp", "snpa", "a.b", "c"}, `unknown command "snpa" for "hp cp": did you mean "snap"?`},
		{[]string{"cp", "delat"}, `did you mean "delta"?`},
		{[]string{"config", "conection", "list"}, `did you mean "connection"?`},
		{[]string{"config", "connection", "lst"}, `did you mean "list"?`},
		{[]string{"plugins", "lsit"}, `did you mean "list"?`},
		{[]string{"state", "shwo"}, `did you mean "show"?`},
		{[]string{"cpp", "snap"}, `unknown command "cpp" for "hp": did you mean "cp"?`},
		{[]string{"cp", "zzzzzz"}, `unknown command "zzzzzz" for "hp cp"`},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"cp", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"cp", "snap", "--bogus", "a.b", "c"}, "unknown flag: --bogus"},
		{[]string{"version", "--bogus"}, "unknown flag: --bogus"},
	} {
		code, out, errOut := run(t, nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and %q", tc.args, code, errOut, tc.want)
		}
		if strings.Contains(out, "Usage:") {
			t.Errorf("%v: printed help to stdout: %q", tc.args, out)
		}
	}
	// A group alone still shows its help and succeeds.
	if code, out, _ := run(t, nil, "cp"); code != 0 || !strings.Contains(out, "snap") {
		t.Errorf("hp cp: exit %d, %q", code, out)
	}
}

func TestVersionFlag(t *testing.T) {
	_, want, _ := run(t, nil, "version")
	for _, args := range [][]string{{"--version"}, {"--log-level", "warn", "--version"}} {
		code, out, errOut := run(t, nil, args...)
		if code != 0 || out != want {
			t.Errorf("%v: exit %d, out %q, stderr %q; want %q", args, code, out, errOut, want)
		}
	}
}

func TestMisspeltVariableOnCommandLine(t *testing.T) {
	env := map[string]string{"HP_OUTPT": "json", "HP_PROD_DSN": "postgres://x", "HP_LOG_LEVEL": "info", "HP_S3_REGION": "eu-west-1"}
	io, _, out, errOut := cliutil.Test()
	f := &cliutil.Factory{IO: io, Version: "1.2.3",
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string {
			var kv []string
			for k, v := range env {
				kv = append(kv, k+"="+v)
			}
			return kv
		}}
	if code := Run(context.Background(), f, []string{"version"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out.String(), "hp 1.2.3") {
		t.Errorf("HP_OUTPT must not act as HP_OUTPUT: %q", out)
	}
	e := errOut.String()
	if !strings.Contains(e, "HP_OUTPT") || !strings.Contains(e, "HP_OUTPUT") {
		t.Errorf("no nearest-name warning for HP_OUTPT: %q", e)
	}
	if strings.Contains(e, "HP_PROD_DSN") || strings.Contains(e, "postgres://") {
		t.Errorf("a connection variable was warned about or leaked: %q", e)
	}
	if strings.Contains(e, "HP_S3_REGION") {
		t.Errorf("a flag of another command was warned about: %q", e)
	}
}

func TestPluginDirFlag(t *testing.T) {
	flagDir, envDir := t.TempDir(), t.TempDir()
	env := map[string]string{"HP_PLUGIN_DIR": envDir}
	_, _, errOut := run(t, env, "--plugin-dir", flagDir, "plugins", "list")
	if !strings.Contains(errOut, "looked in "+flagDir+",") || strings.Contains(errOut, envDir) {
		t.Fatalf("--plugin-dir %s with HP_PLUGIN_DIR=%s: %q", flagDir, envDir, errOut)
	}
	_, _, errOut = run(t, env, "plugins", "list")
	if !strings.Contains(errOut, "looked in "+envDir+",") {
		t.Fatalf("HP_PLUGIN_DIR=%s without the flag: %q", envDir, errOut)
	}
}
