package store

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// OpenObject opens the store of one object given by ref: a path, or a URL
// (file:///dir/x.json, s3://bucket/dir/x.json?endpoint=...). The store is
// ref's directory, with the URL's query parameters; the key its last
// element. A ref naming no file is sdk.ErrInvalidArgument.
func OpenObject(ctx context.Context, ref string, s3 S3Options) (Store, string, error) {
	var dir, key string
	if u, err := url.Parse(ref); err == nil && u.Scheme != "" {
		i := strings.LastIndexByte(u.Path, '/')
		key, u.Path = u.Path[i+1:], u.Path[:max(i, 0)]
		dir = u.String()
		if u.Scheme == "file" && u.Host == "" && u.Path == "" {
			dir = "file:///"
		}
	} else {
		dir, key = filepath.Dir(ref), filepath.Base(ref)
	}
	if key == "" || key == "." || key == "/" {
		return nil, "", sdk.InvalidArgumentf("%q names no file", sdk.MaskDSN(ref))
	}
	st, err := Open(ctx, dir, nil, s3)
	if err != nil {
		return nil, "", err
	}
	return st, key, nil
}
