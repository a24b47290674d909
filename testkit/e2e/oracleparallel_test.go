package e2e

import (
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestParallelOracleEqualsWhole: hp cp snap --parallel 3 from Oracle (the
// connector on oraclefake, HP.EVENTS with rows 1..500 keyed by ID)
// publishes exactly the rows of a serial snap: three disjoint key ranges,
// read AS OF one SCN (the fake evaluates the slices' predicates and
// refuses statements it does not know).
func TestParallelOracleEqualsWhole(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	plugins := fakeOracle(t)
	var digests []string
	for _, n := range []string{"1", "3"} {
		out := t.TempDir()
		env := []string{"HP_PLUGIN_DIR=" + plugins, "HP_OUT_DSN=" + out, "HP_ORA_DSN=oracle://hp/pw@//db/EVENTS500"}
		res := bin.Run(t, env, "cp", "snap", "ora.hp.events", "out.ev", "--parallel", n)
		if res.Code != 0 {
			t.Fatalf("--parallel %s: exit %d\n%s", n, res.Code, res.Stderr)
		}
		if strings.Contains(res.Stderr, "SCN") || strings.Contains(res.Stderr, "whole") {
			t.Fatalf("--parallel %s did not read at one SCN:\n%s", n, res.Stderr)
		}
		rows := runRows(t, out, "csv")
		if len(rows) != 500 {
			t.Fatalf("--parallel %s: %d rows, want 500", n, len(rows))
		}
		digests = append(digests, digest(rows))
	}
	if digests[0] != digests[1] {
		t.Fatal("--parallel 3 published other rows than --parallel 1")
	}
}
