package config

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/bytesize"
	"github.com/halfpipe-io/halfpipe/core/internal/suggest"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// reservedVars are the per-connection variables that are not connector
// options: HP_<NAME>_DSN, HP_<NAME>_TYPE, HP_<NAME>_S3_REGION.
var reservedVars = []string{"DSN", "TYPE", "S3_REGION"}

// IsReservedVar reports whether rest, what follows HP_<NAME>_ in a
// variable's name, is one of the per-connection variables that are not
// options (DSN, TYPE, S3_REGION), or ends like another connection's.
func IsReservedVar(rest string) bool {
	for _, r := range reservedVars {
		if rest == r || strings.HasSuffix(rest, "_"+r) {
			return true
		}
	}
	return false
}

var validOption = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ParseOption reads one "name=value" of --option; the name is lower-cased.
func ParseOption(kv string) (name, value string, err error) {
	name, value, ok := strings.Cut(kv, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	if !ok || !validOption.MatchString(name) {
		return "", "", fmt.Errorf("option %q is not name=value (a name is a letter followed by letters, digits or '_')", maskedOption(kv))
	}
	if reserved := strings.ToUpper(name); slices.Contains(reservedVars, reserved) {
		return "", "", fmt.Errorf("option %q is reserved: it is the connection's %s, not a connector option", name, reserved)
	}
	return name, value, nil
}

// maskedOption shows a name=value with its value hidden when the name
// looks secret.
func maskedOption(kv string) string {
	if name, _, ok := strings.Cut(kv, "="); ok && sdk.IsSecretKey(name) {
		return name + "=" + sdk.Mask
	}
	return kv
}

// optionState is what checking a connection's options against its
// connector's spec found. Copies of a Connection share it, so the copy a
// command keeps sees what a launch found.
type optionState struct {
	mu     sync.Mutex
	bound  bool
	wire   map[string]string
	secret map[string]bool
	// lookup finds HP_<NAME>_<OPTION> variables the environment listing
	// did not show (a Factory without Environ).
	lookup func(string) (string, bool)
	log    func() *slog.Logger
}

// Wire is the connection as a plugin receives it: the DSN and its
// options. Once Bind has checked the options, they are the checked and
// normalised ones; before that, the options as set.
func (c Connection) Wire() sdk.Connection {
	w := sdk.Connection{DSN: c.DSN}
	if c.opts != nil {
		c.opts.mu.Lock()
		defer c.opts.mu.Unlock()
		if c.opts.bound {
			if len(c.opts.wire) > 0 {
				w.Options = copyMap(c.opts.wire)
			}
			return w
		}
	}
	if len(c.Options) > 0 {
		w.Options = copyMap(c.Options)
	}
	return w
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// IsSecretOption reports whether an option's value must not be shown: the
// spec (once Bind has seen it) marks it secret, or its name looks secret.
func (c Connection) IsSecretOption(name string) bool {
	if sdk.IsSecretKey(name) {
		return true
	}
	if c.opts == nil {
		return false
	}
	c.opts.mu.Lock()
	defer c.opts.mu.Unlock()
	return c.opts.secret[name]
}

// MaskedOptions returns the options set, secret values masked, for
// display.
func (c Connection) MaskedOptions() map[string]string {
	if len(c.Options) == 0 {
		return nil
	}
	out := make(map[string]string, len(c.Options))
	for k, v := range c.Options {
		if c.IsSecretOption(k) {
			v = sdk.Mask
		}
		out[k] = v
	}
	return out
}

// secretValues lists the values of the connection's secret options.
func (c Connection) secretValues() []string {
	var out []string
	for k, v := range c.Options {
		if c.IsSecretOption(k) {
			out = append(out, v)
		}
	}
	return out
}

// EnvName is the variable that sets an option of a connection:
// HP_<NAME>_<OPTION>.
func EnvName(conn, option string) string {
	return EnvPrefix(conn) + strings.ToUpper(option)
}

// Bind checks the connection's options against the spec of the connector
// that serves it, once that connector is known: an option the spec does
// not list is dropped with a warning naming the nearest one; a required
// option missing and a value that does not parse as its type are errors
// (sdk.ErrInvalidArgument). Values are normalised as sdk.OptionSpec.Type
// says, and Wire then sends them. Options the spec marks secret are masked
// from then on.
func (c Connection) Bind(info sdk.Info) error {
	st := c.opts
	if st == nil {
		st = &optionState{}
	}
	log := slog.Default()
	if st.log != nil && st.log() != nil {
		log = st.log()
	}
	specs := map[string]sdk.OptionSpec{}
	var names []string
	for _, o := range info.Options {
		specs[o.Name] = o
		names = append(names, o.Name)
	}
	set := copyMap(c.Options)
	// Variables of the spec's options that the environment listing missed.
	if st.lookup != nil {
		for _, n := range names {
			if _, ok := set[n]; ok {
				continue
			}
			if v, ok := st.lookup(EnvName(c.Name, n)); ok {
				set[n] = v
				c.Options[n] = v
				c.OptionFrom[n] = "env " + EnvName(c.Name, n)
			}
		}
	}
	wire := map[string]string{}
	secret := map[string]bool{}
	var errs []error
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := set[k]
		spec, ok := specs[k]
		if !ok {
			args := []any{"connection", c.Name, "option", k, "set_by", c.OptionFrom[k], "connector", info.Name}
			if n := suggest.Likely(k, names); n != "" {
				args = append(args, "did_you_mean", n)
			}
			log.Warn("the connector has no such option; it is ignored", args...)
			continue
		}
		isSecret := spec.Secret || sdk.IsSecretKey(k)
		secret[k] = isSecret
		norm, err := normalise(spec.Type, v)
		if err != nil {
			shown := strconv.Quote(v)
			if isSecret {
				shown = sdk.Mask
			}
			errs = append(errs, fmt.Errorf("connection %q: option %s = %s (%s): %v", c.Name, k, shown, c.OptionFrom[k], err))
			continue
		}
		wire[k] = norm
	}
	for _, n := range names {
		if _, ok := set[n]; !ok && specs[n].Required {
			errs = append(errs, fmt.Errorf("connection %q: the %s connector requires option %s: set %s or add it under options: in the connections file", c.Name, info.Name, n, EnvName(c.Name, n)))
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	// Secrets count even when the options are refused: the error is
	// printed next.
	st.secret = secret
	if len(errs) > 0 {
		return sdk.Errorf(sdk.ErrInvalidArgument, "%v", errors.Join(errs...))
	}
	st.bound, st.wire = true, wire
	return nil
}

// normalise checks a value against an option type and returns it as the
// plugin receives it.
func normalise(typ, v string) (string, error) {
	switch strings.ToLower(typ) {
	case "", "string":
		return v, nil
	case "int":
		if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
			return "", fmt.Errorf("not an integer")
		}
		return strings.TrimSpace(v), nil
	case "bool":
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1":
			return "true", nil
		case "false", "0":
			return "false", nil
		}
		return "", fmt.Errorf("not a boolean: use true, false, 1 or 0")
	case "duration":
		t := strings.TrimSpace(v)
		if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 {
			return strconv.FormatInt(n, 10), nil
		}
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 {
			return "", fmt.Errorf("not a duration: use e.g. 30s, 1m30s, 250ms or a number of milliseconds")
		}
		ms := d.Milliseconds()
		if d%time.Millisecond != 0 {
			ms++ // a wait is never cut short
		}
		return strconv.FormatInt(ms, 10), nil
	case "size":
		n, err := bytesize.Parse(v)
		if err != nil {
			return "", fmt.Errorf("not a size: use e.g. 1048576, 64MiB or 1GB")
		}
		return strconv.FormatInt(n, 10), nil
	}
	// A type this hp does not know is passed on unchecked.
	return v, nil
}

// envOptions finds the HP_<NAME>_<OPTION> variables of a connection in
// environ: not the reserved variables, not hp's own (notOption, if set),
// and not the variables of another connection whose name extends this
// one's (HP_PG_X_ROWS belongs to pg_x when pg_x is defined).
func envOptions(name string, environ []string, others []string, notOption func(string) bool) (map[string]string, map[string]string) {
	prefix := EnvPrefix(name)
	var longer []string
	for _, o := range others {
		if p := EnvPrefix(o); len(p) > len(prefix) && strings.HasPrefix(p, prefix) {
			longer = append(longer, p)
		}
	}
	vals, from := map[string]string{}, map[string]string{}
outer:
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || rest == "" || IsReservedVar(rest) || (notOption != nil && notOption(k)) {
			continue
		}
		for _, p := range longer {
			if strings.HasPrefix(k, p) {
				continue outer
			}
		}
		opt := strings.ToLower(rest)
		vals[opt], from[opt] = v, "env "+k
	}
	return vals, from
}

// maskedError masks values in an error's message and keeps its kind.
type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

// maskValues replaces every value (of three characters or more: shorter
// ones would mask unrelated text) in err's message.
func maskValues(err error, values []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	sort.Slice(values, func(a, b int) bool { return len(values[a]) > len(values[b]) })
	for _, v := range values {
		if len(v) >= 3 {
			msg = strings.ReplaceAll(msg, v, sdk.Mask)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &maskedError{msg: msg, err: err}
}
