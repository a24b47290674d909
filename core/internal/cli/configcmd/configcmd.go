// Package configcmd implements `hp config connections add|list|rm`.
package configcmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/catalog"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// NewCmd returns `hp config`.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	conns := f.Conns()
	conns.OptionSpecs = func(scheme string) ([]sdk.OptionSpec, error) { return optionSpecs(f.Host, scheme) }
	cmd := &cobra.Command{Use: "config", Short: "Manage hp's configuration"}
	cc := &cobra.Command{Use: "connections", Aliases: []string{"connection", "conn"}, Short: "Manage named connections"}
	cmd.AddCommand(cc)

	var dsn, typ string
	var options []string
	var force bool
	add := &cobra.Command{
		Use:   "add NAME --dsn URL",
		Short: "Add a named connection to the connections file",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cliutil.UsageErrorf("hp config connections add takes one NAME")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if dsn == "" {
				return cliutil.UsageErrorf("--dsn is required")
			}
			opts := map[string]string{}
			for _, kv := range options {
				k, v, err := config.ParseOption(kv)
				if err != nil {
					return cliutil.UsageErrorf("--option: %v", err)
				}
				opts[k] = v
			}
			if len(opts) == 0 {
				opts = nil
			}
			stored, err := conns.Add(args[0], dsn, typ, opts, force)
			if err != nil {
				return cliutil.UsageErrorf("%v", err)
			}
			fmt.Fprintf(f.IO.ErrOut, "added %s to %s\n", args[0], conns.Path)
			if stored != dsn {
				fmt.Fprintf(f.IO.ErrOut, "stored the file DSN as the absolute path %s\n", sdk.MaskDSN(stored))
			}
			return nil
		},
	}
	add.Flags().StringVar(&dsn, "dsn", "", "Connection URL (see the table below)")
	add.Flags().StringVar(&typ, "type", "", "Expected connection type (optional; checked against the DSN)")
	add.Flags().StringArrayVar(&options, "option", nil, "Connector option as name=value (repeatable; checked against the connector's options when it starts)")
	add.Flags().BoolVar(&force, "force", false, "Replace an existing connection")
	defaultHelp := add.HelpFunc()
	add.SetHelpFunc(func(c *cobra.Command, args []string) {
		defaultHelp(c, args)
		fmt.Fprintf(c.OutOrStdout(), "\nConnection types (from the installed plugins and hp's built-in stores):\n\n%s", connectionTable(c.Context(), f.Host))
	})

	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List named connections (passwords and secret options masked)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := cliutil.CheckOutput(output); err != nil {
				return err
			}
			var environ []string
			if f.Environ != nil {
				environ = f.Environ()
			}
			entries, err := conns.List(environ)
			if err != nil {
				return err
			}
			if output == "json" {
				return cliutil.WriteJSON(f.IO.Out, entries)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDSN\tTYPE\tOPTIONS\tFROM")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.DSN, e.Type, formatOptions(e.Options), e.From)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&output, "output", "text", "Output format: text or json")
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a named connection",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cliutil.UsageErrorf("hp config connections rm takes one NAME")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if err := conns.Remove(args[0]); err != nil {
				return cliutil.UsageErrorf("%v", err)
			}
			return nil
		},
	}
	cc.AddCommand(add, list, rm)
	return cmd
}

// connectionTable lists every connection type known to the installed
// plugins and the built-in stores.
func connectionTable(ctx context.Context, h func() *host.Host) string {
	if ctx == nil {
		ctx = context.Background()
	}
	entries := catalog.Builtins()
	ps, _ := h().Plugins()
	for _, p := range ps {
		if p.Shadowed || p.Refused != nil {
			continue
		}
		inst, err := h().Launch(ctx, p)
		if err != nil {
			continue
		}
		entries = append(entries, catalog.FromInfo(inst.Info))
		inst.Close()
	}
	return catalog.Table(entries)
}

// formatOptions shows options as name=value pairs, sorted.
func formatOptions(opts map[string]string) string {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + opts[k]
	}
	return strings.Join(keys, ",")
}

// optionSpecs asks the plugin that serves a scheme for its options, so
// that list can tell which are secret.
func optionSpecs(h func() *host.Host, scheme string) ([]sdk.OptionSpec, error) {
	inst, err := h().ForScheme(context.Background(), scheme)
	if err != nil {
		return nil, err
	}
	return inst.Info.Options, nil
}
