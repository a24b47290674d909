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

func TestLocalFailedRunLeavesNoDirectories(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewLocal(filepath.Join(dir, "root"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "keep.txt", []byte("k")); err != nil {
		t.Fatal(err)
	}
	o, err := s.Create(ctx, "orders/run1/part-0.csv")
	if err != nil {
		t.Fatal(err)
	}
	_ = o.Abort(ctx)
	if _, err := os.Stat(filepath.Join(dir, "root/orders")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("aborted file left its directories: %v", err)
	}

	for _, k := range []string{"t/run2/a.csv", "t/run2/b.csv"} {
		if err := s.Put(ctx, k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "t/run2/a.csv"); err != nil {
		t.Fatal(err)
	}
	if data, err := s.Get(ctx, "t/run2/b.csv"); err != nil || string(data) != "x" {
		t.Fatalf("a sibling was lost: %q %v", data, err)
	}
	if err := s.Delete(ctx, "t/run2/b.csv"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "root/t")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("deleted run left its directories: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "root/keep.txt")); err != nil {
		t.Fatalf("the root's own files: %v", err)
	}
}

func TestLocalCreateSurvivesAConcurrentPrune(t *testing.T) {
	ctx := context.Background()
	s, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				o, err := s.Create(ctx, "shared/dir/f.csv")
				if err != nil {
					errs <- err
					return
				}
				_ = o.Abort(ctx)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
