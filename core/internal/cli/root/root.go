// Package root assembles the hp command tree and runs it.
package root

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/checksums"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/configcmd"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/cp"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/create"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/diff"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/gc"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/gendocs"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/inspect"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/pipe"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/plugins"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/query"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/runs"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/shard"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/state"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/sync"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/verify"
	"github.com/halfpipe-io/halfpipe/core/internal/cli/version"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
	"github.com/halfpipe-io/halfpipe/core/internal/suggest"
)

// NewCmd returns the root command. started is set once a command's own
// code begins to run: errors before that are usage errors.
func NewCmd(f *cliutil.Factory, started *bool) *cobra.Command {
	var logLevel, logFormat string
	var showVersion bool
	cmd := &cobra.Command{
		Use:   "hp",
		Short: "halfpipe moves tables out of databases into files, object storage and warehouses",
		Long: `halfpipe (hp) moves tables out of operational databases into S3 or local
files as CSV, Parquet or JSON Lines with manifests, or into warehouses.

Every flag can also be set with an environment variable: HP_ followed by
the flag name in upper case with '-' as '_' (--max-file-rows is
HP_MAX_FILE_ROWS). Flags given on the command line win.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := cliutil.ApplyEnv(cmd, f.LookupEnv); err != nil {
				return err
			}
			_, inLambda := f.LookupEnv("AWS_LAMBDA_FUNCTION_NAME")
			logger, err := cliutil.NewLogger(f.IO.ErrOut, logLevel, logFormat, inLambda)
			if err != nil {
				return err
			}
			f.Logger = logger
			if f.Environ != nil {
				twelve, _ := f.LookupEnv("HP_12FACTOR_MODE")
				checkEnv(cmd, f.LookupEnv, f.Environ(), logger, twelve == "", f.Conns())
			}
			*started = true
			return nil
		},
	}
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cliutil.UsageErrorf("%v", err) })
	pf := cmd.PersistentFlags()
	pf.StringVar(&logLevel, "log-level", "info", "Log level: debug, info, warn or error")
	pf.StringVar(&logFormat, "log-format", "auto", "Log format: text, json, or auto (json in AWS Lambda)")
	pf.BoolVar(&f.RequireChecksums, "require-checksums", false, "Refuse plugins that have no SHA256SUMS entry")
	pf.StringVar(&f.CacheDir, "cache-dir", "", "Directory of hp's plugin info cache (plugins.json), default <user cache dir>/halfpipe; not used if others can write it")
	pf.StringVar(&f.PluginDir, "plugin-dir", "", "Extra plugin directories (':'-separated), searched first; also HP_PLUGIN_DIR")

	cmd.AddCommand(version.NewCmd(f), plugins.NewCmd(f), gendocs.NewCmd(f), cp.NewCmd(f), query.NewCmd(f), runs.NewCmd(f), verify.NewCmd(f), gc.NewCmd(f), state.NewCmd(f), configcmd.NewCmd(f), create.NewCmd(f), pipe.NewCmd(f), diff.NewCmd(f), sync.NewCmd(f), checksums.NewCmd(f))
	cmd.AddCommand(inspect.NewCmds(f)...)
	cmd.AddCommand(shard.NewCmds(f)...)
	cmd.AddCommand(newTwelveCmd(f, cmd))
	cmd.Flags().BoolVar(&showVersion, "version", false, "Print the version (as hp version does)")
	rejectUnknownSubcommands(cmd)
	groupRun := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if showVersion {
			vc, _, err := c.Find([]string{"version"})
			if err != nil {
				return err
			}
			if err := cliutil.ApplyEnv(vc, f.LookupEnv); err != nil {
				return err
			}
			return vc.RunE(vc, nil)
		}
		return groupRun(c, args)
	}
	return cmd
}

// rejectUnknownSubcommands makes every command group fail with a usage
// error naming the nearest subcommand: cobra would print the group's help
// and exit 0, so a typo would pass for success.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		rejectUnknownSubcommands(c)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		var names []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
				names = append(names, sub.Aliases...)
			}
		}
		if n := suggest.Nearest(args[0], names); n != "" && suggest.Distance(args[0], n) <= max(2, len(args[0])/3) {
			msg += fmt.Sprintf(": did you mean %q?", n)
		}
		return cliutil.UsageErrorf("%s; see %s --help", msg, c.CommandPath())
	}
}

// Run executes hp with args and returns the process exit code. Errors are
// printed to the error stream; every plugin started is stopped.
func Run(ctx context.Context, f *cliutil.Factory, args []string) int {
	code, err := Execute(ctx, f, args)
	if err == nil {
		return code
	}
	fmt.Fprintf(f.IO.ErrOut, "hp: error: %s\n", err.Error())
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(f.IO.ErrOut, "hp: stopped before the job finished: no manifest was published, and a table write that had not committed was rolled back")
	}
	return code
}

// Execute runs hp with args and returns its exit code and error. With no
// arguments and HP_12FACTOR_MODE set, the command line comes from the
// environment (halfpipe.TwelveFactorArgs).
func Execute(ctx context.Context, f *cliutil.Factory, args []string) (int, error) {
	if v, _ := f.LookupEnv("HP_12FACTOR_MODE"); v != "" && len(args) == 0 {
		var err error
		if args, err = halfpipe.TwelveFactorArgs(f.LookupEnv); err != nil {
			return cliutil.ExitUsage, err
		}
	}
	started := false
	cmd := NewCmd(f, &started)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	f.Close()
	if err == nil {
		return cliutil.ExitOK, nil
	}
	err = cliutil.MaskRunSecrets(f, args, err)
	code := cliutil.ExitCode(err)
	if !started {
		code = cliutil.ExitUsage
	}
	return code, err
}
