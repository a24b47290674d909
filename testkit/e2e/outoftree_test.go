package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestOutOfTreeConnectorTakesOptions: a connector built outside this
// repository as the connector guide says (its own module, require + replace
// of the SDK, GOWORK=off) is found by hp, and an option set with
// HP_<NAME>_<OPTION> reaches it, beating the DSN's.
func TestOutOfTreeConnectorTakesOptions(t *testing.T) {
	t.Parallel() // its own module and plugin directory
	bin := testkit.Build(t)
	root := testkit.RepoRoot(t)
	mod, plugins := t.TempDir(), t.TempDir()
	gomod := "module example.com/hp-plugin-numbers\n\ngo 1.26\n\nrequire github.com/halfpipe-io/halfpipe/sdk v0.0.0\n\n" +
		"replace github.com/halfpipe-io/halfpipe/sdk => " + filepath.Join(root, "sdk") + "\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "numbers.go"} {
		src, err := os.ReadFile(filepath.Join(root, "sdk", "testdata", "outoftree", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, f), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(plugins, "hp-plugin-numbers"), ".")
	build.Dir = mod
	build.Env = testkit.ModuleEnv()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the out-of-tree connector: %v\n%s", err, out)
	}
	env := []string{"HP_PLUGIN_DIR=" + plugins + ":" + bin.PluginDir, "HP_N_DSN=numbers://?rows=3"}
	count := func(extra ...string) int {
		t.Helper()
		res := bin.Run(t, append(env, extra...), "cp", "snap", "n.numbers", "stdout", "--format", "csv", "--compression", "none", "--csv-header=false")
		if res.Code != 0 {
			t.Fatalf("exit %d: %s", res.Code, res.Stderr)
		}
		return strings.Count(res.Stdout, "\n")
	}
	if n := count(); n != 3 {
		t.Fatalf("rows=3 in the DSN gave %d rows", n)
	}
	if n := count("HP_N_ROWS=7"); n != 7 {
		t.Fatalf("HP_N_ROWS=7 gave %d rows", n)
	}
	res := bin.Run(t, append(env, "HP_N_ROWS=seven"), "cp", "snap", "n.numbers", "stdout")
	if res.Code != 2 {
		t.Fatalf("HP_N_ROWS=seven: exit %d: %s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "rows")
}
