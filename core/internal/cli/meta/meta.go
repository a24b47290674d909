// Package meta implements `hp cp meta`: the DDL that makes a target table
// fit a source table (PlanTable), printed or run.
package meta

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Options are the inputs of `hp cp meta`.
type Options struct {
	IO             *cliutil.IOStreams
	Host           func() *host.Host
	Conns          *config.Store
	Source, Target string
	Execute        bool
	AllowDrop      bool
	Output         string
}

// Result is what `hp cp meta --output json` prints.
type Result struct {
	Source     string   `json:"source"`
	Target     string   `json:"target"`
	Exists     bool     `json:"exists"`
	Statements []string `json:"statements"`
	Notes      []string `json:"notes"`
	Executed   bool     `json:"executed"`
}

// NewCmd returns `hp cp meta`.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Host: f.Host, Conns: f.Conns()}
	cmd := &cobra.Command{
		Use:   "meta <conn>.[<schema>.]<table> <conn>.[<schema>.]<table>",
		Short: "Print (or run) the DDL that creates or aligns the target table with the source table",
		Long: `Describe the source table (its Arrow schema and primary key) and ask the
target's connector for the DDL that makes the target table fit it, in the
target's dialect, with the types the target's writes use.

A missing target gets a CREATE TABLE with the source's primary key. An
existing one gets the ALTER TABLE statements that add the columns it lacks
(nullable) and widen the ones that hold less than the source's (a smaller
integer, a decimal with fewer digits); columns the source lacks are kept
unless --allow-drop is given. What is left different is printed as notes
on stderr. The statements are printed on stdout; --execute also runs them,
in order, on the target.`,
		Example: `  hp cp meta pg.public.orders my.orders
  hp cp meta pg.public.orders my.orders --execute
  hp cp meta pg.public.orders my.orders --allow-drop --output json`,
		Args: cliutil.ExactArgs(2, "a source and a target table (<conn>.<table> <conn>.<table>)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Source, o.Target = args[0], args[1]
			return Run(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.Execute, "execute", false, "Run the statements on the target")
	cmd.Flags().BoolVar(&o.AllowDrop, "allow-drop", false, "Drop the target's columns that the source lacks")
	cmd.Flags().StringVar(&o.Output, "output", "text", "Output format: text (statements on stdout, notes on stderr) or json")
	return cmd
}

// Table is a table named on the command line, with the plugin that
// serves its connection.
type Table struct {
	Conn config.Connection
	Inst *host.Instance
	Ref  sdk.ObjectRef
}

// String is <conn>.<schema>.<table>, for messages.
func (t Table) String() string { return t.Conn.Name + "." + t.Ref.String() }

// OpenTable parses arg (<conn>.[<schema>.]<table>), resolves the
// connection and starts its plugin, which must have capability need.
func OpenTable(ctx context.Context, h *host.Host, conns *config.Store, arg string, need sdk.Capability) (Table, error) {
	name, object, err := config.SplitConnObject(arg)
	if err != nil {
		return Table{}, cliutil.UsageErrorf("%v", err)
	}
	ref, err := config.ParseTable(object)
	if err != nil {
		return Table{}, cliutil.UsageErrorf("%v", err)
	}
	c, err := conns.Resolve(name)
	if err != nil {
		return Table{}, cliutil.UsageErrorf("%v", err)
	}
	if registry.IsStore(c) {
		return Table{}, cliutil.UsageErrorf("connection %q (%s) is a %s store, not a database: %s needs a table", c.Name, sdk.MaskDSN(c.DSN), c.Scheme, arg)
	}
	inst, err := registry.Plugin(ctx, h, c, "", need)
	if err != nil {
		return Table{}, err
	}
	return Table{Conn: c, Inst: inst, Ref: ref}, nil
}

// Run plans, prints and, with Execute, runs the DDL.
func Run(ctx context.Context, o *Options) error {
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return err
	}
	src, err := OpenTable(ctx, o.Host(), o.Conns, o.Source, sdk.CapDescribe)
	if err != nil {
		return err
	}
	tgt, err := OpenTable(ctx, o.Host(), o.Conns, o.Target, sdk.CapPlanTable)
	if err != nil {
		return err
	}
	if o.Execute && !tgt.Inst.Info.Has(sdk.CapExec) {
		return fmt.Errorf("connection %q: the %s connector cannot run statements, so --execute cannot: %w", tgt.Conn.Name, tgt.Inst.Info.Name, sdk.ErrUnimplemented)
	}
	d, err := src.Inst.Describe(ctx, src.Conn.Wire(), sdk.Source{Object: &src.Ref})
	if err != nil {
		return fmt.Errorf("describing %s: %w", src, err)
	}
	plan, err := tgt.Inst.PlanTable(ctx, sdk.PlanTableRequest{
		Conn: tgt.Conn.Wire(), Table: tgt.Ref, Schema: d.Schema, PrimaryKey: d.PrimaryKey, AllowDrop: o.AllowDrop,
	})
	if err != nil {
		return fmt.Errorf("planning %s: %w", tgt, err)
	}
	res := Result{Source: src.String(), Target: tgt.String(), Exists: plan.Exists, Statements: plan.Statements, Notes: plan.Notes}
	if res.Statements == nil {
		res.Statements = []string{}
	}
	if res.Notes == nil {
		res.Notes = []string{}
	}
	if o.Output == "text" {
		for _, s := range res.Statements {
			fmt.Fprintf(o.IO.Out, "%s;\n", s)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(o.IO.ErrOut, "cp meta: note: %s\n", n)
		}
	}
	if o.Execute && len(res.Statements) > 0 {
		if _, err := tgt.Inst.Exec(ctx, tgt.Conn.Wire(), res.Statements); err != nil {
			return fmt.Errorf("running the DDL of %s: %w", tgt, err)
		}
		res.Executed = true
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, res)
	}
	switch {
	case len(res.Statements) == 0:
		fmt.Fprintf(o.IO.ErrOut, "cp meta: %s already fits %s\n", tgt, src)
	case res.Executed:
		fmt.Fprintf(o.IO.ErrOut, "cp meta: ran %d statement(s) on %s\n", len(res.Statements), tgt)
	}
	return nil
}
