package cliutil

import (
	"context"
	"io"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// OpenPrefix resolves the <conn>.<prefix> argument of commands that read
// published runs (hp runs, hp verify) as hp cp snap resolves its target,
// and returns the store and the prefix inside it (no leading or trailing
// slash; "" for "<conn>" or "<conn>./", the whole store).
func OpenPrefix(ctx context.Context, conns *config.Store, arg string, out io.Writer, s3 store.S3Options) (store.Store, string, error) {
	name, prefix, _ := strings.Cut(arg, ".")
	if name == "" {
		return nil, "", UsageErrorf("%q is not <connection>[.<prefix>] (e.g. out or lake.orders)", arg)
	}
	c, err := conns.Resolve(name)
	if err != nil {
		return nil, "", UsageErrorf("%v", err)
	}
	if !registry.IsStore(c) || c.Scheme == "stdout" {
		return nil, "", UsageErrorf("connection %q (%s) is not a file or s3 target: published runs live in a directory or bucket", c.Name, sdk.MaskDSN(c.DSN))
	}
	st, err := registry.OpenStore(ctx, c, "", out, s3)
	if err != nil {
		return nil, "", err
	}
	return st, strings.Trim(prefix, "/"), nil
}
