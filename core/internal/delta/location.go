package delta

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Location is where the delta state of one target object is kept.
type Location struct {
	Store store.Versioned
	Key   string
	URL   string
}

// Locate finds the state of the object <prefix>/<object> of the target
// store: beside its files (<prefix>/<object>/_state.json), or at stateURL
// (--state) when given. target names the target in errors.
func Locate(ctx context.Context, st store.Store, target, prefix, object, stateURL string, s3 store.S3Options) (*Location, error) {
	key := strings.TrimPrefix(prefix+"/"+object+"/"+StateFile, "/")
	if stateURL != "" {
		var err error
		if st, key, err = store.OpenObject(ctx, stateURL, s3); err != nil {
			if errors.Is(err, sdk.ErrInvalidArgument) {
				return nil, fmt.Errorf("--state: %w: give the state file's URL, e.g. s3://bucket/states/orders.json", err)
			}
			return nil, fmt.Errorf("--state: %w", err)
		}
		target = "--state " + sdk.MaskDSN(stateURL)
	}
	vst, ok := st.(store.Versioned)
	if !ok {
		return nil, sdk.InvalidArgumentf("%s cannot keep delta state", target)
	}
	return &Location{Store: vst, Key: key, URL: st.URL(key)}, nil
}
