// Package state implements `hp state show|set|reset|unlock`: inspect and
// repair the delta state (high-water mark and lock) that hp cp delta keeps
// beside a target object.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/layout"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Options are the inputs of every `hp state` command.
type Options struct {
	IO     *cliutil.IOStreams
	Conns  *config.Store
	Target string // <conn>.<object>, as the target of hp cp delta
	Output string // show: text or json
	S3     store.S3Options
	Now    func() time.Time
	// StateURL is hp cp delta's --state: the state kept elsewhere.
	StateURL string

	// set
	HighWaterMark string
	Driver        string
	DriverType    string

	Force bool // act despite a live lock
	Yes   bool // reset: confirm

	// OpenStore opens the target's store (registry.OpenStore when nil).
	OpenStore func(ctx context.Context, c config.Connection) (store.Store, error)
}

// driverTypes are the driver types a state can record.
var driverTypes = []string{"timestamp", "date", "int64", "uint64", "decimal", "string"}

// NewCmd returns `hp state` and its subcommands.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Conns: &config.Store{Path: config.DefaultPath(f.Getenv), LookupEnv: f.LookupEnv}, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Inspect and repair the delta state (high-water mark, lock) of a target object",
		Long: `hp cp delta keeps the high-water mark of every target object, and the lock
of the run in progress, in <object>/_state.json beside the output. These
commands take the same <conn>.<object> as the target of hp cp delta and
show that state, set the mark by hand, reset it so that the next run
starts over, or clear the lock of a run that crashed.

Every change is a compare-and-swap against the state as it was read: if a
delta run changes it in between, nothing is written and the command fails
(exit 1). A change made while a run holds the lock (--force) makes that
run fail when it next saves the state, so it never overwrites the change.`,
		Example: `  hp state show out.x/orders
  hp state set out.x/orders --high-water-mark 2026-03-01T00:00:00Z
  hp state set out.x/events --high-water-mark 1000 --driver id --driver-type int64
  hp state unlock out.x/orders
  hp state reset out.x/orders --yes`,
	}
	for _, sub := range []*cobra.Command{newShowCmd(o), newSetCmd(o), newResetCmd(o), newUnlockCmd(o)} {
		store.BindS3Flags(sub.Flags(), &o.S3)
		sub.Flags().StringVar(&o.StateURL, "state", "", "The state's URL, when hp cp delta keeps it elsewhere (its --state)")
		cmd.AddCommand(sub)
	}
	return cmd
}

func oneTarget(name string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return cliutil.UsageErrorf("hp state %s takes one <conn>.<object> (the target of hp cp delta), got %d argument(s)", name, len(args))
		}
		return nil
	}
}

func newShowCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <conn>.<object>",
		Short: "Print the delta state of a target object",
		Long: `Print the delta state of a target object: the driver column and its type,
the high-water mark (the next run reads the rows above it), the last run
and its manifest, when the mark last changed, and the lock, if a run holds
it, with whether it has expired. --output json prints the state document
itself.

Exits 1 when the object has no delta state.`,
		Example: `  hp state show out.x/orders
  hp state show lake.orders --output json`,
		Args: oneTarget("show"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return Show(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Output, "output", "text", "Output format: text or json")
	return cmd
}

func newSetCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set <conn>.<object> --high-water-mark VALUE [--driver COL --driver-type TYPE]",
		Short: "Set the high-water mark of a target object",
		Long: `Set the high-water mark of a target object exactly: the next hp cp delta
reads the rows whose driver is above VALUE. A lower mark re-extracts rows;
a higher one skips them.

VALUE is checked against the driver's type: an ISO 8601 time (or
YYYYMMDDTHHMMSS) for timestamp, a date for date, a number for int64,
uint64 and decimal, any text for string. Where no state exists yet, give
the driver column (--driver) and its type (--driver-type: timestamp, date,
int64, uint64, decimal or string); otherwise they come from the state, and
if given must match it (to track another column, reset first).

Refuses while a run holds a lock that has not expired, unless --force.`,
		Example: `  hp state set out.x/orders --high-water-mark 2026-03-01T00:00:00Z
  hp state set out.x/events --high-water-mark 1000 --driver id --driver-type int64`,
		Args: oneTarget("set"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return Set(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.HighWaterMark, "high-water-mark", "", "The new high-water mark (required)")
	fl.StringVar(&o.Driver, "driver", "", "Driver column (required when there is no state yet)")
	fl.StringVar(&o.DriverType, "driver-type", "", "Driver type: "+strings.Join(driverTypes, ", ")+" (required when the state has none)")
	fl.BoolVar(&o.Force, "force", false, "Set the mark even though a run holds a lock that has not expired")
	return cmd
}

func newResetCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reset <conn>.<object> --yes",
		Short: "Remove the delta state of a target object, so that the next run starts over",
		Long: `Remove the delta state of a target object: its high-water mark, driver,
last run and lock. The next hp cp delta starts again from --start-date or
--start-sequence, or from the first row, and may use another driver
column. Files already published are left as they are.

Asks no question but requires --yes. Refuses while a run holds a lock that
has not expired, unless --force: then only the mark is removed and the
lock is kept, so that the run in progress fails instead of saving its mark
(clear the lock with hp state unlock once it has stopped).`,
		Example: `  hp state reset out.x/orders --yes`,
		Args:    oneTarget("reset"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return Reset(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.Yes, "yes", false, "Confirm the reset")
	fl.BoolVar(&o.Force, "force", false, "Reset even though a run holds a lock that has not expired")
	return cmd
}

func newUnlockCmd(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unlock <conn>.<object>",
		Short: "Clear the lock left by a delta run that crashed",
		Long: `Clear the lock a delta run holds on the state of a target object, when
that run is gone (killed, crashed, timed out) and the next run must not
wait for the lock to expire. Prints who held it. The high-water mark is
unchanged.

A lock whose process no longer runs on this host is cleared without
--force. Any other lock that has not expired is refused unless --force:
make sure the run holding it has stopped. If it is still running, it fails when it next
saves the state and advances nothing.`,
		Example: `  hp state unlock out.x/orders
  hp state unlock out.x/orders --force`,
		Args: oneTarget("unlock"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return Unlock(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.Force, "force", false, "Clear a lock that has not expired")
	return cmd
}

// target is an opened state location.
type target struct {
	vst store.Versioned
	key string
	url string
}

// current is the state as read, with the version to swap against.
type current struct {
	found   bool
	version string
	state   *delta.State // nil when not found or unreadable
	bad     error        // why the document could not be read
	lock    *delta.Lock  // the lock, also of an unreadable document when it shows one
}

func (o *Options) open(ctx context.Context) (*target, error) {
	if o.StateURL != "" {
		return located(delta.Locate(ctx, nil, "", "", "", o.StateURL, o.S3))
	}
	name, object, err := config.SplitConnObject(o.Target)
	if err != nil {
		return nil, cliutil.UsageErrorf("%v", err)
	}
	prefix, obj := layout.SplitTarget(object)
	if obj == "" {
		return nil, cliutil.UsageErrorf("%q names no object: give the target of hp cp delta, e.g. %s.extracts/orders", o.Target, name)
	}
	c, err := o.Conns.Resolve(name)
	if err != nil {
		return nil, cliutil.UsageErrorf("%v", err)
	}
	if !registry.IsStore(c) || c.Scheme == "stdout" {
		return nil, cliutil.UsageErrorf("connection %q (%s) is not a file or s3 target: delta state is kept beside the files of hp cp delta", c.Name, sdk.MaskDSN(c.DSN))
	}
	var st store.Store
	if o.OpenStore != nil {
		st, err = o.OpenStore(ctx, c)
	} else {
		st, err = registry.OpenStore(ctx, c, "", o.IO.Out, o.S3)
	}
	if err != nil {
		return nil, err
	}
	return located(delta.Locate(ctx, st, fmt.Sprintf("target %q", c.Name), prefix, obj, "", o.S3))
}

func located(l *delta.Location, err error) (*target, error) {
	if err != nil {
		return nil, err
	}
	return &target{vst: l.Store, key: l.Key, url: l.URL}, nil
}

func (t *target) read(ctx context.Context) (*current, error) {
	data, version, err := t.vst.GetVersion(ctx, t.key)
	switch {
	case errors.Is(err, store.ErrNotExist):
		return &current{}, nil
	case err != nil:
		return nil, fmt.Errorf("reading the delta state %s: %w", t.url, err)
	}
	c := &current{found: true, version: version}
	s, err := delta.ParseState(data)
	if err != nil {
		c.bad = err
		// Look for a lock all the same, so that repairing an unreadable
		// state does not run over a live run.
		var loose struct {
			Lock *delta.Lock `json:"lock"`
		}
		if json.Unmarshal(data, &loose) == nil {
			c.lock = loose.Lock
		}
		return c, nil
	}
	c.state, c.lock = s, s.Lock
	return c, nil
}

// write swaps in s if the state is still the one read.
func (t *target) write(ctx context.Context, cmd string, s *delta.State, version string) error {
	if err := t.vst.PutIfVersion(ctx, t.key, s.Marshal(), version); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return t.changed(cmd, err)
		}
		return fmt.Errorf("writing the delta state %s: %w", t.url, err)
	}
	return nil
}

func (t *target) changed(cmd string, err error) error {
	return fmt.Errorf("the delta state %s changed while hp state %s was updating it (a delta run started or finished?): nothing was written; check it with hp state show and try again: %w", t.url, cmd, err)
}

func (o *Options) noState(t *target) error {
	return fmt.Errorf("no delta state at %s (hp cp delta creates it on its first run)", t.url)
}

func (o *Options) unreadable(t *target, c *current) error {
	return fmt.Errorf("the delta state %s cannot be read: %w (repair it with hp state set, or hp state reset)", t.url, c.bad)
}

func describeLock(l *delta.Lock) string {
	return fmt.Sprintf("run %s on %s (pid %d) since %s", l.RunID, orDash(l.Host), l.PID, l.Since.UTC().Format(time.RFC3339))
}

// refuseLive fails when a run holds a live lock and --force is not given.
func (o *Options) refuseLive(t *target, c *current, cmd string) error {
	if !c.lock.Held(o.Now()) || o.Force {
		return nil
	}
	how := "if it is gone, give --force"
	if host, checkable := delta.ThisHost(); checkable && host == c.lock.Host {
		how = fmt.Sprintf("pid %d is still running on this host: wait for it, or stop it", c.lock.PID)
	}
	return fmt.Errorf("%w %s: %s, until %s; hp state %s refuses while that run may be going (%s)",
		delta.ErrLocked, t.url, describeLock(c.lock), c.lock.Expires.UTC().Format(time.RFC3339), cmd, how)
}

// readable opens and reads the state, failing when there is none or it
// cannot be parsed.
func (o *Options) readable(ctx context.Context) (*target, *current, error) {
	t, err := o.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := t.read(ctx)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !c.found:
		return nil, nil, o.noState(t)
	case c.bad != nil:
		return nil, nil, o.unreadable(t, c)
	}
	return t, c, nil
}

// Show prints the state.
func Show(ctx context.Context, o *Options) error {
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return err
	}
	t, c, err := o.readable(ctx)
	if err != nil {
		return err
	}
	s := c.state
	if o.Output == "json" {
		_, err := o.IO.Out.Write(s.Marshal())
		return err
	}
	return printText(o.IO.Out, t.url, s, o.Now())
}

func printText(w io.Writer, url string, s *delta.State, now time.Time) error {
	typ := s.DriverType
	if typ == "" {
		typ = "type not known yet"
	}
	mark := s.HighWaterMark
	if mark == "" {
		mark = "none (the next run starts from --start-date/--start-sequence, or from the first row)"
	}
	updated := "-"
	if !s.UpdatedAt.IsZero() {
		updated = s.UpdatedAt.UTC().Format(time.RFC3339)
	}
	lock := "none"
	if l := s.Lock; l != nil {
		switch {
		case l.Held(now):
			lock = fmt.Sprintf("held by %s, until %s (live: %s left)", describeLock(l), l.Expires.UTC().Format(time.RFC3339), l.Expires.Sub(now).Round(time.Second))
		case now.Before(l.Expires):
			lock = fmt.Sprintf("held by %s, whose process is no longer running on this host (the next run takes it over)", describeLock(l))
		default:
			lock = fmt.Sprintf("held by %s, expired at %s (the next run takes it over)", describeLock(l), l.Expires.UTC().Format(time.RFC3339))
		}
	}
	source := "not recorded (the next run records its own)"
	if s.Source != nil {
		source = s.Source.String()
	}
	_, err := fmt.Fprintf(w, "state:            %s\nsource:           %s\ndriver:           %s (%s)\nhigh-water mark:  %s\nlast run:         %s\nlast manifest:    %s\nupdated at:       %s\nlock:             %s\n",
		url, source, s.Driver, typ, mark, orDash(s.LastRunID), orDash(s.LastManifest), updated, lock)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Set sets the high-water mark.
func Set(ctx context.Context, o *Options) error {
	if o.HighWaterMark == "" {
		return cliutil.UsageErrorf("hp state set needs --high-water-mark VALUE (to remove the mark, use hp state reset)")
	}
	if o.DriverType != "" && !slices.Contains(driverTypes, o.DriverType) {
		return cliutil.UsageErrorf("--driver-type %q: use one of %s", o.DriverType, strings.Join(driverTypes, ", "))
	}
	t, err := o.open(ctx)
	if err != nil {
		return err
	}
	c, err := t.read(ctx)
	if err != nil {
		return err
	}
	var s delta.State
	switch {
	case c.state != nil:
		s = *c.state
		if o.Driver != "" && o.Driver != s.Driver {
			return cliutil.UsageErrorf("the delta state %s tracks driver %q, not %q: to track another column, hp state reset first", t.url, s.Driver, o.Driver)
		}
		if o.DriverType != "" && s.DriverType != "" && o.DriverType != s.DriverType {
			return cliutil.UsageErrorf("the delta state %s records driver %s as %s, not %s", t.url, s.Driver, s.DriverType, o.DriverType)
		}
		if s.DriverType == "" {
			if o.DriverType == "" {
				return cliutil.UsageErrorf("the delta state %s does not know the type of driver %s yet: give --driver-type (%s)", t.url, s.Driver, strings.Join(driverTypes, ", "))
			}
			s.DriverType = o.DriverType
		}
	default:
		if o.Driver == "" || o.DriverType == "" {
			why := "there is no delta state at " + t.url + " yet"
			if c.bad != nil {
				why = fmt.Sprintf("the delta state %s cannot be read (%v)", t.url, c.bad)
			}
			return cliutil.UsageErrorf("%s: give --driver COL and --driver-type (%s) with --high-water-mark", why, strings.Join(driverTypes, ", "))
		}
		s = delta.State{Driver: o.Driver, DriverType: o.DriverType, Lock: c.lock}
	}
	v, err := delta.Parse(s.DriverType, o.HighWaterMark)
	if err != nil {
		return cliutil.UsageErrorf("--high-water-mark: not a valid %s for driver %s: %v", s.DriverType, s.Driver, err)
	}
	if err := o.refuseLive(t, c, "set"); err != nil {
		return err
	}
	old := ""
	if c.state != nil {
		old = c.state.HighWaterMark
	}
	s.HighWaterMark = delta.Format(v)
	s.UpdatedAt = o.Now().UTC()
	if err := t.write(ctx, "set", &s, c.version); err != nil {
		return err
	}
	if c.bad != nil {
		fmt.Fprintf(o.IO.ErrOut, "replaced the unreadable delta state %s (%v)\n", t.url, c.bad)
	}
	fmt.Fprintf(o.IO.ErrOut, "high-water mark of %s at %s: %s → %s\n", s.Driver, t.url, orNone(old), s.HighWaterMark)
	if old != "" && c.state.DriverType == s.DriverType {
		if ov, err := delta.Parse(s.DriverType, old); err == nil {
			switch delta.Compare(v, ov) {
			case 1:
				fmt.Fprintf(o.IO.ErrOut, "the mark moved forward: rows with %s in (%s, %s] will not be extracted\n", s.Driver, old, s.HighWaterMark)
			case -1:
				fmt.Fprintf(o.IO.ErrOut, "the mark moved back: the next run extracts the rows with %s above %s again\n", s.Driver, s.HighWaterMark)
			}
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Reset removes the state.
func Reset(ctx context.Context, o *Options) error {
	t, err := o.open(ctx)
	if err != nil {
		return err
	}
	if !o.Yes {
		return cliutil.UsageErrorf("hp state reset removes the high-water mark kept at %s: the next hp cp delta starts again from --start-date/--start-sequence, or from the first row; give --yes to do it", t.url)
	}
	c, err := t.read(ctx)
	if err != nil {
		return err
	}
	if !c.found {
		return fmt.Errorf("%w: nothing to reset", o.noState(t))
	}
	if err := o.refuseLive(t, c, "reset"); err != nil {
		return err
	}
	old := ""
	if c.state != nil {
		old = c.state.HighWaterMark
	}
	if c.state != nil && c.lock.Held(o.Now()) {
		// A run may still be going: keep its lock, so that no other starts
		// before it is cleared, and change the version under it, so that
		// it cannot save its mark over the reset.
		s := delta.State{Driver: c.state.Driver, DriverType: c.state.DriverType, Lock: c.lock, UpdatedAt: o.Now().UTC()}
		if err := t.write(ctx, "reset", &s, c.version); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.ErrOut, "reset the delta state %s: high-water mark %s removed; the lock of %s is kept (the run fails when it next saves the state): clear it with hp state unlock --force once the run has stopped\n",
			t.url, orNone(old), describeLock(c.lock))
		return nil
	}
	// Removed only if unchanged since the read: a run may have started.
	if err := t.vst.DeleteIfVersion(ctx, t.key, c.version); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return t.changed("reset", err)
		}
		return fmt.Errorf("removing the delta state %s: %w", t.url, err)
	}
	if c.bad != nil {
		fmt.Fprintf(o.IO.ErrOut, "removed the unreadable delta state %s (%v)\n", t.url, c.bad)
		return nil
	}
	fmt.Fprintf(o.IO.ErrOut, "removed the delta state %s (driver %s, high-water mark %s): the next hp cp delta starts from --start-date/--start-sequence, or from the first row\n",
		t.url, c.state.Driver, orNone(old))
	return nil
}

// Unlock clears the lock.
func Unlock(ctx context.Context, o *Options) error {
	t, c, err := o.readable(ctx)
	if err != nil {
		return err
	}
	s := *c.state
	if s.Lock == nil {
		fmt.Fprintf(o.IO.ErrOut, "no lock is held on %s\n", t.url)
		return nil
	}
	if err := o.refuseLive(t, c, "unlock"); err != nil {
		return err
	}
	l := s.Lock
	s.Lock = nil
	if err := t.write(ctx, "unlock", &s, c.version); err != nil {
		return err
	}
	how := "expired at"
	switch {
	case l.Held(o.Now()):
		how = "forced; it would have expired at"
	case o.Now().Before(l.Expires):
		how = "its process is no longer running on this host; it would have expired at"
	}
	fmt.Fprintf(o.IO.ErrOut, "unlocked %s: the lock was held by %s (%s %s)\n", t.url, describeLock(l), how, l.Expires.UTC().Format(time.RFC3339))
	return nil
}
