package e2e

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// decimalDeltaPlan is what TestShardDeltaDecimalDriver reads of a plan.
type decimalDeltaPlan struct {
	KeyType string `json:"key_type"`
	Slices  []struct {
		Lower          string `json:"lower"`
		LowerExclusive bool   `json:"lower_exclusive"`
		Upper          string `json:"upper"`
		UpperInclusive bool   `json:"upper_inclusive"`
		Empty          bool   `json:"empty"`
	} `json:"slices"`
	Delta struct {
		DriverType string `json:"driver_type"`
		Mark       string `json:"mark"`
		High       string `json:"high"`
	} `json:"delta"`
}

// TestShardDeltaDecimalDriver: a delta driven by a NUMERIC(20,2) version
// column (negative values, beyond int64 in units of its scale) is planned
// as 4 shards whose bounds are exact 2-digit decimal strings; the shards
// and the commit publish every row once and advance the mark to exactly
// the maximum; after updates and inserts the next sharded delta starts
// after that mark (exclusive) and publishes exactly the changed rows once;
// and a plain hp cp delta continues from the sharded run's mark.
func TestShardDeltaDecimalDriver(t *testing.T) {
	t.Parallel() // its own table and directories
	bin := testkit.Build(t, "postgres")
	const table = "public.hp_e2e_decdriver_sdelta"
	pgExec(t, "drop table if exists "+table+"; create table "+table+` (id bigint primary key, v text, ver numeric(20,2));
		insert into `+table+` select g, 'v' || g, -900000000000000000.00 + g * 600000000000000.01 from generate_series(1, 3000) g;
		insert into `+table+` values (-1, 'no driver', null)`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+table) })
	out, plans := t.TempDir(), t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg." + table, "out.d", "--delta-driver", "ver", "--primary-keys", "id", "--shards", "4", "--compression", "none"}
	// versions: how many times each id was published so far, wanted.
	versions := map[string]int{}
	maxVer := func() string { return pgExec(t, "select max(ver) from "+table) }
	round := func(name string, changed []string) decimalDeltaPlan {
		t.Helper()
		for _, id := range changed {
			versions[id]++
		}
		p := filepath.Join(plans, name+".json")
		planShards(t, bin, env, append(args, "--plan", p)...)
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var plan decimalDeltaPlan
		if err := json.Unmarshal(raw, &plan); err != nil {
			t.Fatal(err)
		}
		if plan.KeyType != "decimal" || plan.Delta.DriverType != "decimal" || len(plan.Slices) != 4 {
			t.Fatalf("%s: plan %s", name, raw)
		}
		// Exact decimal strings, contiguous, the last ending at the high.
		for i, s := range plan.Slices {
			for _, b := range []string{s.Lower, s.Upper} {
				if b != "" && !strings.Contains(b, ".") || strings.ContainsAny(b, "eE") || (b != "" && len(b)-strings.Index(b, ".") != 3) {
					t.Fatalf("%s: slice %d bound %q is not a NUMERIC(20,2) text", name, i, b)
				}
			}
			if i > 0 && s.Lower != plan.Slices[i-1].Upper {
				t.Fatalf("%s: slice %d starts at %q, slice %d ends at %q", name, i, s.Lower, i-1, plan.Slices[i-1].Upper)
			}
		}
		last := plan.Slices[3]
		if want := maxVer(); plan.Delta.High != want || last.Upper != want || !last.UpperInclusive {
			t.Fatalf("%s: high %q, last slice %+v, want up to %s inclusive", name, plan.Delta.High, last, want)
		}
		runShards(t, bin, env, p, 0, 1, 2, 3)
		if res := bin.Run(t, env, "commit", "--plan", p); res.Code != 0 {
			t.Fatalf("%s: commit: exit %d\n%s", name, res.Code, res.Stderr)
		}
		checkDecimalDelta(t, name, out, table, versions)
		state, err := os.ReadFile(filepath.Join(out, "d", "_state.json"))
		if err != nil || !strings.Contains(string(state), fmt.Sprintf(`"high_water_mark": %q`, plan.Delta.High)) {
			t.Fatalf("%s: state %s (%v), want the mark at %s", name, state, err, plan.Delta.High)
		}
		return plan
	}

	var all []string
	for i := 1; i <= 3000; i++ {
		all = append(all, fmt.Sprint(i))
	}
	first := round("first", all)
	if first.Delta.Mark != "" || first.Slices[0].Lower != "" || !strings.HasPrefix(first.Slices[1].Lower, "-") {
		t.Fatalf("first plan: %+v", first)
	}
	mark := first.Delta.High

	// Changed rows move above the maximum, new rows come after them.
	pgExec(t, "update "+table+" t set v = 'changed', ver = m.mx + t.id * 0.01 from (select max(ver) mx from "+table+") m where t.id % 97 = 0;"+
		"insert into "+table+" select g, 'new', (select max(ver) from "+table+") + g * 0.03 from generate_series(3001, 3010) g")
	var changed []string
	for i := 97; i <= 3000; i += 97 {
		changed = append(changed, fmt.Sprint(i))
	}
	for i := 3001; i <= 3010; i++ {
		changed = append(changed, fmt.Sprint(i))
	}
	second := round("second", changed)
	if s := second.Slices[0]; second.Delta.Mark != mark || s.Lower != mark || !s.LowerExclusive {
		t.Fatalf("second plan does not start after the mark %s: mark %q, first slice %+v", mark, second.Delta.Mark, s)
	}

	// A plain delta continues from the sharded run's mark.
	pgExec(t, "update "+table+" t set v = 'again', ver = m.mx + 0.01 * t.id from (select max(ver) mx from "+table+") m where t.id in (5, 3005)")
	if s := runDelta(t, bin, env, "pg."+table, "out.d", "--delta-driver", "ver", "--primary-keys", "id"); s.Rows != 2 || s.HighWaterMark != maxVer() {
		t.Fatalf("the delta after the sharded ones: %+v, want 2 rows up to %s", s, maxVer())
	}
	versions["5"]++
	versions["3005"]++
	checkDecimalDelta(t, "plain", out, table, versions)
}

// checkDecimalDelta compares what was published with the table: each id
// published want[id] times, its newest version (by ver) the table's row.
func checkDecimalDelta(t *testing.T, round, out, table string, want map[string]int) {
	t.Helper()
	pub := published(t, out)
	src := map[string]string{}
	for _, line := range strings.Split(pgExec(t, "select id || ',' || v || '|' || ver from "+table+" where ver is not null"), "\n") {
		id, rest, _ := strings.Cut(line, ",")
		src[id] = rest
	}
	if len(pub) != len(src) || len(want) != len(src) {
		t.Fatalf("%s: published %d ids, want %d, the table holds %d with a driver", round, len(pub), len(want), len(src))
	}
	for id, row := range src {
		vs := pub[id]
		if len(vs) != want[id] {
			t.Fatalf("%s: id %s published %d times (%v), want %d", round, id, len(vs), vs, want[id])
		}
		newest, best := "", new(big.Rat)
		for _, v := range vs {
			x, ok := new(big.Rat).SetString(v[strings.LastIndex(v, "|")+1:])
			if !ok {
				t.Fatalf("%s: id %s: driver of %q is not a decimal", round, id, v)
			}
			if newest == "" || x.Cmp(best) > 0 {
				newest, best = v, x
			}
		}
		if newest != row {
			t.Fatalf("%s: id %s: newest published %q, the table holds %q", round, id, newest, row)
		}
	}
}

// TestShardSnapDecimalKey: a snapshot sharded by a NUMERIC(12,2) column
// (--shard-by) is cut at exact 2-digit bounds and its shards read every
// row once: the same rows as a whole snapshot.
func TestShardSnapDecimalKey(t *testing.T) {
	t.Parallel() // its own table and directories
	bin := testkit.Build(t, "postgres")
	const table = "public.hp_e2e_decdriver_snapkey"
	makeShardTable(t, table, 5000) // amount = id * 1.25
	out, whole, plans := t.TempDir(), t.TempDir(), t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out, "HP_WHOLE_DSN=" + whole}
	plan := filepath.Join(plans, "p.json")
	p := planShards(t, bin, env, "pg."+table, "out.x", "--shard-by", "amount", "--shards", "3", "--plan", plan, "--max-file-rows", "1000")
	// amount spans 1.25 … 6250.00, 624876 cents: cut at 1.25 + ⌊624876·k/3⌋ cents.
	if len(p.Slices) != 3 || p.Slices[0].Lower != "" || p.Slices[0].Upper != "2084.17" || p.Slices[1].Lower != "2084.17" ||
		p.Slices[1].Upper != "4167.09" || p.Slices[2].Lower != "4167.09" || p.Slices[2].Upper != "" {
		t.Fatalf("plan slices: %+v", p.Slices)
	}
	runShards(t, bin, env, plan, 0, 1, 2)
	if res := bin.Run(t, env, "commit", "--plan", plan); res.Code != 0 {
		t.Fatalf("hp commit: exit %d\n%s", res.Code, res.Stderr)
	}
	rows := runRows(t, out, "csv")
	if len(rows) != 5000 {
		t.Fatalf("%d rows, want 5000", len(rows))
	}
	if r := bin.Run(t, env, "cp", "snap", "pg."+table, "whole.x"); r.Code != 0 {
		t.Fatalf("whole snapshot: exit %d\n%s", r.Code, r.Stderr)
	}
	if a, b := digest(rows), digest(runRows(t, whole, "csv")); a != b {
		t.Fatalf("the shards' rows differ from a whole snapshot's")
	}
}
