package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestOpenObject(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, ref := range []string{filepath.Join(dir, "sub", "x.json"), "file://" + filepath.Join(dir, "sub", "x.json")} {
		st, key, err := OpenObject(ctx, ref, S3Options{})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if key != "x.json" || st.URL(key) != "file://"+filepath.Join(dir, "sub", "x.json") {
			t.Errorf("%s: key %q, URL %q", ref, key, st.URL(key))
		}
	}
	st, key, err := OpenObject(ctx, "s3://bucket/states/orders.json?region=eu-west-1", S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	if key != "orders.json" || !strings.HasPrefix(st.URL(key), "s3://bucket/states/orders.json") {
		t.Errorf("s3: key %q, URL %q", key, st.URL(key))
	}
	for _, ref := range []string{"s3://bucket/dir/", "file:///", "/"} {
		if _, _, err := OpenObject(ctx, ref, S3Options{}); !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "names no file") {
			t.Errorf("%q: %v, want names no file", ref, err)
		}
	}
}
