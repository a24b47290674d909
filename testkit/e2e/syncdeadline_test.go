package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// invokeOnce runs hp as a Lambda function's bootstrap against a runtime
// API served here (AWS_LAMBDA_RUNTIME_API): one invocation of event whose
// deadline is timeout from now, and its answer (failed for a function
// error). A stand-in for the emulator that controls the deadline exactly.
func invokeOnce(t *testing.T, bin *testkit.Binaries, env []string, event string, timeout time.Duration) (body string, failed bool) {
	t.Helper()
	type answer struct {
		body   string
		failed bool
	}
	answers := make(chan answer, 1)
	var served atomic.Bool
	deadline := time.Now().Add(timeout)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		if served.Swap(true) { // one invocation: the next waits for the end
			<-r.Context().Done()
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline.UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:000000000000:function:hp-test")
		_, _ = io.WriteString(w, event)
	})
	reply := func(failed bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			answers <- answer{string(b), failed}
			w.WriteHeader(http.StatusAccepted)
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/req-1/response", reply(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/req-1/error", reply(true))
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := bin.Command(ctx, t, append(env, "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://")))
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
		srv.Close()
	}()
	select {
	case a := <-answers:
		if time.Now().After(deadline) {
			t.Errorf("the function answered after its deadline: %s", a.body)
		}
		return a.body, a.failed
	case <-time.After(timeout + time.Minute):
		t.Fatalf("no answer from the function; its log:\n%s", logs.String())
	}
	return "", false
}

// TestSyncBatchChunksStopAtDeadline: under Lambda, sync batch with
// HP_CHUNK_ROWS whose invocation's deadline falls while a chunk is being
// applied (a MariaDB trigger stalls the third chunk) stops before the
// deadline: a function error naming the chunks committed, the target
// holding exactly the first two chunks (a chunk boundary), and a rerun
// applies the rest and makes the second diff empty.
func TestSyncBatchChunksStopAtDeadline(t *testing.T) {
	t.Parallel() // its own tables
	mysqlOut(t, "SELECT 1")
	bin := testkit.Build(t, "postgres", "mysql")
	const src, tgt, flag = "hp_e2e_syncdl_src", "hp_e2e_syncdl_tgt", "hp_e2e_syncdl_flag"
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (id int primary key, v text); insert into `+src+` select g, 'v' || g from generate_series(1, 100) g`)
	// 100 changed rows, in key order: chunks of 20 are ids 1-20, 21-40,
	// ... The trigger stalls the insert of id 50 (third chunk) while the
	// flag is armed; a one-statement body, as the client splits at ';'.
	mysqlOut(t, "DROP TABLE IF EXISTS "+tgt+", "+flag+"; CREATE TABLE "+flag+" (armed INT); INSERT INTO "+flag+" VALUES (1);"+
		"CREATE TABLE "+tgt+" (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO "+tgt+" SELECT seq, 'old' FROM seq_1_to_100;"+
		"CREATE TRIGGER "+tgt+"_stall BEFORE INSERT ON "+tgt+" FOR EACH ROW SET @hp_stall = IF(NEW.id = 50 AND (SELECT armed FROM "+flag+") = 1, SLEEP(60), 0)")
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS test." + tgt + ", test." + flag)
		pgExec(t, "drop table if exists "+src)
	})
	env := []string{"HP_REQUIRE_CHECKSUMS=false", "HP_12FACTOR_MODE=1", "HP_COMMAND=sync", "HP_SUBCOMMAND=batch",
		"HP_SOURCE_DSN=" + pgDSN, "HP_SOURCE_OBJECT=public." + src, "HP_TARGET_DSN=" + myDSN, "HP_TARGET_OBJECT=" + tgt,
		"HP_PRIMARY_KEYS=id", "HP_CHUNK_ROWS=20"}
	// A 15 s invocation keeps a 5 s margin: the sync stops 10 s in, in
	// the third chunk's stalled insert.
	body, failed := invokeOnce(t, bin, env, `{}`, 15*time.Second)
	if !failed {
		t.Fatalf("a sync past its deadline succeeded: %s", body)
	}
	t.Logf("the function's error: %s", body)
	testkit.Contains(t, "the stopped sync's error", body, "syncing chunk 3 into", "holds the 2 chunks committed before it",
		"rerun to apply the rest", "stopped at a chunk boundary 5s before the invocation's deadline")
	count := func() string {
		return strings.TrimSpace(mysqlOut(t, "SELECT SUM(v = CONCAT('v', id) AND id <= 40), SUM(v = 'old' AND id > 40), COUNT(*) FROM "+tgt))
	}
	if got := count(); got != "40\t60\t100" {
		t.Fatalf("after the stop the target holds (synced up to 40, old after, rows): %q, want the first two chunks exactly", got)
	}

	mysqlOut(t, "UPDATE "+flag+" SET armed = 0")
	start := time.Now()
	p := syncPair{t: t, bin: bin, env: []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN}, src: "pg.public." + src, tgt: "my." + tgt, keys: "id"}
	got, _ := p.sync(0, "--chunk-rows", "20")
	if got.Updated != 60 || got.Chunks != 3 {
		t.Fatalf("the rerun: %+v, want 60 updated (ids 41-100) in 3 chunks", got)
	}
	t.Logf("the rerun took %s", time.Since(start).Round(time.Millisecond))
	if out := p.diff(0); out != "" {
		t.Fatalf("differences after the rerun:\n%s", out)
	}
}

// TestSyncBatchChunksComparisonFails: with --chunk-rows, a comparison
// that fails between chunks (here a NULL key in the source, met after
// three chunks) names the chunks committed, which stay, as a failing
// chunk does.
func TestSyncBatchChunksComparisonFails(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres")
	const src, tgt = "hp_e2e_syncdl_cmp_src", "hp_e2e_syncdl_cmp_tgt"
	pgExec(t, `drop table if exists `+src+`, `+tgt+`;
		create table `+src+` (id int not null, k text, v text); insert into `+src+` select g, 'k', 'v' || g from generate_series(1, 100) g;
		create table `+tgt+` (id int not null, k text not null, v text, primary key (id, k)); insert into `+tgt+` select g, 'k', 'old' from generate_series(1, 100) g;
		update `+src+` set k = null where id = 75`)
	t.Cleanup(func() { pgExec(t, "drop table if exists "+src+", "+tgt) })
	p := syncPair{t: t, bin: bin, env: []string{"HP_PG_DSN=" + pgDSN}, src: "pg.public." + src, tgt: "pg.public." + tgt, keys: "id,k"}
	_, res := p.sync(2, "--chunk-rows", "20")
	testkit.Contains(t, "the failed comparison", res.Stderr, "NULL", "pg.public."+tgt+" holds the 3 chunks committed before it; rerun to apply the rest")
	if rows := pgExec(t, "select count(*) filter (where id <= 60 and v = 'v' || id), count(*) filter (where id > 60 and v = 'old') from "+tgt); rows != "60|40" {
		t.Fatalf("after the failed comparison the target holds (synced up to 60, old after): %s", rows)
	}
}
