package run

import (
	"context"
	"fmt"

	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// ShardFiles reads the rows of p's table within rng into files of st
// named by fileKey, and publishes no manifest: it returns the manifest
// the files would have, for a later commit of all shards
// (core/internal/shard). A failure removes the files it wrote.
func ShardFiles(ctx context.Context, env Env, p *Plan, st store.Store, rng *sdk.RangeFilter, fileKey func(part int) string) (*manifest.Manifest, error) {
	src, err := registry.Source(ctx, env.Host(), p.Src, p.Spec.SourceType)
	if err != nil {
		return nil, err
	}
	p.warnWhole(src, env.Logger)
	req := p.ReadRequest()
	req.Range = rng
	f := files{env: env, p: p, st: st, fileKey: fileKey}
	m := f.newManifest(p.Start, p.RunID, src.Info.Name, KindSnap)
	res, err := f.publish(ctx, src, req, m, p.Vars, nil)
	if err != nil {
		return nil, fmt.Errorf("shard of %s to %s failed, its files were removed: %w", p.SourceName(), st.URL(p.TgtObject), err)
	}
	return res.Manifest, nil
}

// Summarize sums up a published manifest.
func Summarize(m *manifest.Manifest, manifestURL string, p *Plan) Summary {
	return summarize(m, manifestURL, p.SourceName(), p.TargetName())
}
