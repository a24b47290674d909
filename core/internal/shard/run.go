package shard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Receipt is what a finished shard wrote: its files with rows, bytes and
// SHA-256, and the header and schema of the manifest they belong in.
type Receipt struct {
	Version  int                `json:"receipt_version"`
	RunID    string             `json:"run_id"`
	Index    int                `json:"index"`
	Slice    Slice              `json:"slice"`
	Rows     int64              `json:"rows"`
	Bytes    int64              `json:"bytes"`
	Manifest *manifest.Manifest `json:"manifest"`
}

// job is a plan bound to this process: its run and the target store.
type job struct {
	plan *Plan
	run  *run.Plan
	st   store.Store
}

// load reads the plan at ref and rebuilds its run here, which must name
// the same manifest: the connections resolve the same way in every
// process.
func load(ctx context.Context, conns run.Resolver, ref string) (*job, error) {
	plan, err := Read(ctx, ref)
	if err != nil {
		return nil, err
	}
	p, err := newRun(plan.Options, conns, plan.CreatedAt)
	if err != nil {
		return nil, err
	}
	p.RunID, p.Vars.RunID = plan.RunID, plan.RunID
	st, err := registry.OpenStore(ctx, p.Tgt, plan.Options.TargetType, nil, plan.Options.S3)
	if err != nil {
		return nil, err
	}
	if key := p.Layout.Manifest(p.Vars); key != plan.ManifestKey || st.URL(key) != plan.Manifest {
		return nil, sdk.InvalidArgumentf("the plan's manifest is %s, but here its target resolves to %s: run every shard with the same connections", plan.Manifest, st.URL(key))
	}
	return &job{plan: plan, run: p, st: st}, nil
}

func (j *job) receiptKey(i int) string { return fmt.Sprintf("%s/_shards/%05d.json", j.plan.RunDir, i) }

// filePrefix starts the names of shard i's files: no other shard's
// name starts so.
func (j *job) filePrefix(i int) string { return fmt.Sprintf("%s/shard-%05d-", j.plan.RunDir, i) }

// committed says whether the run's manifest is published.
func (j *job) committed(ctx context.Context) (bool, error) {
	_, err := j.st.Get(ctx, j.plan.ManifestKey)
	if errors.Is(err, store.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Run reads slice index of the plan at ref into its files and writes its
// receipt. A rerun first removes the receipt and files of an earlier
// attempt, so the slice's rows are in the store once.
func Run(ctx context.Context, env run.Env, conns run.Resolver, ref string, index int) (*Receipt, error) {
	j, err := load(ctx, conns, ref)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(j.plan.Slices) {
		return nil, sdk.InvalidArgumentf("--index %d: the plan has slices 0 to %d", index, len(j.plan.Slices)-1)
	}
	if done, err := j.committed(ctx); err != nil || done {
		if err == nil {
			err = sdk.InvalidArgumentf("run %s is committed (%s): its shards cannot change", j.plan.RunID, j.plan.Manifest)
		}
		return nil, err
	}
	if err := j.clear(ctx, index); err != nil {
		return nil, err
	}
	s := j.plan.Slices[index]
	m := &manifest.Manifest{}
	if !s.Empty {
		rng, err := j.plan.Filter(s)
		if err != nil {
			return nil, err
		}
		base := path.Dir(j.run.Layout.File(j.run.Vars, 1))
		m, err = run.ShardFiles(ctx, env, j.run, j.st, rng, func(part int) string {
			return j.filePrefix(index) + strings.TrimPrefix(j.run.Layout.File(j.run.Vars, part), base+"/")
		})
		if err != nil {
			return nil, err
		}
	}
	r := &Receipt{Version: Version, RunID: j.plan.RunID, Index: index, Slice: s, Rows: m.TotalRows, Bytes: m.TotalBytes, Manifest: m}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := j.st.Put(ctx, j.receiptKey(index), append(data, '\n')); err != nil {
		return nil, fmt.Errorf("writing the receipt of shard %d: %w", index, err)
	}
	return r, nil
}

// clear removes the receipt, files and unfinished writes (of a killed
// process) of an earlier attempt at shard i: the receipt first, so that
// no commit takes the files while they go.
func (j *job) clear(ctx context.Context, i int) error {
	if err := j.st.Delete(ctx, j.receiptKey(i)); err != nil {
		return fmt.Errorf("removing the earlier receipt of shard %d: %w", i, err)
	}
	if pl, ok := j.st.(store.PendingLister); ok {
		pending, err := pl.ListPending(ctx, j.filePrefix(i))
		if err != nil {
			return fmt.Errorf("listing the unfinished writes of shard %d: %w", i, err)
		}
		for _, w := range pending {
			if err := pl.AbortPending(ctx, w); err != nil {
				return fmt.Errorf("discarding an unfinished write of %s: %w", j.st.URL(w.Key), err)
			}
		}
	}
	old, err := j.st.List(ctx, j.filePrefix(i))
	if err != nil {
		return fmt.Errorf("listing the earlier files of shard %d: %w", i, err)
	}
	for _, o := range old {
		if err := j.st.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("removing %s of an earlier attempt: %w", j.st.URL(o.Key), err)
		}
	}
	return nil
}

// Commit checks that every slice of the plan at ref has a receipt and
// that each file a receipt names is in the store with its size and
// SHA-256, then publishes the run's manifest listing exactly those files.
// Anything missing or changed publishes nothing. Committing a committed
// run again with the same files succeeds.
func Commit(ctx context.Context, env run.Env, conns run.Resolver, ref string) (*run.Summary, error) {
	j, err := load(ctx, conns, ref)
	if err != nil {
		return nil, err
	}
	listed, err := j.st.List(ctx, j.plan.RunDir+"/")
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", j.st.URL(j.plan.RunDir), err)
	}
	sizes := map[string]int64{}
	for _, o := range listed {
		sizes[o.Key] = o.Size
	}
	var m *manifest.Manifest
	var files []manifest.File
	first := 0
	for _, s := range j.plan.Slices {
		r, err := j.receipt(ctx, s.Index)
		if err != nil {
			return nil, err
		}
		for _, f := range r.Manifest.Files {
			if err := j.check(ctx, s.Index, f, sizes); err != nil {
				return nil, err
			}
			f.Part = len(files) + 1
			files = append(files, f)
		}
		if s.Empty {
			continue
		}
		if m == nil {
			m, first = r.Manifest, s.Index
		} else if r.Manifest.Schema.ArrowIPC != m.Schema.ArrowIPC {
			return nil, fmt.Errorf("shard %d read another schema than shard %d (the table changed between them?): nothing was published; plan the run again", s.Index, first)
		}
	}
	if j.plan.Delta != nil {
		return j.commitDelta(ctx, env, m, files)
	}
	if m, err = j.publish(ctx, env, m, files); err != nil {
		return nil, err
	}
	s := run.Summarize(m, j.plan.Manifest, j.run)
	return &s, nil
}

// publish publishes m listing files as the run's manifest, or returns the
// manifest a commit published before with the same files.
func (j *job) publish(ctx context.Context, env run.Env, m *manifest.Manifest, files []manifest.File) (*manifest.Manifest, error) {
	m.Files = files
	m.TotalRows, m.TotalBytes = 0, 0
	for _, f := range files {
		m.TotalRows += f.Rows
		m.TotalBytes += f.Bytes
	}
	m.StartedAt, m.FinishedAt = j.plan.CreatedAt, env.Now().UTC()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if err := j.st.PutIfAbsent(ctx, j.plan.ManifestKey, data); err != nil {
		if !errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("publishing %s: %w", j.plan.Manifest, err)
		}
		return j.same(ctx, files)
	}
	return m, nil
}

// receipt reads and checks shard i's receipt.
func (j *job) receipt(ctx context.Context, i int) (*Receipt, error) {
	data, err := j.st.Get(ctx, j.receiptKey(i))
	if errors.Is(err, store.ErrNotExist) {
		return nil, &Incomplete{Index: i, Reason: fmt.Sprintf("has no receipt at %s (run hp shard --index %d)", j.st.URL(j.receiptKey(i)), i)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading the receipt of shard %d: %w", i, err)
	}
	var r Receipt
	if err := json.Unmarshal(data, &r); err != nil || r.Manifest == nil {
		return nil, &Incomplete{Index: i, Reason: fmt.Sprintf("has no readable receipt at %s", j.st.URL(j.receiptKey(i)))}
	}
	if r.RunID != j.plan.RunID || r.Index != i || r.Slice != j.plan.Slices[i] {
		return nil, &Incomplete{Index: i, Reason: fmt.Sprintf("has a receipt of run %s slice %d, not of this plan's run %s slice %d", r.RunID, r.Index, j.plan.RunID, i)}
	}
	return &r, nil
}

// check verifies one file of shard i against its receipt: listed with its
// size, and its bytes hash to its SHA-256.
func (j *job) check(ctx context.Context, i int, f manifest.File, sizes map[string]int64) error {
	size, ok := sizes[f.Path]
	switch {
	case !strings.HasPrefix(f.Path, j.filePrefix(i)):
		return &Incomplete{Index: i, Reason: fmt.Sprintf("names %s, which is not one of its files", f.Path)}
	case !ok:
		return &Incomplete{Index: i, Reason: fmt.Sprintf("names %s, which is missing", j.st.URL(f.Path))}
	case size != f.Bytes:
		return &Incomplete{Index: i, Reason: fmt.Sprintf("names %s of %d bytes, which holds %d", j.st.URL(f.Path), f.Bytes, size)}
	}
	rc, err := j.st.Open(ctx, f.Path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", j.st.URL(f.Path), err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return fmt.Errorf("reading %s: %w", j.st.URL(f.Path), err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return &Incomplete{Index: i, Reason: fmt.Sprintf("names %s with SHA-256 %s, but it hashes to %s", j.st.URL(f.Path), f.SHA256, sum)}
	}
	return nil
}

// same returns the published manifest when it lists exactly files: a
// commit repeated (a retry after a lost answer) is not an error.
func (j *job) same(ctx context.Context, files []manifest.File) (*manifest.Manifest, error) {
	data, err := j.st.Get(ctx, j.plan.ManifestKey)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", j.plan.Manifest, err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	if m.RunID == j.plan.RunID && len(m.Files) == len(files) {
		same := true
		for i, f := range m.Files {
			same = same && f.Path == files[i].Path && f.SHA256 == files[i].SHA256
		}
		if same {
			return m, nil
		}
	}
	return nil, fmt.Errorf("manifest %s already exists with other files: nothing was published", j.plan.Manifest)
}

// Incomplete is a shard whose receipt or files do not add up: Commit
// publishes nothing.
type Incomplete struct {
	Index  int
	Reason string
}

func (e *Incomplete) Error() string {
	return fmt.Sprintf("shard %d %s: nothing was published", e.Index, e.Reason)
}
