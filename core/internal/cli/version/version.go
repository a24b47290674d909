// Package version implements `hp version`.
package version

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Options are the inputs of `hp version`.
type Options struct {
	IO      *cliutil.IOStreams
	Version string
	Output  string
}

// NewCmd returns the command.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of hp and of the connector protocol it speaks",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return Run(opts) },
	}
	cmd.Flags().StringVar(&opts.Output, "output", "text", "Output format: text or json")
	return cmd
}

// Run prints the version.
func Run(o *Options) error {
	v := map[string]any{
		"version": o.Version, "protocol_version": sdk.ProtocolVersion,
		"go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH,
	}
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return err
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, v)
	}
	_, err := fmt.Fprintf(o.IO.Out, "hp %s (connector protocol %d, %s, %s/%s)\n", o.Version, sdk.ProtocolVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
