package e2e

import (
	"debug/buildinfo"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestOracleWithoutClient runs the real Oracle plugin (built with cgo)
// through hp on a machine without the Oracle client libraries: the plugin
// starts, and the first connection fails with exit 2 and a message that
// says what to install, never a cgo stack or the password.
func TestOracleWithoutClient(t *testing.T) {
	bin := testkit.Build(t)
	const secret = "Tig3rSecretPw"
	// Port 1 on the loopback: nothing listens, should a client be found.
	out := t.TempDir()
	env := []string{"HP_ORA_DSN=oracle://scott/" + secret + "@//127.0.0.1:1/FREEPDB1", "LD_LIBRARY_PATH=" + t.TempDir(), "HP_OUT_DSN=" + out}
	for _, args := range [][]string{{"check", "ora"}, {"cp", "snap", "ora.orders", "out.x", "--format", "csv"}} {
		res := bin.Run(t, env, args...)
		if !strings.Contains(res.Stderr, "DPI-1047") && strings.Contains(res.Stderr, "ORA-12541") {
			t.Skip("an Oracle client is installed here, so DPI-1047 cannot be provoked")
		}
		if res.Code != 2 {
			t.Fatalf("hp %s: exit %d, want 2\n%s", strings.Join(args, " "), res.Code, res.Stderr)
		}
		testkit.Contains(t, "stderr of hp "+strings.Join(args, " "), res.Stderr,
			"DPI-1047", "Oracle Instant Client", "Basic or Basic Light", "LD_LIBRARY_PATH", "/opt/lib", "libclntsh")
		for _, bad := range []string{secret, "goroutine ", "panic", "SIGSEGV", "runtime/cgo"} {
			if strings.Contains(res.Stderr+res.Stdout, bad) {
				t.Fatalf("hp %s printed %q:\n%s", strings.Join(args, " "), bad, res.Stderr)
			}
		}
	}
	assertNothingPublished(t, out)
}

// TestOraclePluginListed: hp plugins list shows the Oracle plugin, which
// is built with cgo while hp itself is not.
func TestOraclePluginListed(t *testing.T) {
	bin := testkit.Build(t)
	res := bin.Run(t, nil, "plugins", "list", "--output", "json")
	if res.Code != 0 {
		t.Fatalf("hp plugins list: exit %d\n%s", res.Code, res.Stderr)
	}
	var got []listed
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, res.Stdout)
	}
	var ora *listed
	for i := range got {
		if got[i].Name == "oracle" && ora == nil {
			ora = &got[i] // the first found serves the scheme
		}
	}
	if ora == nil || ora.Status != "ok" || strings.Join(ora.Schemes, ",") != "oracle" || !strings.Contains(strings.Join(ora.Capabilities, ","), "write") {
		t.Fatalf("oracle is not listed as a working plugin: %+v", ora)
	}
	cgo := func(path string) string {
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range info.Settings {
			if s.Key == "CGO_ENABLED" {
				return s.Value
			}
		}
		return ""
	}
	if got := cgo(filepath.Join(bin.PluginDir, "hp-plugin-oracle")); got != "1" {
		t.Errorf("hp-plugin-oracle built with CGO_ENABLED=%q, want 1", got)
	}
	if got := cgo(bin.HP); got != "0" {
		t.Errorf("hp built with CGO_ENABLED=%q, want 0", got)
	}
}
