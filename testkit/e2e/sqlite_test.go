package e2e

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/halfpipe-io/halfpipe/testkit"
)

func sqliteDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "src.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE "Order Items" (id INTEGER NOT NULL PRIMARY KEY, "select" TEXT, amount DECIMAL TEXT(38,10), at TIMESTAMP, raw BLOB)`,
		`INSERT INTO "Order Items" VALUES (1, 'plain', '12345678901234567890123456.0123456789', '2024-03-31 01:59:59.123456', x'00ff00')`,
		`INSERT INTO "Order Items" VALUES (2, '', '-0.0000000001', '1969-12-31 23:59:59.999999', x'')`,
		`INSERT INTO "Order Items" VALUES (3, NULL, NULL, NULL, NULL)`,
		`INSERT INTO "Order Items" VALUES (4, 'say "hi", then
leave', '7', '2038-01-19 03:14:08', x'41')`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return "sqlite://" + path
}

func TestSnapSQLiteValues(t *testing.T) {
	t.Parallel() // its own SQLite file
	bin := testkit.Build(t)
	out := t.TempDir()
	env := []string{"HP_DB_DSN=" + sqliteDB(t), "HP_OUT_DSN=" + out}
	res := bin.Run(t, env, "cp", "snap", `db."Order Items"`, "out.items", "--format", "csv", "--compression", "none", "--csv-null", `\N`)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	text, _ := os.ReadFile(filepath.Join(out, m.Files[0].Path))
	recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"id", "select", "amount", "at", "raw"},
		{"1", "plain", "12345678901234567890123456.0123456789", "2024-03-31T01:59:59.123456Z", "AP8A"},
		{"2", "", "-0.0000000001", "1969-12-31T23:59:59.999999Z", ""},
		{"3", `\N`, `\N`, `\N`, `\N`},
		{"4", "say \"hi\", then\nleave", "7.0000000000", "2038-01-19T03:14:08.000000Z", "QQ=="},
	}
	for i := range want {
		if strings.Join(recs[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("line %d\n got %q\nwant %q", i, recs[i], want[i])
		}
	}

	// hp query streams CSV to stdout.
	res = bin.Run(t, env, "query", "db", `SELECT id, "select" FROM "Order Items" WHERE id IN (1, 4) ORDER BY id`, "--print-header")
	if res.Code != 0 || res.Stdout != "id,select\n1,plain\n4,\"say \"\"hi\"\", then\nleave\"\n" {
		t.Fatalf("query: exit %d\n%q\n%s", res.Code, res.Stdout, res.Stderr)
	}
}

func TestConnectionsDryRunAndHalfpipeLayout(t *testing.T) {
	t.Parallel() // its own config directory
	bin := testkit.Build(t)
	cfg := t.TempDir()
	out := t.TempDir()
	env := []string{"HP_CONFIG_DIR=" + cfg}
	res := bin.Run(t, env, "config", "connections", "add", "Src", "--dsn", "gen://?rows=2500&password=hunter22")
	if res.Code != 0 {
		t.Fatalf("add: %s", res.Stderr)
	}
	st, err := os.Stat(filepath.Join(cfg, "connections.yaml"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("connections file mode %v (%v)", st.Mode().Perm(), err)
	}
	bin.Run(t, env, "config", "connections", "add", "out", "--dsn", out)
	res = bin.Run(t, env, "config", "connections", "list")
	testkit.Contains(t, "list", res.Stdout, "src", "password=xxxxx", "out")
	if strings.Contains(res.Stdout, "hunter22") {
		t.Fatal("list printed a password")
	}
	res = bin.Run(t, env, "config", "connections", "list", "--output", "json")
	var listed []map[string]string
	if err := json.Unmarshal([]byte(res.Stdout), &listed); err != nil || len(listed) != 2 || listed[1]["name"] != "src" || !strings.Contains(listed[1]["dsn"], "password=xxxxx") {
		t.Fatalf("list --output json: %v\n%s", err, res.Stdout)
	}
	res = bin.Run(t, env, "config", "connections", "add", "--help")
	testkit.Contains(t, "add --help", res.Stdout, "Connection types", "sqlite", "gen", "file:///absolute/dir")

	res = bin.Run(t, env, "cp", "snap", "src.narrow", "out.daily/orders", "--dry-run", "--layout", "halfpipe")
	testkit.Contains(t, "dry run", res.Stdout, "gen://?rows=2500&password=xxxxx", "narrow", "daily/orders-", "_000001.csv.gz", ".manifest.json")
	if strings.Contains(res.Stdout, "hunter22") || len(allFiles(t, out)) != 0 {
		t.Fatalf("dry run leaked a password or wrote files:\n%s", res.Stdout)
	}

	// Into a table, the plan names the write mode it will use.
	lite := append(env, "HP_LITE_DSN="+sqliteDB(t))
	for _, c := range []struct{ args, want []string }{
		{nil, []string{"narrow (replace)"}},
		{[]string{"--write-mode", "merge", "--primary-keys", "id"}, []string{"narrow (merge on id)"}},
		{[]string{"--write-mode", "append"}, []string{"narrow (append)"}},
	} {
		res = bin.Run(t, lite, append([]string{"cp", "snap", "src.narrow", "lite.narrow", "--dry-run"}, c.args...)...)
		testkit.Contains(t, "dry run into a table", res.Stdout, c.want...)
	}

	res = bin.Run(t, env, "cp", "snap", "src.narrow", "out.daily/orders", "--layout", "halfpipe", "--max-file-rows", "1000")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	files := allFiles(t, out)
	var names []string
	var man string
	for _, f := range files {
		names = append(names, filepath.Base(f))
		if strings.HasSuffix(f, ".man") {
			man = f
		}
	}
	joined := strings.Join(names, " ")
	testkit.Contains(t, "halfpipe names", joined, "_000001.csv.gz", "_000003.csv.gz", ".man", ".manifest.json")
	data, _ := os.ReadFile(man)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "FileName" || len(lines) != 4 || !strings.HasPrefix(lines[1], "orders-") || !strings.HasSuffix(lines[3], "_000003.csv.gz") {
		t.Fatalf(".man file:\n%s", data)
	}
	manifest, _ := os.ReadFile(strings.TrimSuffix(man, ".man") + ".manifest.json")
	if strings.Contains(string(manifest), "hunter22") || !strings.Contains(string(manifest), "password=xxxxx") {
		t.Fatal("manifest does not mask the DSN")
	}

	res = bin.Run(t, env, "config", "connections", "rm", "src")
	if res.Code != 0 {
		t.Fatal(res.Stderr)
	}
	res = bin.Run(t, env, "cp", "snap", "src.narrow", "out.x")
	if res.Code != 2 || !strings.Contains(res.Stderr, `unknown connection "src"`) {
		t.Fatalf("after rm: exit %d %s", res.Code, res.Stderr)
	}
}
