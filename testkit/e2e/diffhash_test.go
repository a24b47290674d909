package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestDiffHashPostgresMariaDB: hp diff --hash between a 200,000-row
// PostgreSQL table and its MariaDB copy prints exactly the lines a plain
// diff prints, while reading only the ranges whose checksums differ: with
// 0.1% of the rows changed (values, new rows, deleted rows, on either
// side), far fewer rows than the table holds. A single changed value is
// found; a decimal whose scale alone differs (numeric(12,2) against
// DECIMAL(14,4)) is equal, even in a range read for another row. A text
// first key and a float column are refused with a hint. --hash-parallel
// 1 and 4 find the same.
func TestDiffHashPostgresMariaDB(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mysql")
	const src, tgt = "hp_e2e_diffhash_src", "hp_e2e_diffhash_tgt"
	const rows = 200000
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (id bigint primary key, amount numeric(12,2), note varchar(40), at timestamptz, day date, ratio float8);
		insert into `+src+` select g, g * 1.25, 'n' || g, timestamptz '2024-01-01 00:00:00.5+00' + g * interval '1 minute',
			date '2024-01-01' + g % 1000, g / 7.0 from generate_series(1, 200000) g`)
	mysqlOut(t, "DROP TABLE IF EXISTS "+tgt)
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS " + tgt)
		pgExec(t, "drop table if exists "+src)
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN}
	for _, args := range [][]string{{"cp", "meta", "pg.public." + src, "my." + tgt, "--execute"}, {"cp", "snap", "pg.public." + src, "my." + tgt}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	// A wider decimal in the target: 1.2500 equals 1.25.
	mysqlOut(t, "ALTER TABLE "+tgt+" MODIFY amount DECIMAL(14,4)")
	cols := []string{"--columns", "amount,note,at,day"}
	diff := func(want int, args ...string) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, append([]string{"diff", "pg.public." + src, "my." + tgt}, args...)...)
		if res.Code != want {
			t.Fatalf("hp diff %v: exit %d, want %d\n%s%s", args, res.Code, want, res.Stdout, res.Stderr)
		}
		return res
	}
	type stats struct {
		SourceRows int64 `json:"source_rows"`
		TargetRows int64 `json:"target_rows"`
		Hash       *struct {
			Ranges          int   `json:"ranges"`
			RangesDiffering int   `json:"ranges_differing"`
			FetchedSource   int64 `json:"fetched_source_rows"`
			FetchedTarget   int64 `json:"fetched_target_rows"`
		} `json:"hash"`
	}
	hashed := func(want int, extra ...string) (string, stats) {
		t.Helper()
		res := diff(want, append(append(cols, "--hash", "--output", "json"), extra...)...)
		var s stats
		if err := json.Unmarshal([]byte(res.Stderr[strings.Index(res.Stderr, "{"):strings.LastIndex(res.Stderr, "}")+1]), &s); err != nil || s.Hash == nil {
			t.Fatalf("--hash --output json summary (%v): %s", err, res.Stderr)
		}
		return res.Stdout, s
	}

	out, s := hashed(0)
	if out != "" || s.SourceRows != rows || s.TargetRows != rows || s.Hash.RangesDiffering != 0 || s.Hash.FetchedSource != 0 || s.Hash.Ranges < rows/200 {
		t.Fatalf("--hash of a fresh copy: %q %+v %+v", out, s, s.Hash)
	}

	// One changed value, in a range that also holds a row whose decimal
	// differs in scale only.
	mysqlOut(t, "UPDATE "+tgt+" SET note = 'changed' WHERE id = 1001")
	out, s = hashed(1)
	if want := `{"status":"changed","key":{"id":1001},"columns":["note"]}` + "\n"; out != want || s.Hash.RangesDiffering != 1 || s.Hash.FetchedSource > 200 || s.Hash.FetchedSource == 0 {
		t.Fatalf("one changed value: %q %+v", out, s.Hash)
	}

	// 0.1%: 120 values changed, 40 new rows, 40 deleted, on either side.
	pgExec(t, `update `+src+` set amount = amount + 0.01 where id % 5000 = 7;
		update `+src+` set at = at + interval '1 microsecond' where id % 5000 = 1234;
		insert into `+src+` select 200000 + g * 13, 1, 'new', null, null, 0 from generate_series(1, 20) g;
		delete from `+src+` where id % 10000 = 4242`)
	mysqlOut(t, "UPDATE "+tgt+" SET day = NULL WHERE id % 5000 = 2500; DELETE FROM "+tgt+" WHERE id % 10000 = 77;"+
		" INSERT INTO "+tgt+" SELECT id + 1000000, amount, note, at, day, ratio FROM "+tgt+" WHERE id <= 20")
	out, s = hashed(1)
	plain := diff(1, cols...)
	if out != plain.Stdout {
		t.Fatalf("--hash and plain diff differ:\n--hash:\n%s\nplain:\n%s", out, plain.Stdout)
	}
	if n := strings.Count(out, "\n"); n != 201 {
		t.Fatalf("%d differences, want 201 (1 + 120 changed, 40 new, 40 deleted):\n%s", n, out)
	}
	// Checksum queries one at a time or four at once per side (over four
	// parts of the key span) find the same ranges and differences.
	for _, par := range []string{"1", "4"} {
		pout, ps := hashed(1, "--hash-parallel", par)
		if pout != out || *ps.Hash != *s.Hash || ps.SourceRows != s.SourceRows || ps.TargetRows != s.TargetRows {
			t.Fatalf("--hash-parallel %s: %+v %+v, the default %+v %+v; output the same: %v", par, ps, ps.Hash, s, s.Hash, pout == out)
		}
	}
	for _, st := range []string{`"status":"changed"`, `"status":"new"`, `"status":"deleted"`} {
		if c := strings.Count(out, st); c < 40 {
			t.Fatalf("%d lines with %s", c, st)
		}
	}
	t.Logf("--hash: %d checksums compared, %d ranges read: %d source and %d target rows of %d", s.Hash.Ranges, s.Hash.RangesDiffering, s.Hash.FetchedSource, s.Hash.FetchedTarget, rows)
	if s.Hash.FetchedSource > rows/10 || s.Hash.FetchedTarget > rows/10 {
		t.Fatalf("--hash read %d source and %d target rows of %d: not far below the table", s.Hash.FetchedSource, s.Hash.FetchedTarget, rows)
	}
	if s.SourceRows != rows-20+20 || s.TargetRows != rows-20+20 {
		t.Fatalf("row counts from the checksums: %d, %d", s.SourceRows, s.TargetRows)
	}

	// What --hash cannot do is refused with a hint.
	res := diff(2, "--hash")
	testkit.Contains(t, "--hash of a float column", res.Stderr, `column "ratio"`, "leave it out with --columns")
	res = diff(2, "--hash", "--primary-keys", "note")
	testkit.Contains(t, "--hash on a text key", res.Stderr, `integer first key, and "note"`, "compare without --hash")
}
