// Package query implements `hp query`: run SQL on a source and stream the
// rows to stdout as CSV. Only reads run, in a read-only transaction where
// the database has one; --allow-writes runs any other statement through
// the connector's Exec.
package query

import (
	"bufio"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
	"github.com/halfpipe-io/halfpipe/sdk/sqlguard"
)

// Options are the inputs of `hp query`.
type Options struct {
	IO          *cliutil.IOStreams
	Host        func() *host.Host
	Conns       *config.Store
	Conn, SQL   string
	PrintHeader bool
	Delimiter   string
	Null        string
	AllowWrites bool
}

// NewCmd returns the command.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Host: f.Host, Conns: f.Conns()}
	cmd := &cobra.Command{
		Use:   "query <conn> <SQL>",
		Short: "Run a query and print the rows as CSV on stdout",
		Long: `Run a query and print the rows as CSV on stdout.

Only a statement that reads runs (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN,
DESCRIBE), and it runs in a read-only transaction where the database has one.
Any other statement (or a read that contains INSERT, UPDATE, DELETE, INTO, SET,
EXEC, ...) is refused unless --allow-writes is given; it then runs as one
statement, and the number of rows it affected is printed on stderr.`,
		Example: `  hp query pg "select id, name from customers where id < 10" --print-header
  hp query pg "delete from staging where loaded" --allow-writes`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return cliutil.UsageErrorf("hp query takes a connection and a SQL statement, got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Conn, o.SQL = args[0], args[1]
			return Run(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.PrintHeader, "print-header", false, "Print a header row of column names")
	cmd.Flags().StringVar(&o.Delimiter, "csv-delimiter", ",", "Field delimiter")
	cmd.Flags().StringVar(&o.Null, "csv-null", "", "Text for NULL")
	cmd.Flags().BoolVar(&o.AllowWrites, "allow-writes", false, "Run a statement that is not a read (it prints no rows)")
	return cmd
}

// Run executes the query.
func Run(ctx context.Context, o *Options) error {
	c, err := o.Conns.Resolve(o.Conn)
	if err != nil {
		return cliutil.UsageErrorf("%v", err)
	}
	if len([]rune(o.Delimiter)) != 1 {
		return cliutil.UsageErrorf("--csv-delimiter %q must be one character", o.Delimiter)
	}
	src, err := registry.Source(ctx, o.Host(), c, "")
	if err != nil {
		return err
	}
	if !src.Info.Has(sdk.CapReadQuery) {
		return fmt.Errorf("connection %q: the %s connector does not run SQL queries: %w", c.Name, src.Info.Name, sdk.ErrUnimplemented)
	}
	if err := sqlguard.Read(sqlguard.ForConnector(src.Info.Name), o.SQL); err != nil {
		if !o.AllowWrites {
			return cliutil.UsageErrorf("hp query runs reads only: %v; pass --allow-writes to run it", err)
		}
		return exec(ctx, o, c, src)
	}
	records, err := src.Read(ctx, sdk.ReadRequest{Conn: c.Wire(), Source: sdk.Source{Query: o.SQL}})
	if err != nil {
		return fmt.Errorf("query on %q: %w", c.Name, err)
	}
	defer records.Release()
	out := bufio.NewWriterSize(o.IO.Out, 256<<10)
	enc, err := format.NewEncoder(out, records.Schema(), format.WithFormat(format.CSV), format.WithCompression(format.None),
		format.WithCSVHeader(o.PrintHeader), format.WithCSVDelimiter([]rune(o.Delimiter)[0]), format.WithCSVNull(o.Null))
	if err != nil {
		return err
	}
	for records.Next() {
		if err := enc.Write(records.RecordBatch()); err != nil {
			return err
		}
	}
	if err := records.Err(); err != nil {
		return fmt.Errorf("query on %q: %w", c.Name, err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return out.Flush()
}

// exec runs a statement that is not a read (--allow-writes).
func exec(ctx context.Context, o *Options, c config.Connection, src *host.Instance) error {
	if !src.Info.Has(sdk.CapExec) {
		return fmt.Errorf("connection %q: the %s connector does not run statements other than reads: %w", c.Name, src.Info.Name, sdk.ErrUnimplemented)
	}
	n, err := src.Exec(ctx, c.Wire(), []string{o.SQL})
	if err != nil {
		return fmt.Errorf("statement on %q: %w", c.Name, err)
	}
	_, err = fmt.Fprintf(o.IO.ErrOut, "%d rows affected\n", n)
	return err
}
