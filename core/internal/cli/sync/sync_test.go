package sync_test

import (
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
)

// Mistakes found before any plugin starts exit 2 and print nothing on
// stdout.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir, "HP_PLUGIN_DIR": dir, "HP_CACHE_DIR": t.TempDir()}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sync", "batch", "a.t"}, "hp sync batch takes a source and a target table"},
		{[]string{"sync", "batch", "a.t", "b.t", "--output", "yaml"}, `--output "yaml": use text or json`},
		{[]string{"sync", "batch", "nope.t", "b.t"}, `unknown connection "nope"`},
		{[]string{"sync", "batch", "out.t", "b.t"}, `connection "out" (` + dir + `) is a file store, not a database`},
	} {
		code, stdout, stderr := clitest.Run(t, env, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("hp %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, stdout, stderr, c.want)
		}
	}
}
