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
	Version int `json:"state_version"`
	// Source is what the state was kept for: a delta from another source
	// into the same target is refused. Empty in states of older hp.
	Source     *Source `json:"source,omitempty"`
	Driver     string  `json:"driver"`
	DriverType string  `json:"driver_type"`
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

// Source names the source a state tracks.
type Source struct {
	// Connection is the connection name, or the masked DSN of one given
	// inline; never a secret.
	Connection string `json:"connection"`
	Object     string `json:"object"`
}

func (s *Source) String() string {
	if s == nil {
		return "an unrecorded source"
	}
	return s.Connection + "." + s.Object
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

// ThisHost names this machine in locks, and says whether the pid of a lock
// taken here can be checked. AWS Lambda sandboxes may share a hostname and
// pids, so there a lock names the sandbox (function and log stream), no
// pid is checked, and the lock lapses with the invocation's deadline.
func ThisHost() (host string, pidsCheckable bool) {
	if fn := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); fn != "" {
		return "aws-lambda:" + fn + "/" + os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME"), false
	}
	host, err := os.Hostname()
	return host, err == nil && host != ""
}

// Gone reports whether the lock's holder is provably not running: it ran
// on this host, where pids can be checked, and its pid is no longer alive.
func (l *Lock) Gone() bool {
	if l == nil || l.PID <= 0 {
		return false
	}
	host, checkable := ThisHost()
	if !checkable || host != l.Host {
		return false
	}
	return !processAlive(l.PID)
}

// Held reports whether the lock still holds at now: not expired, and its
// holder not provably gone.
func (l *Lock) Held(now time.Time) bool {
	return l != nil && now.Before(l.Expires) && !l.Gone()
}

// Advice says what frees a held lock, for error messages; stateArgs are
// the arguments that name the state to hp state.
func (l *Lock) Advice(stateArgs string) string {
	if host, checkable := ThisHost(); checkable && host == l.Host {
		return fmt.Sprintf("pid %d is still running on this host: wait for it, or stop it (the next run then takes the lock over)", l.PID)
	}
	return fmt.Sprintf("if that run is gone, run `hp state unlock --force %s`, or wait until the lock expires", stateArgs)
}

// Handle is a state held by this run.
type Handle struct {
	st      store.Versioned
	key     string
	url     string
	args    string
	version string
	State   State
	// Found says whether a state existed before this run.
	Found bool
	// TookOver is the lock of a run that was gone, taken over by this one.
	TookOver *Lock
	advanced bool
}

// Acquire reads the state at key and takes its lock for runID until ttl
// from now, or until ctx's deadline if that is sooner (a Lambda function's
// lock lapses with the function). A lock held by another run that has not
// expired fails with ErrLocked, unless its holder ran on this host and is
// gone; a write that races another run's fails the same way. A state kept
// for another source or driver column is refused. stateArgs name the state
// to hp state in the messages that suggest it.
func Acquire(ctx context.Context, st store.Versioned, key, url, stateArgs string, src Source, driver, runID string, ttl time.Duration, now time.Time) (*Handle, error) {
	h := &Handle{st: st, key: key, url: url, args: stateArgs}
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
		if s.Source != nil && *s.Source != src {
			return nil, sdk.InvalidArgumentf("the delta state %s tracks %s, not %s: its high-water mark says nothing about this source; use another target, or start over with `hp state reset %s --yes`", url, s.Source, &src, stateArgs)
		}
		if s.Driver != driver {
			return nil, sdk.InvalidArgumentf("the delta state %s tracks driver %q, not %q: use another target, or start over with `hp state reset %s --yes`", url, s.Driver, driver, stateArgs)
		}
	}
	h.State.Driver, h.State.Source = driver, &src
	if l := h.State.Lock; l != nil && now.Before(l.Expires) {
		if !l.Gone() {
			return nil, fmt.Errorf("%w: run %s on %s (pid %d) since %s, until %s; %s",
				ErrLocked, l.RunID, l.Host, l.PID, l.Since.Format(time.RFC3339), l.Expires.Format(time.RFC3339), l.Advice(stateArgs))
		}
		h.TookOver = l
	}
	host, _ := ThisHost()
	expires := now.Add(ttl)
	if d, ok := ctx.Deadline(); ok && d.Before(expires) {
		expires = d
	}
	h.State.Lock = &Lock{RunID: runID, Host: host, PID: os.Getpid(), Since: now.UTC(), Expires: expires.UTC()}
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

// URL names the state object.
func (h *Handle) URL() string { return h.url }

// Args name the state to hp state.
func (h *Handle) Args() string { return h.args }

// RunID is the id of the run holding the lock.
func (h *Handle) RunID() string { return h.State.Lock.RunID }

// Begin names the run about to be published as the lock's holder, so that
// the lock shows the id of the run in progress.
func (h *Handle) Begin(ctx context.Context, runID string) error {
	if h.State.Lock.RunID == runID {
		return nil
	}
	prev := h.State.Lock.RunID
	h.State.Lock.RunID = runID
	if err := h.write(ctx); err != nil {
		h.State.Lock.RunID = prev
		return err
	}
	return nil
}

// Advance commits a new high-water mark after run runID, the lock's
// holder, was published.
func (h *Handle) Advance(ctx context.Context, driver, driverType string, high *sdk.Value, runID, manifestURL string, now time.Time) error {
	if runID != h.State.Lock.RunID {
		return fmt.Errorf("advancing the delta state %s for run %s, but the lock is held by run %s", h.url, runID, h.State.Lock.RunID)
	}
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
		// Only the state this run created: another run may have written
		// one since (after this one's lock lapsed).
		if err := h.st.DeleteIfVersion(ctx, h.key, h.version); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("the delta state %s was changed by another run; left as it is: %w", h.url, err)
			}
			return fmt.Errorf("removing the delta state %s: %w", h.url, err)
		}
		return nil
	}
	h.State.Lock = nil
	return h.write(ctx)
}
