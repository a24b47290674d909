package root

import (
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
)

// checkEnv reports HP_ variables that name nothing (cliutil.CheckEnv).
// anyCommand counts the flags of every command as known (on a
// command line, variables exported for other commands are normal).
func checkEnv(cmd *cobra.Command, lookup func(string) (string, bool), environ []string, log *slog.Logger, anyCommand bool, conns *config.Store) {
	known := map[string]bool{}
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
	cliutil.CheckEnv(log, known, environ, lookup, conns)
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
			for _, v := range halfpipe.TwelveFactorVars {
				fmt.Fprintf(w, "%s\t%s\n", v[0], v[1])
			}
			for _, path := range [][]string{{"cp", "snap"}, {"cp", "delta"}, {"sync", "batch"}, {"pipe", "run"}, {"query"}, {"runs"}, {"verify"}, {"gc"}} {
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
