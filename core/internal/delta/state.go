package delta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// StateVersion is the state file format version.
const StateVersion = 1

// StateFile is the state object's name beside the output.
const StateFile = "_state.json"

// State is the delta state of one target object.
type State struct {
	Version    int    `json:"state_version"`
	Driver     string `json:"driver"`
	DriverType string `json:"driver_type"`
	// HighWaterMark is the highest driver value extracted so far,
	// exactly (Format); the next run reads rows above it.
	HighWaterMark string    `json:"high_water_mark,omitempty"`
	LastRunID     string    `json:"last_run_id,omitempty"`
	LastManifest  string    `json:"last_manifest,omitempty"`
	UpdatedAt     time.Time `json:"updated_at"`
	// Lock is held by a run in progress, so that two runs never extract
	// the same range at once.
	Lock *Lock `json:"lock,omitempty"`
}

// Lock names the run holding the state.
type Lock struct {
	RunID   string    `json:"run_id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
}

// High parses the high-water mark (nil when none).
func (s *State) High() (*sdk.Value, error) {
	if s.HighWaterMark == "" {
		return nil, nil
	}
	v, err := Parse(s.DriverType, s.HighWaterMark)
	if err != nil {
		return nil, fmt.Errorf("state high_water_mark: %w", err)
	}
	return v, nil
}

// ParseState reads and checks a state document.
func ParseState(data []byte) (*State, error) {
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a halfpipe delta state: %w", err)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("state_version is %d, this hp reads %d", s.Version, StateVersion)
	}
	if s.Driver == "" {
		return nil, errors.New("state names no driver")
	}
	if _, err := s.High(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Marshal renders the state as indented JSON.
func (s *State) Marshal() []byte {
	s.Version = StateVersion
	data, _ := json.MarshalIndent(s, "", "  ")
	return append(data, '\n')
}

// ErrLocked means another run holds the state.
var ErrLocked = errors.New("another run holds the delta state")

// Handle is a state held by this run.
type Handle struct {
	st      store.Versioned
	key     string
	url     string
	version string
	State   State
	// Found says whether a state existed before this run.
	Found    bool
	advanced bool
}

// Acquire reads the state at key and takes its lock for runID until ttl
// from now. A lock held by another run that has not expired fails with
// ErrLocked; a write that races another run's fails the same way. A state
// kept for another driver column is refused.
func Acquire(ctx context.Context, st store.Versioned, key, url, driver, runID string, ttl time.Duration, now time.Time) (*Handle, error) {
	h := &Handle{st: st, key: key, url: url}
	data, version, err := st.GetVersion(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading the delta state: %w", err)
	default:
		s, err := ParseState(data)
		if err != nil {
			return nil, fmt.Errorf("delta state %s: %w (repair it with hp state set or reset)", url, err)
		}
		h.State, h.version, h.Found = *s, version, true
		if s.Driver != driver {
			return nil, sdk.InvalidArgumentf("the delta state %s tracks driver %q, not %q: use another target, or hp state reset", url, s.Driver, driver)
		}
	}
	h.State.Driver = driver
	if l := h.State.Lock; l != nil && now.Before(l.Expires) {
		return nil, fmt.Errorf("%w: run %s on %s (pid %d) since %s, until %s; if it is gone, run `hp state unlock` on the target",
			ErrLocked, l.RunID, l.Host, l.PID, l.Since.Format(time.RFC3339), l.Expires.Format(time.RFC3339))
	}
	host, _ := os.Hostname()
	h.State.Lock = &Lock{RunID: runID, Host: host, PID: os.Getpid(), Since: now.UTC(), Expires: now.Add(ttl).UTC()}
	if err := h.write(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Handle) write(ctx context.Context) error {
	data := h.State.Marshal()
	if err := h.st.PutIfVersion(ctx, h.key, data, h.version); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: the state %s changed while this run held it", ErrLocked, h.url)
		}
		return fmt.Errorf("writing the delta state %s: %w", h.url, err)
	}
	// Re-read the version: stores do not all return it from a put.
	_, v, err := h.st.GetVersion(ctx, h.key)
	if err != nil {
		return fmt.Errorf("reading back the delta state %s: %w", h.url, err)
	}
	h.version = v
	return nil
}

// Advance commits a new high-water mark after a run was published.
func (h *Handle) Advance(ctx context.Context, driver, driverType string, high *sdk.Value, runID, manifestURL string, now time.Time) error {
	h.State.Driver, h.State.DriverType = driver, driverType
	if high != nil {
		h.State.HighWaterMark = Format(high)
	}
	h.State.LastRunID, h.State.LastManifest, h.State.UpdatedAt = runID, manifestURL, now.UTC()
	if err := h.write(ctx); err != nil {
		return err
	}
	h.advanced = true
	return nil
}

// Release gives up the lock; the high-water mark stays where the last
// Advance left it. It uses its own context: the run's may be cancelled.
func (h *Handle) Release() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !h.Found && !h.advanced {
		// Only the state this run wrote: another run may have taken it
		// over since (an expired lock) and written its own.
		if err := h.st.DeleteIfVersion(ctx, h.key, h.version); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		return nil
	}
	h.State.Lock = nil
	return h.write(ctx)
}
