// Package checksums implements `hp checksums install|drop|status`: the
// checksums a database keeps up to date for hp diff --hash.
package checksums

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/meta"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Options are the inputs of `hp checksums`.
type Options struct {
	IO          *cliutil.IOStreams
	Host        func() *host.Host
	Conns       *config.Store
	Action      sdk.ChecksumsAction
	Table       string
	PrimaryKeys []string
	Columns     []string
	BlockWidth  int64
	DryRun      bool
	Output      string
}

// Result is what `hp checksums --output json` prints.
type Result struct {
	Table      string             `json:"table"`
	Action     string             `json:"action"`
	DryRun     bool               `json:"dry_run"`
	Statements []string           `json:"statements"`
	State      sdk.ChecksumsState `json:"state"`
}

var actions = []struct {
	name   string
	action sdk.ChecksumsAction
	short  string
}{
	{"install", sdk.ChecksumsInstall, "Create the shadow table and triggers that keep a table's row hashes current, and fill it"},
	{"drop", sdk.ChecksumsDrop, "Remove a table's maintained checksums: shadow table, triggers and record"},
	{"status", sdk.ChecksumsStatus, "Say whether a table's maintained checksums are installed, for which columns, and whether they can be trusted"},
	{"compact", sdk.ChecksumsCompact, "Fold the per-block deltas the triggers appended into one row per block"},
}

// NewCmd returns `hp checksums` and its subcommands.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checksums",
		Short: "Keep the checksums of hp diff --hash in the database (PostgreSQL, MySQL/MariaDB)",
		Long: `Keep each row's hash of hp diff --hash in a shadow table of the database,
maintained by triggers, so that hp diff --hash sums the stored hashes of a
range instead of hashing every row: a large table that is almost in sync
compares in seconds.

install creates hp_checksums_<table> (key, hash), the triggers that keep
it current on every insert, update and delete, and a row in hp_checksums
recording the key, the hashed columns and their types; it fills the shadow
table from the table without losing a concurrent write. The hashed
columns are the key, then --columns (default: every other column, in
table order): hp diff --hash uses the shadow table only when it compares
those same columns, without --where. Installing again starts afresh.
drop removes all of it but hp_checksums itself, which stays for the
records of other tables. status says whether the shadow table can be
trusted (stale: a column's type changed, a trigger is missing or
disabled, the table was truncated where that fires no trigger).

Beside the shadow, hp_checksums_<table>_blk holds per block of
--block-width keys its row count and hash sum, as rows the triggers
append (never update, so concurrent writers do not wait for each
other): hp diff --hash reads the wide ranges from it, a row per block.
compact folds each block's rows into one; run it when status shows many
more block rows than blocks (e.g. from cron).

Triggers add work to every write of the table. See docs/sync.md.`,
	}
	for _, a := range actions {
		o := &Options{IO: f.IO, Host: f.Host, Conns: f.Conns(), Action: a.action}
		sub := &cobra.Command{
			Use:   a.name + " <conn>.[<schema>.]<table>",
			Short: a.short,
			Args:  cliutil.ExactArgs(1, "one <conn>.[<schema>.]<table>"),
			RunE: func(cmd *cobra.Command, args []string) error {
				o.Table = args[0]
				return Run(cmd.Context(), o)
			},
		}
		if a.action == sdk.ChecksumsInstall {
			sub.Example = `  hp checksums install pg.public.orders
  hp checksums install my.orders --primary-keys id --columns total,updated_at --dry-run`
			sub.Flags().StringSliceVar(&o.PrimaryKeys, "primary-keys", nil, "The integer key column (default: the table's primary key)")
			sub.Flags().StringSliceVar(&o.Columns, "columns", nil, "Columns hashed after the key, comma-separated (default: every other column)")
			sub.Flags().Int64Var(&o.BlockWidth, "block-width", sdk.DefaultBlockWidth, "Keys per block whose row count and hash sum are maintained (a power of two)")
		}
		if a.action != sdk.ChecksumsStatus {
			sub.Flags().BoolVar(&o.DryRun, "dry-run", false, "Print the statements without running them")
		}
		sub.Flags().StringVar(&o.Output, "output", "text", "Output format: text or json")
		cmd.AddCommand(sub)
	}
	return cmd
}

// Run runs the action and prints what it ran and the state.
func Run(ctx context.Context, o *Options) error {
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return err
	}
	t, err := meta.OpenTable(ctx, o.Host(), o.Conns, o.Table, sdk.CapMaintainChecksums)
	if err != nil {
		return err
	}
	req := sdk.MaintainChecksumsRequest{Conn: t.Conn.Wire(), Table: t.Ref, Columns: o.Columns, Action: o.Action, DryRun: o.DryRun, BlockWidth: o.BlockWidth}
	if o.Action == sdk.ChecksumsInstall {
		if req.Key, err = key(ctx, t, o.PrimaryKeys); err != nil {
			return err
		}
	}
	r, err := t.Inst.MaintainChecksums(ctx, req)
	if err != nil {
		return fmt.Errorf("checksums of %s: %w", t, err)
	}
	name := actions[0].name
	for _, a := range actions {
		if a.action == o.Action {
			name = a.name
		}
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, Result{Table: t.String(), Action: name, DryRun: o.DryRun, Statements: append([]string{}, r.Statements...), State: r.State})
	}
	for _, s := range r.Statements {
		fmt.Fprintf(o.IO.Out, "%s;\n", s)
	}
	if o.DryRun {
		fmt.Fprintf(o.IO.ErrOut, "checksums %s %s: %d statements planned, none run\n", name, t, len(r.Statements))
		return nil
	}
	w := o.IO.ErrOut
	if o.Action == sdk.ChecksumsStatus {
		w = o.IO.Out
	}
	fmt.Fprintf(w, "checksums %s: %s\n", t, state(r.State))
	return nil
}

// key is the key column: the one given, else the table's one-column
// primary key.
func key(ctx context.Context, t meta.Table, given []string) (string, error) {
	keys := given
	if len(keys) == 0 {
		if !t.Inst.Info.Has(sdk.CapDescribe) {
			return "", cliutil.UsageErrorf("name the key of %s with --primary-keys", t)
		}
		d, err := t.Inst.Describe(ctx, t.Conn.Wire(), sdk.Source{Object: &t.Ref})
		if err != nil {
			return "", fmt.Errorf("describing %s: %w", t, err)
		}
		keys = d.PrimaryKey
	}
	if len(keys) != 1 {
		return "", cliutil.UsageErrorf("maintained checksums are keyed on one integer column, and %s has key %q: name one with --primary-keys", t, strings.Join(keys, ","))
	}
	return keys[0], nil
}

func state(s sdk.ChecksumsState) string {
	if !s.Installed {
		return "not installed"
	}
	out := fmt.Sprintf("installed in %s, key %s, columns %s, %d rows", s.Shadow, s.Key, strings.Join(s.Columns, ","), s.Rows)
	if s.Stale {
		return out + ", stale: " + s.Note
	}
	if s.BlockWidth > 0 {
		return out + fmt.Sprintf(", current; blocks of %d keys in %d rows", s.BlockWidth, s.BlockRows)
	}
	return out + ", current"
}
