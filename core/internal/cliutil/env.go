package cliutil

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
	"github.com/halfpipe-io/halfpipe/core/internal/suggest"
	"github.com/halfpipe-io/halfpipe/sdk/profile"
)

// EnvName is the environment variable that sets a flag: HP_ + the flag's
// name in upper case with '-' as '_' (--max-file-rows → HP_MAX_FILE_ROWS).
func EnvName(flag string) string {
	return "HP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// ApplyEnv sets every flag of cmd that was not given on the command line
// from its environment variable. Booleans accept only true/false/1/0.
func ApplyEnv(cmd *cobra.Command, lookup func(string) (string, bool)) error {
	return ApplyEnvFlags(lookup, cmd.Flags(), cmd.InheritedFlags())
}

// ApplyEnvFlags sets every flag of the sets that was not given on the
// command line from its environment variable.
func ApplyEnvFlags(lookup func(string) (string, bool), sets ...*pflag.FlagSet) error {
	var errs []string
	visit := func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := EnvName(f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if f.Value.Type() == "bool" {
			b, err := ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
				return
			}
			v = fmt.Sprint(b)
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			return
		}
		f.Changed = true
	}
	for _, fs := range sets {
		fs.VisitAll(visit)
	}
	if len(errs) > 0 {
		return UsageErrorf("bad environment variable %s", strings.Join(errs, "; "))
	}
	return nil
}

// ParseBool accepts exactly true, false, 1 and 0 (any case).
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: use true, false, 1 or 0", s)
}

// CheckEnv warns of the HP_ variables of environ that are set and that
// name no flag (known holds the flags' variables), no 12-factor variable,
// no connection's DSN, type or region, and no option of a connection in
// conns, each with the nearest known name: a misspelt variable must not
// pass in silence.
//
// The known variables are hp's own from then on: conns takes none of them
// for a connection's option.
func CheckEnv(log *slog.Logger, known map[string]bool, environ []string, lookup func(string) (string, bool), conns *config.Store) {
	known["HP_CONFIG_DIR"] = true
	known[profile.Env] = true
	for _, v := range halfpipe.TwelveFactorVars {
		known[v[0]] = true
	}
	if conns != nil {
		conns.NotOptions = func(k string) bool { return known[k] }
	}
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "HP_") || known[k] || halfpipe.IsConnectionVar(k) || conns.IsOptionVar(k, environ) {
			continue
		}
		if _, ok := lookup(k); !ok {
			continue
		}
		log.Warn("environment variable matches no flag of this command and is ignored", "variable", k, "did_you_mean", suggest.Nearest(k, names))
	}
	if _, ok := lookup("HP_AUTH_KEY"); ok {
		log.Info("HP_AUTH_KEY is ignored: halfpipe needs no licence key")
	}
}
