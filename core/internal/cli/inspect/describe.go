package inspect

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

func newDescribeCmd(f *cliutil.Factory) *cobra.Command {
	o := newOptions(f)
	cmd := &cobra.Command{
		Use:   "describe <conn>.[<schema>.]<table>",
		Short: "Show the columns of a table or view: Arrow and native types, nullability, primary key",
		Long: `Show the columns of a table or view as the connector describes it
(Describe): each column's Arrow type (what hp writes to files), its native
type in the database, whether it is nullable, and its place in the
primary key. Quote names holding dots: pg.'"sales"."order.items"'.`,
		Example: `  hp describe pg.public.orders
  hp describe lite.orders --json`,
		Args: cliutil.ExactArgs(1, "one <conn>.[<schema>.]<table>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Arg = args[0]
			return RunDescribe(cmd.Context(), o)
		},
	}
	addOutputFlags(cmd, o)
	cmd.Flags().BoolVar(&o.Count, "count", true, "Count the rows (the connector's Bounds: COUNT(*), which may scan a large table)")
	return cmd
}

// Description is the output of `hp describe`.
type Description struct {
	Connection string        `json:"connection"`
	Object     string        `json:"object"`
	PrimaryKey []string      `json:"primary_key"`
	Columns    []ColumnEntry `json:"columns"`
	// Rows is the row count; nil when not counted (--count=false, or the
	// connector cannot count this object).
	Rows *int64 `json:"rows,omitempty"`
}

// ColumnEntry is one column of a Description.
type ColumnEntry struct {
	Name       string `json:"name"`
	ArrowType  string `json:"arrow_type"`
	NativeType string `json:"native_type,omitempty"`
	Nullable   bool   `json:"nullable"`
	// KeyPosition is the column's 1-based place in the primary key, 0
	// when it is not part of it.
	KeyPosition int `json:"key_position,omitempty"`
}

// RunDescribe describes the object.
func RunDescribe(ctx context.Context, o *Options) error {
	asJSON, err := o.output()
	if err != nil {
		return err
	}
	name, object, err := config.SplitConnObject(o.Arg)
	if err != nil {
		return cliutil.UsageErrorf("%v", err)
	}
	ref, err := config.ParseTable(object)
	if err != nil {
		return cliutil.UsageErrorf("%v", err)
	}
	c, inst, err := o.connect(ctx, name, sdk.CapDescribe, "describing tables (hp describe)")
	if err != nil {
		return err
	}
	d, err := inst.Describe(ctx, c.Wire(), sdk.Source{Object: &ref})
	if err != nil {
		return fmt.Errorf("describing %s of %q: %w", ref, c.Name, err)
	}
	out := describe(c.Name, ref, d)
	if o.Count {
		out.Rows = countRows(ctx, inst, c.Wire(), ref, d)
	}
	if asJSON {
		return cliutil.WriteJSON(o.IO.Out, out)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COLUMN\tARROW TYPE\tNATIVE TYPE\tNULLABLE\tKEY")
	for _, col := range out.Columns {
		key := ""
		if col.KeyPosition > 0 {
			key = "pk " + strconv.Itoa(col.KeyPosition)
		}
		null := "no"
		if col.Nullable {
			null = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", col.Name, col.ArrowType, col.NativeType, null, key)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if out.Rows != nil {
		fmt.Fprintf(o.IO.Out, "rows: %d\n", *out.Rows)
	}
	return nil
}

// countRows asks the connector for the object's row count (Bounds of its
// first key column, else its first column). A connector that cannot count
// it leaves the count out: describing does not depend on it.
func countRows(ctx context.Context, inst *host.Instance, conn sdk.Connection, ref sdk.ObjectRef, d *sdk.Description) *int64 {
	if !inst.Info.Has(sdk.CapBounds) || d.Schema == nil || d.Schema.NumFields() == 0 {
		return nil
	}
	col := d.Schema.Field(0).Name
	if len(d.PrimaryKey) > 0 {
		col = d.PrimaryKey[0]
	}
	b, err := inst.Bounds(ctx, sdk.BoundsRequest{Conn: conn, Source: sdk.Source{Object: &ref}, Column: col})
	if err != nil {
		return nil
	}
	return &b.Count
}

// describe joins the Arrow schema with the native column types and the
// primary key. Columns are matched by name: a connector may leave
// Description.Columns empty.
func describe(conn string, ref sdk.ObjectRef, d *sdk.Description) Description {
	out := Description{Connection: conn, Object: ref.String(), PrimaryKey: d.PrimaryKey, Columns: []ColumnEntry{}}
	if out.PrimaryKey == nil {
		out.PrimaryKey = []string{}
	}
	native := map[string]sdk.Column{}
	for _, c := range d.Columns {
		native[c.Name] = c
	}
	if d.Schema == nil {
		return out
	}
	for _, f := range d.Schema.Fields() {
		e := ColumnEntry{Name: f.Name, ArrowType: f.Type.String(), Nullable: f.Nullable}
		if n, ok := native[f.Name]; ok {
			e.NativeType = n.NativeType
		}
		e.KeyPosition = slices.Index(d.PrimaryKey, f.Name) + 1
		out.Columns = append(out.Columns, e)
	}
	return out
}
