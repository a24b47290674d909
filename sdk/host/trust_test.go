package host

import (
	"context"
	"path/filepath"
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
