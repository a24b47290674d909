package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLocalCommitAbortAndConditionalPut(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Create(ctx, "a/b/file.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = o.Write([]byte("hello"))
	if _, err := os.Stat(filepath.Join(dir, "a/b/file.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("object visible before Commit")
	}
	if list, _ := s.List(ctx, ""); len(list) != 0 {
		t.Fatalf("temporary file listed: %v", list)
	}
	if err := o.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if data, _ := s.Get(ctx, "a/b/file.csv"); string(data) != "hello" {
		t.Fatalf("content %q", data)
	}
	o2, _ := s.Create(ctx, "a/b/gone.csv")
	_, _ = o2.Write([]byte("x"))
	_ = o2.Abort(ctx)
	entries, _ := os.ReadDir(filepath.Join(dir, "a/b"))
	if len(entries) != 1 {
		t.Fatalf("abort left files: %v", entries)
	}
	// A committed object is never overwritten by another Create+Commit.
	o3, _ := s.Create(ctx, "a/b/file.csv")
	_, _ = o3.Write([]byte("other"))
	if err := o3.Commit(ctx); !errors.Is(err, ErrExists) {
		t.Fatalf("second commit: %v", err)
	}
	var wg sync.WaitGroup
	wins := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if s.PutIfAbsent(ctx, "m/_manifest.json", []byte{byte('0' + i)}) == nil {
				wins <- i
			}
		}(i)
	}
	wg.Wait()
	close(wins)
	if len(wins) != 1 {
		t.Fatalf("%d concurrent PutIfAbsent calls won", len(wins))
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := s.Create(ctx, "../escape"); err == nil {
		t.Fatal("key escaping the root accepted")
	}
	if !strings.HasPrefix(s.URL("a/b/file.csv"), "file:///") {
		t.Fatalf("URL %q", s.URL("a/b/file.csv"))
	}
}

func TestLocalErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	_ = os.WriteFile(blocker, nil, 0o644)
	s, _ := NewLocal(blocker)
	_, err := s.Create(context.Background(), "x/y.csv")
	if err == nil || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("error %v does not name %s", err, blocker)
	}
}
