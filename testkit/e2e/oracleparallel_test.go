package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestParallelOracleEqualsWhole: hp cp snap --parallel 3 from Oracle (the
// connector on oraclefake, HP.EVENTS with rows 1..500 keyed by ID, whose
// extents the user may not read) publishes exactly the rows of a serial
// snap: no ROWID ranges (a warning names DBA_EXTENTS), so three disjoint
// key ranges, read AS OF one SCN (the fake evaluates the slices'
// predicates and refuses statements it does not know).
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
		if split := strings.Contains(res.Stderr, "ranges of its integer key") && strings.Contains(res.Stderr, "DBA_EXTENTS"); split != (n == "3") {
			t.Fatalf("--parallel %s: the fallback from ROWID to key ranges logged %v:\n%s", n, split, res.Stderr)
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

// TestParallelOracleRowidRanges: hp cp snap --parallel 4 of HP.NOKEY
// (without a primary key, in extents of two files listed out of order;
// 500 rows at the fake's SCN and 50 committed after it) splits it by
// ROWID ranges read AS OF the SCN, without a warning: one manifest whose
// files hold the 500 rows at the SCN exactly once. A serial snap reads
// the table now, 550 rows, the 500 among them; a fallback to a whole read
// (the table has no key to split by) would read now too.
func TestParallelOracleRowidRanges(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	plugins := fakeOracle(t)
	read := func(n string) []string {
		out := t.TempDir()
		env := []string{"HP_PLUGIN_DIR=" + plugins, "HP_OUT_DSN=" + out, "HP_ORA_DSN=oracle://hp/pw@//db/EVENTS500"}
		res := bin.Run(t, env, "cp", "snap", "ora.hp.nokey", "out.rowid", "--parallel", n)
		if res.Code != 0 {
			t.Fatalf("--parallel %s: exit %d\n%s", n, res.Code, res.Stderr)
		}
		if strings.Contains(res.Stderr, "cannot") || strings.Contains(res.Stderr, "SCN") {
			t.Fatalf("--parallel %s did not split by ROWID at one SCN:\n%s", n, res.Stderr)
		}
		rows := runRows(t, out, "csv") // one manifest, its files checked
		seen := map[string]bool{}
		for _, r := range rows {
			if seen[r] {
				t.Fatalf("--parallel %s: row %q published twice", n, r)
			}
			seen[r] = true
		}
		return rows
	}
	now, atSCN := read("1"), read("4")
	if len(now) != 550 || len(atSCN) != 500 {
		t.Fatalf("--parallel 1 published %d rows (want 550, the table now), --parallel 4 %d (want 500, the table at the SCN)", len(now), len(atSCN))
	}
	// Rows 1..500 of the table now: ID is the first column.
	var first []string
	for _, r := range now {
		id, _, _ := strings.Cut(r, "\x1f")
		if n, err := strconv.Atoi(id); err == nil && n <= 500 {
			first = append(first, r)
		}
	}
	if digest(first) != digest(atSCN) {
		t.Fatal("--parallel 4 published other rows than the serial snap's rows 1..500")
	}
}
