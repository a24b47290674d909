package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

type listed struct {
	Name, Version, Path, Origin, Checksum, Status, Error string
	Schemes, Capabilities                                []string
	SchemesShadowed                                      []string `json:"schemes_shadowed"`
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// TestPluginsListDiscoveryOrder installs plugins in every discovery
// location hp can be pointed at and checks the order, shadowing and that a
// tampered binary is refused.
func TestPluginsListDiscoveryOrder(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	gen := filepath.Join(bin.PluginDir, "hp-plugin-gen")
	root := t.TempDir()
	first, second := filepath.Join(root, "first"), filepath.Join(root, "second")
	exeDir := filepath.Join(root, "bin")
	data := filepath.Join(root, "data")
	copyFile(t, bin.HP, filepath.Join(exeDir, "hp"), 0o755)
	copyFile(t, gen, filepath.Join(first, "hp-plugin-gen"), 0o755)
	copyFile(t, gen, filepath.Join(second, "hp-plugin-alpha"), 0o755)
	copyFile(t, gen, filepath.Join(exeDir, "plugins", "hp-plugin-beta"), 0o755)
	copyFile(t, gen, filepath.Join(exeDir, "plugins", "hp-plugin-gen"), 0o755)
	copyFile(t, gen, filepath.Join(data, "halfpipe", "plugins", "hp-plugin-gamma"), 0o755)
	// A SHA256SUMS whose entry for gamma no longer matches: tampered.
	if err := os.WriteFile(filepath.Join(data, "halfpipe", "plugins", "SHA256SUMS"), []byte(strings.Repeat("ab", 32)+"  hp-plugin-gamma\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(exeDir, "hp"), "plugins", "list", "--output", "json")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root, "XDG_DATA_HOME=" + data, "HP_PLUGIN_DIR=" + first + ":" + second}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hp plugins list: %v", err)
	}
	var got []listed
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var order []string
	for _, p := range got {
		order = append(order, fmt.Sprintf("%s@%s:%s", p.Name, p.Origin, p.Status))
	}
	want := []string{"gen@HP_PLUGIN_DIR:ok", "alpha@HP_PLUGIN_DIR:ok", "beta@hp executable:ok", "gen@hp executable:shadowed", "gamma@user data:refused"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("discovery order\n got %v\nwant %v", order, want)
	}
	if got[0].Version == "" || len(got[0].Schemes) == 0 || len(got[0].Capabilities) == 0 {
		t.Errorf("gen was not asked for its info: %+v", got[0])
	}
	// alpha and beta are gen under other names: gen's scheme stays with the first.
	for _, i := range []int{1, 2} {
		if strings.Join(got[i].SchemesShadowed, ",") != "gen" || !strings.Contains(got[i].Error, "served by "+filepath.Join(first, "hp-plugin-gen")) {
			t.Errorf("%s does not show its scheme shadowed: %+v", got[i].Name, got[i])
		}
	}
	if len(got[0].SchemesShadowed) != 0 {
		t.Errorf("the first plugin of a scheme is shadowed: %+v", got[0])
	}
	if !strings.Contains(got[4].Error, "does not match its SHA256SUMS entry") || got[4].Checksum != "MISMATCH" {
		t.Errorf("tampered plugin: %+v", got[4])
	}
	// The refused plugin cannot be used.
	res := bin.Run(t, []string{"HP_PLUGIN_DIR=" + filepath.Join(data, "halfpipe", "plugins"), "HP_G_DSN=gamma://x", "HP_OUT_DSN=" + root}, "cp", "snap", "g.narrow", "out.x")
	if res.Code != 2 || !strings.Contains(res.Stderr, "hp-plugin-gamma") {
		t.Fatalf("using a refused plugin: exit %d\n%s", res.Code, res.Stderr)
	}
	// The text listing shows the same.
	res = bin.Run(t, nil, "plugins", "list")
	testkit.Contains(t, "plugins list", res.Stdout, "NAME", "gen", "sqlite", bin.PluginDir)
}

// TestExampleConnector builds the example of docs/writing-a-connector.md
// outside the workspace, against the SDK alone, runs its tests, and uses
// it through hp.
func TestExampleConnector(t *testing.T) {
	t.Parallel() // its own directory
	bin := testkit.Build(t)
	root := testkit.RepoRoot(t)
	dir := t.TempDir()
	src := filepath.Join(root, "examples", "greetings")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyFile(t, filepath.Join(src, e.Name()), filepath.Join(dir, e.Name()), 0o644)
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	gomod = []byte(strings.ReplaceAll(string(gomod), "=> ../../sdk", "=> "+filepath.Join(root, "sdk")))
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644); err != nil {
		t.Fatal(err)
	}
	plugins := t.TempDir()
	// go test -vet=off: go vet has just run every check, and go test's
	// own subset of them would analyse every dependency again.
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-vet=off", "-count=1", "./..."}, {"build", "-o", filepath.Join(plugins, "hp-plugin-greetings"), "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = testkit.ModuleEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v outside the workspace: %v\n%s", args, err, out)
		}
	}
	out := t.TempDir()
	res := bin.Run(t, []string{"HP_PLUGIN_DIR=" + plugins, "HP_HI_DSN=greetings://?rows=20", "HP_OUT_DSN=" + out}, "cp", "snap", "hi.greetings", "out.g", "--format", "csv", "--compression", "none")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	if m.TotalRows != 20 {
		t.Fatalf("%d rows", m.TotalRows)
	}
	text, _ := os.ReadFile(filepath.Join(out, m.Files[0].Path))
	if !strings.HasPrefix(string(text), "id,greeting\n1,bonjour #1\n") || !strings.Contains(string(text), "\n7,\n") {
		t.Fatalf("unexpected output:\n%s", text)
	}
}

// TestSchemeHijack puts a plugin named after the postgresql scheme in a
// directory later in discovery order than the real postgres plugin: the
// DSN (and its password) must go to the real one, and the impostor must
// never run.
func TestSchemeHijack(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	marker := filepath.Join(root, "impostor-ran")
	fake := fmt.Sprintf("#!/bin/sh\nenv > %s\nexit 1\n", marker)
	if err := os.MkdirAll(filepath.Join(data, "halfpipe", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "halfpipe", "plugins", "hp-plugin-postgresql"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	dsn := strings.Replace(pgDSN, "postgres://postgres@", "postgresql://postgres:hijack-secret@", 1)
	res := bin.Run(t, []string{"XDG_DATA_HOME=" + data, "HP_PG_DSN=" + dsn, "HP_OUTPUT=json"}, "query", "pg", "select 42 as answer")
	if res.Code != 0 || !strings.Contains(res.Stdout, "42") {
		t.Fatalf("query through the real plugin: exit %d\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}
	if data, err := os.ReadFile(marker); err == nil {
		t.Fatalf("the impostor plugin ran; it saw:\n%s", data)
	}
	// --plugin-dir wins over HP_PLUGIN_DIR: with only the impostor's
	// directory, nothing else is found first.
	res = bin.Run(t, []string{"HP_PLUGIN_DIR=" + root}, "--plugin-dir", bin.PluginDir, "plugins", "list", "--output", "json")
	testkit.Contains(t, "plugins list --plugin-dir", res.Stdout, filepath.Join(bin.PluginDir, "hp-plugin-postgres"))
}

// TestPluginSandbox checks what a plugin is given: not hp's secrets, only
// a minimal environment; and that hp removes the socket directory a
// killed hp left behind.
func TestPluginSandbox(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	root := t.TempDir()
	plugins := filepath.Join(root, "plugins")
	marker := filepath.Join(root, "env")
	script := fmt.Sprintf("#!/bin/sh\nenv > %s\nexit 1\n", marker)
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plugins, "hp-plugin-envdump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(os.TempDir(), fmt.Sprintf("hp-plugin-%d-42", dead.Process.Pid))
	if err := os.MkdirAll(filepath.Join(stale, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stale) })
	res := bin.Run(t, []string{"HP_PLUGIN_DIR=" + plugins, "HP_X_DSN=xyz://u:sandbox-secret@h/db", "AWS_SECRET_ACCESS_KEY=sandbox-aws", "LC_ALL=C"},
		"query", "x", "select 1")
	if res.Code == 0 {
		t.Fatalf("a plugin that cannot start served the query:\n%s", res.Stdout)
	}
	env, err := os.ReadFile(marker)
	if err != nil {
		t.Fatalf("the plugin was not started: %v\n%s", err, res.Stderr)
	}
	for _, secret := range []string{"sandbox-secret", "sandbox-aws", "HP_"} {
		if strings.Contains(string(env), secret) {
			t.Errorf("the plugin's environment contains %q:\n%s", secret, env)
		}
	}
	testkit.Contains(t, "plugin environment", string(env), "PATH=", "LC_ALL=C")
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale socket directory %s left: %v", stale, err)
	}
}

// TestPluginsIndex: hp plugins index writes what each plugin serves, and
// a run with an empty cache then starts only the plugin it needs; for
// binaries that cannot run here, --info-from asks builds of the same
// plugins instead.
func TestPluginsIndex(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	root := t.TempDir()
	dir, cross := filepath.Join(root, "plugins"), filepath.Join(root, "cross")
	for _, p := range []string{"gen", "sqlite"} {
		copyFile(t, filepath.Join(bin.PluginDir, "hp-plugin-"+p), filepath.Join(dir, "hp-plugin-"+p), 0o755)
	}
	copyFile(t, bin.HP, filepath.Join(root, "bin", "hp"), 0o755) // no plugins beside it
	hp := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(root, "bin", "hp"), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "HP_PLUGIN_DIR=" + dir, "HP_G_DSN=gen://", "HP_G_ROWS=3"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := hp("plugins", "index", dir); err != nil || !strings.Contains(out, "wrote "+filepath.Join(dir, "PLUGININFO")+": 2 plugin(s)") {
		t.Fatalf("hp plugins index: %v\n%s", err, out)
	}
	out, err := hp("plugins", "list", "--log-level", "debug")
	if err != nil || strings.Contains(out, `msg="plugin started"`) || !strings.Contains(out, "sqlite") {
		t.Fatalf("listing with the info file, an empty cache: %v; want no plugin started\n%s", err, out)
	}
	out, err = hp("cp", "snap", "g.narrow", "stdout", "--format", "csv", "--compression", "none", "--log-level", "debug")
	if err != nil {
		t.Fatalf("hp cp snap: %v\n%s", err, out)
	}
	if started := pluginsStarted(out); strings.Join(started, " ") != "gen" {
		t.Errorf("a first run started %v, want gen once:\n%s", started, out)
	}

	// A binary that cannot run here (a script that fails, standing in for
	// another architecture's) is indexed from the plugin of its name.
	if err := os.MkdirAll(cross, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cross, "hp-plugin-sqlite"), []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := hp("plugins", "index", cross); err == nil || !strings.Contains(out, "hp-plugin-sqlite") {
		t.Fatalf("indexing a binary that does not run: %v, want an error naming it\n%s", err, out)
	}
	if out, err := hp("plugins", "index", "--file", "PLUGININFO.sqlite", "--info-from", dir, cross); err != nil {
		t.Fatalf("hp plugins index --info-from: %v\n%s", err, out)
	}
	var f struct {
		Plugins map[string]struct {
			Name    string
			Schemes []string
		}
	}
	data, err := os.ReadFile(filepath.Join(cross, "PLUGININFO.sqlite"))
	if err != nil || json.Unmarshal(data, &f) != nil {
		t.Fatalf("PLUGININFO.sqlite: %v\n%s", err, data)
	}
	sum := sha256.Sum256([]byte("#!/bin/sh\nexit 3\n"))
	if e, ok := f.Plugins[hex.EncodeToString(sum[:])]; len(f.Plugins) != 1 || !ok || e.Name != "sqlite" || !slices.Contains(e.Schemes, "sqlite") {
		t.Errorf("PLUGININFO.sqlite = %s, want sqlite's info under the script's digest", data)
	}
	if out, err := hp("plugins", "index", "--file", "plugins.json", dir); err == nil || !strings.Contains(out, "want PLUGININFO or PLUGININFO.<suffix>") {
		t.Errorf("--file plugins.json: %v\n%s", err, out)
	}
}

// startedLine is hp's debug line for a plugin process started (with the
// version; go-plugin logs one without).
var startedLine = regexp.MustCompile(`msg="plugin started" plugin=(\w+) .* version=`)

// pluginsStarted lists the plugins a debug log shows started, once per
// process.
func pluginsStarted(log string) []string {
	var out []string
	for _, m := range startedLine.FindAllStringSubmatch(log, -1) {
		out = append(out, m[1])
	}
	return out
}
