package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
	sfserver "github.com/halfpipe-io/halfpipe/testkit/snowflake"
)

// sfTarget starts an S3 server and a Snowflake test server whose stage
// LAKE covers s3://lake/raw/, and returns the environment that names them
// s3 and sf.
func sfTarget(t *testing.T) (*sfserver.Server, []string) {
	t.Helper()
	s3srv, env := s3Target(t, "")
	sf := sfserver.Start(t, sfserver.Config{Account: "hptest", Users: []sfserver.User{{Name: "ETL", Password: "sf-pw-123"}}, S3: s3srv.Client(t)})
	sf.AddStage("LAKE", "s3://lake/raw/")
	return sf, append(env, "HP_PG_DSN="+pgDSN,
		fmt.Sprintf("HP_SF_DSN=snowflake://etl:sf-pw-123@hptest/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d", sf.Host, sf.Port))
}

// sfRows renders a test-server table's ID and NAME columns, sorted.
func sfRows(t *testing.T, sf *sfserver.Server, table string) []string {
	t.Helper()
	rows, ok := sf.Rows(table)
	if !ok {
		t.Fatalf("table %s does not exist; tables: %v", table, sf.Tables())
	}
	var out []string
	for _, r := range rows {
		name := "NULL"
		if r[1] != nil {
			name = *r[1]
		}
		out = append(out, *r[0]+"="+name)
	}
	sort.Strings(out)
	return out
}

var runIDPath = regexp.MustCompile(`/\d{8}T\d{6}[^/]*/`)

func sfStatements(sf *sfserver.Server) []string {
	var out []string
	for _, st := range sf.Statements() {
		q := runIDPath.ReplaceAllString(st.SQL, "/<run>/")
		q = regexp.MustCompile(`HP_LOAD_[0-9A-F]+`).ReplaceAllString(q, "HP_LOAD_*")
		if st.Err != "" {
			q += " -- error " + st.Err
		}
		out = append(out, q)
	}
	sf.ResetStatements()
	return out
}

// sfOrders creates the test's own schema sf_e2e_<tag> holding the source
// table orders, so that the tests run in parallel, and returns its name.
func sfOrders(t *testing.T, tag string) string {
	t.Helper()
	t.Parallel()
	s := "sf_e2e_" + tag
	pgExec(t, strings.ReplaceAll(`drop schema if exists sf_e2e cascade; create schema sf_e2e;
		create table sf_e2e.orders (id bigint primary key, name text, amount numeric(12,2), updated_at timestamptz(6));
		insert into sf_e2e.orders select g, 'n' || g, g / 4.0, timestamptz '2024-05-01 00:00:00+00' + g * interval '1 minute' from generate_series(1, 500) g;
		update sf_e2e.orders set name = null where id = 7`, "sf_e2e", s))
	pgCleanup(t, "drop schema if exists "+s+" cascade")
	return s
}

func want(n int, edit func(id int) string) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, edit(i))
	}
	sort.Strings(out)
	return out
}

func TestSnapPostgresToSnowflakeThroughS3(t *testing.T) {
	bin := testkit.Build(t, "postgres", "snowflake")
	sch := sfOrders(t, "snap")
	sf, env := sfTarget(t)
	base := func(id int) string {
		if id == 7 {
			return "7=NULL"
		}
		return fmt.Sprintf("%d=n%d", id, id)
	}
	for _, tc := range []struct{ format, table, file string }{
		{"parquet", "ORDERS", "part-00001.parquet"},
		{"csv", "ORDERS_CSV", "part-00001.csv.gz"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			res := bin.Run(t, env, "cp", "snap", "pg."+sch+".orders", "sf.PUBLIC."+tc.table, "--stage", "LAKE",
				"--publish-to", "s3."+strings.ToLower(tc.table), "--format", tc.format, "--output", "json")
			if res.Code != 0 {
				t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
			}
			var sum struct {
				Rows        int64  `json:"rows"`
				ManifestURL string `json:"manifest_url"`
				Target      string `json:"target"`
			}
			if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil || sum.Rows != 500 || sum.Target != "sf.PUBLIC."+tc.table ||
				!strings.HasPrefix(sum.ManifestURL, "s3://lake/raw/"+strings.ToLower(tc.table)+"/") {
				t.Fatalf("summary %s (%v)", res.Stdout, err)
			}
			if got := sfRows(t, sf, "PUBLIC."+tc.table); fmt.Sprint(got) != fmt.Sprint(want(500, base)) {
				t.Errorf("table holds %d rows: %v...", len(got), got[:min(5, len(got))])
			}
			st := sfStatements(sf)
			copyIdx := -1
			for i, q := range st {
				if strings.HasPrefix(q, "COPY INTO") {
					copyIdx = i
				}
			}
			if copyIdx < 2 || st[copyIdx-1] != `DELETE FROM "PUBLIC"."`+tc.table+`"` || st[copyIdx-2] != "BEGIN" || st[copyIdx+1] != "COMMIT" ||
				!strings.Contains(st[copyIdx], `FROM @LAKE/`+strings.ToLower(tc.table)+`/<run>/ FILES=('`+tc.file+`')`) ||
				!strings.Contains(st[copyIdx], "ON_ERROR=ABORT_STATEMENT FORCE=TRUE") {
				t.Errorf("statements:\n%s", strings.Join(st, "\n"))
			}
		})
	}

	// A load that fails is a failed run with a clear error; the table is
	// as it was.
	sf.FailNext("COPY", "000603", "injected warehouse failure")
	res := bin.Run(t, env, "cp", "snap", "pg."+sch+".orders", "sf.PUBLIC.ORDERS", "--stage", "LAKE", "--publish-to", "s3.orders", "--format", "parquet")
	if res.Code == 0 || !strings.Contains(res.Stderr, "injected warehouse failure") || !strings.Contains(res.Stderr, "sf.PUBLIC.ORDERS") ||
		strings.Contains(res.Stderr, "sf-pw-123") {
		t.Errorf("failed load: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := sfRows(t, sf, "PUBLIC.ORDERS"); len(got) != 500 {
		t.Errorf("after a failed load the table holds %d rows, want 500", len(got))
	}
	// --stage needs --publish-to, and only a warehouse takes it.
	res = bin.Run(t, env, "cp", "snap", "pg."+sch+".orders", "sf.PUBLIC.ORDERS", "--stage", "LAKE")
	if res.Code == 0 || !strings.Contains(res.Stderr, "--publish-to") {
		t.Errorf("--stage without --publish-to: exit %d\n%s", res.Code, res.Stderr)
	}
}

func TestDeltaPostgresToSnowflakeThroughS3(t *testing.T) {
	bin := testkit.Build(t, "postgres", "snowflake")
	sch := sfOrders(t, "delta")
	sf, env := sfTarget(t)
	// Parquet by default through a stage.
	args := []string{"pg." + sch + ".orders", "sf.PUBLIC.ORDERS_D", "--stage", "LAKE", "--publish-to", "s3.orders_d",
		"--delta-driver", "updated_at", "--primary-keys", "id"}
	if s := runDelta(t, bin, env, args...); s.Rows != 500 || len(s.Runs) != 1 {
		t.Fatalf("first delta: %+v", s)
	}
	sfStatements(sf)
	pgExec(t, `update `+sch+`.orders set name = 'changed', updated_at = timestamptz '2024-06-01 00:00:00+00' + id * interval '1 second' where id <= 10;
		insert into `+sch+`.orders values (501, 'new', 1, timestamptz '2024-06-02 00:00:00+00')`)
	if s := runDelta(t, bin, env, args...); s.Rows != 11 || len(s.Runs) != 1 {
		t.Fatalf("second delta: %+v", s)
	}
	expect := want(501, func(id int) string {
		switch {
		case id <= 10:
			return fmt.Sprintf("%d=changed", id)
		case id == 501:
			return "501=new"
		}
		return fmt.Sprintf("%d=n%d", id, id)
	})
	if got := sfRows(t, sf, "PUBLIC.ORDERS_D"); fmt.Sprint(got) != fmt.Sprint(expect) {
		t.Errorf("after the second delta: %d rows %v...", len(got), got[:min(12, len(got))])
	}
	st := sfStatements(sf)
	var kinds []string
	for _, q := range st {
		kinds = append(kinds, strings.SplitN(q, " (", 2)[0])
	}
	wantKinds := []string{`DESC STAGE LAKE`, `CREATE TABLE "PUBLIC"."ORDERS_D"`, `CREATE TEMPORARY TABLE "PUBLIC"."HP_LOAD_*"`, `BEGIN`}
	if len(st) != 8 || fmt.Sprint(kinds[:4]) != fmt.Sprint(wantKinds) || !strings.HasSuffix(st[1], "-- error 002002") || !strings.HasPrefix(st[4], `COPY INTO "PUBLIC"."HP_LOAD_*" FROM @LAKE/orders_d/<run>/`) ||
		!strings.HasPrefix(st[5], `MERGE INTO "PUBLIC"."ORDERS_D" AS T`) || st[6] != "COMMIT" || !strings.HasPrefix(st[7], "DROP TABLE IF EXISTS") {
		t.Errorf("statements:\n%s", strings.Join(st, "\n"))
	}

	// A failed MERGE fails the run and leaves the mark: the next run
	// loads the same rows again, once.
	pgExec(t, `update `+sch+`.orders set name = 'again', updated_at = timestamptz '2024-07-01 00:00:00+00' where id = 20`)
	sf.FailNext("MERGE", "000603", "injected merge failure")
	res := bin.Run(t, env, append([]string{"cp", "delta", "--output", "json"}, args...)...)
	if res.Code == 0 || !strings.Contains(res.Stderr, "injected merge failure") || !strings.Contains(res.Stderr, "did not advance") {
		t.Fatalf("failed merge: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := sfRows(t, sf, "PUBLIC.ORDERS_D"); fmt.Sprint(got) != fmt.Sprint(expect) {
		t.Errorf("after a failed merge the table changed")
	}
	if s := runDelta(t, bin, env, args...); s.Rows != 1 {
		t.Fatalf("delta after the failure: %+v", s)
	}
	got := sfRows(t, sf, "PUBLIC.ORDERS_D")
	if len(got) != 501 || !contains(got, "20=again") {
		t.Errorf("after the retry: %d rows, 20=again present: %v", len(got), contains(got, "20=again"))
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestLambdaSnowflake runs the packaged function under the Lambda
// emulator, configured only by HP_* variables: PostgreSQL → S3 →
// Snowflake, Parquet through the stage.
func TestLambdaSnowflake(t *testing.T) {
	bootstrap, opt := lambdaTree(t)
	sch := sfOrders(t, "lambda")
	s3srv := testkit.StartS3(t)
	s3srv.CreateBucket(t, "lake")
	sf := sfserver.Start(t, sfserver.Config{Account: "hptest", Users: []sfserver.User{{Name: "ETL", Password: "sf-pw-123"}}, S3: s3srv.Client(t)})
	sf.AddStage("LAKE", "s3://lake/raw/")
	env := append(s3srv.Env(),
		"HP_12FACTOR_MODE=1", "HP_COMMAND=cp", "HP_SUBCOMMAND=snap",
		"HP_SOURCE_DSN="+pgDSN, "HP_SOURCE_OBJECT="+sch+".orders",
		fmt.Sprintf("HP_TARGET_DSN=snowflake://etl:sf-pw-123@hptest/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d", sf.Host, sf.Port),
		"HP_TARGET_OBJECT=PUBLIC.ORDERS_L", "HP_STAGE=LAKE", "HP_PUBLISH_TO=lake.orders_l",
		"HP_LAKE_DSN=s3://lake/raw?endpoint="+s3srv.Endpoint, "HP_LAKE_S3_REGION="+s3srv.Region,
		"HP_LOG_LEVEL=warn", "HP_PLUGIN_DIR="+filepath.Join(opt, "hp", "plugins"), "HP_REQUIRE_CHECKSUMS=true")
	fn := testkit.StartLambda(t, bootstrap, env, 30*time.Second)
	body, failed := fn.Invoke(t, `{}`)
	if failed {
		t.Fatalf("function error: %s\n%s", body, fn.Output())
	}
	var s lambdaSummary
	if err := json.Unmarshal(body, &s); err != nil || s.Rows != 500 || !strings.HasPrefix(s.ManifestURL, "s3://lake/raw/orders_l/") {
		t.Fatalf("summary %s (%v)", body, err)
	}
	if got := sfRows(t, sf, "PUBLIC.ORDERS_L"); len(got) != 500 || !contains(got, "7=NULL") || !contains(got, "500=n500") {
		t.Errorf("table holds %d rows", len(got))
	}
	var copied bool
	for _, q := range sfStatements(sf) {
		copied = copied || strings.Contains(q, "FILES=('part-00001.parquet') FILE_FORMAT=(TYPE=PARQUET)")
	}
	if !copied {
		t.Error("no COPY of the run's Parquet file")
	}
}

// TestCreateStageThenLoad creates the stage with hp create stage (a
// storage integration, no keys) and loads through it.
func TestCreateStageThenLoad(t *testing.T) {
	bin := testkit.Build(t, "postgres", "snowflake")
	sch := sfOrders(t, "stage")
	sf, env := sfTarget(t)
	res := bin.Run(t, env, "create", "stage", "sf.PUBLIC.HP_NEW", "--url", "s3://lake/raw/", "--storage-integration", "HP_S3", "--print")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != "CREATE STAGE IF NOT EXISTS PUBLIC.HP_NEW URL = 's3://lake/raw/' STORAGE_INTEGRATION = HP_S3;" {
		t.Fatalf("--print: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if _, ok := sf.Stage("HP_NEW"); ok || len(sf.Statements()) != 0 {
		t.Fatal("--print ran the statement")
	}
	res = bin.Run(t, env, "create", "stage", "sf.PUBLIC.HP_NEW", "--url", "s3://lake/raw", "--storage-integration", "HP_S3")
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	if u, ok := sf.Stage("HP_NEW"); !ok || u != "s3://lake/raw/" {
		t.Fatalf("stage HP_NEW: %q, %v", u, ok)
	}
	res = bin.Run(t, env, "cp", "snap", "pg."+sch+".orders", "sf.PUBLIC.ORDERS_S", "--stage", "HP_NEW", "--publish-to", "s3.orders_s")
	if res.Code != 0 {
		t.Fatalf("snap through the new stage: exit %d\n%s", res.Code, res.Stderr)
	}
	if got := sfRows(t, sf, "PUBLIC.ORDERS_S"); len(got) != 500 {
		t.Errorf("table holds %d rows, want 500", len(got))
	}
	// Only Snowflake connections make stages.
	res = bin.Run(t, env, "create", "stage", "pg.public.x", "--url", "s3://lake/raw/", "--storage-integration", "HP_S3")
	if res.Code == 0 || !strings.Contains(res.Stderr, "Snowflake") {
		t.Errorf("stage on PostgreSQL: exit %d\n%s", res.Code, res.Stderr)
	}
}

// TestSnapPostgresToSnowflakeWrite copies without S3: the plugin PUTs
// Parquet files into the table's stage and copies them.
func TestSnapPostgresToSnowflakeWrite(t *testing.T) {
	bin := testkit.Build(t, "postgres", "snowflake")
	sch := sfOrders(t, "write")
	sf, env := sfTarget(t)
	for i := 0; i < 2; i++ { // a second replace holds the snapshot once
		res := bin.Run(t, env, "cp", "snap", "pg."+sch+".orders", "sf.PUBLIC.ORDERS_W")
		if res.Code != 0 || !strings.Contains(res.Stderr, "500 rows into sf.PUBLIC.ORDERS_W") {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
	}
	if got := sfRows(t, sf, "PUBLIC.ORDERS_W"); len(got) != 500 || !contains(got, "7=NULL") || !contains(got, "42=n42") {
		t.Errorf("table holds %d rows", len(got))
	}
	var put, copied bool
	for _, q := range sfStatements(sf) {
		put = put || strings.HasPrefix(q, "PUT 'file://")
		copied = copied || strings.HasPrefix(q, `COPY INTO "PUBLIC"."ORDERS_W" FROM @"PUBLIC".%"ORDERS_W"/`)
	}
	if !put || !copied {
		t.Errorf("no PUT (%v) or COPY from the table stage (%v)", put, copied)
	}
}
