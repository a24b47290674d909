package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// slowView is a view of table whose every query (bounds and reads) first
// sleeps, so that a test can act while a delta holds the state.
func slowView(t *testing.T, table, view string, sleep time.Duration) {
	t.Helper()
	pgExec(t, fmt.Sprintf(`create or replace view %s as select t.* from %s t, (select pg_sleep(%g)) s`, view, table, sleep.Seconds()))
	t.Cleanup(func() { _ = exec.Command("psql", pgDSN, "-qc", "drop view if exists "+view).Run() })
}

type stateDoc struct {
	HighWaterMark string `json:"high_water_mark"`
	LastRunID     string `json:"last_run_id"`
	Lock          *struct {
		RunID string `json:"run_id"`
		PID   int    `json:"pid"`
	} `json:"lock"`
}

func readStateDoc(path string) (*stateDoc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s stateDoc
	return &s, json.Unmarshal(data, &s)
}

// startLocked starts a delta and waits until its lock is in the state.
func startLocked(t *testing.T, bin *testkit.Binaries, env, args []string, statePath string) (*runningHP, *stateDoc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := bin.Command(ctx, t, env, append([]string{"cp", "delta", "--compression", "none"}, args...)...)
	r := &runningHP{cancel: cancel, cmd: cmd}
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s, err := readStateDoc(statePath); err == nil && s.Lock != nil {
			return r, s
		}
	}
	t.Fatalf("no lock in %s after 30s: %s", statePath, r.stderr.String())
	return nil, nil
}

// TestDeltaCrashedRunsLockIsTakenOver: the lock of a run killed on this
// host is taken over by the next run, which says so; nothing waits hours.
func TestDeltaCrashedRunsLockIsTakenOver(t *testing.T) {
	bin := testkit.Build(t)
	const table = "hp_e2e_dstate_crash"
	deltaTable(t, table, 100)
	slowView(t, table, table+"_v", 2*time.Second)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg.public." + table + "_v", "out.c", "--delta-driver", "updated_at"}
	statePath := filepath.Join(out, "c", "_state.json")

	r, s := startLocked(t, bin, env, args, statePath)
	kids := children(r.cmd.Process.Pid)
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	r.wait(t)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	if s.Lock.PID != r.cmd.Process.Pid {
		t.Fatalf("the lock names pid %d, hp was %d", s.Lock.PID, r.cmd.Process.Pid)
	}
	res := bin.Run(t, env, append([]string{"cp", "delta", "--compression", "none"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("the run after a crash: exit %d\n%s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "took over the lock", s.Lock.RunID, "is gone")
	after, err := readStateDoc(statePath)
	if err != nil || after.Lock != nil || after.HighWaterMark == "" {
		t.Fatalf("state after the run: %+v (%v)", after, err)
	}
}

// TestDeltaStateIsBoundToItsSource: a delta of another table into the same
// target is refused, saying how to reset; a misspelt driver is reported as
// such, without suggesting a reset; hp state show names the source.
func TestDeltaStateIsBoundToItsSource(t *testing.T) {
	bin := testkit.Build(t)
	const a, b = "hp_e2e_dstate_src_a", "hp_e2e_dstate_src_b"
	deltaTable(t, a, 50)
	deltaTable(t, b, 80)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	if s := runDelta(t, bin, env, "pg.public."+a, "out.same", "--delta-driver", "updated_at"); s.Rows != 50 {
		t.Fatalf("first run: %+v", s)
	}
	res := bin.Run(t, env, "cp", "delta", "pg.public."+b, "out.same", "--delta-driver", "updated_at")
	if res.Code == 0 {
		t.Fatalf("a delta of another table into the same target was accepted:\n%s%s", res.Stdout, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, "kept for source pg.public."+a, "pg.public."+b, "hp state reset out.same --yes")

	res = bin.Run(t, env, "cp", "delta", "pg.public."+a, "out.same", "--delta-driver", "updated_att")
	if res.Code == 0 || !strings.Contains(res.Stderr, "--delta-driver updated_att is not a column") || strings.Contains(res.Stderr, "reset") {
		t.Fatalf("a misspelt driver: exit %d\n%s", res.Code, res.Stderr)
	}
	res = bin.Run(t, env, "state", "show", "out.same")
	if res.Code != 0 || !strings.Contains(res.Stdout, "source:           pg.public."+a) {
		t.Fatalf("hp state show: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

// TestDeltaPublishedButStateNotSaved: when the state cannot be saved after
// the run was published, the error says the run was published under the
// id its lock named, that the mark did not move, and what the next run
// does; it does not claim that nothing was committed.
func TestDeltaPublishedButStateNotSaved(t *testing.T) {
	bin := testkit.Build(t)
	const table = "hp_e2e_dstate_unsaved"
	deltaTable(t, table, 100)
	slowView(t, table, table+"_v", 1500*time.Millisecond)
	out := t.TempDir()
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OUT_DSN=" + out}
	args := []string{"pg.public." + table + "_v", "out.u", "--delta-driver", "updated_at", "--primary-keys", "id"}
	statePath := filepath.Join(out, "u", "_state.json")

	r, s := startLocked(t, bin, env, args, statePath)
	// The state becomes unwritable: a directory where the file was.
	if err := os.Remove(statePath); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(statePath, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _ := r.wait(t)
	stderr := r.stderr.String()
	if code == 0 {
		t.Fatalf("exit 0 although the state was not saved:\n%s", stderr)
	}
	ms := findManifests(t, out)
	if len(ms) != 1 {
		t.Fatalf("%d manifests published", len(ms))
	}
	raw, _ := os.ReadFile(ms[0])
	var m manifestDoc
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.RunID != s.Lock.RunID {
		t.Errorf("the lock named run %s, the published run is %s", s.Lock.RunID, m.RunID)
	}
	testkit.Contains(t, "stderr", stderr, "run "+m.RunID+" was published", "high-water mark was not advanced",
		"the next run extracts updated_at in", "deduplicate the overlap by the primary keys (id)")
	if strings.Contains(stderr, "nothing of it was committed") || strings.Contains(stderr, "nothing was") {
		t.Errorf("the error claims nothing was committed:\n%s", stderr)
	}
}

// TestDeltaLambdaLockLapsesWithTheDeadline: a delta killed by Lambda at
// its deadline leaves a lock that ends with that deadline, so the next
// invocation takes it over instead of waiting hours.
func TestDeltaLambdaLockLapsesWithTheDeadline(t *testing.T) {
	bootstrap, opt := lambdaTree(t)
	const table = "hp_e2e_dstate_lambda"
	deltaTable(t, table, 200)
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	proxy := testkit.StartFaultProxy(t, srv.Endpoint)
	env := append(srv.Env(),
		"HP_12FACTOR_MODE=1", "HP_COMMAND=cp", "HP_SUBCOMMAND=delta",
		"HP_SOURCE_DSN="+pgDSN, "HP_SOURCE_OBJECT=public."+table, "HP_DELTA_DRIVER=updated_at",
		"HP_TARGET_DSN=s3://lake/raw?endpoint="+proxy.URL, "HP_TARGET_OBJECT=orders", "HP_TARGET_S3_REGION="+srv.Region,
		"HP_LOG_LEVEL=warn", "HP_PLUGIN_DIR="+filepath.Join(opt, "hp", "plugins"), "HP_COMPRESSION=none")
	const timeout = 4 * time.Second
	fn := testkit.StartLambda(t, bootstrap, env, timeout)

	// The data upload, and the clean-up that follows its failure at the
	// deadline, outlast the function: Lambda kills it with its lock held.
	proxy.Inject(testkit.Fault{Match: func(r *http.Request) bool { return isCSVPut(r) || r.Method == http.MethodDelete }, Delay: 3 * timeout})
	started := time.Now()
	if body, failed := fn.Invoke(t, `{}`); !failed && !strings.Contains(string(body), "timed out") {
		t.Fatalf("the invocation outlasting its timeout succeeded: %s", body)
	}
	proxy.Clear()
	raw, ok := srv.Objects(t, "lake", "raw/orders/_state.json")["raw/orders/_state.json"]
	if !ok {
		t.Fatalf("no state left by the killed invocation: %v (%d requests)\n%s", keys(srv.Objects(t, "lake", "")), proxy.Requests(), fn.Output())
	}
	var left struct {
		Lock *struct {
			Expires time.Time `json:"expires"`
		} `json:"lock"`
	}
	if err := json.Unmarshal(raw, &left); err != nil || left.Lock == nil {
		t.Fatalf("the killed invocation left no lock (%v):\n%s", err, raw)
	}
	if limit := started.Add(timeout + 2*time.Second); left.Lock.Expires.After(limit) {
		t.Fatalf("the lock expires at %s, after the invocation's deadline (about %s)", left.Lock.Expires, limit)
	}
	body, failed := fn.Invoke(t, `{}`)
	var s lambdaSummary
	if err := json.Unmarshal(body, &s); failed || err != nil || s.Rows != 200 {
		t.Fatalf("the invocation after the deadline: %s", body)
	}
}
