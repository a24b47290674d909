package e2e

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"testing"

	"compress/gzip"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// Plain files as a source: hp cp snap <conn> <target> --files 'GLOB'.

// filesSetup creates schema for one test and an S3 store s3 (s3://lake/raw).
func filesSetup(t *testing.T, schema string) (*testkit.S3Server, []string) {
	t.Helper()
	pgExec(t, "drop schema if exists "+schema+" cascade; create schema "+schema)
	pgCleanup(t, "drop schema if exists "+schema+" cascade")
	srv, env := s3Target(t, "")
	return srv, append(env, "HP_PG_DSN="+pgDSN)
}

func filesPut(t *testing.T, srv *testkit.S3Server, key string, body []byte) {
	t.Helper()
	if _, err := srv.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFilesCSVGzipIntoPostgres: gzip CSV files with a header and NULLs
// (empty unquoted fields; "" is the empty string) land in PostgreSQL in
// name order, typed by --schema or all text without it; a value that does
// not parse names the file and line and loads nothing; a glob that
// matches nothing fails.
func TestFilesCSVGzipIntoPostgres(t *testing.T) {
	t.Parallel()
	const schema = "files_e2e_csv"
	bin := testkit.Build(t, "postgres")
	srv, env := filesSetup(t, schema)
	filesPut(t, srv, "raw/in/orders-2.csv.gz", gzipped(t, "id,name,amount,ts\n3,\"c, \"\"q\"\"\",-0.05,2024-05-01T00:00:03.5Z\n4,,,\n"))
	filesPut(t, srv, "raw/in/orders-1.csv.gz", gzipped(t, "id,name,amount,ts\n1,a,12.50,2024-05-01T00:00:01Z\n2,\"\",0.00,2024-05-01T00:00:02.000001Z\n"))
	filesPut(t, srv, "raw/in/notes.txt", []byte("not matched"))
	run := func(args ...string) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, args...)
		if res.Code != 0 {
			t.Fatalf("hp %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Stderr)
		}
		return res
	}
	typed := schema + ".typed"
	res := run("cp", "snap", "s3", "pg."+typed, "--files", "in/*.csv.gz", "--schema", "id:int64,name:utf8,amount:decimal(18,2),ts:timestamp[us,UTC]")
	if !strings.Contains(res.Stderr, "4 rows into pg."+typed) {
		t.Fatalf("summary: %s", res.Stderr)
	}
	got := pgExec(t, `select string_agg(format('%s|%s|%s|%s|%s', id, coalesce(name, 'NULL'), coalesce(amount::text, 'NULL'),
		coalesce(to_char(ts at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), 'NULL'), pg_typeof(amount)), ';' order by id) from `+typed)
	want := `1|a|12.50|2024-05-01 00:00:01.000000|numeric;2||0.00|2024-05-01 00:00:02.000001|numeric;` +
		`3|c, "q"|-0.05|2024-05-01 00:00:03.500000|numeric;4|NULL|NULL|NULL|numeric`
	if got != want {
		t.Fatalf("typed table:\n got %s\nwant %s", got, want)
	}
	if types := pgExec(t, `select string_agg(format_type(atttypid, atttypmod), ',' order by attnum) from pg_attribute
		where attrelid = '`+typed+`'::regclass and attnum > 0`); types != "bigint,text,numeric(18,2),timestamp with time zone" {
		t.Fatalf("column types %s", types)
	}
	// Without --schema: the header's names, every column text, under a prefix.
	text := schema + ".text"
	run("cp", "snap", "s3.in", "pg."+text, "--files", "orders-*.csv.gz")
	if got := pgExec(t, `select string_agg(format('%s|%s|%s', id, coalesce(name, 'NULL'), pg_typeof(id)), ';' order by id) from `+text); got != "1|a|text;2||text;3|c, \"q\"|text;4|NULL|text" {
		t.Fatalf("text table: %s", got)
	}

	// A bad value in the second file: the error names it and the line;
	// the table keeps its rows and a new table is not created.
	filesPut(t, srv, "raw/in/orders-3.csv.gz", gzipped(t, "id,name,amount,ts\n5,e,1.00,2024-05-01T00:00:05Z\n6,f,1.005,2024-05-01T00:00:06Z\n"))
	for _, target := range []string{typed, schema + ".never"} {
		res := bin.Run(t, env, "cp", "snap", "s3", "pg."+target, "--files", "in/*.csv.gz", "--write-mode", "append",
			"--schema", "id:int64,name:utf8,amount:decimal(18,2),ts:timestamp[us,UTC]")
		if res.Code == 0 || !strings.Contains(res.Stderr, `file s3://lake/raw/in/orders-3.csv.gz: line 3, column "amount"`) || !strings.Contains(res.Stderr, "nothing was written") {
			t.Fatalf("bad value into %s: exit %d\n%s", target, res.Code, res.Stderr)
		}
	}
	if n := pgExec(t, "select count(*) from "+typed); n != "4" {
		t.Fatalf("%s holds %s rows after the failed load, want 4", typed, n)
	}
	if reg := pgExec(t, "select to_regclass('"+schema+".never') is null"); reg != "t" {
		t.Fatal("the failed load created a table")
	}
	// A ragged row, and a glob that matches nothing.
	filesPut(t, srv, "raw/ragged/a.csv", []byte("id,name\n1,a\n2\n"))
	res = bin.Run(t, env, "cp", "snap", "s3", "pg."+schema+".ragged", "--files", "ragged/*.csv")
	if res.Code == 0 || !strings.Contains(res.Stderr, "file s3://lake/raw/ragged/a.csv: line 3: 1 fields, the schema has 2 columns") {
		t.Fatalf("ragged row: exit %d\n%s", res.Code, res.Stderr)
	}
	res = bin.Run(t, env, "cp", "snap", "s3", "pg."+schema+".none", "--files", "in/*.parquet")
	if res.Code == 0 || !strings.Contains(res.Stderr, `no file under s3://lake/raw/ matches "in/*.parquet"`) {
		t.Fatalf("no match: exit %d\n%s", res.Code, res.Stderr)
	}
	if reg := pgExec(t, "select to_regclass('"+schema+".none') is null and to_regclass('"+schema+".ragged') is null"); reg != "t" {
		t.Fatal("a failed load created a table")
	}
}

// TestFilesParquetToS3AsCSV: the Parquet files of a run, read as plain
// files (their own schema, name order), become a new CSV run whose rows
// are those of a direct CSV extract of the table.
func TestFilesParquetToS3AsCSV(t *testing.T) {
	t.Parallel()
	const schema = "files_e2e_pq"
	bin := testkit.Build(t, "postgres")
	srv, env := filesSetup(t, schema)
	deltaTable(t, schema+".src", 250)
	run := func(args ...string) testkit.Result {
		t.Helper()
		res := bin.Run(t, env, args...)
		if res.Code != 0 {
			t.Fatalf("hp %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Stderr)
		}
		return res
	}
	pqID := rsRunID(t, run("cp", "snap", "pg."+schema+".src", "s3.pq", "--format", "parquet", "--max-file-rows", "60", "--output", "json"))
	directID := rsRunID(t, run("cp", "snap", "pg."+schema+".src", "s3.direct", "--compression", "none", "--output", "json"))
	copyID := rsRunID(t, run("cp", "snap", "s3.pq", "s3.copy", "--files", pqID+"/*.parquet", "--compression", "none", "--output", "json"))
	direct := srv.Objects(t, "lake", "raw/direct/"+directID+"/")
	copied := srv.Objects(t, "lake", "raw/copy/"+copyID+"/")
	lines := func(files map[string][]byte) []string {
		var keys []string
		for k := range files {
			if strings.HasSuffix(k, ".csv") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			out = append(out, strings.Split(strings.TrimSuffix(string(files[k]), "\n"), "\n")...)
		}
		return out
	}
	d, c := lines(direct), lines(copied)
	if len(d) != 254 || strings.Join(c, "\n") != strings.Join(d, "\n") {
		t.Fatalf("copy (%d lines) differs from the direct extract (%d lines): %q vs %q", len(c), len(d), c[:min(3, len(c))], d[:min(3, len(d))])
	}
	m := string(copied["raw/copy/"+copyID+"/_manifest.json"])
	if !strings.Contains(m, `"object": "pq/`+pqID+`/*.parquet"`) || !strings.Contains(m, `"total_rows": 253`) {
		t.Fatalf("manifest of the copy:\n%s", m)
	}
}

// TestFilesJSONLToStdout: JSON Lines (gzip and plain) typed by --schema
// print as CSV on stdout in name order; without --schema the schema is
// inferred from the first lines, or refused when not simple.
func TestFilesJSONLToStdout(t *testing.T) {
	t.Parallel()
	bin := testkit.Build(t)
	srv, env := s3Target(t, "")
	filesPut(t, srv, "raw/events/b.jsonl", []byte(`{"id": 3, "kind": "c", "at": "2024-01-02T03:04:05.6Z", "n": null}`+"\n"))
	filesPut(t, srv, "raw/events/a.jsonl.gz", gzipped(t, `{"id": 1, "kind": "a", "at": "2024-01-01T00:00:00Z", "n": 1.25}`+"\n"+`{"id": 2, "kind": null, "n": "2"}`+"\n"))
	res := bin.Run(t, env, "cp", "snap", "s3.events", "stdout", "--files", "*.jsonl*", "--compression", "none",
		"--schema", "id:int32, kind:string, at:timestamp[ms,UTC], n:decimal(5,2)")
	want := "id,kind,at,n\n1,a,2024-01-01T00:00:00.000Z,1.25\n2,,,2.00\n3,c,2024-01-02T03:04:05.600Z,\n"
	if res.Code != 0 || res.Stdout != want {
		t.Fatalf("exit %d\nstdout %q\nwant   %q\n%s", res.Code, res.Stdout, want, res.Stderr)
	}
	// Without --schema: inferred from the first lines when simple.
	res = bin.Run(t, env, "cp", "snap", "s3.events", "stdout", "--files", "b.jsonl", "--compression", "none")
	if want := "id,kind,at,n\n3,c,2024-01-02T03:04:05.6Z,\n"; res.Code != 0 || res.Stdout != want {
		t.Fatalf("inferred: exit %d\nstdout %q\nwant   %q\n%s", res.Code, res.Stdout, want, res.Stderr)
	}
	res = bin.Run(t, env, "cp", "snap", "s3.events", "stdout", "--files", "*.jsonl*")
	if res.Code == 0 || !strings.Contains(res.Stderr, `file s3://lake/raw/events/a.jsonl.gz: line 2: "n" holds a utf8 after a float64; give --schema`) || res.Stdout != "" {
		t.Fatalf("without --schema: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = bin.Run(t, env, "cp", "snap", "s3.events", "stdout", "--files", "*.jsonl*", "--schema", "id:int32,kind:utf8,at:timestamp[ms,UTC],n:decimal(5,1)")
	if res.Code == 0 || !strings.Contains(res.Stderr, `file s3://lake/raw/events/a.jsonl.gz: line 1: column "n": `) {
		t.Fatalf("a value the type cannot hold: exit %d\n%s", res.Code, res.Stderr)
	}
}
