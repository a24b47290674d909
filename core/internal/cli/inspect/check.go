package inspect

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func newCheckCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "check <conn>",
		Short: "Check that a connection works and show the server's version",
		Long: `Check that a connection works: the connector opens a connection with the
DSN and options (Check) and reports the server's product and version.

A failure exits non-zero with the connector's reason: 2 when the
configuration is wrong (credentials refused, no such database, a bad
option), 1 when the server could not be reached.`,
		Example: `  hp check pg
  hp check warehouse --json`,
		Args: cliutil.ExactArgs(1, "one <conn>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Arg = args[0]
			return RunCheck(cmd.Context(), o)
		},
	}
	addOutputFlags(cmd, o)
	return cmd
}

// CheckResult is the output of `hp check`.
type CheckResult struct {
	Connection       string `json:"connection"`
	Connector        string `json:"connector"`
	ConnectorVersion string `json:"connector_version"`
	ServerVersion    string `json:"server_version"`
	OK               bool   `json:"ok"`
}

// RunCheck checks the connection.
func RunCheck(ctx context.Context, o *Options) error {
	asJSON, err := o.output()
	if err != nil {
		return err
	}
	c, inst, err := o.connect(ctx, o.Arg, sdk.CapCheck, "checking connections (hp check)")
	if err != nil {
		return err
	}
	version, err := inst.Check(ctx, c.Wire())
	if err != nil {
		return fmt.Errorf("connection %q (%s, %s connector) does not work: %w", c.Name, sdk.MaskDSN(c.DSN), inst.Info.Name, err)
	}
	res := CheckResult{Connection: c.Name, Connector: inst.Info.Name, ConnectorVersion: inst.Info.Version, ServerVersion: version, OK: true}
	if asJSON {
		return cliutil.WriteJSON(o.IO.Out, res)
	}
	_, err = fmt.Fprintf(o.IO.Out, "%s: ok, %s (connector %s %s)\n", c.Name, version, res.Connector, res.ConnectorVersion)
	return err
}
