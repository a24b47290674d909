package run

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/engine"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/runread"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// A staged run goes to a warehouse that loads files (sdk.Loader, e.g.
// Snowflake) in two steps: hp publishes the run to a store as usual
// (--publish-to, files and a manifest), then asks the target's connector
// to load exactly the manifest's files from the warehouse's stage over
// that store (--stage). A failed load is a failed run; the published run
// stays, for a retry or another consumer. A run already published (the
// source is a run) is loaded as it is, with its own files: only the
// second step.

// Staged reports whether the run goes through a stage.
func (p *Plan) Staged() bool { return p.Spec.Stage != "" }

// formatName is --format, by default csv, or parquet for a staged run:
// the warehouse then matches columns by name and types travel exactly.
func (p *Plan) formatName() string {
	switch {
	case p.Spec.Format != "":
		return p.Spec.Format
	case p.Staged():
		return "parquet"
	}
	return "csv"
}

// staging checks --stage and --publish-to and resolves the store the run
// is published to. It returns the object whose name the layout uses.
func (p *Plan) staging(conns Resolver, tgtObj string) (string, error) {
	s := p.Spec
	if !p.Staged() {
		if s.PublishTo != "" {
			return "", usagef("--publish-to applies with --stage: the warehouse loads the published run from its stage")
		}
		return tgtObj, nil
	}
	if p.TargetIsStore {
		return "", usagef("--stage applies to a warehouse target, not to files")
	}
	if p.SrcRun != nil && p.SrcRun.Files == "" {
		switch {
		case s.PublishTo != "":
			return "", usagef("--publish-to: run %s is published already; --stage %s loads its own files", p.SourceName(), s.Stage)
		case s.Format != "" || s.Compression != "":
			return "", usagef("--format and --compression: run %s is loaded from its own files, as they were published", p.SourceName())
		}
		return tgtObj, nil
	}
	if s.PublishTo == "" {
		return "", usagef("--stage %s needs --publish-to CONN.PREFIX: the store (under the stage's URL) the run is published to before the load", s.Stage)
	}
	name, obj, err := config.SplitConnObject(s.PublishTo)
	if err != nil {
		return "", usagef("--publish-to: %v", err)
	}
	if p.Pub, err = conns.Resolve(name); err != nil {
		return "", usagef("--publish-to: %v", err)
	}
	if !registry.IsStore(p.Pub) || p.Pub.Scheme == "stdout" {
		return "", usagef("--publish-to %s: connection %q is not a file or S3 store", s.PublishTo, name)
	}
	p.PubObject = obj
	return obj, nil
}

// loader is a warehouse target that loads published runs.
type loader struct {
	*table
	p *Plan
}

// loadTarget starts the target's plugin, which must be able to load.
func loadTarget(ctx context.Context, env Env, p *Plan) (*loader, error) {
	t, err := tableTarget(ctx, env, p, sdk.CapLoad)
	if err != nil {
		return nil, err
	}
	return &loader{table: t, p: p}, nil
}

// load asks the connector to load the run m describes, checking that it
// loaded the manifest's rows (or, appending, none: a retry of a load that
// committed, which the warehouse's load history recognises).
func (l *loader) load(ctx context.Context, m *manifest.Manifest, mode sdk.WriteMode, keys []string) (int64, error) {
	schema, err := m.Schema.Arrow()
	if err != nil {
		return 0, err
	}
	uris := make([]string, len(m.Files))
	for i, f := range m.Files {
		uris[i] = f.URL
	}
	opts := map[string]string{"stage": l.p.Spec.Stage, "rows": strconv.FormatInt(m.TotalRows, 10), "compression": m.Compression}
	if m.CSV != nil {
		opts["csv_header"], opts["csv_delimiter"], opts["csv_null"] = strconv.FormatBool(m.CSV.Header), m.CSV.Delimiter, m.CSV.Null
	}
	res, err := l.inst.Load(ctx, sdk.LoadRequest{Conn: l.conn.Wire(), Table: l.ref, Mode: mode, Keys: keys, URIs: uris,
		Format: m.Format, FormatOptions: opts, Schema: schema, CreateTable: true})
	if err != nil {
		return 0, fmt.Errorf("loading run %s into %s from stage %s: %w", m.RunID, l.where(), l.p.Spec.Stage, err)
	}
	if res.RowsLoaded != m.TotalRows && !(mode == sdk.Append && res.RowsLoaded == 0) {
		return 0, fmt.Errorf("loading run %s into %s: %d rows loaded, the manifest lists %d", m.RunID, l.where(), res.RowsLoaded, m.TotalRows)
	}
	return res.RowsLoaded, nil
}

// check asks the connector, when it can say, whether it would refuse to
// load a run of schema from the request alone (a column type its load
// cannot take in this format): asked before the run is published, so a
// refused load leaves nothing behind.
func (l *loader) check(ctx context.Context, schema *arrow.Schema, mode sdk.WriteMode, keys []string) error {
	if !l.inst.Info.Has(sdk.CapCheckLoad) {
		return nil
	}
	err := l.inst.CheckLoad(ctx, sdk.LoadRequest{Conn: l.conn.Wire(), Table: l.ref, Mode: mode, Keys: keys,
		Format: string(l.p.Format), FormatOptions: map[string]string{"stage": l.p.Spec.Stage, "compression": string(l.p.Compression)},
		Schema: schema, CreateTable: true})
	if err != nil {
		return fmt.Errorf("%s would refuse to load the run from stage %s: %w", l.where(), l.p.Spec.Stage, err)
	}
	return nil
}

// stagedSnapshot publishes the snapshot to the --publish-to store, then
// loads it into the table.
func stagedSnapshot(ctx context.Context, env Env, p *Plan, src *host.Instance, req sdk.ReadRequest) (*Summary, error) {
	l, err := loadTarget(ctx, env, p)
	if err != nil {
		return nil, err
	}
	st, err := registry.OpenStore(ctx, p.Pub, "", env.Out, p.Spec.S3)
	if err != nil {
		return nil, err
	}
	f := files{env: env, p: p, st: st, check: func(ctx context.Context, s *arrow.Schema) error { return l.check(ctx, s, p.WriteMode, p.Keys) }}
	m := f.newManifest(p.Start, p.RunID, src.Info.Name, KindSnap)
	res, err := f.publish(ctx, src, req, m, p.Vars, nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s to %s failed, nothing was published or loaded: %w", p.SourceName(), st.URL(p.PubObject), err)
	}
	start := time.Now()
	if _, err := l.load(ctx, res.Manifest, p.WriteMode, p.Keys); err != nil {
		return nil, fmt.Errorf("%w (the run stays published at %s)", err, res.ManifestURL)
	}
	s := summarize(res.Manifest, res.ManifestURL, p.SourceName(), l.where())
	s.Mode = string(KindSnap)
	s.Seconds += time.Since(start).Seconds()
	return &s, nil
}

// loadRun loads a published run into the table from its own files,
// after checking that each is in the store at the size its manifest
// lists (before the target is started): the warehouse reads the files,
// hp cannot hash them on the way.
func loadRun(ctx context.Context, env Env, p *Plan, src store.Store, pub *manifest.Published) (*Summary, error) {
	m, err := checkedRun(ctx, src, pub, p.TargetName())
	if err != nil {
		return nil, err
	}
	l, err := loadTarget(ctx, env, p)
	if err != nil {
		return nil, err
	}
	s, err := l.loadRun(ctx, m, pub.URL, p.SourceName(), p.WriteMode, p.Keys)
	if err != nil {
		return nil, err
	}
	s.Mode = string(KindSnap)
	return s, nil
}

// checkedRun is the manifest of pub, its files checked in src and located
// there (stagedFiles).
func checkedRun(ctx context.Context, src store.Store, pub *manifest.Published, target string) (*manifest.Manifest, error) {
	m := *pub.Manifest
	files, err := stagedFiles(ctx, src, m.Files)
	if err != nil {
		return nil, fmt.Errorf("run %s (%s) was not loaded into %s: %w", m.RunID, pub.URL, target, err)
	}
	m.Files = files
	return &m, nil
}

// loadRun loads the run m (published at url) and sums it up: the rows are
// those loaded (0 for a run the table's load history holds already).
func (l *loader) loadRun(ctx context.Context, m *manifest.Manifest, url, source string, mode sdk.WriteMode, keys []string) (*Summary, error) {
	start := time.Now()
	rows, err := l.load(ctx, m, mode, keys)
	if err != nil {
		return nil, err
	}
	s := summarize(m, url, source, l.where())
	s.Rows, s.Seconds, s.RowsPerSec = rows, time.Since(start).Seconds(), 0
	if s.Seconds > 0 {
		s.RowsPerSec = float64(rows) / s.Seconds
	}
	return &s, nil
}

// stagedFiles checks that each file of a run is in st at its manifest's
// size, and returns the files with their URLs in st (where the stage
// finds them, wherever the run was first published).
func stagedFiles(ctx context.Context, st store.Store, files []manifest.File) ([]manifest.File, error) {
	sizes := map[string]int64{}
	listed := map[string]bool{}
	out := make([]manifest.File, len(files))
	for i, f := range files {
		key, err := store.CleanKey(f.Path)
		if err != nil {
			return nil, fmt.Errorf("bad path %q in the manifest: %w", f.Path, err)
		}
		dir := path.Dir(key) + "/"
		if dir == "./" {
			dir = ""
		}
		if !listed[dir] {
			objs, err := st.List(ctx, dir)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", st.URL(dir), err)
			}
			for _, o := range objs {
				sizes[o.Key] = o.Size
			}
			listed[dir] = true
		}
		size, ok := sizes[key]
		switch {
		case !ok:
			return nil, fmt.Errorf("file %s is missing", st.URL(key))
		case size != f.Bytes:
			return nil, fmt.Errorf("file %s %w: %d bytes, the manifest says %d", st.URL(key), runread.ErrDamaged, size, f.Bytes)
		}
		out[i] = f
		out[i].URL = st.URL(key)
	}
	return out, nil
}

// loadDelta loads one published range: merged on the manifest's keys, or
// appended without keys. It runs before the range's mark advances, so the
// mark never runs ahead of the table.
func (l *loader) loadDelta(ctx context.Context, res *engine.Result) error {
	mode, keys := deltaMode(res.Manifest.Delta)
	if _, err := l.load(ctx, res.Manifest, mode, keys); err != nil {
		return fmt.Errorf("%w (the run stays published at %s; the delta state did not advance)", err, res.ManifestURL)
	}
	return nil
}

// deltaMode is how a delta's run is loaded: merged on its keys, or
// appended without keys.
func deltaMode(d *manifest.Delta) (sdk.WriteMode, []string) {
	if d != nil && len(d.PrimaryKeys) > 0 {
		return sdk.Merge, d.PrimaryKeys
	}
	return sdk.Append, nil
}
