package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// A plugin merely named after a scheme must not win over one found
// earlier in discovery order that serves it.
func TestForSchemeFollowsDiscoveryOrder(t *testing.T) {
	root := t.TempDir()
	first, later := filepath.Join(root, "first"), filepath.Join(root, "later")
	want := install(t, first, "aaa")
	install(t, later, "endless")
	h := New([]Dir{{Path: first, Origin: "one"}, {Path: later, Origin: "two"}}, DiscoverOptions{}, nil)
	defer h.Close()
	inst, err := h.ForScheme(context.Background(), "endless")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Plugin.Path != want {
		t.Fatalf("scheme served by %s, want %s (first in discovery order)", inst.Plugin.Path, want)
	}
}

func TestDiscoverRefusesWhatOthersCanWrite(t *testing.T) {
	root := t.TempDir()
	clean := filepath.Join(root, "clean")
	install(t, clean, "ok")
	looseDir := filepath.Join(root, "loosedir")
	install(t, looseDir, "indir")
	if err := os.Chmod(looseDir, 0o775); err != nil {
		t.Fatal(err)
	}
	looseSums := filepath.Join(root, "loosesums")
	bin := install(t, looseSums, "bysums")
	digest, err := fileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	sums := filepath.Join(looseSums, SumsFile)
	if err := os.WriteFile(sums, []byte(digest+"  hp-plugin-bysums\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sums, 0o666); err != nil {
		t.Fatal(err)
	}
	dirs := []Dir{{Path: clean}, {Path: looseDir}, {Path: looseSums}}
	var foreign string
	if os.Geteuid() == 0 {
		dir := filepath.Join(root, "foreign")
		foreign = install(t, dir, "foreign")
		if err := os.Chown(foreign, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, Dir{Path: dir})
	} else {
		t.Log("not root: cannot give a binary to another user; that case is not checked")
	}
	ps, err := Discover(dirs, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ok":      "",
		"indir":   "chmod go-w " + looseDir,
		"bysums":  "chmod go-w " + sums,
		"foreign": "chown " + strconv.Itoa(os.Geteuid()) + " " + foreign,
	}
	if len(ps) != len(dirs) {
		t.Fatalf("found %+v", ps)
	}
	for _, p := range ps {
		w := want[p.Name]
		switch {
		case w == "" && p.Refused != nil:
			t.Errorf("%s refused: %v", p.Name, p.Refused)
		case w != "" && (!errors.Is(p.Refused, ErrRefused) || !strings.Contains(p.Refused.Error(), w)):
			t.Errorf("%s: %v, want a refusal saying %q", p.Name, p.Refused, w)
		}
	}
	// Nor may a host run them.
	h := New(dirs, DiscoverOptions{}, nil)
	defer h.Close()
	if _, err := h.ByName(context.Background(), "indir"); !errors.Is(err, ErrRefused) {
		t.Fatalf("launching from a directory others can write: %v", err)
	}
}

func TestStaleSocketDirsRemoved(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := dead.Process.Pid
	tmp := os.TempDir()
	mk := func(name string) string {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(p, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(p) })
		return p
	}
	stale := mk(fmt.Sprintf("hp-plugin-%d-%d", pid, time.Now().UnixNano()))
	live := mk(fmt.Sprintf("hp-plugin-%d-%d", os.Getppid(), time.Now().UnixNano()))
	other := mk(fmt.Sprintf("hp-plugin-notapid-%d", time.Now().UnixNano()))
	var foreign string
	if os.Geteuid() == 0 {
		foreign = mk(fmt.Sprintf("hp-plugin-%d-%d", pid, time.Now().UnixNano()+1))
		if err := os.Chown(foreign, 12345, 12345); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	install(t, dir, "endless")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	inst, err := h.ByName(context.Background(), "endless")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory of dead pid %d left: %v", pid, err)
	}
	for _, keep := range []string{live, other, foreign} {
		if _, err := os.Stat(keep); keep != "" && err != nil {
			t.Errorf("%s removed: %v", keep, err)
		}
	}
	if want := fmt.Sprintf("hp-plugin-%d-", os.Getpid()); !strings.HasPrefix(filepath.Base(inst.sockDir), want) {
		t.Errorf("socket directory %s is not named %s<random>", inst.sockDir, want)
	}
}

func TestPluginEnvironment(t *testing.T) {
	t.Setenv("TESTPLUGIN_DECLARED", "yes")
	t.Setenv("TESTPLUGIN_PREFIX_ONE", "one")
	t.Setenv("TESTPLUGIN_UNDECLARED", "no")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-for-plugins")
	t.Setenv("LC_TIME", "C")
	t.Setenv("TZ", "UTC")
	dir := t.TempDir()
	install(t, dir, "endless")
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	inst, err := h.ByName(context.Background(), "endless")
	if err != nil {
		t.Fatal(err)
	}
	out, err := inst.Check(context.Background(), sdk.Connection{DSN: "endless://"})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, want := range map[string]string{"TESTPLUGIN_DECLARED": "yes", "TESTPLUGIN_PREFIX_ONE": "one", "LC_TIME": "C", "TZ": "UTC", "PATH": os.Getenv("PATH")} {
		if env[k] != want {
			t.Errorf("plugin has %s=%q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"TESTPLUGIN_UNDECLARED", "AWS_SECRET_ACCESS_KEY"} {
		if v, ok := env[k]; ok {
			t.Errorf("plugin was given %s=%q, which it did not declare", k, v)
		}
	}
}

func TestCacheSparesStarts(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "endless")
	install(t, dir, "other")
	cache := filepath.Join(t.TempDir(), "cache")
	opts := DiscoverOptions{CacheDir: cache}
	h := New([]Dir{{Path: dir}}, opts, nil)
	if _, err := h.ForScheme(context.Background(), "endless"); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if h.starts != 1 {
		t.Fatalf("first lookup started %d plugins, want 1", h.starts)
	}
	// A new host (a later hp run) answers from the cache.
	h = New([]Dir{{Path: dir}}, opts, nil)
	defer h.Close()
	if _, err := h.ForScheme(context.Background(), "nosuch"); !errors.Is(err, ErrNoPlugin) {
		t.Fatalf("unknown scheme: %v", err)
	}
	ps, err := h.Plugins()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		info, err := h.Info(context.Background(), p)
		if err != nil || info.Name != "endless" || !slices.Contains(info.Schemes, "endless") {
			t.Fatalf("info of %s: %+v, %v", p.Name, info, err)
		}
	}
	// other is the same binary as endless: its digest is cached too.
	if h.starts != 0 {
		t.Fatalf("with the cache, %d plugins started, want none", h.starts)
	}
	for path, want := range map[string]os.FileMode{cache: 0o700, filepath.Join(cache, CacheFile): 0o600} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", path, st.Mode(), err, want)
		}
	}
}

func TestCacheMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	bin := install(t, dir, "endless")
	digest, err := fileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	// A forged entry saying the plugin serves nothing would hide it.
	forged := fmt.Sprintf(`{%q: {"name": "endless", "schemes": ["forged"]}}`, digest)
	for _, tc := range []struct {
		name             string
		dirMode, fileMod os.FileMode
	}{
		{"directory others can write", 0o777, 0o600},
		{"file others can write", 0o700, 0o666},
	} {
		cache := filepath.Join(t.TempDir(), "cache")
		if err := os.Mkdir(cache, 0o700); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(cache, CacheFile)
		if err := os.WriteFile(file, []byte(forged), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, tc.fileMod); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(cache, tc.dirMode); err != nil {
			t.Fatal(err)
		}
		h := New([]Dir{{Path: dir}}, DiscoverOptions{CacheDir: cache}, nil)
		inst, err := h.ForScheme(context.Background(), "endless")
		if err != nil || inst.Plugin.Path != bin {
			t.Errorf("%s: the forged cache was believed: %v", tc.name, err)
		}
		h.Close()
		if data, _ := os.ReadFile(file); string(data) != forged {
			t.Errorf("%s: hp wrote to a cache others can write: %s", tc.name, data)
		}
	}
}
