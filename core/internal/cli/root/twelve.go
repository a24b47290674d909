package root

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
)

// twelveFactorVars are the variables of 12-factor mode that are not flags,
// with what they do; the original Halfpipe's names.
var twelveFactorVars = [][2]string{
	{"HP_12FACTOR_MODE", "Any non-empty value: run one job from the environment alone (no arguments)"},
	{"HP_COMMAND", "The command: cp, query, runs, verify, gc, state"},
	{"HP_SUBCOMMAND", "The subcommand: snap or delta for cp; show for state"},
	{"HP_SOURCE_DSN", "DSN of the source connection, named \"source\""},
	{"HP_SOURCE_OBJECT", "Source table ([schema.]table), or the SQL of hp query"},
	{"HP_SOURCE_TYPE", "Expected source type (optional: inferred from the DSN, checked when given)"},
	{"HP_TARGET_DSN", "DSN of the target connection, named \"target\" (s3://bucket/prefix, a directory, a database)"},
	{"HP_TARGET_OBJECT", "Target object (a name or path under the target; a table for databases)"},
	{"HP_TARGET_TYPE", "Expected target type (optional, checked when given)"},
	{"HP_TARGET_S3_REGION", "Region of an S3 target (also ?region= or HP_S3_REGION)"},
	{"HP_<NAME>_DSN", "Any other connection, by name"},
	{"HP_AUTH_KEY", "Accepted and ignored: halfpipe needs no licence key"},
}

// TwelveFactorArgs builds the command line of a 12-factor job from the
// environment: HP_COMMAND, HP_SUBCOMMAND and the source and target
// objects; every flag then comes from its HP_<FLAG> variable.
func TwelveFactorArgs(lookup func(string) (string, bool)) ([]string, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	command, sub := get("HP_COMMAND"), get("HP_SUBCOMMAND")
	if command == "" {
		return nil, cliutil.UsageErrorf("HP_12FACTOR_MODE is set but HP_COMMAND is not: set HP_COMMAND (cp, query, runs, verify, state) and HP_SUBCOMMAND (snap, delta, ...); hp 12f lists every variable")
	}
	args := []string{command}
	if sub != "" {
		args = append(args, sub)
	}
	target := "target"
	if obj := get("HP_TARGET_OBJECT"); obj != "" {
		target += "." + obj
	}
	switch command {
	case "cp", "sync", "diff":
		src := get("HP_SOURCE_OBJECT")
		if src == "" {
			return nil, cliutil.UsageErrorf("HP_SOURCE_OBJECT is not set: name the source table")
		}
		args = append(args, "source."+src, target)
	case "query":
		q := get("HP_SOURCE_OBJECT")
		if q == "" {
			return nil, cliutil.UsageErrorf("HP_SOURCE_OBJECT is not set: give the SQL of hp query")
		}
		args = append(args, "source", q)
	case "runs", "verify", "state", "gc":
		args = append(args, target)
	}
	return args, nil
}

// checkEnv reports HP_ variables that no flag or 12-factor name uses,
// with the nearest known name: a misspelt variable must not pass in
// silence. anyCommand counts the flags of every command as known (on a
// command line, variables exported for other commands are normal).
func checkEnv(cmd *cobra.Command, lookup func(string) (string, bool), environ []string, log *slog.Logger, anyCommand bool, conns *config.Store) {
	known := map[string]bool{"HP_CONFIG_DIR": true}
	for _, v := range twelveFactorVars {
		known[v[0]] = true
	}
	add := func(f *pflag.Flag) { known[cliutil.EnvName(f.Name)] = true }
	cmd.Flags().VisitAll(add)
	cmd.InheritedFlags().VisitAll(add)
	if anyCommand {
		var walk func(*cobra.Command)
		walk = func(c *cobra.Command) {
			c.Flags().VisitAll(add)
			c.PersistentFlags().VisitAll(add)
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(cmd.Root())
	}
	var names []string
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "HP_") || known[k] || isConnectionVar(k) || conns.IsOptionVar(k, environ) {
			continue
		}
		if _, ok := lookup(k); !ok {
			continue
		}
		log.Warn("environment variable matches no flag of this command and is ignored", "variable", k, "did_you_mean", nearest(k, names))
	}
	if _, ok := lookup("HP_AUTH_KEY"); ok {
		log.Info("HP_AUTH_KEY is ignored: halfpipe needs no licence key")
	}
}

// isConnectionVar matches HP_<NAME>_DSN, _TYPE and _S3_REGION.
func isConnectionVar(k string) bool {
	for _, s := range []string{"_DSN", "_TYPE", "_S3_REGION"} {
		if strings.HasSuffix(k, s) && len(k) > len("HP_")+len(s) {
			return true
		}
	}
	return false
}

// nearest is the known name with the smallest edit distance.
func nearest(k string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := editDistance(k, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// newTwelveCmd is `hp 12f`: the table of environment variables.
func newTwelveCmd(f *cliutil.Factory, root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "12f",
		Short: "List the environment variables of 12-factor mode (and AWS Lambda)",
		Long: `List the environment variables that configure hp without arguments: set
HP_12FACTOR_MODE, HP_COMMAND and HP_SUBCOMMAND, the source and target, and
any flag of the command as HP_<FLAG>. In AWS Lambda the same variables
configure the function, and an invocation's event may override them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(f.IO.Out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "VARIABLE\tMEANING")
			for _, v := range twelveFactorVars {
				fmt.Fprintf(w, "%s\t%s\n", v[0], v[1])
			}
			for _, path := range [][]string{{"cp", "snap"}, {"cp", "delta"}, {"query"}, {"runs"}, {"verify"}, {"gc"}} {
				c, _, err := root.Find(path)
				if err != nil {
					continue
				}
				fmt.Fprintf(w, "\t\nHP_COMMAND=%s\t%s\n", strings.Join(path, " HP_SUBCOMMAND="), c.Short)
				seen := map[string]bool{}
				visit := func(fl *pflag.Flag) {
					name := cliutil.EnvName(fl.Name)
					if fl.Hidden || seen[name] {
						return
					}
					seen[name] = true
					def := ""
					if fl.DefValue != "" && fl.DefValue != "0" && fl.DefValue != "false" && fl.DefValue != "[]" {
						def = " (default " + fl.DefValue + ")"
					}
					fmt.Fprintf(w, "%s\t%s%s\n", name, fl.Usage, def)
				}
				c.LocalFlags().VisitAll(visit)
				c.InheritedFlags().VisitAll(visit)
			}
			return w.Flush()
		},
	}
}
