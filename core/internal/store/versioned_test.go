package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// testVersioned runs the compare-and-swap contract against a store.
func testVersioned(t *testing.T, st Versioned) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := st.GetVersion(ctx, "d/_state.json"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("missing object: %v", err)
	}
	if err := st.PutIfVersion(ctx, "d/_state.json", []byte("one"), ""); err != nil {
		t.Fatal(err)
	}
	if err := st.PutIfVersion(ctx, "d/_state.json", []byte("two"), ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("creating an existing object: %v", err)
	}
	data, v1, err := st.GetVersion(ctx, "d/_state.json")
	if err != nil || string(data) != "one" || v1 == "" {
		t.Fatalf("read %q version %q (%v)", data, v1, err)
	}
	if err := st.PutIfVersion(ctx, "d/_state.json", []byte("two"), v1); err != nil {
		t.Fatal(err)
	}
	if err := st.PutIfVersion(ctx, "d/_state.json", []byte("three"), v1); !errors.Is(err, ErrConflict) {
		t.Fatalf("swap with a stale version: %v", err)
	}
	// Racing writers that read the same version: exactly one wins.
	_, v2, err := st.GetVersion(ctx, "d/_state.json")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.PutIfVersion(ctx, "d/_state.json", []byte(fmt.Sprint("writer ", i)), v2)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrConflict):
			t.Fatalf("racing writer: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racing writers won, want 1", won)
	}
	// A delete with a stale version leaves the object; with the current
	// one it removes it; a missing object is no error.
	if err := st.DeleteIfVersion(ctx, "d/_state.json", v2); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete with a stale version: %v", err)
	}
	data, v3, err := st.GetVersion(ctx, "d/_state.json")
	if err != nil || len(data) == 0 {
		t.Fatalf("the object after a refused delete: %q, %v", data, err)
	}
	if err := st.DeleteIfVersion(ctx, "d/_state.json", v3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.GetVersion(ctx, "d/_state.json"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("after the delete: %v", err)
	}
	if err := st.DeleteIfVersion(ctx, "d/_state.json", v3); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
}

// testDeleteIfVersion checks that a delete is conditional on the version
// read: a stale version fails with ErrConflict and leaves the object as
// another writer left it.
func testDeleteIfVersion(t *testing.T, st Versioned) {
	t.Helper()
	ctx := context.Background()
	const key = "del/_state.json"
	if err := st.PutIfVersion(ctx, key, []byte("mine"), ""); err != nil {
		t.Fatal(err)
	}
	_, mine, err := st.GetVersion(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutIfVersion(ctx, key, []byte("theirs"), mine); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteIfVersion(ctx, key, mine); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete with a stale version: %v", err)
	}
	data, theirs, err := st.GetVersion(ctx, key)
	if err != nil || string(data) != "theirs" {
		t.Fatalf("after a refused delete: %q (%v)", data, err)
	}
	if err := st.DeleteIfVersion(ctx, key, theirs); err != nil {
		t.Fatalf("delete with the current version: %v", err)
	}
	if _, _, err := st.GetVersion(ctx, key); !errors.Is(err, ErrNotExist) {
		t.Fatalf("after delete: %v", err)
	}
	if err := st.DeleteIfVersion(ctx, key, theirs); err != nil {
		t.Fatalf("delete of an object gone: %v", err)
	}
}

func TestLocalDeleteIfVersion(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testDeleteIfVersion(t, l)
}

func TestS3DeleteIfVersion(t *testing.T) {
	s, _, _ := s3Store(t, false, S3Options{})
	testDeleteIfVersion(t, s)
}

func TestLocalVersioned(t *testing.T) {
	l, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testVersioned(t, l)
	if list, _ := l.List(context.Background(), ""); len(list) != 0 {
		t.Fatalf("lock files are listed: %+v", list)
	}
}

func TestS3Versioned(t *testing.T) {
	s, _, _ := s3Store(t, false, S3Options{})
	testVersioned(t, s)
}
