package inspect

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func newLsCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "ls <conn>[.<schema>]",
		Short: "List the tables and views of a connection",
		Long: `List the tables and views of a connection (the connector's ListObjects),
with their schema and kind; given a schema, only that schema's. Which
schemas a listing without one covers is the connector's choice (for
example every schema the user can see).`,
		Example: `  hp ls pg
  hp ls pg.public --json`,
		Args: cliutil.ExactArgs(1, "one <conn>[.<schema>]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Arg = args[0]
			return RunLs(cmd.Context(), o)
		},
	}
	addOutputFlags(cmd, o)
	return cmd
}

// Object is one row of `hp ls`.
type Object struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
}

// RunLs lists the objects.
func RunLs(ctx context.Context, o *Options) error {
	asJSON, err := o.output()
	if err != nil {
		return err
	}
	name, schema, _ := strings.Cut(o.Arg, ".")
	if name == "" {
		return cliutil.UsageErrorf("%q is not <conn>[.<schema>]", o.Arg)
	}
	c, inst, err := o.connect(ctx, name, sdk.CapListObjects, "listing tables (hp ls)")
	if err != nil {
		return err
	}
	objs, err := inst.ListObjects(ctx, c.Wire(), schema)
	if err != nil {
		if schema != "" {
			return fmt.Errorf("listing schema %s of %q: %w", schema, c.Name, err)
		}
		return fmt.Errorf("listing the tables of %q: %w", c.Name, err)
	}
	out := make([]Object, len(objs))
	for i, ob := range objs {
		out[i] = Object{Schema: ob.Ref.Schema, Name: ob.Ref.Name, Kind: ob.Kind}
	}
	if asJSON {
		return cliutil.WriteJSON(o.IO.Out, out)
	}
	if len(out) == 0 {
		where := "connection " + c.Name
		if schema != "" {
			where = "schema " + schema + " of " + where
		}
		_, err := fmt.Fprintf(o.IO.ErrOut, "no tables or views in %s\n", where)
		return err
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEMA\tNAME\tKIND")
	for _, ob := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ob.Schema, ob.Name, ob.Kind)
	}
	return tw.Flush()
}
