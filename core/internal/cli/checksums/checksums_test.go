package checksums_test

import (
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
)

// Mistakes found before any plugin starts are usage errors (exit 2) that
// say what is wrong.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir, "HP_PLUGIN_DIR": dir, "HP_CACHE_DIR": t.TempDir()}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"checksums", "install"}, "hp checksums install takes one <conn>.[<schema>.]<table>, got 0"},
		{[]string{"checksums", "status", "a.t", "b.t"}, "hp checksums status takes one"},
		{[]string{"checksums", "drop", "pg"}, `"pg" is not <connection>.<object>`},
		{[]string{"checksums", "status", "nope.t"}, `unknown connection "nope"`},
		{[]string{"checksums", "install", "out.t"}, `connection "out" (` + dir + `) is a file store, not a database`},
		{[]string{"checksums", "drop", "a.t", "--output", "yaml"}, `--output "yaml": use text or json`},
		{[]string{"checksums", "status", "a.t", "--dry-run"}, "unknown flag: --dry-run"},
	} {
		code, stdout, stderr := clitest.Run(t, env, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("hp %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, stdout, stderr, c.want)
		}
	}
}
