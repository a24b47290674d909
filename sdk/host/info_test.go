package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// askInfo returns the info the plugin at path answers, asking it.
func askInfo(t *testing.T, path string) (digest string, info sdk.Info) {
	t.Helper()
	h := New([]Dir{{Path: filepath.Dir(path)}}, DiscoverOptions{NoInfoFiles: true}, nil)
	defer h.Close()
	ps, err := h.Plugins()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Path == path {
			info, err := h.Info(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			return p.SHA256, info
		}
	}
	t.Fatalf("%s not discovered", path)
	return "", sdk.Info{}
}

func TestInfoFileSparesStarts(t *testing.T) {
	t.Setenv("TESTPLUGIN_DECLARED", "yes")
	dir := t.TempDir()
	bin := install(t, dir, "endless")
	install(t, dir, "other") // the same binary: the file's entry is its too
	digest, info := askInfo(t, bin)

	// Without the file, a new host starts every plugin to find none
	// serving a scheme, and starts endless twice: the first time without
	// the variable it turns out to read.
	h := New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	if _, err := h.ForScheme(context.Background(), "nosuch"); !errors.Is(err, ErrNoPlugin) {
		t.Fatalf("unknown scheme: %v", err)
	}
	h.Close()
	h = New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	if _, err := h.ByName(context.Background(), "endless"); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if h.starts != 2 {
		t.Fatalf("without an info file, endless was started %d times, want 2 (again with its variables)", h.starts)
	}

	if err := WriteInfoFile(filepath.Join(dir, InfoFile+".endless"), map[string]sdk.Info{digest: info}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, InfoFile+".endless")); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("info file: %v, %v; want mode 0644", st, err)
	}
	h = New([]Dir{{Path: dir}}, DiscoverOptions{}, nil)
	defer h.Close()
	if _, err := h.ForScheme(context.Background(), "nosuch"); !errors.Is(err, ErrNoPlugin) {
		t.Fatalf("unknown scheme: %v", err)
	}
	if h.starts != 0 {
		t.Fatalf("with the info file, %d plugins started to find a scheme none serves, want none", h.starts)
	}
	inst, err := h.ForScheme(context.Background(), "endless")
	if err != nil {
		t.Fatal(err)
	}
	if h.starts != 1 {
		t.Fatalf("with the info file, endless was started %d times, want once", h.starts)
	}
	out, err := inst.Check(context.Background(), sdk.Connection{DSN: "endless://"})
	if err != nil || !strings.Contains(out, "TESTPLUGIN_DECLARED=yes") {
		t.Fatalf("started once, the plugin must have the variable it reads: %q, %v", out, err)
	}
}

// An info file decides which plugins are not asked: one that others
// could have written, one of another directory, and entries that
// disagree are not believed.
func TestInfoFileTrust(t *testing.T) {
	root := t.TempDir()
	first, later := filepath.Join(root, "first"), filepath.Join(root, "later")
	bin := install(t, first, "endless")
	digest, _ := askInfo(t, bin)
	forged := map[string]sdk.Info{digest: {Name: "endless", Schemes: []string{"forged"}}}
	write := func(path string, infos map[string]sdk.Info, mode os.FileMode) {
		t.Helper()
		if err := WriteInfoFile(path, infos); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	believed := func(name string, dirs ...string) (log string) {
		t.Helper()
		var buf bytes.Buffer
		ds := make([]Dir, len(dirs))
		for i, d := range dirs {
			ds[i] = Dir{Path: d}
		}
		h := New(ds, DiscoverOptions{}, slog.New(slog.NewTextHandler(&buf, nil)))
		defer h.Close()
		inst, err := h.ForScheme(context.Background(), "endless")
		if err != nil || inst.Plugin.Path != bin {
			t.Errorf("%s: the forged entry was believed: %v", name, err)
		}
		return buf.String()
	}

	// A later directory's file says nothing of the first one's plugin.
	install(t, later, "zzz")
	write(filepath.Join(later, InfoFile), forged, 0o644)
	believed("entry in a later directory", first, later)

	// A file that group or others can write.
	write(filepath.Join(first, InfoFile), forged, 0o664)
	if log := believed("file others can write", first); !strings.Contains(log, "plugin info file not used") || !strings.Contains(log, "chmod go-w") {
		t.Errorf("the file's refusal was not logged: %s", log)
	}

	// Two files that disagree about the digest: the plugin is asked.
	write(filepath.Join(first, InfoFile), map[string]sdk.Info{digest: {Name: "endless", Schemes: []string{"endless"}}}, 0o644)
	write(filepath.Join(first, InfoFile+".x"), forged, 0o644)
	believed("conflicting files", first)

	// Not JSON: logged, and the plugins are asked.
	if err := os.Remove(filepath.Join(first, InfoFile+".x")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(first, InfoFile), []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if log := believed("malformed file", first); !strings.Contains(log, fmt.Sprintf("plugin info file %s not used", filepath.Join(first, InfoFile))) {
		t.Errorf("the malformed file was not logged: %s", log)
	}
}

func TestIsInfoFile(t *testing.T) {
	for name, want := range map[string]bool{"PLUGININFO": true, "PLUGININFO.postgres": true, "PLUGININFO.": false, "PLUGININFOS": false, "plugininfo": false, "SHA256SUMS": false, "PLUGININFO.a/b": false} {
		if got := IsInfoFile(name); got != want {
			t.Errorf("IsInfoFile(%q) = %v, want %v", name, got, want)
		}
	}
}
