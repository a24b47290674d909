package inspect_test

import (
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
)

// Mistakes that need no plugin to find are usage errors (exit 2) that
// say what is wrong.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir, "HP_PLUGIN_DIR": dir}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ls"}, "hp ls takes one <conn>[.<schema>], got 0"},
		{[]string{"ls", ".public"}, `".public" is not <conn>[.<schema>]`},
		{[]string{"describe", "pg"}, `"pg" is not <connection>.<object>`},
		{[]string{"describe", `pg."open`}, "unclosed quote"},
		{[]string{"check", "a", "b"}, "hp check takes one <conn>, got 2"},
		{[]string{"check", "nope"}, `unknown connection "nope": set HP_NOPE_DSN`},
		{[]string{"ls", "out"}, `connection "out" (` + dir + `) is a file store, not a database`},
		{[]string{"check", "out", "--output", "yaml"}, `--output "yaml": use text or json`},
		{[]string{"describe", "out.t", "--json", "--output", "csv"}, "--json and --output"},
	} {
		code, stdout, stderr := clitest.Run(t, env, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("hp %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, stdout, stderr, c.want)
		}
	}
}

// A connection whose scheme no plugin serves fails naming the scheme.
func TestNoPlugin(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := clitest.Run(t, map[string]string{"HP_DB_DSN": "nosuch://h/db", "HP_PLUGIN_DIR": dir, "HP_CACHE_DIR": t.TempDir()}, "check", "db")
	if code != 2 || !strings.Contains(stderr, `connection "db"`) || !strings.Contains(stderr, `"nosuch"`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
