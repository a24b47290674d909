// Package leftovers finds what runs left behind without publishing it:
// data files of runs that have no manifest (orphans), files in a published
// run's place that its manifest does not name, and unfinished writes.
package leftovers

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// Orphan is a run that left objects but no manifest.
type Orphan struct {
	// Run is its layout.RunGroup: the run directory, or the halfpipe
	// preset's shared name.
	Run     string
	Objects []store.ObjectInfo
	Bytes   int64
	// Newest is when its last object was written.
	Newest time.Time
}

// Unlisted is an object in a published run's place that its manifest does
// not name.
type Unlisted struct {
	ManifestKey string
	Object      store.ObjectInfo
}

// Report is what Scan found.
type Report struct {
	Manifests []manifest.Published
	Orphans   []Orphan
	Unlisted  []Unlisted
	// Pending are unfinished writes (nil when the store cannot list them).
	Pending []store.Pending
}

// Scan looks under prefix, and lists unfinished writes if pending (on S3
// that takes s3:ListBucketMultipartUploads). A run whose manifest is
// unreadable still counts as published: nothing of it is an orphan.
func Scan(ctx context.Context, st store.Store, prefix string, pending bool) (*Report, error) {
	objs, err := st.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", st.URL(prefix), err)
	}
	found, err := manifest.Find(ctx, st, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing manifests under %s: %w", st.URL(prefix), err)
	}
	rep := &Report{Manifests: found}
	published := map[string]*manifest.Published{}
	isManifest := map[string]bool{}
	for i := range found {
		p := &found[i]
		isManifest[p.Key] = true
		published[layout.RunGroup(p.Key)] = p
	}
	orphans := map[string]*Orphan{}
	for _, o := range objs {
		g := layout.RunGroup(o.Key)
		if g == "" || isManifest[o.Key] || !under(o.Key, prefix) {
			continue
		}
		if p, ok := published[g]; ok {
			if p.Manifest != nil && !named(p.Manifest, o.Key) && !strings.HasSuffix(o.Key, ".man") {
				rep.Unlisted = append(rep.Unlisted, Unlisted{ManifestKey: p.Key, Object: o})
			}
			continue
		}
		if !layout.IsRunGroup(g) {
			continue
		}
		or := orphans[g]
		if or == nil {
			or = &Orphan{Run: g}
			orphans[g] = or
		}
		or.Objects = append(or.Objects, o)
		or.Bytes += o.Size
		if o.Modified.After(or.Newest) {
			or.Newest = o.Modified
		}
	}
	for _, o := range orphans {
		rep.Orphans = append(rep.Orphans, *o)
	}
	sort.Slice(rep.Orphans, func(a, b int) bool { return rep.Orphans[a].Run < rep.Orphans[b].Run })
	if pl, ok := st.(store.PendingLister); ok && pending {
		pending, err := pl.ListPending(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("listing unfinished writes under %s: %w", st.URL(prefix), err)
		}
		for _, p := range pending {
			if under(p.Key, prefix) {
				rep.Pending = append(rep.Pending, p)
			}
		}
	}
	return rep, nil
}

// under is Find's notion of a prefix: below it, or a halfpipe-preset name
// beside it ("<prefix>-...").
func under(key, prefix string) bool {
	return prefix == "" || strings.HasPrefix(key, prefix+"/") || strings.HasPrefix(key, prefix+"-")
}

func named(m *manifest.Manifest, key string) bool {
	for _, f := range m.Files {
		if strings.TrimLeft(f.Path, "/") == key {
			return true
		}
	}
	return false
}

// Summary is a Report as hp runs --orphans and hp gc print it.
type Summary struct {
	Runs    []OrphanRun    `json:"runs"`
	Pending []PendingWrite `json:"pending_writes"`
}

// OrphanRun is an unpublished run.
type OrphanRun struct {
	Run         string    `json:"run"`
	URL         string    `json:"url"`
	Objects     int       `json:"objects"`
	Bytes       int64     `json:"bytes"`
	LastWritten time.Time `json:"last_written"`
	AgeSeconds  int64     `json:"age_seconds"`
	// Deleted is set by hp gc --delete.
	Deleted bool `json:"deleted,omitempty"`
}

// PendingWrite is an unfinished write.
type PendingWrite struct {
	Key        string    `json:"key"`
	URL        string    `json:"url"`
	UploadID   string    `json:"upload_id,omitempty"`
	Bytes      int64     `json:"bytes"`
	Started    time.Time `json:"started"`
	AgeSeconds int64     `json:"age_seconds"`
	Deleted    bool      `json:"deleted,omitempty"`
}

// Summarize describes rep as of now.
func Summarize(st store.Store, rep *Report, now time.Time) Summary {
	s := Summary{Runs: []OrphanRun{}, Pending: []PendingWrite{}}
	for _, o := range rep.Orphans {
		s.Runs = append(s.Runs, OrphanRun{Run: o.Run, URL: st.URL(o.Run), Objects: len(o.Objects), Bytes: o.Bytes,
			LastWritten: o.Newest.UTC(), AgeSeconds: int64(now.Sub(o.Newest) / time.Second)})
	}
	_, local := st.(*store.Local)
	for _, p := range rep.Pending {
		w := PendingWrite{Key: p.Key, URL: st.URL(p.Key), UploadID: p.ID, Bytes: p.Size, Started: p.Started.UTC(), AgeSeconds: int64(now.Sub(p.Started) / time.Second)}
		if local {
			w.URL, w.UploadID = st.URL(p.ID), ""
		}
		s.Pending = append(s.Pending, w)
	}
	return s
}

// Print writes s as tables (nothing for an empty part).
func Print(w io.Writer, s Summary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(s.Runs) > 0 {
		fmt.Fprintln(tw, "UNPUBLISHED RUN\tAGE\tOBJECTS\tBYTES\tURL")
		for _, r := range s.Runs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s%s\n", r.Run, age(r.AgeSeconds), r.Objects, cliutil.HumanBytes(r.Bytes), r.URL, deleted(r.Deleted))
		}
	}
	if len(s.Pending) > 0 {
		if len(s.Runs) > 0 {
			fmt.Fprintln(tw, "\t")
		}
		fmt.Fprintln(tw, "UNFINISHED WRITE\tAGE\tBYTES\tURL")
		for _, p := range s.Pending {
			what := p.URL
			if p.UploadID != "" {
				what += " (multipart upload " + p.UploadID + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s\n", p.Key, age(p.AgeSeconds), cliutil.HumanBytes(p.Bytes), what, deleted(p.Deleted))
		}
	}
	return tw.Flush()
}

func age(s int64) string { return (time.Duration(s) * time.Second).String() }

func deleted(d bool) string {
	if d {
		return " (deleted)"
	}
	return ""
}
