package diff_test

import (
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
)

// Mistakes found before any plugin starts exit 2 (an error, not "the
// tables differ") and print nothing on stdout.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir, "HP_PLUGIN_DIR": dir, "HP_CACHE_DIR": t.TempDir()}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "a.t"}, "hp diff takes a source and a target table"},
		{[]string{"diff", "a.t", "b.t", "--output", "yaml"}, `--output "yaml": use text or json`},
		{[]string{"diff", "nope.t", "b.t"}, `unknown connection "nope"`},
		{[]string{"diff", "out.t", "b.t"}, `connection "out" (` + dir + `) is a file store, not a database`},
		{[]string{"diff", "a.t", "b.t", "--hash", "--hash-rows", "0"}, "--hash-rows must be at least 1, not 0"},
		{[]string{"diff", "a.t", "b.t", "--hash", "--hash-parallel", "0"}, "--hash-parallel must be at least 1, not 0"},
		{[]string{"cp", "meta", "a.t"}, "hp cp meta takes a source and a target table"},
		{[]string{"cp", "meta", "pg", "b.t"}, `"pg" is not <connection>.<object>`},
		{[]string{"cp", "meta", "a.t", "b.t", "--output", "csv"}, `--output "csv": use text or json`},
	} {
		code, stdout, stderr := clitest.Run(t, env, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("hp %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, stdout, stderr, c.want)
		}
	}
}
