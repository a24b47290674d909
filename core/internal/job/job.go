// Package job turns resolved connections into running plugins and stores:
// the glue every data-moving command shares.
package job

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Builtin stores are served by hp itself, not by plugins.
var builtinStores = []string{"file", "s3", "stdout"}

// IsStore reports whether a connection is a built-in store.
func IsStore(c config.Connection) bool { return slices.Contains(builtinStores, c.Scheme) }

// typeAliases maps connection type names users write (HP_<NAME>_TYPE,
// --source-type) to plugin names.
var typeAliases = map[string]string{
	"sqlserver": "mssql", "postgresql": "postgres", "pg": "postgres", "mariadb": "mysql", "sqlite3": "sqlite",
}

// CheckType compares a declared type (a --*-type flag, else the
// connection's HP_<NAME>_TYPE or file type) with the plugin or store that
// serves the connection.
func CheckType(c config.Connection, declared, served string, schemes []string) error {
	if declared == "" {
		declared = c.Type
	}
	if declared == "" {
		return nil
	}
	d := strings.ToLower(declared)
	if a, ok := typeAliases[d]; ok {
		d = a
	}
	if d == served || slices.Contains(schemes, d) {
		return nil
	}
	return sdk.InvalidArgumentf("connection %q is declared as type %q but its DSN (%s) is served by %q", c.Name, declared, sdk.MaskDSN(c.DSN), served)
}

// Source starts the plugin that serves a source connection and checks that
// it can read.
func Source(ctx context.Context, h *host.Host, c config.Connection, declaredType string) (*host.Instance, error) {
	if IsStore(c) {
		return nil, fmt.Errorf("connection %q (%s) is a %s target, not a database to read from", c.Name, sdk.MaskDSN(c.DSN), c.Scheme)
	}
	inst, err := h.ForScheme(ctx, c.Scheme)
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", c.Name, err)
	}
	if err := CheckType(c, declaredType, inst.Info.Name, inst.Info.Schemes); err != nil {
		return nil, err
	}
	if err := c.Bind(inst.Info); err != nil {
		return nil, err
	}
	if !inst.Info.Has(sdk.CapRead) {
		return nil, fmt.Errorf("connection %q: the %s connector cannot be read from: %w", c.Name, inst.Info.Name, sdk.ErrUnimplemented)
	}
	return inst, nil
}

// OpenStore opens a built-in store target.
func OpenStore(ctx context.Context, c config.Connection, declaredType string, out io.Writer, s3 store.S3Options) (store.Store, error) {
	if err := CheckType(c, declaredType, c.Scheme, nil); err != nil {
		return nil, err
	}
	s3.ConnRegion = c.S3Region
	s, err := store.Open(ctx, c.DSN, out, s3)
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", c.Name, err)
	}
	return s, nil
}

// OpenStateURL opens the store and key of a state object given by URL
// (file:///dir/state.json, s3://bucket/dir/state.json?endpoint=..., or a
// path): the URL's directory, with its query parameters, and its last
// element.
func OpenStateURL(ctx context.Context, raw string, s3 store.S3Options) (store.Store, string, error) {
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
