package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// children returns the pids whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err == nil && !bytes.Contains(stat, []byte(") Z"))
}

// startSnap starts a long snapshot and waits until data is being written.
func startSnap(t *testing.T, bin *testkit.Binaries, out string) (*runningHP, int) {
	t.Helper()
	r := startHP(t, bin, []string{"HP_GEN_DSN=gen://?rows=500000000", "HP_OUT_DSN=" + out}, 2*time.Minute, "cp", "snap", "gen.narrow", "out.big", "--format", "csv", "--compression", "none")
	cmd := r.cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if len(allFiles(t, out)) > 0 {
			if kids := children(cmd.Process.Pid); len(kids) == 1 {
				return r, kids[0]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no data written after 30s: %s", r.stderr.String())
	return nil, 0
}

type runningHP struct {
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	stdout, stderr bytes.Buffer
}

// startHP starts hp in the background; it is killed after timeout.
func startHP(t *testing.T, bin *testkit.Binaries, env []string, timeout time.Duration, args ...string) *runningHP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := bin.Command(ctx, t, env, args...)
	r := &runningHP{cmd: cmd, cancel: cancel}
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	return r
}

// until polls found until it returns something, failing the test if hp
// exits first or a minute passes; what completes "hp never ...".
func (r *runningHP) until(t *testing.T, what string, found func() string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if v := found(); v != "" {
			return v
		}
		if !alive(r.cmd.Process.Pid) || time.Now().After(deadline) {
			_, _ = r.wait(t)
			t.Fatalf("hp never %s: %s", what, r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *runningHP) wait(t *testing.T) (int, time.Duration) {
	start := time.Now()
	err := r.cmd.Wait()
	r.cancel()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return code, time.Since(start)
}

func assertNothingPublished(t *testing.T, out string) {
	t.Helper()
	if files := allFiles(t, out); len(files) != 0 {
		t.Fatalf("a failed run left files behind: %v", files)
	}
}

func TestKilledPluginFailsTheRunAndLeavesNothing(t *testing.T) {
	bin := testkit.Build(t, "gen") // serial (it times hp): link no more than it runs
	out := t.TempDir()
	r, plugin := startSnap(t, bin, out)
	if err := syscall.Kill(plugin, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	code, took := r.wait(t)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, r.stderr.String())
	}
	if took > 3*time.Second {
		t.Errorf("hp took %v to fail after its plugin died", took)
	}
	testkit.Contains(t, "stderr", r.stderr.String(), `plugin "gen"`, "killed", "nothing was published")
	assertNothingPublished(t, out)
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	bin := testkit.Build(t, "gen") // serial (it times hp): link no more than it runs
	out := t.TempDir()
	r, plugin := startSnap(t, bin, out)
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, took := r.wait(t)
	if code == 0 {
		t.Fatalf("exit 0 after SIGTERM\n%s", r.stderr.String())
	}
	if took > 5*time.Second {
		t.Errorf("hp took %v to stop", took)
	}
	testkit.Contains(t, "stderr", r.stderr.String(), "nothing was published")
	assertNothingPublished(t, out)
	deadline := time.Now().Add(3 * time.Second)
	for alive(plugin) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(plugin) {
		t.Fatalf("plugin %d outlived hp", plugin)
	}
}

func TestUnwritableTarget(t *testing.T) {
	t.Parallel() // its own directory
	bin := testkit.Build(t)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := bin.Run(t, []string{"HP_GEN_DSN=gen://?rows=1000", "HP_OUT_DSN=" + blocker}, "cp", "snap", "gen.narrow", "out.x")
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1: %s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, blocker, "nothing was published")
	if files := allFiles(t, dir); len(files) != 1 {
		t.Fatalf("files left: %v", files)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel() // its own directory
	bin := testkit.Build(t)
	out := t.TempDir()
	const secret = "Sup3rSecretPw"
	base := []string{"HP_GEN_DSN=gen://?rows=10", "HP_OUT_DSN=" + out}
	cases := []struct {
		name  string
		env   []string
		args  []string
		names []string
	}{
		{"malformed DSN", []string{"HP_PG_DSN=postgres://bob:" + secret + "@db:notaport/app"}, []string{"cp", "snap", "pg.t", "out.x"}, []string{`"pg"`}},
		{"unknown connection", nil, []string{"cp", "snap", "nope.t", "out.x"}, []string{`"nope"`, "HP_NOPE_DSN", "hp config connections add"}},
		{"unknown table", nil, []string{"cp", "snap", "gen.no_such_table", "out.x"}, []string{"no_such_table"}},
		{"unknown format", nil, []string{"cp", "snap", "gen.narrow", "out.x", "--format", "xml"}, []string{`"xml"`, "csv, parquet or jsonl"}},
		{"unknown compression", nil, []string{"cp", "snap", "gen.narrow", "out.x", "--compression", "lzma"}, []string{`"lzma"`}},
		{"scheme nobody serves", []string{"HP_DB2_DSN=db2://scott:" + secret + "@db/sample"}, []string{"cp", "snap", "db2.t", "out.x"}, []string{`"db2"`, "hp plugins list"}},
		{"bad boolean", []string{"HP_CSV_HEADER=yes"}, []string{"cp", "snap", "gen.narrow", "out.x"}, []string{"HP_CSV_HEADER", "true, false, 1 or 0"}},
		{"unknown flag", nil, []string{"cp", "snap", "gen.narrow", "out.x", "--bogus"}, []string{"--bogus"}},
		{"missing argument", nil, []string{"cp", "snap", "gen.narrow"}, []string{"source and a target"}},
		{"declared type mismatch", []string{"HP_GEN_TYPE=sqlserver"}, []string{"cp", "snap", "gen.narrow", "out.x"}, []string{`"sqlserver"`, `"gen"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := bin.Run(t, append(append([]string{}, base...), tc.env...), tc.args...)
			if res.Code != 2 {
				t.Fatalf("exit %d, want 2\n%s", res.Code, res.Stderr)
			}
			testkit.Contains(t, "stderr", res.Stderr, tc.names...)
			if strings.Contains(res.Stderr+res.Stdout, secret) {
				t.Fatalf("password printed:\n%s", res.Stderr)
			}
		})
	}
	assertNothingPublished(t, out)
}
