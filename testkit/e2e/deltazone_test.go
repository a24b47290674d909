package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestDeltaPostgresSessionZones: deltas driven by a timestamp without
// time zone, run over connections whose session TimeZone is not UTC,
// publish every row exactly once. The range once compared the column
// with a timestamptz literal, shifting it by the zone: rows between the
// old and the new mark were never extracted.
func TestDeltaPostgresSessionZones(t *testing.T) {
	bin := testkit.Build(t, "postgres")
	for _, zone := range []string{"Europe/Berlin", "America/Los_Angeles"} {
		t.Run(zone, func(t *testing.T) {
			table := "hp_e2e_delta_zone"
			pgExec(t, fmt.Sprintf(`drop table if exists %[1]s; create table %[1]s (id bigint primary key, v text, updated_at timestamp(6));
				insert into %[1]s select g, 'v' || g, timestamp '2024-03-30 20:00:00.000001' + g * interval '7 min' from generate_series(1, 300) g`, table))
			t.Cleanup(func() { _ = exec.Command("psql", pgDSN, "-qc", "drop table if exists "+table).Run() })
			out := t.TempDir()
			env := []string{"HP_PG_DSN=" + pgDSN + "&timezone=" + zone, "HP_OUT_DSN=" + out}
			args := []string{"pg.public." + table, "out.lake", "--delta-driver", "updated_at", "--primary-keys", "id"}
			if s := runDelta(t, bin, env, args...); s.Rows != 300 {
				t.Fatalf("first run: %+v", s)
			}
			pgExec(t, fmt.Sprintf(`insert into %[1]s select g, 'v' || g, timestamp '2024-03-30 20:00:00.000001' + g * interval '7 min' from generate_series(301, 600) g`, table))
			if s := runDelta(t, bin, env, args...); s.Rows != 300 {
				t.Fatalf("second run: %+v", s)
			}
			got := published(t, out)
			for id := 1; id <= 600; id++ {
				if n := len(got[strconv.Itoa(id)]); n != 1 {
					t.Errorf("row %d published %d times", id, n)
				}
			}
			if len(got) != 600 {
				t.Errorf("%d rows published, want 600", len(got))
			}
		})
	}
}
