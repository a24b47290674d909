package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	sfserver "github.com/halfpipe-io/halfpipe/testkit/snowflake"
)

// sfSource starts a Snowflake test server holding the tables the
// statements create, and returns the environment naming it sf (and
// PostgreSQL pg).
func sfSource(t *testing.T, statements ...string) (*sfserver.Server, []string) {
	t.Helper()
	sf := sfserver.Start(t, sfserver.Config{Account: "hptest", Users: []sfserver.User{{Name: "ETL", Password: "sf-src-pw-9"}}})
	if err := sf.Exec(statements...); err != nil {
		t.Fatal(err)
	}
	return sf, []string{"HP_PG_DSN=" + pgDSN,
		fmt.Sprintf("HP_SF_DSN=snowflake://etl:sf-src-pw-9@hptest/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d", sf.Host, sf.Port)}
}

// sfSourceTable is a table of the types a Snowflake source maps, with a
// 38-digit NUMBER, a negative integer, a TIMESTAMP_TZ at +05:30 and NULLs.
func sfSourceTable(name string) []string {
	return []string{
		`CREATE TABLE "PUBLIC"."` + name + `" ("ID" NUMBER(38,0) NOT NULL, "BIG" NUMBER(38,0), "AMT" NUMBER(12,2), "NAME" VARCHAR, "OK" BOOLEAN,
			"D" DATE, "NTZ" TIMESTAMP_NTZ(6), "TZ" TIMESTAMP_TZ(6), "V" VARIANT, PRIMARY KEY ("ID"))`,
		`INSERT INTO "PUBLIC"."` + name + `" VALUES
			(1, 12345678901234567890123456789012345678, -1234567890.05, 'one', TRUE, '2024-02-29', '2024-05-01 12:34:56.123456', '2024-05-01 12:34:56.123456 +05:30', '{"a": 1}'),
			(2, -42, 0.5, NULL, FALSE, '1969-12-31', '1970-01-01 00:00:00', '2024-12-31 23:59:59 -08:00', NULL),
			(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	}
}

func TestSnapSnowflakeToFiles(t *testing.T) {
	t.Parallel() // its own server and directories
	bin := testkit.Build(t, "snowflake")
	_, env := sfSource(t, sfSourceTable("SFSRC_FILES")...)
	for _, format := range []string{"csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			out := t.TempDir()
			res := bin.Run(t, append(env, "HP_OUT_DSN="+out), append([]string{"cp", "snap", "sf.public.sfsrc_files", "out.t", "--format", format,
				"--compression", "none"}, csvNull(format)...)...)
			if res.Code != 0 {
				t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
			}
			m, _ := readManifest(t, out)
			if m.TotalRows != 3 || len(m.Files) != 1 {
				t.Fatalf("manifest: %d rows in %d files", m.TotalRows, len(m.Files))
			}
			path := filepath.Join(out, m.Files[0].Path)
			var got [][]string
			if format == "csv" {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
					got = append(got, []string{l})
				}
			} else {
				got = parquetAsText(t, path)
			}
			want := sfFilesWant[format]
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s:\n got %q\nwant %q", format, got, want)
			}
		})
	}
}

// sfFilesWant is what the table above becomes: decimals exact, the
// TIMESTAMP_TZ as its instant and offset, the NTZ as wall time.
var sfFilesWant = map[string][][]string{
	"csv": {
		{`ID,BIG,AMT,NAME,OK,D,NTZ,TZ,V`},
		{`1,12345678901234567890123456789012345678,-1234567890.05,one,true,2024-02-29,2024-05-01T12:34:56.123456,2024-05-01T12:34:56.123456+05:30,"{""a"": 1}"`},
		{`2,-42,0.50,\N,false,1969-12-31,1970-01-01T00:00:00.000000,2024-12-31T23:59:59.000000-08:00,\N`},
		{`3,\N,\N,\N,\N,\N,\N,\N,\N`},
	},
	// Dates as days since 1970 (19782 is 2024-02-29), the TIMESTAMP_TZ as
	// a struct of the UTC instant and the offset in minutes.
	"parquet": {
		{"ID", "BIG", "AMT", "NAME", "OK", "D", "NTZ", "TZ.timestamp", "TZ.offset_minutes", "V"},
		{"1", "12345678901234567890123456789012345678", "-1234567890.05", "one", "true", "19782", "2024-05-01T12:34:56.123456Z", "2024-05-01T07:04:56.123456Z", "330", `{"a": 1}`},
		{"2", "-42", "0.50", `\N`, "false", "-1", "1970-01-01T00:00:00.000000Z", "2025-01-01T07:59:59.000000Z", "-480", `\N`},
		{"3", `\N`, `\N`, `\N`, `\N`, `\N`, `\N`, `\N`, `\N`, `\N`},
	},
}

func TestSnapSnowflakeToPostgres(t *testing.T) {
	t.Parallel() // its own server and PostgreSQL schema
	bin := testkit.Build(t, "snowflake", "postgres")
	_, env := sfSource(t, sfSourceTable("SFSRC_PG")...)
	pgExec(t, `drop schema if exists sfsrc_pg cascade; create schema sfsrc_pg`)
	pgCleanup(t, "drop schema if exists sfsrc_pg cascade")
	// The PostgreSQL target has no column type for the TIMESTAMP_TZ's
	// arrow.timestamp_with_offset: leave it out (named as typed, folded).
	res := bin.Run(t, env, "cp", "snap", "sf.PUBLIC.SFSRC_PG", "pg.sfsrc_pg.t", "--columns", "id,big,amt,name,ok,d,ntz,v")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	types := pgExec(t, `select string_agg(column_name || ' ' || data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', ''), ', ' order by ordinal_position)
		from information_schema.columns where table_schema = 'sfsrc_pg' and table_name = 't'`)
	if types != `ID numeric(38,0), BIG numeric(38,0), AMT numeric(12,2), NAME text, OK boolean, D date, NTZ timestamp without time zone, V text` {
		t.Errorf("columns: %s", types)
	}
	rows := pgExec(t, `set timezone = 'UTC'; select "ID", "BIG", "AMT", "NAME", "OK", "D", "NTZ", "V" from sfsrc_pg.t order by "ID"`)
	want := strings.Join([]string{
		`1|12345678901234567890123456789012345678|-1234567890.05|one|t|2024-02-29|2024-05-01 12:34:56.123456|{"a": 1}`,
		`2|-42|0.50||f|1969-12-31|1970-01-01 00:00:00|`,
		`3|||||||`,
	}, "\n")
	if rows != want {
		t.Errorf("rows:\n%s\nwant:\n%s", rows, want)
	}
}

// TestDeltaSnowflakeNTZ runs deltas on a TIMESTAMP_NTZ column: the mark is
// wall time, and the next run reads only rows above it.
func TestDeltaSnowflakeNTZ(t *testing.T) {
	t.Parallel() // its own server and directory
	bin := testkit.Build(t, "snowflake")
	var ins []string
	for i := 1; i <= 20; i++ {
		ins = append(ins, fmt.Sprintf(`(%d, 'v%d', '2024-03-30 22:%02d:00.000001')`, i, i, i))
	}
	sf, env := sfSource(t, `CREATE TABLE "PUBLIC"."SFSRC_DELTA" ("ID" NUMBER(38,0) NOT NULL, "V" VARCHAR, "UPDATED_AT" TIMESTAMP_NTZ(9), PRIMARY KEY ("ID"))`,
		`INSERT INTO "PUBLIC"."SFSRC_DELTA" VALUES `+strings.Join(ins, ", ")+`, (21, 'no driver', NULL)`)
	out := t.TempDir()
	env = append(env, "HP_OUT_DSN="+out)
	args := []string{"sf.PUBLIC.SFSRC_DELTA", "out.lake/delta", "--delta-driver", "updated_at", "--primary-keys", "id", "--format", "csv"}
	s := runDelta(t, bin, env, args...)
	if s.Rows != 20 || s.NullDriver != 1 || s.HighWaterMark != "2024-03-30T22:20:00.000001Z" {
		t.Fatalf("first run: %+v", s)
	}
	// A row one nanosecond above the mark, one at it (already read), and
	// an update later on.
	if err := sf.Exec(`INSERT INTO "PUBLIC"."SFSRC_DELTA" VALUES (22, 'just above', '2024-03-30 22:20:00.000001001'), (23, 'at the mark', '2024-03-30 22:20:00.000001'),
		(24, 'later', '2024-04-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	sf.ResetStatements()
	s2 := runDelta(t, bin, env, args...)
	if s2.Rows != 2 || len(s2.Runs) != 1 || s2.HighWaterMark != "2024-04-01T00:00:00Z" {
		t.Fatalf("second run: %+v", s2)
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(strings.TrimPrefix(s2.Runs[0].ManifestURL, "file://")), "part-00001.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != "ID,V,UPDATED_AT\n22,just above,2024-03-30T22:20:00.000001001\n24,later,2024-04-01T00:00:00.000000000" {
		t.Errorf("second run's file:\n%s", got)
	}
	// The range reached Snowflake as NTZ literals, in one SELECT.
	var reads []string
	for _, st := range sf.Statements() {
		if strings.HasPrefix(st.SQL, `SELECT "ID", "V", "UPDATED_AT" FROM`) {
			reads = append(reads, st.SQL)
		}
	}
	if len(reads) != 1 || !strings.Contains(reads[0], `"UPDATED_AT" > '2024-03-30 22:20:00.000001000'::TIMESTAMP_NTZ(9)`) {
		t.Errorf("reads: %q", reads)
	}
}

// TestInspectSnowflake: hp ls, describe and check on a Snowflake
// connection, and a --query read.
func TestInspectSnowflake(t *testing.T) {
	t.Parallel() // its own server and directory
	bin := testkit.Build(t, "snowflake")
	_, env := sfSource(t, sfSourceTable("SFSRC_LS")...)
	res := bin.Run(t, env, "ls", "sf", "--json")
	if res.Code != 0 || !strings.Contains(res.Stdout, `"SFSRC_LS"`) {
		t.Fatalf("ls: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = bin.Run(t, env, "describe", "sf.public.sfsrc_ls", "--output", "json")
	if res.Code != 0 {
		t.Fatalf("describe: exit %d\n%s", res.Code, res.Stderr)
	}
	var d struct {
		Columns []struct {
			Name        string `json:"name"`
			ArrowType   string `json:"arrow_type"`
			NativeType  string `json:"native_type"`
			Nullable    bool   `json:"nullable"`
			KeyPosition int    `json:"key_position"`
		} `json:"columns"`
		Rows *int64 `json:"rows"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &d); err != nil {
		t.Fatalf("describe --json: %v\n%s", err, res.Stdout)
	}
	var cols []string
	for _, c := range d.Columns {
		cols = append(cols, fmt.Sprintf("%s:%s:%s:%v:%d", c.Name, c.ArrowType, c.NativeType, c.Nullable, c.KeyPosition))
	}
	want := []string{"ID:decimal(38, 0):NUMBER(38,0):false:1", "BIG:decimal(38, 0):NUMBER(38,0):true:0", "AMT:decimal(12, 2):NUMBER(12,2):true:0",
		"NAME:utf8:TEXT:true:0", "OK:bool:BOOLEAN:true:0", "D:date32:DATE:true:0", "NTZ:timestamp[us]:TIMESTAMP_NTZ(6):true:0",
		"TZ:extension<arrow.timestamp_with_offset>:TIMESTAMP_TZ(6):true:0", "V:utf8:VARIANT:true:0"}
	if fmt.Sprint(cols) != fmt.Sprint(want) || d.Rows == nil || *d.Rows != 3 {
		t.Errorf("describe:\n got %q rows %v\nwant %q rows 3", cols, d.Rows, want)
	}
	res = bin.Run(t, env, "check", "sf")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Snowflake 9.0.0") || strings.Contains(res.Stdout+res.Stderr, "sf-src-pw-9") {
		t.Errorf("check: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = bin.Run(t, env, "describe", "sf.public.nope")
	if res.Code != 2 || !strings.Contains(res.Stderr, "NOPE") && !strings.Contains(res.Stderr, "nope") {
		t.Errorf("describe of a missing table: exit %d\n%s", res.Code, res.Stderr)
	}

	out := t.TempDir()
	res = bin.Run(t, append(env, "HP_OUT_DSN="+out), "cp", "snap", "sf.PUBLIC.SFSRC_Q", "out.q", "--format", "csv", "--compression", "none",
		"--query", `SELECT "ID", "TZ", "AMT" FROM "PUBLIC"."SFSRC_LS" WHERE "ID" < 3 AND "TZ" IS NOT NULL ORDER BY "ID" DESC`)
	if res.Code != 0 {
		t.Fatalf("--query: exit %d\n%s", res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	data, err := os.ReadFile(filepath.Join(out, m.Files[0].Path))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != "ID,TZ,AMT\n2,2024-12-31T23:59:59.000000000-08:00,0.50\n1,2024-05-01T12:34:56.123456000+05:30,-1234567890.05" {
		t.Errorf("--query read:\n%s", got)
	}
}

// TestSnowflakeRoundTripPostgres copies a PostgreSQL table into Snowflake
// (the Write path: Parquet PUT into the table's stage, then COPY) and
// back out through the source into a second PostgreSQL table: the two
// tables hold the same values.
func TestSnowflakeRoundTripPostgres(t *testing.T) {
	t.Parallel() // its own server and PostgreSQL schema
	bin := testkit.Build(t, "snowflake", "postgres")
	_, env := sfSource(t)
	pgExec(t, `drop schema if exists sfsrc_rt cascade; create schema sfsrc_rt;
		create table sfsrc_rt.src (id bigint primary key, amount numeric(12,2), big numeric(38,0), name text, ok boolean, d date,
			ntz timestamp(6), ltz timestamptz(6), bin bytea, f double precision);
		insert into sfsrc_rt.src values
			(1, -1234567890.05, 12345678901234567890123456789012345678, 'héllo, "world"', true, '2024-02-29', '2024-05-01 12:34:56.123456',
				'2024-05-01 12:34:56.123456+05:30', '\x00ff10', 1.5),
			(2, 0.5, -42, '', false, '1969-12-31', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999+00', '\x', -0.25),
			(3, null, null, null, null, null, null, null, null, null)`)
	pgCleanup(t, "drop schema if exists sfsrc_rt cascade")
	if res := bin.Run(t, env, "cp", "snap", "pg.sfsrc_rt.src", "sf.PUBLIC.SFSRC_RT"); res.Code != 0 {
		t.Fatalf("into Snowflake: exit %d\n%s", res.Code, res.Stderr)
	}
	if res := bin.Run(t, env, "cp", "snap", "sf.PUBLIC.SFSRC_RT", "pg.sfsrc_rt.back"); res.Code != 0 {
		t.Fatalf("out of Snowflake: exit %d\n%s", res.Code, res.Stderr)
	}
	if diff := pgExec(t, `select count(*) from (select * from sfsrc_rt.src except select * from sfsrc_rt.back) a`) + "/" +
		pgExec(t, `select count(*) from (select * from sfsrc_rt.back except select * from sfsrc_rt.src) b`) + "/" +
		pgExec(t, `select count(*) from sfsrc_rt.back`); diff != "0/0/3" {
		t.Errorf("rows only in src / only in back / in back: %s\n%s", diff, pgExec(t, `select * from sfsrc_rt.back order by 1`))
	}
}
