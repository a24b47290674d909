package run

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/engine"
	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Env is what a run needs from whoever starts it.
type Env struct {
	// Host starts plugins (called once a plugin is needed).
	Host func() *host.Host
	// Out receives the objects of a stdout target.
	Out     io.Writer
	Logger  *slog.Logger
	Version string
	Now     func() time.Time
	// Progress, when set, shows a run's progress while the engine runs;
	// total holds the source's row count once known (0 until then). It
	// returns a func that stops it.
	Progress func(ctx context.Context, stats *engine.Stats, total *atomic.Int64) (stop func())
	// CountRows asks the source for its row count beside a snapshot, for
	// Progress.
	CountRows bool
	// Events, when set, hears of steps as they happen (a delta's ranges,
	// a lock taken over).
	Events func(Event)
}

// Event is a step of a run worth telling the user about as it happens.
type Event struct {
	// Range is a delta range committed, with its summary.
	Range   string
	Summary *Summary
	// TookOver is the lock of a run whose process is gone, taken over at
	// StateURL.
	TookOver *LockInfo
}

// LockInfo names the holder of a lock taken over.
type LockInfo struct {
	RunID, StateURL string
	PID             int
}

func (e Env) event(ev Event) {
	if e.Events != nil {
		e.Events(ev)
	}
}

// Summary is the result of one published run, printed as text or JSON.
type Summary struct {
	RunID       string  `json:"run_id"`
	Mode        string  `json:"mode"`
	Source      string  `json:"source"`
	Target      string  `json:"target"`
	Rows        int64   `json:"rows"`
	Files       int     `json:"files"`
	Bytes       int64   `json:"bytes"`
	ManifestURL string  `json:"manifest_url,omitempty"`
	Seconds     float64 `json:"duration_seconds"`
	RowsPerSec  float64 `json:"rows_per_second"`
}

// Snapshot copies the whole source of p into its target: files and a
// manifest in a store, or one transaction into a table.
func Snapshot(ctx context.Context, env Env, p *Plan) (*Summary, error) {
	if p.SrcRun != nil {
		return snapshotRun(ctx, env, p)
	}
	src, err := registry.Source(ctx, env.Host(), p.Src, p.Spec.SourceType)
	if err != nil {
		return nil, err
	}
	req := p.ReadRequest()
	p.warnWhole(src, env.Logger)
	if p.Staged() {
		return stagedSnapshot(ctx, env, p, src, req)
	}
	if !p.TargetIsStore {
		tgt, err := tableTarget(ctx, env, p, sdk.CapWrite)
		if err != nil {
			return nil, err
		}
		s, err := tgt.write(ctx, src, p, req, p.WriteMode, p.Keys)
		if err != nil {
			return nil, err
		}
		s.Mode = string(KindSnap)
		return s, nil
	}
	st, err := registry.OpenStore(ctx, p.Tgt, p.Spec.TargetType, env.Out, p.Spec.S3)
	if err != nil {
		return nil, err
	}
	f := files{env: env, p: p, st: st}
	m := f.newManifest(p.Start, p.RunID, src.Info.Name, KindSnap)
	var total atomic.Int64
	if env.CountRows && p.Spec.Query == "" {
		go countRows(ctx, src, req, &total)
	}
	res, err := f.publish(ctx, src, req, m, p.Vars, &total)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s to %s failed, nothing was published: %w", p.SourceName(), st.URL(p.TgtObject), err)
	}
	s := summarize(res.Manifest, res.ManifestURL, p.SourceName(), p.TargetName())
	return &s, nil
}

// countRows asks the source for the row count, for the progress bar. It
// runs beside the snapshot and gives up silently: the bar is a nicety.
func countRows(ctx context.Context, src *host.Instance, req sdk.ReadRequest, total *atomic.Int64) {
	if !src.Info.Has(sdk.CapBounds) || !src.Info.Has(sdk.CapDescribe) {
		return
	}
	d, err := src.Describe(ctx, req.Conn, req.Source)
	if err != nil || d.Schema.NumFields() == 0 {
		return
	}
	col := d.Schema.Field(0).Name
	if len(d.PrimaryKey) > 0 {
		col = d.PrimaryKey[0]
	}
	b, err := src.Bounds(ctx, sdk.BoundsRequest{Conn: req.Conn, Source: req.Source, Column: col, Where: req.Where})
	if err == nil {
		total.Store(b.Count)
	}
}

// summarize sums up one published run.
func summarize(m *manifest.Manifest, manifestURL, source, target string) Summary {
	elapsed := m.FinishedAt.Sub(m.StartedAt).Seconds()
	s := Summary{RunID: m.RunID, Mode: m.Mode, Source: source, Target: target,
		Rows: m.TotalRows, Files: len(m.Files), Bytes: m.TotalBytes, ManifestURL: manifestURL, Seconds: elapsed}
	if elapsed > 0 {
		s.RowsPerSec = float64(m.TotalRows) / elapsed
	}
	return s
}

// files is a target of files and manifests in a store.
type files struct {
	env Env
	p   *Plan
	st  store.Store
	// fileKey, when set, names the files instead of the layout, and no
	// manifest is published (a shard: shard.go).
	fileKey func(part int) string
	// check, when set, may refuse the records' schema before anything
	// is written (a staged run its warehouse would not load).
	check func(ctx context.Context, schema *arrow.Schema) error
}

// newManifest starts the manifest of a run; the engine completes it.
func (f files) newManifest(start time.Time, runID, sourceType string, kind Kind) *manifest.Manifest {
	p, s := f.p, f.p.Spec
	m := &manifest.Manifest{
		Version: manifest.Version, Tool: "halfpipe", ToolVersion: f.env.Version, RunID: runID, Mode: string(kind),
		Layout: p.Layout.Name, StartedAt: start,
		Source: manifest.Source{Type: sourceType, DSN: sdk.MaskDSN(p.Src.DSN), Query: s.Query, Columns: p.Columns, Where: s.Where},
		Target: manifest.Target{Type: p.Tgt.Scheme, URL: sdk.MaskDSN(p.Tgt.DSN), Object: p.TgtObject},
		Format: string(p.Format), Compression: string(p.Compression),
	}
	if s.Query == "" {
		m.Source.Object = p.SrcRef.String()
	}
	if p.Staged() {
		m.Target = manifest.Target{Type: p.Pub.Scheme, URL: sdk.MaskDSN(p.Pub.DSN), Object: p.PubObject}
	}
	if p.Format == format.CSV {
		m.CSV = &manifest.CSV{Header: s.CSVHeader, Delimiter: string(p.Delimiter), Null: s.CSVNull}
	}
	return m
}

// publish reads req from the source into files and a manifest in the
// store, named with vars: one run of the engine.
func (f files) publish(ctx context.Context, src *host.Instance, req sdk.ReadRequest, m *manifest.Manifest, vars layout.Vars, total *atomic.Int64) (*engine.Result, error) {
	records, err := f.p.read(ctx, src, req)
	if err != nil {
		return nil, fmt.Errorf("reading %s from %q: %w", req.Source, f.p.Src.Name, err)
	}
	return f.publishRecords(ctx, records, m, vars, total)
}

// publishRecords encodes records into files and a manifest in the store.
func (f files) publishRecords(ctx context.Context, records array.RecordReader, m *manifest.Manifest, vars layout.Vars, total *atomic.Int64) (*engine.Result, error) {
	if f.check != nil {
		if err := f.check(ctx, records.Schema()); err != nil {
			records.Release()
			return nil, err
		}
	}
	p, s := f.p, f.p.Spec
	encOpts := []format.Option{
		format.WithFormat(p.Format), format.WithCompression(p.Compression), format.WithConcurrency(runtime.GOMAXPROCS(0)),
	}
	switch p.Format {
	case format.CSV:
		encOpts = append(encOpts, format.WithCSVHeader(s.CSVHeader), format.WithCSVDelimiter(p.Delimiter), format.WithCSVNull(s.CSVNull))
	case format.Parquet:
		encOpts = append(encOpts, format.WithParquetRowGroupRows(s.RowGroupRows))
		if p.MaxBytes > 0 {
			encOpts = append(encOpts, format.WithParquetRowGroupBytes(max(64<<10, min(format.DefaultRowGroupBytes, p.MaxBytes/4))))
		}
	}
	vars.RunID = m.RunID
	j := engine.Job{
		Records: records, Store: f.st, Manifest: m, Logger: f.env.Logger, Stats: &engine.Stats{},
		FileKey:      func(part int) (string, error) { return p.Layout.File(vars, part), nil },
		ManifestKey:  p.Layout.Manifest(vars),
		MaxFileRows:  s.MaxFileRows,
		MaxFileBytes: p.MaxBytes,
		NewEncoder: func(w io.Writer, schema *arrow.Schema) (format.Encoder, error) {
			return format.NewEncoder(w, schema, encOpts...)
		},
	}
	if p.Tgt.Scheme == "stdout" {
		j.ManifestKey = ""
		j.MaxFileRows, j.MaxFileBytes = 0, 0
	}
	if f.fileKey != nil {
		j.FileKey = func(part int) (string, error) { return f.fileKey(part), nil }
		j.ManifestKey = ""
	} else if p.Layout.Name == "halfpipe" {
		j.Extra = func(m *manifest.Manifest) (map[string][]byte, error) {
			return map[string][]byte{p.Layout.HalfpipeMan(vars): halfpipe.Man(m.FilePaths())}, nil
		}
	}
	if total == nil {
		total = &atomic.Int64{}
	}
	if f.env.Progress != nil {
		defer f.env.Progress(ctx, j.Stats, total)()
	}
	return engine.Run(ctx, j)
}

// table is a target table of a database.
type table struct {
	conn config.Connection
	inst *host.Instance
	ref  sdk.ObjectRef
}

// tableTarget starts the plugin of a database target, which must have the
// capability (write, or load for a staged run), and names its table.
func tableTarget(ctx context.Context, env Env, p *Plan, capability sdk.Capability) (*table, error) {
	inst, err := registry.Plugin(ctx, env.Host(), p.Tgt, p.Spec.TargetType, capability)
	if err != nil {
		return nil, err
	}
	ref, err := config.ParseTable(p.TgtObject)
	if err != nil {
		return nil, usagef("target: %v", err)
	}
	return &table{conn: p.Tgt, inst: inst, ref: ref}, nil
}

func (t *table) where() string { return t.conn.Name + "." + t.ref.String() }

// write reads req from the source into the table in one transaction.
func (t *table) write(ctx context.Context, src *host.Instance, p *Plan, req sdk.ReadRequest, mode sdk.WriteMode, keys []string) (*Summary, error) {
	records, err := p.read(ctx, src, req)
	if err != nil {
		return nil, fmt.Errorf("reading %s from %q: %w", req.Source, p.Src.Name, err)
	}
	return t.writeRecords(ctx, records, p.SourceName(), mode, keys)
}

// writeRecords writes records into the table in one transaction.
func (t *table) writeRecords(ctx context.Context, records array.RecordReader, source string, mode sdk.WriteMode, keys []string) (*Summary, error) {
	defer records.Release()
	start := time.Now()
	res, err := t.inst.Write(ctx, sdk.WriteRequest{Conn: t.conn.Wire(), Table: t.ref, Mode: mode, Keys: keys, CreateTable: true}, records)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", t.where(), err)
	}
	return &Summary{Source: source, Target: t.where(), Rows: res.RowsWritten, Seconds: time.Since(start).Seconds()}, nil
}
