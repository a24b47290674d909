// Package registry resolves a connection to what serves it: one of hp's
// built-in stores (store.Kinds), or the plugin whose Info.Schemes holds
// the connection's scheme. Nothing here knows a plugin by name: a plugin
// answers for the schemes it declares, and a declared connection type
// (--source-type, HP_<NAME>_TYPE) matches the plugin's name or any of its
// schemes.
package registry

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// IsStore reports whether a connection is served by a built-in store.
func IsStore(c config.Connection) bool { return store.IsScheme(c.Scheme) }

// CheckType compares a declared type (a --*-type flag, else the
// connection's HP_<NAME>_TYPE or file type) with the store or plugin that
// serves the connection: its name or one of its schemes.
func CheckType(c config.Connection, declared, served string, schemes []string) error {
	if declared == "" {
		declared = c.Type
	}
	if declared == "" {
		return nil
	}
	d := strings.ToLower(declared)
	if d == served || slices.Contains(schemes, d) {
		return nil
	}
	return sdk.InvalidArgumentf("connection %q is declared as type %q but its DSN (%s) is served by %q", c.Name, declared, sdk.MaskDSN(c.DSN), served)
}

// Plugin starts the plugin that serves a database connection, checks the
// declared type, binds the connection's options to the connector's spec
// (config.Connection.Bind), and checks that the connector has the capability (CapRead for a
// source, CapWrite for a target); what names the use in errors ("read
// from", "written to").
func Plugin(ctx context.Context, h *host.Host, c config.Connection, declaredType string, capability sdk.Capability) (*host.Instance, error) {
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
	if !inst.Info.Has(capability) {
		use := map[sdk.Capability]string{sdk.CapRead: "be read from", sdk.CapWrite: "be written to", sdk.CapListObjects: "list its tables",
			sdk.CapDescribe: "describe a table", sdk.CapCheck: "check its connection", sdk.CapPlanTable: "plan tables"}[capability]
		if use == "" {
			use = "do " + string(capability)
		}
		return nil, fmt.Errorf("connection %q: the %s connector cannot %s: %w", c.Name, inst.Info.Name, use, sdk.ErrUnimplemented)
	}
	return inst, nil
}

// Source starts the plugin that serves a source connection and checks that
// it can read.
func Source(ctx context.Context, h *host.Host, c config.Connection, declaredType string) (*host.Instance, error) {
	return Plugin(ctx, h, c, declaredType, sdk.CapRead)
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
