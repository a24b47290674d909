// Package cp implements `hp cp`: copy a table or query to files, object
// storage or another database.
package cp

import (
	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/meta"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
)

// NewCmd returns `hp cp` with its subcommands.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "cp", Short: "Copy tables: full snapshots (snap), incremental deltas (delta) or table definitions (meta)"}
	cmd.AddCommand(newSnapCmd(f), newDeltaCmd(f), meta.NewCmd(f))
	return cmd
}
