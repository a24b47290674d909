package manifest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
)

// Published is a manifest found in a store: parsed, or the reason it
// could not be (Err).
type Published struct {
	Key      string
	URL      string
	Manifest *Manifest
	Err      error
}

// findParallel bounds the manifests fetched at once (one request each on
// S3).
const findParallel = 8

// Find reads every manifest under prefix (layout.IsManifest), sorted by
// start time then run id; unreadable ones come last, by key. A manifest
// that disappears while listed is skipped.
func Find(ctx context.Context, st store.Store, prefix string) ([]Published, error) {
	infos, err := st.List(ctx, listPrefix(prefix))
	if err != nil {
		return nil, err
	}
	var found []Published
	for _, o := range infos {
		if layout.IsManifest(o.Key, prefix) {
			found = append(found, Published{Key: o.Key, URL: st.URL(o.Key)})
		}
	}
	var (
		wg       sync.WaitGroup
		sem      = make(chan struct{}, findParallel)
		mu       sync.Mutex
		firstErr error
		gone     = make([]bool, len(found))
	)
	for i := range found {
		wg.Add(1)
		sem <- struct{}{}
		go func(p *Published) {
			defer func() { <-sem; wg.Done() }()
			data, err := st.Get(ctx, p.Key)
			switch {
			case errors.Is(err, store.ErrNotExist):
				gone[i] = true
			case err != nil:
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("reading manifest %s: %w", p.URL, err)
				}
				mu.Unlock()
			default:
				p.Manifest, p.Err = Parse(data)
			}
		}(&found[i])
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	out := found[:0]
	for i, p := range found {
		if !gone[i] {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		ma, mb := out[a].Manifest, out[b].Manifest
		switch {
		case ma == nil || mb == nil:
			return ma != nil && mb == nil
		case !ma.StartedAt.Equal(mb.StartedAt):
			return ma.StartedAt.Before(mb.StartedAt)
		case ma.RunID != mb.RunID:
			return ma.RunID < mb.RunID
		}
		return out[a].Key < out[b].Key
	})
	return out, nil
}

// listPrefix is the store prefix that holds every manifest IsManifest
// accepts: "x" covers both x/... and the halfpipe preset's x-<ts>...
func listPrefix(prefix string) string { return strings.Trim(prefix, "/") }
