package delta

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Location is where the delta state of one target object is kept.
type Location struct {
	Store store.Versioned
	Key   string
	URL   string
}

// Locate finds the state of the object <prefix>/<object> of the target
// store: beside its files (<prefix>/<object>/_state.json), or at stateURL
// (--state) when given. target names the target in errors.
func Locate(ctx context.Context, st store.Store, target, prefix, object, stateURL string, s3 store.S3Options) (*Location, error) {
	key := strings.TrimPrefix(prefix+"/"+object+"/"+StateFile, "/")
	if stateURL != "" {
		var err error
		if st, key, err = openStateURL(ctx, stateURL, s3); err != nil {
			return nil, err
		}
		target = "--state " + sdk.MaskDSN(stateURL)
	}
	vst, ok := st.(store.Versioned)
	if !ok {
		return nil, sdk.InvalidArgumentf("%s cannot keep delta state", target)
	}
	return &Location{Store: vst, Key: key, URL: st.URL(key)}, nil
}

// openStateURL opens the store and key of a state object given by URL
// (file:///dir/state.json, s3://bucket/dir/state.json?endpoint=..., or a
// path): the URL's directory, with its query parameters, and its last
// element.
func openStateURL(ctx context.Context, raw string, s3 store.S3Options) (store.Store, string, error) {
	var dir, key string
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		i := strings.LastIndexByte(u.Path, '/')
		key, u.Path = u.Path[i+1:], u.Path[:max(i, 0)]
		dir = u.String()
		if u.Scheme == "file" && u.Host == "" && u.Path == "" {
			dir = "file:///"
		}
	} else {
		dir, key = filepath.Dir(raw), filepath.Base(raw)
	}
	if key == "" || key == "." || key == "/" {
		return nil, "", sdk.InvalidArgumentf("--state %q names no object: give the state file's URL, e.g. s3://bucket/states/orders.json", sdk.MaskDSN(raw))
	}
	st, err := store.Open(ctx, dir, nil, s3)
	if err != nil {
		return nil, "", fmt.Errorf("--state: %w", err)
	}
	return st, key, nil
}
