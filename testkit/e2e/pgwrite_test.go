package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// pgwSource creates a PostgreSQL table of most column types, NULLs in
// every nullable column of some rows.
func pgwSource(t *testing.T, name string, rows int) {
	t.Helper()
	pgExec(t, fmt.Sprintf(`drop table if exists %[1]s; drop type if exists %[1]s_mood cascade; -- a killed run leaves tables of the type
		create type %[1]s_mood as enum ('sad', 'happy');
		create table %[1]s (id bigint primary key, i int, s smallint, n numeric(15,2), big numeric(40,10), free numeric,
			r real, d double precision, t text, vc varchar(20), ch char(3), b boolean, by bytea, dt date, ts timestamp(3),
			tz timestamptz, tm time, iv interval, u uuid, j jsonb, js json, ip inet, mac macaddr, m %[1]s_mood,
			ai int[], at text[], updated_at timestamptz not null);
		insert into %[1]s select g, g * 1000 - 7, (g %% 30000)::smallint, g * 1.25, g * 123456789.0123456789 - 1e25,
			case g %% 3 when 0 then 'NaN' when 1 then (g / 7.0)::text else '1e-20' end::numeric,
			g / 3.0, g / 7.0, 'row ' || g || E' "q" \\ \t', 'v' || g, 'c', g %% 2 = 0, decode(md5(g::text), 'hex'),
			date '1999-12-31' + g, timestamp '2000-01-01 00:00:00.123' + g * interval '1 hour 1.001 sec',
			timestamptz '2024-03-31 00:59:59.999999+00' + g * interval '1 sec 1 microsecond', time '00:00:00.000001' + g * interval '1 min',
			make_interval(months => g %% 13, days => -g, secs => g / 1000.0), md5(g::text)::uuid,
			jsonb_build_object('g', g, 'a', array[g, -g]), ('{"k":' || g || ',  "k": 1}')::json,
			('10.' || g %% 256 || '.0.1/' || 8 + g %% 24)::inet, ('08:00:2b:01:02:' || lpad(to_hex(g %% 256), 2, '0'))::macaddr,
			(array['sad', 'happy'])[g %% 2 + 1]::%[1]s_mood, array[g, null, -g], array['a' || g, null, '{x,"y"}'],
			timestamptz '2024-01-01 00:00:00+00' + g * interval '1 sec'
		from generate_series(1, %[2]d) g;
		update %[1]s set i = null, s = null, n = null, big = null, free = null, r = null, d = null, t = null, vc = null, ch = null,
			b = null, by = null, dt = null, ts = null, tz = null, tm = null, iv = null, u = null, j = null, js = null, ip = null,
			mac = null, m = null, ai = null, at = null where id %% 17 = 0`, name, rows))
}

// pgwSame fails unless two tables hold the same rows, compared as each
// row's text (every column through its type's output function) with
// EXCEPT both ways.
func pgwSame(t *testing.T, a, b string) {
	t.Helper()
	q := `select (select count(*) from (select row(x.*)::text from %[1]s x except select row(y.*)::text from %[2]s y) d),
		(select count(*) from (select row(y.*)::text from %[2]s y except select row(x.*)::text from %[1]s x) d),
		(select count(*) from %[1]s a) - (select count(*) from %[2]s b)`
	if diff := pgExec(t, fmt.Sprintf(q, a, b)); diff != "0|0|0" {
		t.Fatalf("%s and %s differ (rows only in %[1]s | only in %[2]s | count difference): %s", a, b, diff)
	}
}

// TestSnapPostgresIntoPostgres: hp cp snap from a PostgreSQL table into
// another, through COPY both ways: into a table hp creates and into an
// existing one of the same types (text into uuid, jsonb, inet, enums, ...).
func TestSnapPostgresIntoPostgres(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t)
	const src, like, created = "hp_e2e_pgw_src", "hp_e2e_pgw_like", "hp_e2e_pgw_new"
	pgwSource(t, src, 3000)
	pgExec(t, fmt.Sprintf("drop table if exists %[2]s; drop table if exists %[3]s; create table %[2]s (like %[1]s including all)", src, like, created))
	pgCleanup(t, fmt.Sprintf("drop table if exists %s, %s, %s; drop type if exists %[1]s_mood", src, like, created))
	env := []string{"HP_PG_DSN=" + pgDSN}
	for _, target := range []string{like, created} {
		res := bin.Run(t, env, "cp", "snap", "pg."+src, "pg.public."+target)
		if res.Code != 0 || !strings.Contains(res.Stderr, "3000 rows into pg.public."+target) {
			t.Fatalf("hp cp snap into %s: exit %d\n%s", target, res.Code, res.Stderr)
		}
		pgwSame(t, src, target)
	}
	// The created table has the stream's types: text where the source
	// had uuid, jsonb, inet; arrays stay arrays.
	if types := pgExec(t, `select string_agg(format_type(atttypid, atttypmod), ',' order by attnum) from pg_attribute
		where attrelid = '`+created+`'::regclass and attname in ('n', 'u', 'ai', 'at', 'iv', 'tm')`); types != "numeric(15,2),time without time zone,interval,text,integer[],text[]" {
		t.Errorf("created column types: %s", types)
	}
	snap := func(target string, flags ...string) testkit.Result {
		t.Helper()
		return bin.Run(t, env, append([]string{"cp", "snap", "pg." + src, "pg.public." + target}, flags...)...)
	}
	// A second snap replaces the rows (the default); --write-mode append adds them.
	if res := snap(created); res.Code != 0 {
		t.Fatalf("second snap: exit %d\n%s", res.Code, res.Stderr)
	}
	pgwSame(t, src, created)
	if res := snap(created, "--write-mode", "append"); res.Code != 0 {
		t.Fatalf("snap --write-mode append: exit %d\n%s", res.Code, res.Stderr)
	}
	if n := pgExec(t, "select count(*), count(distinct id) from "+created); n != "6000|3000" {
		t.Errorf("after an appending snap: %s", n)
	}
	// Appending the same rows into the table with the source's primary key
	// fails as a whole: the table keeps its rows.
	res := snap(like, "--write-mode", "append")
	if res.Code == 0 || !strings.Contains(res.Stderr, "duplicate key") {
		t.Fatalf("snap of duplicate keys: exit %d\n%s", res.Code, res.Stderr)
	}
	pgwSame(t, src, like)
	// Merge on the key: changed rows are updated, new ones inserted, and
	// rows the source no longer has stay.
	const kept = "hp_e2e_pgw_kept"
	pgCleanup(t, "drop table if exists "+kept)
	pgExec(t, fmt.Sprintf(`drop table if exists %[3]s; create table %[3]s as select * from %[2]s where id <= 5;
		update %[1]s set n = n + 1, t = 'changed' where id %% 7 = 0; delete from %[1]s where id = 1;
		update %[1]s set id = id + 100000 where id between 2 and 5`, src, like, kept))
	if res := snap(like, "--write-mode", "merge", "--primary-keys", "id"); res.Code != 0 {
		t.Fatalf("snap --write-mode merge: exit %d\n%s", res.Code, res.Stderr)
	}
	pgwSame(t, fmt.Sprintf("(select * from %s union all select * from %s)", src, kept), like)
	for _, bad := range [][]string{{"--write-mode", "merge"}, {"--write-mode", "upsert"}, {"--primary-keys", "id"}} {
		if res := snap(like, bad...); res.Code != 2 {
			t.Errorf("snap %v: exit %d, want 2\n%s", bad, res.Code, res.Stderr)
		}
	}
}

// TestDeltaPostgresIntoPostgres: hp cp delta merges changed rows by key,
// into a table it creates (primary key: INSERT ... ON CONFLICT) and into
// one without a unique index (delete, then insert).
func TestDeltaPostgresIntoPostgres(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t)
	const src, keyed, plain = "hp_e2e_pgw_dsrc", "hp_e2e_pgw_keyed", "hp_e2e_pgw_plain"
	pgwSource(t, src, 1000)
	pgExec(t, fmt.Sprintf("drop table if exists %[2]s; drop table if exists %[3]s; create table %[3]s (like %[1]s)", src, keyed, plain))
	pgCleanup(t, fmt.Sprintf("drop table if exists %s, %s, %s; drop type if exists %[1]s_mood", src, keyed, plain))
	env := []string{"HP_PG_DSN=" + pgDSN}
	run := func(target string, want int64) {
		t.Helper()
		if s := runDelta(t, bin, env, "pg."+src, "pg.public."+target, "--delta-driver", "updated_at", "--primary-keys", "id"); s.Rows != want {
			t.Fatalf("delta into %s: %+v, want %d rows", target, s, want)
		}
	}
	for _, target := range []string{keyed, plain} {
		run(target, 1000)
	}
	if pk := pgExec(t, "select count(*) from pg_index where indisprimary and indrelid = '"+keyed+"'::regclass"); pk != "1" {
		t.Errorf("the created table has %s primary keys", pk)
	}
	pgExec(t, `update `+src+` set t = 'changed', ai = array[]::int[], u = null, updated_at = updated_at + interval '1 day' where id % 10 = 0;
		insert into `+src+` (id, t, updated_at) values (5000, 'new', timestamptz '2030-01-01 00:00:00+00')`)
	for _, target := range []string{keyed, plain} {
		run(target, 101)
		pgwSame(t, src, target)
	}
	// A rerun over a long window rewrites every row and changes nothing.
	for _, target := range []string{keyed, plain} {
		if s := runDelta(t, bin, env, "pg."+src, "pg.public."+target, "--delta-driver", "updated_at", "--primary-keys", "id", "--lookback", "100000d"); s.Rows != 1001 {
			t.Fatalf("rerun into %s: %+v", target, s)
		}
		pgwSame(t, src, target)
	}
}
