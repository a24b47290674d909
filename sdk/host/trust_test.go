package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
