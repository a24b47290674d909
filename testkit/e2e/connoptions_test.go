package e2e

import (
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// snapRows copies gen's narrow table to stdout and counts the data rows.
func snapRows(t *testing.T, bin *testkit.Binaries, env []string, conn string) (int, testkit.Result) {
	t.Helper()
	res := bin.Run(t, env, "cp", "snap", conn+".narrow", "stdout", "--format", "csv", "--compression", "none", "--csv-header=false")
	return strings.Count(res.Stdout, "\n"), res
}

// TestConnectorOptionsReachPlugin: gen's rows option, set with
// HP_<NAME>_ROWS or in the connections file, changes what the plugin
// generates; a variable wins over the file.
func TestConnectorOptionsReachPlugin(t *testing.T) {
	t.Parallel() // its own config directory and output
	bin := testkit.Build(t, "gen")
	cfg := "HP_CONFIG_DIR=" + t.TempDir()
	if n, res := snapRows(t, bin, []string{cfg, "HP_G_DSN=gen://"}, "g"); res.Code != 0 || n != 1000 {
		t.Fatalf("default: %d rows, exit %d: %s", n, res.Code, res.Stderr)
	}
	n, res := snapRows(t, bin, []string{cfg, "HP_G_DSN=gen://", "HP_G_ROWS=5"}, "g")
	if res.Code != 0 || n != 5 {
		t.Fatalf("HP_G_ROWS=5: %d rows, exit %d: %s", n, res.Code, res.Stderr)
	}
	if strings.Contains(res.Stderr, "HP_G_ROWS") {
		t.Fatalf("an option variable was reported as unknown: %s", res.Stderr)
	}
	if res := bin.Run(t, []string{cfg}, "config", "connections", "add", "filed", "--dsn", "gen://", "--option", "rows=3", "--option", "api_token=Zq7canary"); res.Code != 0 {
		t.Fatalf("config add: exit %d: %s", res.Code, res.Stderr)
	}
	if n, res := snapRows(t, bin, []string{cfg}, "filed"); res.Code != 0 || n != 3 {
		t.Fatalf("file option rows=3: %d rows, exit %d: %s", n, res.Code, res.Stderr)
	}
	if n, res := snapRows(t, bin, []string{cfg, "HP_FILED_ROWS=4"}, "filed"); res.Code != 0 || n != 4 {
		t.Fatalf("HP_FILED_ROWS=4 over the file's 3: %d rows, exit %d: %s", n, res.Code, res.Stderr)
	}
	// The file's option the connector does not know is a warning; the
	// list shows rows (the spec says it is not secret) but not the token.
	_, res = snapRows(t, bin, []string{cfg}, "filed")
	testkit.Contains(t, "stderr", res.Stderr, "no such option", "option=api_token")
	list := bin.Run(t, []string{cfg, "HP_G_DSN=gen://", "HP_G_SEED=9"}, "config", "connections", "list")
	if list.Code != 0 || strings.Contains(list.Stdout+list.Stderr, "Zq7canary") {
		t.Fatalf("list: exit %d\n%s%s", list.Code, list.Stdout, list.Stderr)
	}
	testkit.Contains(t, "list", list.Stdout, "api_token=xxxxx,rows=3", "seed=9")
}

// TestConnectorOptionErrors: a typo is a warning naming the option meant;
// a value of the wrong type is a configuration error naming the
// connection and the option.
func TestConnectorOptionErrors(t *testing.T) {
	t.Parallel() // nothing shared
	bin := testkit.Build(t, "gen")
	n, res := snapRows(t, bin, []string{"HP_G_DSN=gen://", "HP_G_ROWZ=5"}, "g")
	if res.Code != 0 || n != 1000 {
		t.Fatalf("typo: %d rows, exit %d: %s", n, res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "option=rowz", "did_you_mean=rows", "set_by=\"env HP_G_ROWZ\"")
	// hp's own variables are never a connection's options, even where
	// the connection's name prefixes them (connection "log", HP_LOG_LEVEL).
	n, res = snapRows(t, bin, []string{"HP_LOG_DSN=gen://", "HP_LOG_LEVEL=info", "HP_LOG_ROWS=7"}, "log")
	if res.Code != 0 || n != 7 || strings.Contains(res.Stderr, "option=level") || strings.Contains(res.Stderr, "HP_LOG_LEVEL") {
		t.Fatalf("connection log with HP_LOG_LEVEL: %d rows, exit %d: %s", n, res.Code, res.Stderr)
	}
	_, res = snapRows(t, bin, []string{"HP_G_DSN=gen://", "HP_G_ROWS=many"}, "g")
	if res.Code != 2 {
		t.Fatalf("bad value: exit %d, want 2: %s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, `connection "g": option rows = "many" (env HP_G_ROWS): not an integer`)
	_, res = snapRows(t, bin, []string{"HP_G_DSN=gen://", "HP_G_VALUE_BYTES=1KiB"}, "g")
	if res.Code != 0 {
		t.Fatalf("size option 1KiB: exit %d: %s", res.Code, res.Stderr)
	}
}
