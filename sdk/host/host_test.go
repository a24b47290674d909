package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// testPlugin builds internal/testplugin once per test process.
func testPlugin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hp-host-test")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "testplugin")
		out, err := exec.Command("go", "build", "-o", built, "./internal/testplugin").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// install copies the test plugin into dir as hp-plugin-<name>.
func install(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(testPlugin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, BinaryPrefix+name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultDirsOrder(t *testing.T) {
	env := map[string]string{"HP_PLUGIN_DIR": "/a:/b", "XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}
	dirs := DefaultDirs(func(k string) string { return env[k] }, "/usr/local/bin/hp")
	var got []string
	for _, d := range dirs {
		got = append(got, d.Path)
	}
	want := []string{"/a", "/b", "/usr/local/bin/plugins", "/xdg/halfpipe/plugins", "/opt/hp/plugins", "/opt"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("dirs = %v, want %v", got, want)
	}
	delete(env, "XDG_DATA_HOME")
	dirs = DefaultDirs(func(k string) string { return env[k] }, "")
	if dirs[2].Path != "/home/u/.local/share/halfpipe/plugins" {
		t.Fatalf("without XDG_DATA_HOME: %v", dirs[2])
	}
}

func TestDiscoverShadowingAndChecksums(t *testing.T) {
	root := t.TempDir()
	first, second := filepath.Join(root, "first"), filepath.Join(root, "second")
	install(t, first, "alpha")
	install(t, second, "alpha")
	beta := install(t, second, "beta")
	gamma := install(t, second, "gamma")
	digest, err := fileSHA256(beta)
	if err != nil {
		t.Fatal(err)
	}
	sums := fmt.Sprintf("%s  hp-plugin-alpha\n%s  hp-plugin-beta\n%s  hp-plugin-gamma\n", digest, digest, strings.Repeat("0", 64))
	if err := os.WriteFile(filepath.Join(second, SumsFile), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	// Tamper with gamma's entry: its SHA256SUMS line no longer matches.
	_ = gamma
	ps, err := Discover([]Dir{{Path: first, Origin: "one"}, {Path: filepath.Join(root, "missing")}, {Path: second, Origin: "two"}}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 4 {
		t.Fatalf("found %d plugins: %+v", len(ps), ps)
	}
	byKey := map[string]Plugin{}
	for _, p := range ps {
		byKey[p.Dir.Origin+"/"+p.Name] = p
	}
	if p := byKey["one/alpha"]; p.Shadowed || p.Checksum != ChecksumNoFile || p.Refused != nil {
		t.Errorf("one/alpha = %+v", p)
	}
	if p := byKey["two/alpha"]; !p.Shadowed || p.Checksum != ChecksumVerified {
		t.Errorf("two/alpha = %+v", p)
	}
	if p := byKey["two/beta"]; p.Checksum != ChecksumVerified || p.Refused != nil {
		t.Errorf("two/beta = %+v", p)
	}
	p := byKey["two/gamma"]
	if p.Checksum != ChecksumMismatch || !errors.Is(p.Refused, ErrRefused) || !strings.Contains(p.Refused.Error(), "hp-plugin-gamma") {
		t.Errorf("two/gamma = %+v", p)
	}

	// With checksums required, a plugin without an entry is refused.
	ps, _ = Discover([]Dir{{Path: first, Origin: "one"}}, DiscoverOptions{RequireChecksums: true})
	if len(ps) != 1 || !errors.Is(ps[0].Refused, ErrRefused) || !strings.Contains(ps[0].Refused.Error(), "--require-checksums") {
		t.Errorf("required checksums: %+v", ps)
	}
}

// Lambda merges every layer into /opt, so each plugin layer brings its own
// SHA256SUMS.<name>; a directory's checksums are the union of them all.
func TestDiscoverPerPackageSumsFiles(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "alpha")
	install(t, dir, "beta")
	gamma := install(t, dir, "gamma")
	install(t, dir, "delta")
	digest, err := fileSHA256(gamma)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("SHA256SUMS.alpha", digest+"  hp-plugin-alpha\n")
	write("SHA256SUMS.beta", digest+"  hp-plugin-beta\n")
	// A mismatching digest in a per-package file.
	write("SHA256SUMS.gamma", wrong+"  hp-plugin-gamma\n")
	// delta is listed twice with different digests: which one is right?
	write(SumsFile, digest+"  hp-plugin-delta\n"+digest+"  hp-plugin-alpha\n")
	write("SHA256SUMS.delta", "# stale\n"+wrong+"  *hp-plugin-delta\n")
	// A detached signature is not a checksum file.
	write("SHA256SUMS.asc", "-----BEGIN PGP SIGNATURE-----\nnot a checksum line\n")

	ps, err := Discover([]Dir{{Path: dir, Origin: "layers"}}, DiscoverOptions{RequireChecksums: true})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Plugin{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	if len(byName) != 4 {
		t.Fatalf("found %+v", ps)
	}
	// alpha is listed in SHA256SUMS and SHA256SUMS.alpha with the same digest: no conflict.
	for _, name := range []string{"alpha", "beta"} {
		if p := byName[name]; p.Checksum != ChecksumVerified || p.Refused != nil {
			t.Errorf("%s = %+v", name, p)
		}
	}
	p := byName["gamma"]
	if p.Checksum != ChecksumMismatch || !errors.Is(p.Refused, ErrRefused) ||
		!strings.Contains(p.Refused.Error(), "does not match its SHA256SUMS.gamma entry") {
		t.Errorf("gamma = %+v", p)
	}
	p = byName["delta"]
	if p.Checksum != ChecksumConflict || !errors.Is(p.Refused, ErrRefused) {
		t.Fatalf("delta = %+v", p)
	}
	for _, want := range []string{"hp-plugin-delta", "conflicting", "SHA256SUMS line 1", "SHA256SUMS.delta line 2", wrong, digest} {
		if !strings.Contains(p.Refused.Error(), want) {
			t.Errorf("conflict error %q does not mention %q", p.Refused, want)
		}
	}

	// A malformed checksum file refuses every plugin of its directory.
	write("SHA256SUMS.broken", "not a checksum line\n")
	ps, err = Discover([]Dir{{Path: dir}}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if !errors.Is(p.Refused, ErrRefused) || !strings.Contains(p.Refused.Error(), "SHA256SUMS.broken line 1") {
			t.Errorf("%s with a malformed checksum file: %v", p.Name, p.Refused)
		}
	}
}

func TestDiscoverRefusesWritableBinary(t *testing.T) {
	dir := t.TempDir()
	p := install(t, dir, "loose")
	if err := os.Chmod(p, 0o777); err != nil {
		t.Fatal(err)
	}
	ps, err := Discover([]Dir{{Path: dir}}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Refused == nil || !strings.Contains(ps[0].Refused.Error(), "writable") {
		t.Fatalf("world-writable plugin not refused: %+v", ps)
	}
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	if _, err := h.ByName(context.Background(), "loose"); !errors.Is(err, ErrRefused) {
		t.Fatalf("launching a refused plugin: %v", err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		_ = os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestKilledPluginFailsReadQuickly(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "endless")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	inst, err := h.ForScheme(context.Background(), "endless")
	if err != nil {
		t.Fatal(err)
	}
	rr, err := inst.Read(context.Background(), sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatalf("no first batch: %v", rr.Err())
	}
	pid := inst.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for rr.Next() {
	}
	err = rr.Err()
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("read went on after the plugin was killed")
	}
	if elapsed > time.Second+500*time.Millisecond {
		t.Fatalf("took %v to notice the dead plugin", elapsed)
	}
	var exit *ExitError
	if !errors.As(err, &exit) || !errors.Is(err, ErrPluginExited) {
		t.Fatalf("error is not an ExitError: %v", err)
	}
	if !strings.Contains(err.Error(), `plugin "endless"`) || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("error does not name the plugin and its fate: %v", err)
	}
	if alive(pid) {
		t.Fatalf("plugin %d still alive", pid)
	}
}

func TestCrashingPluginReportsStatusAndOutput(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "crasher")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	inst, err := h.ByName(context.Background(), "crasher")
	if err != nil {
		t.Fatal(err)
	}
	rr, err := inst.Read(context.Background(), sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "x"}}})
	if err == nil {
		for rr.Next() {
		}
		err = rr.Err()
		rr.Release()
	}
	if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(err.Error(), "panic: simulated crash") {
		t.Fatalf("crash error = %v", err)
	}
}

func TestProtocolMismatch(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "future")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	_, err := h.ByName(context.Background(), "future")
	if err == nil || !strings.Contains(err.Error(), "speaks connector protocol 2") || !strings.Contains(err.Error(), "this hp speaks 1") {
		t.Fatalf("version mismatch error = %v", err)
	}
}

func TestCloseStopsPlugins(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "endless")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	inst, err := h.ByName(context.Background(), "endless")
	if err != nil {
		t.Fatal(err)
	}
	pid := inst.Pid()
	// The socket sits in a directory only this user can enter: the
	// plugin connection carries no TLS.
	rc := inst.client.ReattachConfig()
	if rc == nil || rc.Addr.Network() != "unix" || filepath.Dir(rc.Addr.String()) != inst.sockDir {
		t.Fatalf("plugin socket %v, want one in %s", rc, inst.sockDir)
	}
	if st, err := os.Stat(inst.sockDir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory: %v, %v", st, err)
	}
	h.Close()
	if _, err := os.Stat(inst.sockDir); !os.IsNotExist(err) {
		t.Errorf("socket directory left after Close: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// A zombie still answers kill(0); reaped means gone.
	if alive(pid) {
		t.Fatalf("plugin %d survived Close", pid)
	}
}

// TestHostChecksDigestsAtLaunch: a Host starting a plugin hashes only
// that one, and refuses a listed plugin whose binary does not match its
// entry when it is launched, with the same message as discovery gives.
func TestHostChecksDigestsAtLaunch(t *testing.T) {
	dir := t.TempDir()
	good := install(t, dir, "good")
	bad := install(t, dir, "bad")
	digest, err := fileSHA256(good)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)
	sums := fmt.Sprintf("%s  hp-plugin-good\n%s  hp-plugin-bad\n", digest, wrong)
	if err := os.WriteFile(filepath.Join(dir, SumsFile), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	ps, err := h.usable()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Checksum != ChecksumAtLaunch || p.Refused != nil {
			t.Errorf("before launch: %+v", p)
		}
	}
	if _, err := h.ByName(context.Background(), "good"); err != nil {
		t.Fatalf("listed plugin with its digest: %v", err)
	}
	_, err = h.ByName(context.Background(), "bad")
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), bad+" does not match its SHA256SUMS entry (line 2: want "+wrong+", have "+digest+")") {
		t.Fatalf("listed plugin with a wrong digest: %v", err)
	}
	// Looking for a scheme, a plugin refused at launch is passed over and
	// named, as one refused at discovery is.
	_, err = h.ForScheme(context.Background(), "bad")
	if !errors.Is(err, ErrNoPlugin) || !strings.Contains(err.Error(), bad+" does not match its SHA256SUMS entry") {
		t.Fatalf("scheme of a plugin with a wrong digest: %v", err)
	}
	// Listing hashes every plugin.
	ps, err = h.Plugins()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if want := map[string]ChecksumStatus{"good": ChecksumVerified, "bad": ChecksumMismatch}[p.Name]; p.Checksum != want {
			t.Errorf("listed: %s is %q, want %q", p.Name, p.Checksum, want)
		}
	}
}

func TestForSchemeUnknown(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "endless")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	_, err := h.ForScheme(context.Background(), "oracle")
	if !errors.Is(err, ErrNoPlugin) || !strings.Contains(err.Error(), `"oracle"`) {
		t.Fatalf("unknown scheme: %v", err)
	}
}

// TestConcurrentLaunchesShareOnePlugin: jobs of one hp (hp pipe) launching
// the same plugin at once get one process, which Close then stops.
func TestConcurrentLaunchesShareOnePlugin(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "shared")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	insts := make([]*Instance, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range insts {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			insts[i], errs[i] = h.ByName(context.Background(), "shared")
		}(i)
	}
	wg.Wait()
	for i := range insts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if insts[i] != insts[0] {
			t.Fatalf("launch %d got another instance (pid %d, want %d)", i, insts[i].Pid(), insts[0].Pid())
		}
	}
	h.mu.Lock()
	starts := h.starts
	h.mu.Unlock()
	if starts != 1 {
		t.Fatalf("%d plugin processes started for 8 concurrent launches, want 1", starts)
	}
	pid := insts[0].Pid()
	h.Close()
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		t.Fatalf("shared plugin %d survived Close", pid)
	}
}
