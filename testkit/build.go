package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Binaries are built hp and plugin executables.
type Binaries struct {
	// HP is the hp executable.
	HP string
	// PluginDir holds hp-plugin-<name> for each plugin asked for and
	// their SHA256SUMS, as make build writes it.
	PluginDir string
	// cacheDir is the XDG_CACHE_HOME of every run (Command): the plugin
	// info cache of one test process, so that a run finds the plugin of a
	// scheme without starting every plugin before it, as a user's second
	// run does. A test that sets XDG_CACHE_HOME or HP_CACHE_DIR overrides it.
	cacheDir string
}

var (
	buildMu    sync.Mutex
	buildCache = map[string]*Binaries{}
	buildRoot  string
	// built maps a package (./core/cmd/hp, ./plugins/<name>) to its
	// executable in buildRoot/exe: each is linked once per test process,
	// whatever sets of plugins the tests ask for.
	built = map[string]string{}
	// sums maps an executable of built to its sha256, hex.
	sums = map[string]string{}
)

// RepoRoot returns the repository root (the directory of go.work).
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// FindRepoRoot is RepoRoot for code without a test, such as a TestMain.
func FindRepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		return "", fmt.Errorf("cannot find the workspace root (go env GOWORK: %q, %v)", out, err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// Build compiles hp and the named plugins (all under plugins/ when none
// are named) once per test process, into a temporary directory that
// Cleanup removes at process exit. Each set of plugins gets a directory of
// its own holding exactly those plugins, as hard links to executables
// linked once; the missing ones of a call are linked by one go build per
// cgo setting, which links them in parallel.
func Build(t testing.TB, plugins ...string) *Binaries {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	root := RepoRoot(t)
	if len(plugins) == 0 {
		matches, _ := filepath.Glob(filepath.Join(root, "plugins", "*", "main.go"))
		for _, m := range matches {
			plugins = append(plugins, filepath.Base(filepath.Dir(m)))
		}
	}
	key := strings.Join(plugins, ",")
	if b, ok := buildCache[key]; ok {
		return b
	}
	if buildRoot == "" {
		dir, err := os.MkdirTemp("", "hp-testkit-bin")
		if err != nil {
			t.Fatal(err)
		}
		buildRoot = dir
	}
	pkgs := []string{"./core/cmd/hp"}
	for _, p := range plugins {
		pkgs = append(pkgs, "./plugins/"+p)
	}
	buildMissing(t, root, pkgs)
	dir := filepath.Join(buildRoot, fmt.Sprint(len(buildCache)))
	b := &Binaries{HP: filepath.Join(dir, "hp"), PluginDir: filepath.Join(dir, "plugins"), cacheDir: filepath.Join(buildRoot, "cache")}
	link(t, built["./core/cmd/hp"], b.HP)
	var sumsFile strings.Builder
	for _, p := range plugins {
		exe := built["./plugins/"+p]
		link(t, exe, filepath.Join(b.PluginDir, "hp-plugin-"+p))
		if sums[exe] == "" {
			sums[exe] = fileSHA256(t, exe)
		}
		fmt.Fprintf(&sumsFile, "%s  hp-plugin-%s\n", sums[exe], p)
	}
	if err := os.WriteFile(filepath.Join(b.PluginDir, "SHA256SUMS"), []byte(sumsFile.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	buildCache[key] = b
	return b
}

// buildMissing links the packages of pkgs not yet in built, except those
// HP_TEST_BIN_DIR holds: `make test` sets it to the directory `make build`
// has just filled (hp, plugins/hp-plugin-<name>), so the tests run those
// executables instead of linking every one again.
func buildMissing(t testing.TB, root string, pkgs []string) {
	t.Helper()
	prebuilt := os.Getenv("HP_TEST_BIN_DIR")
	byCgo := map[string][]string{}
	for _, pkg := range pkgs {
		if _, ok := built[pkg]; ok {
			continue
		}
		if exe := prebuiltExe(prebuilt, pkg); exe != "" {
			built[pkg] = exe
			continue
		}
		cgo := cgoEnabled(root, pkg)
		byCgo[cgo] = append(byCgo[cgo], pkg)
	}
	for _, cgo := range []string{"0", "1"} {
		if len(byCgo[cgo]) == 0 {
			continue
		}
		if cgo == "1" {
			// A C driver's headers and libraries come from Debian packages.
			debs := exec.Command(filepath.Join(root, "scripts", "debs.sh"))
			if msg, err := debs.CombinedOutput(); err != nil {
				t.Fatalf("scripts/debs.sh: %v\n%s", err, msg)
			}
		}
		// go build names each executable after its package's directory.
		// Without symbol table and DWARF (as make build) the links take
		// about a third less CPU; build info and stack traces remain.
		out := filepath.Join(buildRoot, "exe", "cgo"+cgo) + string(filepath.Separator)
		cmd := exec.Command("go", append([]string{"build", "-ldflags=-s -w", "-o", out}, byCgo[cgo]...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", strings.Join(byCgo[cgo], " "), err, msg)
		}
		for _, pkg := range byCgo[cgo] {
			built[pkg] = filepath.Join(out, filepath.Base(pkg))
		}
	}
}

// prebuiltExe is pkg's executable in dir, "" when dir is "" or lacks it.
func prebuiltExe(dir, pkg string) string {
	if dir == "" {
		return ""
	}
	exe := filepath.Join(dir, "hp")
	if name, ok := strings.CutPrefix(pkg, "./plugins/"); ok {
		exe = filepath.Join(dir, "plugins", "hp-plugin-"+name)
	}
	if !isFile(exe) {
		return ""
	}
	return exe
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// link makes to a hard link of from (a copy where links fail).
func link(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Link(from, to) == nil {
		return
	}
	data, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, data, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// cgoEnabled is "1" for a plugin whose directory holds a file named CGO
// (it wraps a C driver) and "0" for hp and every other plugin.
func cgoEnabled(root, pkg string) string {
	if _, err := os.Stat(filepath.Join(root, pkg, "CGO")); err == nil {
		return "1"
	}
	return "0"
}

// Cleanup removes everything Build made. Call it from TestMain after m.Run.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildRoot != "" {
		_ = os.RemoveAll(buildRoot)
		buildRoot = ""
		buildCache = map[string]*Binaries{}
		built = map[string]string{}
		sums = map[string]string{}
	}
}

// TB is the part of testing.TB the service helpers use, so programs such
// as benchmarks can start services too.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	TempDir() string
	Cleanup(func())
}

// InCI reports whether tests run in CI, where missing services fail.
func InCI() bool { return os.Getenv("CI") == "true" }

// NeedService fails the test in CI and skips it elsewhere when a service
// is missing, naming the service and why.
func NeedService(t TB, service string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required in CI: %v", service, err)
	}
	t.Skipf("%s unavailable: %v", service, err)
}

// ClientFailed reports a failed run of a database's command-line client
// (psql, mariadb) with its output: a client or server that is not there
// is a missing service (see NeedService); anything else, such as an SQL
// error in the test's own statements, fails the test.
func ClientFailed(t TB, service string, err error, output string) {
	t.Helper()
	var exit *exec.ExitError
	unreachable := errors.Is(err, exec.ErrNotFound) ||
		(errors.As(err, &exit) && exit.ExitCode() == 2 && strings.Contains(output, "connection")) ||
		strings.Contains(output, "Can't connect") || strings.Contains(output, "could not connect")
	if unreachable {
		NeedService(t, service, fmt.Errorf("%v: %s", err, output))
		return
	}
	t.Fatalf("%s: %v: %s", service, err, output)
}

// ModuleEnv is the environment of a go command building a module outside
// this repository's workspace: GOWORK=off, and -mod=mod (go.sum filled in
// from the module cache, as `go mod tidy` would) added to the caller's
// GOFLAGS, whose build tags keep the build cache shared with the tests'.
func ModuleEnv() []string {
	return append(os.Environ(), "GOWORK=off", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
}
