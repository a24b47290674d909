package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// stateDoc is the part of _state.json these tests read.
type stateDoc struct {
	Source *struct {
		Connection string `json:"connection"`
		Object     string `json:"object"`
	} `json:"source"`
	LastRunID string `json:"last_run_id"`
	Lock      *struct {
		RunID   string    `json:"run_id"`
		PID     int       `json:"pid"`
		Since   time.Time `json:"since"`
		Expires time.Time `json:"expires"`
	} `json:"lock"`
}

func parseStateDoc(t *testing.T, data []byte) stateDoc {
	t.Helper()
	var s stateDoc
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("state %q: %v", data, err)
	}
	return s
}

// TestDeltaStateBoundToItsSource: a delta of another table into the same
// target is refused, not answered with "nothing new"; a mistyped driver is
// reported as such, without sending the user to hp state reset.
func TestDeltaStateBoundToItsSource(t *testing.T) {
	t.Parallel() // its own tables and directory
	bin := testkit.Build(t)
	const a, b = "hp_e2e_dstate_src_a", "hp_e2e_dstate_src_b"
	deltaTable(t, a, 50)
	deltaTable(t, b, 70)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	if s := runDelta(t, bin, env, "pg."+a, "out.s", "--delta-driver", "updated_at"); s.Rows != 50 {
		t.Fatalf("first run: %+v", s)
	}
	res := bin.Run(t, env, "cp", "delta", "pg."+b, "out.s", "--delta-driver", "updated_at")
	if res.Code == 0 {
		t.Fatalf("a delta of %s into the state of %s was accepted:\n%s", b, a, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "tracks pg.", a, b, "hp state reset out.s --yes")
	if strings.Contains(res.Stderr, "nothing new") {
		t.Fatalf("stderr: %s", res.Stderr)
	}

	res = bin.Run(t, env, "cp", "delta", "pg."+a, "out.s", "--delta-driver", "updated_a")
	if res.Code == 0 {
		t.Fatal("a mistyped driver was accepted")
	}
	testkit.Contains(t, "stderr", res.Stderr, "--delta-driver updated_a is not a column")
	if strings.Contains(res.Stderr, "state reset") {
		t.Fatalf("a mistyped driver suggests a reset: %s", res.Stderr)
	}

	res = bin.Run(t, env, "state", "show", "out.s")
	if res.Code != 0 {
		t.Fatalf("hp state show: exit %d\n%s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "hp state show", res.Stdout, "source:", "pg.", a)
}

// TestDeltaPublishedButStateNotSaved: the manifest is published, then the
// state write is refused; the error says what happened and what the next
// run does, and the next run does it.
func TestDeltaPublishedButStateNotSaved(t *testing.T) {
	t.Parallel() // its own table, S3 server and proxy
	bin := testkit.Build(t)
	const table = "hp_e2e_dstate_unsaved"
	deltaTable(t, table, 40)
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	proxy := testkit.StartFaultProxy(t, srv.Endpoint)
	published := false
	proxy.Inject(testkit.Fault{Times: 1, Status: http.StatusForbidden, Match: func(r *http.Request) bool {
		if testkit.IsPut(r) && strings.HasSuffix(r.URL.Path, "_manifest.json") {
			published = true
			return false
		}
		return published && testkit.IsPut(r) && strings.HasSuffix(r.URL.Path, "_state.json")
	}})
	env := append(srv.Env(), "HP_PG_DSN="+pgDSN, "HP_OUT_DSN=s3://lake/raw?endpoint="+proxy.URL)
	args := []string{"cp", "delta", "pg." + table, "out.u", "--delta-driver", "updated_at", "--compression", "none"}
	res := bin.Run(t, env, args...)
	if res.Code == 0 {
		t.Fatal("a run whose state was not saved exited 0")
	}
	manifests := 0
	runID := ""
	for key, body := range srv.Objects(t, "lake", "raw/u/") {
		if strings.HasSuffix(key, "_manifest.json") {
			manifests++
			var m manifestDoc
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			runID = m.RunID
		}
	}
	if manifests != 1 {
		t.Fatalf("%d manifests", manifests)
	}
	testkit.Contains(t, "stderr", res.Stderr, "run "+runID+" was published", "the delta state was not advanced",
		"the next run extracts the same range again", "hp state set out.u --high-water-mark 2024-03-30T22:40:00.000041Z")
	if strings.Contains(res.Stderr, "nothing of it was committed") || strings.Contains(res.Stderr, "nothing was committed") {
		t.Fatalf("stderr says nothing was committed:\n%s", res.Stderr)
	}
	// As announced: the next run extracts the same range again.
	res = bin.Run(t, env, append(args, "--output", "json")...)
	var s deltaSummary
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &s) != nil || s.Rows != 40 {
		t.Fatalf("next run: exit %d %s\n%s", res.Code, res.Stdout, res.Stderr)
	}
}

// TestDeltaCrashedRunLockTakenOver: hp killed mid-run leaves its lock; the
// lock names the run being published, and the next run on this host takes
// it over at once, saying so.
func TestDeltaCrashedRunLockTakenOver(t *testing.T) {
	t.Parallel() // its own table and directory; it kills only its own hp and plugin
	bin := testkit.Build(t)
	const table = "hp_e2e_dstate_crash"
	deltaTable(t, table, 100)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg." + table, "out.k", "--delta-driver", "updated_at", "--compression", "none"}
	runDelta(t, bin, env, args...)
	pgExec(t, `insert into `+table+` select g, 'more', g, now() + g * interval '1 microsecond' from generate_series(1000, 300000) g`)
	r, plugin := startDelta(t, bin, env, args)
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = syscall.Kill(plugin, syscall.SIGKILL)
	_, _ = r.wait(t)
	data, err := os.ReadFile(filepath.Join(out, "k", "_state.json"))
	if err != nil {
		t.Fatal(err)
	}
	st := parseStateDoc(t, data)
	if st.Lock == nil || st.Lock.PID != r.cmd.Process.Pid {
		t.Fatalf("lock after the crash: %s", data)
	}
	if _, err := os.Stat(filepath.Join(out, "k", st.Lock.RunID)); err != nil {
		t.Fatalf("the lock's run %s is not the run being written: %v", st.Lock.RunID, err)
	}
	res := bin.Run(t, env, append([]string{"cp", "delta", "--output", "json"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("run after the crash: exit %d\n%s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "took over the delta state lock of run "+st.Lock.RunID)
	data, _ = os.ReadFile(filepath.Join(out, "k", "_state.json"))
	if after := parseStateDoc(t, data); after.Lock != nil || after.LastRunID == "" || after.LastRunID == st.LastRunID {
		t.Fatalf("state after the take-over: %s", data)
	}
}

// TestDeltaLambdaLockLapsesWithTheDeadline: a Lambda invocation that
// times out holding the lock leaves a lock that expires with the
// function's deadline, not hours later.
func TestDeltaLambdaLockLapsesWithTheDeadline(t *testing.T) {
	t.Parallel() // its own table and S3 server
	bootstrap, opt := lambdaTree(t)
	const table = "hp_e2e_dstate_lambda"
	deltaTable(t, table, 30)
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	proxy := testkit.StartFaultProxy(t, srv.Endpoint)
	// Long enough for the first invocation to finish on a loaded machine.
	const timeout = 8 * time.Second
	// Once armed, the run hangs on every state write after the one that
	// takes the lock, until it is killed. A state exists by then, so the
	// run never deletes it (a failed first run would).
	var armed atomic.Bool
	statePuts := 0
	proxy.Inject(testkit.Fault{Delay: 2 * timeout, Match: func(r *http.Request) bool {
		if armed.Load() && testkit.IsPut(r) && strings.HasSuffix(r.URL.Path, "_state.json") {
			statePuts++
			return statePuts >= 2
		}
		return false
	}})
	env := append(srv.Env(),
		"HP_12FACTOR_MODE=1", "HP_COMMAND=cp", "HP_SUBCOMMAND=delta", "HP_DELTA_DRIVER=updated_at",
		"HP_SOURCE_DSN="+pgDSN, "HP_SOURCE_OBJECT=public."+table,
		"HP_TARGET_DSN=s3://lake/raw?endpoint="+proxy.URL, "HP_TARGET_OBJECT=orders", "HP_TARGET_S3_REGION="+srv.Region,
		"HP_LOG_LEVEL=warn", "HP_PLUGIN_DIR="+filepath.Join(opt, "hp", "plugins"), "HP_COMPRESSION=none", "HP_REQUIRE_CHECKSUMS=true")
	fn := testkit.StartLambda(t, bootstrap, env, timeout)
	if body, failed := fn.Invoke(t, `{}`); failed {
		t.Fatalf("first invocation: %s", body)
	}
	armed.Store(true)
	started := time.Now()
	if body, _ := fn.Invoke(t, `{}`); !strings.Contains(string(body), "timed out") {
		t.Fatalf("the hanging invocation did not time out: %s", body)
	}
	objs := srv.Objects(t, "lake", "raw/orders/_state.json")
	data, ok := objs["raw/orders/_state.json"]
	if !ok {
		t.Fatalf("no state left after %d state puts: %v", statePuts, keys(srv.Objects(t, "lake", "")))
	}
	st := parseStateDoc(t, data)
	if st.Lock == nil {
		t.Fatalf("no lock left: %s", data)
	}
	if st.Lock.Expires.After(started.Add(timeout+time.Second)) || st.Lock.Expires.Sub(st.Lock.Since) > timeout {
		t.Fatalf("the lock of a %s function expires at %s (since %s, invoked at %s)", timeout, st.Lock.Expires, st.Lock.Since, started)
	}
}
