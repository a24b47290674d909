package manifest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// memStore serves List and Get from a map; a nil value is an object that
// vanishes between List and Get.
type memStore struct {
	store.Store
	objects map[string][]byte
	getErr  error
}

func (s *memStore) List(_ context.Context, prefix string) ([]store.ObjectInfo, error) {
	var out []store.ObjectInfo
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, store.ObjectInfo{Key: k})
		}
	}
	return out, nil
}

func (s *memStore) Get(_ context.Context, key string) ([]byte, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	if s.objects[key] == nil {
		return nil, store.ErrNotExist
	}
	return s.objects[key], nil
}

func (s *memStore) URL(key string) string { return "mem://" + key }

func doc(t *testing.T, id string, start time.Time) []byte {
	t.Helper()
	data, err := (&Manifest{Version: Version, RunID: id, Mode: "snap", StartedAt: start}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFindSortsByStartAndSkipsVanished(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &memStore{objects: map[string][]byte{
		"x/b/_manifest.json":                    doc(t, "b", t0.Add(time.Minute)),
		"x/a/_manifest.json":                    doc(t, "a", t0.Add(time.Hour)),
		"x-20260101T000000.manifest.json":       doc(t, "h", t0),
		"x/bad/_manifest.json":                  []byte("{}"),
		"x/gone/_manifest.json":                 nil,
		"x/a/part-00001.csv.gz":                 []byte("data"),
		"xy/c/_manifest.json":                   doc(t, "c", t0),
		"xy-20260101T000000.manifest.json":      doc(t, "d", t0),
		"x-other-20260101T000000.manifest.json": doc(t, "e", t0),
	}}
	found, err := Find(context.Background(), st, "x")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range found {
		if p.Err != nil {
			got = append(got, "error:"+p.Key)
			continue
		}
		got = append(got, p.Manifest.RunID)
	}
	if strings.Join(got, " ") != "h b a error:x/bad/_manifest.json" {
		t.Fatalf("found %v", got)
	}
	if found[0].URL != "mem://x-20260101T000000.manifest.json" {
		t.Errorf("URL = %q", found[0].URL)
	}

	st.getErr = errors.New("access denied")
	if _, err := Find(context.Background(), st, "x"); err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Fatalf("err = %v", err)
	}
}
