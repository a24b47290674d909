// Package inspect implements the commands that look at a connection
// without moving data: `hp ls` (ListObjects), `hp describe` (Describe)
// and `hp check` (Check).
package inspect

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Options are the inputs the three commands share.
type Options struct {
	IO    *cliutil.IOStreams
	Host  func() *host.Host
	Conns *config.Store
	// Arg is the command's argument: <conn>[.<schema>] for ls,
	// <conn>.<object> for describe, <conn> for check.
	Arg string
	// Output is text or json; JSON (--json) is short for json.
	Output string
	JSON   bool
	// Count is describe's --count: count the rows.
	Count bool
}

// NewCmds returns `hp ls`, `hp describe` and `hp check`.
func NewCmds(f *cliutil.Factory) []*cobra.Command {
	return []*cobra.Command{newLsCmd(f), newDescribeCmd(f), newCheckCmd(f)}
}

func newOptions(f *cliutil.Factory) *Options {
	return &Options{IO: f.IO, Host: f.Host, Conns: f.Conns()}
}

func addOutputFlags(cmd *cobra.Command, o *Options) {
	cmd.Flags().StringVar(&o.Output, "output", "text", "Output format: text or json")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "Print JSON (same as --output json)")
}

// output checks the output flags and says whether to print JSON.
func (o *Options) output() (bool, error) {
	if o.JSON {
		if o.Output != "text" && o.Output != "json" {
			return false, cliutil.UsageErrorf("--json and --output %q disagree", o.Output)
		}
		return true, nil
	}
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return false, err
	}
	return o.Output == "json", nil
}

// connect resolves a connection, starts the plugin that serves it, checks
// its options against the plugin's spec, and checks that the plugin has
// the capability a command needs.
func (o *Options) connect(ctx context.Context, name string, need sdk.Capability, what string) (config.Connection, *host.Instance, error) {
	c, err := o.Conns.Resolve(name)
	if err != nil {
		return c, nil, cliutil.UsageErrorf("%v", err)
	}
	if registry.IsStore(c) {
		return c, nil, cliutil.UsageErrorf("connection %q (%s) is a %s store, not a database: %s works on connections served by a connector plugin", c.Name, sdk.MaskDSN(c.DSN), c.Scheme, what)
	}
	inst, err := registry.Plugin(ctx, o.Host(), c, "", need)
	if err != nil {
		return c, nil, err
	}
	return c, inst, nil
}
