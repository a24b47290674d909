package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestSnapSourceOptions: --columns, --where and --query shape what is read,
// and the manifest records them.
func TestSnapSourceOptions(t *testing.T) {
	t.Parallel() // its own SQLite file
	bin := testkit.Build(t)
	env := []string{"HP_DB_DSN=" + sqliteDB(t)}
	for _, c := range []struct {
		name string
		args []string
		want [][]string
	}{
		{"columns and where", []string{`db."Order Items"`, "--columns", "id,select", "--where", "id >= 2 and id <> 3"},
			[][]string{{"id", "select"}, {"2", ""}, {"4", "say \"hi\", then\nleave"}}},
		{"query", []string{"db.x", "--query", `select id * 10 as tens, upper("select") as loud from "Order Items" where id in (1, 4) order by id`},
			[][]string{{"tens", "loud"}, {"10", "PLAIN"}, {"40", "SAY \"HI\", THEN\nLEAVE"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"cp", "snap", c.args[0], "out.x", "--compression", "none"}, c.args[1:]...)
			res := bin.Run(t, append(env, "HP_OUT_DSN="+out), args...)
			if res.Code != 0 {
				t.Fatalf("exit %d: %s", res.Code, res.Stderr)
			}
			m, path := readManifest(t, out)
			text, _ := os.ReadFile(filepath.Join(out, m.Files[0].Path))
			got, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			raw, _ := os.ReadFile(path)
			var doc struct {
				Source map[string]any `json:"source"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(c.args); i += 2 {
				key := strings.TrimPrefix(c.args[i], "--")
				if v := fmt.Sprint(doc.Source[key]); !strings.Contains(v, strings.Trim(strings.SplitN(c.args[i+1], ",", 2)[0], `"`)) {
					t.Errorf("manifest source.%s = %q, want it to record %q", key, v, c.args[i+1])
				}
			}
		})
	}
}

// TestStatsAndPluginLogs: -L prints periodic stats lines as Halfpipe did
// (also at --log-level warn), and a plugin's own log records reach hp's
// log tagged with the plugin's name.
func TestStatsAndPluginLogs(t *testing.T) {
	t.Parallel() // its own directory
	bin := testkit.Build(t)
	out := t.TempDir()
	env := []string{"HP_GEN_DSN=gen://?rows=3000000", "HP_OUT_DSN=" + out}
	res := bin.Run(t, env, "cp", "snap", "gen.narrow", "out.x", "--compression", "gzip", "-L", "1", "--log-level", "warn", "--log-format", "json")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var stats []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(res.Stderr), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "stats" {
			stats = append(stats, rec)
		}
	}
	if len(stats) == 0 {
		t.Fatalf("no stats lines with -L 1:\n%s", res.Stderr)
	}
	last := stats[len(stats)-1]
	for _, k := range []string{"rows", "bytes", "rows_per_second"} {
		if v, ok := last[k].(float64); !ok || v <= 0 {
			t.Errorf("stats line lacks a positive %s: %v", k, last)
		}
	}

	// The log records need no more than a batch of rows.
	env = []string{"HP_GEN_DSN=gen://?rows=1000", "HP_OUT_DSN=" + out}
	res = bin.Run(t, env, "cp", "snap", "gen.narrow", "out.y", "--log-level", "debug", "--log-format", "json")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	found := false
	for _, line := range strings.Split(res.Stderr, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "generating rows" {
			found = rec["plugin"] == "gen" && rec["table"] == "narrow" && rec["last_id"] == float64(1000)
		}
	}
	if !found {
		t.Fatalf("the plugin's debug record did not reach hp's log with plugin=gen:\n%s", res.Stderr)
	}
	if res = bin.Run(t, env, "cp", "snap", "gen.narrow", "out.z"); strings.Contains(res.Stderr, "generating rows") {
		t.Fatalf("a debug record shown at the default level:\n%s", res.Stderr)
	}
}
