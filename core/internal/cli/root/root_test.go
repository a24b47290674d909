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
