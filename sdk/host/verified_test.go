package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVerifiedBinariesAreNotHashedAgain: a listed binary verified at a
// launch is not hashed at the next while its file is unchanged, is hashed
// again once the file was written (even with the same bytes), and a
// changed binary is still refused. A file changed within racyWindow of
// its verification is not recorded.
func TestVerifiedBinariesAreNotHashedAgain(t *testing.T) {
	dir := t.TempDir()
	good := install(t, dir, "good")
	digest, err := fileSHA256(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), []byte(digest+"  hp-plugin-good\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	// launch is one hp run: a new host, one launch; it returns the
	// binaries hashed.
	launch := func(what string) (int64, error) {
		t.Helper()
		before := hashes.Load()
		h := New([]Dir{{Path: dir}}, DiscoverOptions{CacheDir: cache}, nil)
		defer h.Close()
		_, err := h.ByName(context.Background(), "good")
		return hashes.Load() - before, err
	}
	want := func(what string, hashed int64) {
		t.Helper()
		if n, err := launch(what); err != nil || n != hashed {
			t.Fatalf("%s: %d binaries hashed (%v), want %d", what, n, err, hashed)
		}
	}
	want("just installed", 1)
	want("still within the racy window", 1)
	defer func(w time.Duration) { racyWindow = w }(racyWindow)
	racyWindow = 0
	want("verified before", 1)
	want("unchanged since verified", 0)
	want("unchanged since verified, again", 0)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, data, 0o755); err != nil {
		t.Fatal(err)
	}
	want("rewritten with the same bytes", 1)
	want("unchanged since", 0)
	if err := os.WriteFile(good, append(data, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := launch("changed")
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "does not match its SHA256SUMS entry") || n == 0 {
		t.Fatalf("a changed binary: %d hashed, %v", n, err)
	}
	// A record others could write is not believed.
	if err := os.WriteFile(good, data, 0o755); err != nil {
		t.Fatal(err)
	}
	want("restored", 1)
	rec := filepath.Join(cache, VerifiedFile)
	if err := os.Chmod(rec, 0o666); err != nil {
		t.Fatal(err)
	}
	want("record writable by others", 1)
	if st, err := os.Stat(rec); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the record is rewritten private: %v, %v", st.Mode(), err)
	}
	want("record private again", 0)
}
