package runs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/verify/verifytest"
)

// A bare connection name lists the whole store, as "<conn>./" does.
func TestRunsOfABareConnectionListTheWholeStore(t *testing.T) {
	dir := t.TempDir()
	a, _ := verifytest.Write(t, dir, verifytest.Run{Target: "a/orders", Start: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), FileRows: []int{3}})
	b, _ := verifytest.Write(t, dir, verifytest.Run{Target: "b", Start: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), FileRows: []int{4}})
	env := map[string]string{"HP_OUT_DSN": dir}

	code, bare, errOut := hp(t, env, "runs", "out")
	if code != 0 {
		t.Fatalf("hp runs out: exit %d: %s", code, errOut)
	}
	_, dotted, _ := hp(t, env, "runs", "out./")
	if bare != dotted {
		t.Errorf("hp runs out:\n%s\nhp runs out./:\n%s", bare, dotted)
	}
	for _, id := range []string{a.RunID, b.RunID} {
		if !strings.Contains(bare, id) {
			t.Errorf("run %s missing from:\n%s", id, bare)
		}
	}
	if code, _, errOut := hp(t, env, "runs", ".x"); code != 2 || !strings.Contains(errOut, "<connection>[.<prefix>]") {
		t.Errorf("hp runs .x: exit %d, %q", code, errOut)
	}
}
