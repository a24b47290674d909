package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// lambdaDist holds the function zip and plugin layers, built once per
// test process by layer/build.sh (see lambdaTree); TestMain removes it.
var lambdaDist struct {
	once sync.Once
	dir  string
	err  error
}

// lambdaTree unpacks the function zip and plugin layers as Lambda would,
// into a directory of the test's own: the function into task/, every
// layer into opt/.
func lambdaTree(t *testing.T) (bootstrap, opt string) {
	t.Helper()
	lambdaDist.once.Do(func() {
		if lambdaDist.dir, lambdaDist.err = os.MkdirTemp("", "hp-e2e-lambda-"); lambdaDist.err != nil {
			return
		}
		cmd := exec.Command("bash", "layer/build.sh", runtime.GOARCH, lambdaDist.dir)
		cmd.Dir = testkit.RepoRoot(t)
		cmd.Env = append(os.Environ(), "LAYER_TRIMPATH=0", "LAYER_ZIP_LEVEL=1", oracleClientStandIn(t, lambdaDist.dir)) // no -trimpath: reuse the test build's compiled packages
		if out, err := cmd.CombinedOutput(); err != nil {
			lambdaDist.err = fmt.Errorf("layer/build.sh: %v\n%s", err, out)
		}
	})
	if lambdaDist.err != nil {
		t.Fatal(lambdaDist.err)
	}
	root := t.TempDir()
	zips, _ := filepath.Glob(filepath.Join(lambdaDist.dir, "*.zip"))
	for _, z := range zips {
		into := filepath.Join(root, "opt")
		if strings.Contains(filepath.Base(z), "-function-") {
			into = filepath.Join(root, "task")
		}
		unzip(t, z, into)
	}
	return filepath.Join(root, "task", "bootstrap"), filepath.Join(root, "opt")
}

func unzip(t *testing.T, path, into string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		dst := filepath.Join(into, filepath.FromSlash(f.Name))
		if f.FileInfo().IsDir() {
			_ = os.MkdirAll(dst, 0o755)
			continue
		}
		_ = os.MkdirAll(filepath.Dir(dst), 0o755)
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.Mode().Perm())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
		w.Close()
	}
}

type lambdaSummary struct {
	Rows        int64  `json:"rows"`
	Files       int    `json:"files"`
	ManifestURL string `json:"manifest_url"`
	MoreToDo    bool   `json:"more_to_do"`
	Runs        []struct {
		ManifestURL string `json:"manifest_url"`
	} `json:"runs"`
}

// TestLambdaFunction runs the packaged function under the Lambda runtime
// interface emulator, configured only by environment variables as in the
// seed scenario: PostgreSQL to S3, CSV files and a manifest.
func TestLambdaFunction(t *testing.T) {
	t.Parallel() // its own table, S3 server and emulator
	bootstrap, opt := lambdaTree(t)
	deltaTable(t, "hp_e2e_lambda", 1000)
	pgExec(t, `drop table if exists hp_e2e_lambda_other; create table hp_e2e_lambda_other as select id, v from hp_e2e_lambda where id <= 10`)
	pgCleanup(t, "drop table if exists hp_e2e_lambda_other")
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	proxy := testkit.StartFaultProxy(t, srv.Endpoint)
	env := append(srv.Env(),
		"HP_12FACTOR_MODE=1", "HP_COMMAND=cp", "HP_SUBCOMMAND=snap",
		"HP_SOURCE_DSN="+pgDSN, "HP_SOURCE_OBJECT=public.hp_e2e_lambda",
		"HP_TARGET_DSN=s3://lake/raw?endpoint="+proxy.URL, "HP_TARGET_OBJECT=orders", "HP_TARGET_S3_REGION="+srv.Region,
		"HP_LOG_LEVEL=warn", "HP_AUTH_KEY=anything", "HP_PLUGIN_DIR="+filepath.Join(opt, "hp", "plugins"),
		"HP_COMPRESSION=none", "HP_REQUIRE_CHECKSUMS=true")
	fn := testkit.StartLambda(t, bootstrap, env, 12*time.Second)

	// The console's default test event changes nothing.
	body, failed := fn.Invoke(t, `{"key1": "value1", "key2": "value2", "key3": "value3"}`)
	if failed {
		t.Fatalf("function error: %s", body)
	}
	var s lambdaSummary
	if err := json.Unmarshal(body, &s); err != nil || s.Rows != 1003 || s.Files != 1 || !strings.HasPrefix(s.ManifestURL, "s3://lake/raw/orders/") {
		t.Fatalf("summary %s (%v)", body, err)
	}
	dir := download(t, srv, "lake", "raw/orders/")
	m, _ := readManifest(t, dir)
	if m.TotalRows != 1003 || !strings.HasSuffix(m.Files[0].Path, ".csv") {
		t.Fatalf("manifest: %+v", m)
	}
	if strings.Contains(fn.Output(), "postgres://postgres@") {
		t.Error("the function logged an unmasked DSN")
	}

	// An event may override any variable.
	body, failed = fn.Invoke(t, `{"HP_SOURCE_OBJECT": "public.hp_e2e_lambda_other", "HP_TARGET_OBJECT": "other", "HP_FORMAT": "jsonl", "HP_LOG_LEVEL": "info"}`)
	var o lambdaSummary
	if err := json.Unmarshal(body, &o); failed || err != nil || o.Rows != 13 {
		t.Fatalf("override: %s", body)
	}
	if objs := srv.Objects(t, "lake", "raw/other/"); len(objs) != 2 {
		t.Fatalf("override published %v", keys(objs))
	}
	// Logs are JSON lines (here the info line about HP_AUTH_KEY).
	jsonLog := false
	for _, line := range strings.Split(fn.Output(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && strings.Contains(fmt.Sprint(rec["msg"]), "HP_AUTH_KEY is ignored") {
			jsonLog = rec["level"] == "INFO"
		}
	}
	if !jsonLog {
		t.Errorf("no JSON log line from the function:\n%s", fn.Output())
	}

	// A failed job is a function error naming the cause, and publishes
	// nothing.
	body, failed = fn.Invoke(t, `{"HP_SOURCE_OBJECT": "public.no_such_table", "HP_TARGET_OBJECT": "bad"}`)
	if !failed || !strings.Contains(string(body), "no_such_table") {
		t.Fatalf("bad table: failed=%v %s", failed, body)
	}
	if objs := srv.Objects(t, "lake", "raw/bad/"); len(objs) != 0 {
		t.Fatalf("a failed job published %v", keys(objs))
	}

	// A delta whose range does not fit in the function's time stops between
	// chunks before the deadline; the next invocation finishes the range.
	base := proxy.Hits()
	proxy.Inject(testkit.Fault{Match: isCSVPut, Delay: 2500 * time.Millisecond})
	deltaEvent := `{"HP_SUBCOMMAND": "delta", "HP_TARGET_OBJECT": "changes", "HP_DELTA_DRIVER": "updated_at", "HP_PRIMARY_KEYS": "id", "HP_DELTA_SIZE": "3h"}`
	body, failed = fn.Invoke(t, deltaEvent)
	if failed {
		t.Fatalf("first delta invocation: %s", body)
	}
	var d lambdaSummary
	_ = json.Unmarshal(body, &d)
	if !d.MoreToDo || d.Rows == 0 || d.Rows >= 1000 || proxy.Hits() == base {
		t.Fatalf("first delta invocation did not stop early: %s", body)
	}
	proxy.Clear()
	body, failed = fn.Invoke(t, deltaEvent)
	_ = json.Unmarshal(body, &d)
	if failed || d.MoreToDo {
		t.Fatalf("second delta invocation: %s", body)
	}
	checkUnion(t, download(t, srv, "lake", "raw/changes/"), "hp_e2e_lambda", true)
}

func isCSVPut(r *http.Request) bool { return testkit.IsPut(r) && strings.Contains(r.URL.Path, ".csv") }

// TestTwelveFactorMatchesCommandLine: a job configured only by HP_*
// variables writes exactly what the equivalent command line writes.
func TestTwelveFactorMatchesCommandLine(t *testing.T) {
	t.Parallel() // its own table and directories
	bin := testkit.Build(t)
	deltaTable(t, "hp_e2e_12f", 500)
	viaEnv, viaArgs := t.TempDir(), t.TempDir()
	res := bin.Run(t, []string{"HP_12FACTOR_MODE=true", "HP_COMMAND=cp", "HP_SUBCOMMAND=snap",
		"HP_SOURCE_DSN=" + pgDSN, "HP_SOURCE_OBJECT=public.hp_e2e_12f", "HP_TARGET_DSN=" + viaEnv, "HP_TARGET_OBJECT=x/orders",
		"HP_FORMAT=csv", "HP_COMPRESSION=none", "HP_MAX_FILE_ROWS=200", "HP_CSV_NULL=NULL", "HP_COLUMNS=id,v,updated_at",
		"HP_MAX_FILE_ROWZ=1"})
	if res.Code != 0 {
		t.Fatalf("12-factor run: exit %d: %s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "HP_MAX_FILE_ROWZ", "HP_MAX_FILE_ROWS")
	res = bin.Run(t, []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + viaArgs}, "cp", "snap", "pg.public.hp_e2e_12f", "out.x/orders",
		"--format", "csv", "--compression", "none", "--max-file-rows", "200", "--csv-null", "NULL", "--columns", "id,v,updated_at")
	if res.Code != 0 {
		t.Fatalf("command line run: exit %d: %s", res.Code, res.Stderr)
	}
	a, _ := readManifest(t, viaEnv)
	b, _ := readManifest(t, viaArgs)
	if len(a.Files) != 3 || len(a.Files) != len(b.Files) {
		t.Fatalf("files: %d via the environment, %d via arguments", len(a.Files), len(b.Files))
	}
	for i := range a.Files {
		if a.Files[i].SHA256 != b.Files[i].SHA256 || a.Files[i].Rows != b.Files[i].Rows {
			t.Errorf("file %d differs: %+v vs %+v", i+1, a.Files[i], b.Files[i])
		}
	}
	// A bad boolean is an error, not a guess.
	res = bin.Run(t, []string{"HP_12FACTOR_MODE=1", "HP_COMMAND=cp", "HP_SUBCOMMAND=snap", "HP_SOURCE_DSN=" + pgDSN,
		"HP_SOURCE_OBJECT=public.hp_e2e_12f", "HP_TARGET_DSN=" + viaEnv, "HP_TARGET_OBJECT=y", "HP_CSV_HEADER=yes"})
	if res.Code != 2 {
		t.Fatalf("bad boolean: exit %d: %s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "HP_CSV_HEADER", "not a boolean")
}

// TestLambdaSQLServerSeed is the seed scenario: a Lambda function
// configured only by environment variables copies dbo.sample_data from
// SQL Server (the TDS test server, through the real go-mssqldb driver in
// the mssql plugin layer) to S3 as CSV with a manifest.
func TestLambdaSQLServerSeed(t *testing.T) {
	t.Parallel() // its own table, S3 server and emulator
	bootstrap, opt := lambdaTree(t)
	db := tds.Start(t, tds.WithLogin("etl", "Secr3t!pw"))
	mssqlTable(db, "[dbo].[sample_data]", [][]any{
		{"id", "int", false, 4, 10, 0}, {"name", "nvarchar", true, 100, 0, 0},
		{"amount", "decimal", true, 9, 18, 4}, {"created_at", "datetime2", false, 8, 27, 7}}, "id")
	base := time.Date(2024, 3, 31, 1, 0, 0, 0, time.UTC)
	db.Handle("SELECT [id], [name], [amount], [created_at] FROM [dbo].[sample_data]", tds.Response{
		Columns: []tds.Column{{Name: "id", Type: tds.Int}, {Name: "name", Type: tds.NVarChar, Length: 50, Nullable: true},
			{Name: "amount", Type: tds.Decimal, Precision: 18, Scale: 4, Nullable: true}, {Name: "created_at", Type: tds.DateTime2, Scale: 7}},
		NumRows: 1000,
		RowFunc: func(i int) []any {
			return []any{i + 1, fmt.Sprintf("Zoë %d", i+1), fmt.Sprintf("%d.0%03d", i, i), base.Add(time.Duration(i)*time.Second + 100)}
		},
	})
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	env := append(srv.Env(), "HP_12FACTOR_MODE=1", "HP_COMMAND=cp", "HP_SUBCOMMAND=snap",
		"HP_SOURCE_DSN="+db.DSN("etl", "Secr3t!pw", "Sales"), "HP_SOURCE_OBJECT=dbo.sample_data",
		"HP_TARGET_DSN=s3://lake/raw?endpoint="+srv.Endpoint, "HP_TARGET_OBJECT=sample_data", "HP_TARGET_S3_REGION="+srv.Region,
		"HP_PLUGIN_DIR="+filepath.Join(opt, "hp", "plugins"), "HP_COMPRESSION=none")
	fn := testkit.StartLambda(t, bootstrap, env, 30*time.Second)
	body, failed := fn.Invoke(t, `{}`)
	if failed {
		t.Fatalf("function error: %s", body)
	}
	dir := download(t, srv, "lake", "raw/sample_data/")
	m, _ := readManifest(t, dir)
	if m.TotalRows != 1000 {
		t.Fatalf("manifest: %d rows", m.TotalRows)
	}
	text, _ := os.ReadFile(filepath.Join(dir, m.Files[0].Path))
	recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1000", "Zoë 1000", "999.0999", "2024-03-31T01:16:39.000000100"} // datetime2 has no zone
	if got := recs[1000]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("last row %q, want %q (header %q)", got, want, recs[0])
	}
	if strings.Contains(fn.Output(), "Secr3t!pw") || strings.Contains(string(body), "Secr3t!pw") {
		t.Fatal("the SQL Server password was printed")
	}
}
