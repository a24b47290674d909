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
	// Source is what the mark was taken from: a delta of another source
	// into the same target is refused (nil in states of older hp and
	// states made by hp state set; the next run records it).
	Source *Source `json:"source,omitempty"`
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

// Source names the source a state is bound to.
type Source struct {
	// Connection is the source connection's name, or its masked DSN.
	Connection string `json:"connection"`
	// Object is the source table (schema.table) or "(query)".
	Object string `json:"object"`
}

func (s *Source) String() string { return s.Connection + "." + s.Object }

// ThisHost names this machine in locks, and says whether a lock's pid on
// it can be checked. In AWS Lambda sandboxes share hostnames and pids, so
// the host is the sandbox's log stream and its lock ends with its deadline.
func ThisHost() (host string, pidsCheckable bool) {
	if stream := os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME"); os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != "" {
		return "aws-lambda:" + os.Getenv("AWS_LAMBDA_FUNCTION_NAME") + "/" + stream, false
	}
	host, _ = os.Hostname()
	return host, host != ""
}

// Gone says whether the lock's holder is provably dead: it ran on this
// host, whose pids can be checked, and its process no longer exists.
func (l *Lock) Gone() bool {
	host, checkable := ThisHost()
	return checkable && l.Host == host && l.PID > 0 && l.PID != os.Getpid() && !processAlive(l.PID)
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
	Found bool
	// TookOver is the lock of a dead holder that this run took over.
	TookOver *Lock
	advanced bool
}

// Request is what a run asks of Acquire.
type Request struct {
	Driver string
	// Source binds the state; nil leaves it unbound.
	Source *Source
	RunID  string
	// TTL bounds the lock; a context deadline (Lambda's) ends it sooner.
	TTL time.Duration
	Now time.Time
	// Target is how hp state commands name the state, for messages.
	Target string
}

// Acquire reads the state at key and takes its lock for r.RunID. A lock
// held by another run that has not expired fails with ErrLocked, unless
// its holder is provably dead (Lock.Gone): then it is taken over
// (TookOver). A write that races another run's fails with ErrLocked too.
// A state kept for another driver column or source is refused.
func Acquire(ctx context.Context, st store.Versioned, key, url string, r Request) (*Handle, error) {
	driver, now := r.Driver, r.Now
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
		if s.Source != nil && r.Source != nil && *s.Source != *r.Source {
			return nil, sdk.InvalidArgumentf("the delta state %s was kept for source %s (driver %s), not %s: a delta of another source needs its own target object; to start this one over from %s, run `hp state reset %s --yes` first",
				url, s.Source, s.Driver, r.Source, r.Source, r.Target)
		}
		if s.Driver != driver {
			return nil, sdk.InvalidArgumentf("the delta state %s tracks driver %q, not %q: use another target, or start over with `hp state reset %s --yes`", url, s.Driver, driver, r.Target)
		}
	}
	h.State.Driver = driver
	if h.State.Source == nil {
		h.State.Source = r.Source
	}
	if l := h.State.Lock; l != nil && now.Before(l.Expires) {
		if !l.Gone() {
			return nil, lockedError(l, r.Target)
		}
		h.TookOver = l
	}
	host, _ := ThisHost()
	expires := now.Add(r.TTL)
	if dl, ok := ctx.Deadline(); ok && dl.Before(expires) {
		expires = dl
	}
	h.State.Lock = &Lock{RunID: r.RunID, Host: host, PID: os.Getpid(), Since: now.UTC(), Expires: expires.UTC()}
	if err := h.write(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// lockedError says who holds the lock and exactly what frees it.
func lockedError(l *Lock, target string) error {
	held := fmt.Sprintf("run %s on %s (pid %d) since %s, until %s", l.RunID, l.Host, l.PID, l.Since.UTC().Format(time.RFC3339), l.Expires.UTC().Format(time.RFC3339))
	host, checkable := ThisHost()
	if checkable && l.Host == host {
		return fmt.Errorf("%w: %s; that process is still running: wait for it to finish, or stop it (kill %d) and run again (the lock of a process that is gone is taken over)", ErrLocked, held, l.PID)
	}
	return fmt.Errorf("%w: %s; wait for it to finish or for the lock to expire, or, if that run is gone (its host cannot be checked from here), run `hp state unlock %s --force`", ErrLocked, held, target)
}

// RunID is the run holding the lock, which the run publishes under.
func (h *Handle) RunID() string {
	if h.State.Lock == nil {
		return ""
	}
	return h.State.Lock.RunID
}

// Begin names the run about to be published (the next chunk of a delta)
// in the lock, so that the lock always names the run in progress.
func (h *Handle) Begin(ctx context.Context, runID string) error {
	if h.State.Lock == nil || h.State.Lock.RunID == runID {
		return nil
	}
	h.State.Lock.RunID = runID
	return h.write(ctx)
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

// Advance commits a new high-water mark after the run holding the lock
// (RunID) was published.
func (h *Handle) Advance(ctx context.Context, driver, driverType string, high *sdk.Value, manifestURL string, now time.Time) error {
	h.State.Driver, h.State.DriverType = driver, driverType
	if high != nil {
		h.State.HighWaterMark = Format(high)
	}
	h.State.LastRunID, h.State.LastManifest, h.State.UpdatedAt = h.RunID(), manifestURL, now.UTC()
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

// URL names the state in messages.
func (h *Handle) URL() string { return h.url }
