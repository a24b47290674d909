package pipe

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// IsInline says whether a pipeline given as text (HP_PIPE) is the YAML
// itself rather than where to find it: it spans lines or is a flow
// mapping ({jobs: [...]}).
func IsInline(ref string) bool {
	ref = strings.TrimSpace(ref)
	return strings.Contains(ref, "\n") || strings.HasPrefix(ref, "{")
}

// Read returns the pipeline of ref: inline YAML (IsInline), or the
// object at a file path, file:// or s3:// URL (whose query sets the
// endpoint and region as in a DSN; credentials from the AWS chain).
func Read(ctx context.Context, ref string) ([]byte, error) {
	if IsInline(ref) {
		return []byte(ref), nil
	}
	st, key, err := store.OpenObject(ctx, strings.TrimSpace(ref), store.S3Options{})
	if err != nil {
		return nil, err
	}
	data, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading the pipeline file: %w", err)
	}
	return data, nil
}

// ReadSummary reads a summary written by WriteSummary.
func ReadSummary(ctx context.Context, ref string) (*Summary, error) {
	st, key, err := store.OpenObject(ctx, ref, store.S3Options{})
	if err != nil {
		return nil, err
	}
	data, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading the summary: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, sdk.InvalidArgumentf("%s is not a pipe summary: %v", sdk.MaskDSN(ref), err)
	}
	return &s, nil
}

// WriteSummary writes s as JSON to a file path, file:// or s3:// URL,
// atomically.
func WriteSummary(ctx context.Context, ref string, s *Summary) error {
	st, key, err := store.OpenObject(ctx, ref, store.S3Options{})
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return st.Put(ctx, key, append(data, '\n'))
}
