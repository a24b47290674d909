// Package plugins implements `hp plugins list`.
package plugins

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// NewCmd returns `hp plugins` with its subcommands.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "Inspect installed connector plugins"}
	cmd.AddCommand(newListCmd(f))
	return cmd
}

// ListOptions are the inputs of `hp plugins list`.
type ListOptions struct {
	IO     *cliutil.IOStreams
	Host   func() *host.Host
	Output string
}

func newListCmd(f *cliutil.Factory) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Host: f.Host}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the connector plugins hp finds, in discovery order",
		Long: `List the connector plugins hp finds, in discovery order: the directories
of HP_PLUGIN_DIR, <dir of hp>/plugins, $XDG_DATA_HOME/halfpipe/plugins,
/opt/hp/plugins and /opt. A plugin's name, version, DSN schemes and
capabilities come from the cache (plugins.json in --cache-dir), keyed by
the binary's sha256; a binary not in it is started once to ask, and
stopped again. A refused plugin is never started.

A directory's checksums are its SHA256SUMS file and every SHA256SUMS.<name>
file (Lambda layers each bring their own). A plugin is refused when its
entry does not match, when two files disagree about it, when it, its
directory or a checksum file is writable by group or others, when it is
owned by a user other than root and you, or (with --require-checksums)
when it has no entry. A plugin with the same name as an earlier one is shadowed, and so
is a scheme served by an earlier plugin: a DSN goes to the first plugin,
in discovery order, that serves its scheme, whatever the plugins' names.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return RunList(cmd.Context(), opts) },
	}
	cmd.Flags().StringVar(&opts.Output, "output", "text", "Output format: text or json")
	return cmd
}

// Entry is one row of the listing.
type Entry struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Schemes      []string `json:"schemes,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
	Path         string   `json:"path"`
	Origin       string   `json:"origin"`
	Checksum     string   `json:"checksum"`
	SHA256       string   `json:"sha256,omitempty"`
	Status       string   `json:"status"` // ok, refused, shadowed, failed
	// SchemesShadowed are schemes this plugin serves that an earlier plugin
	// in discovery order serves too: DSNs of those schemes go to the earlier one.
	SchemesShadowed []string `json:"schemes_shadowed,omitempty"`
	Error           string   `json:"error,omitempty"`
}

// RunList lists the plugins.
func RunList(ctx context.Context, o *ListOptions) error {
	if err := cliutil.CheckOutput(o.Output); err != nil {
		return err
	}
	h := o.Host()
	ps, err := h.Plugins()
	if err != nil {
		return err
	}
	entries := make([]Entry, 0, len(ps))
	for _, p := range ps {
		e := Entry{Name: p.Name, Path: p.Path, Origin: p.Dir.Origin, Checksum: string(p.Checksum), SHA256: p.SHA256, Status: "ok"}
		switch {
		case p.Refused != nil:
			e.Status, e.Error = "refused", p.Refused.Error()
		case p.Shadowed:
			e.Status = "shadowed"
		default:
			info, err := h.Info(ctx, p)
			if err != nil {
				e.Status, e.Error = "failed", err.Error()
				break
			}
			e.Version, e.Schemes = info.Version, info.Schemes
			for _, c := range info.Capabilities {
				e.Capabilities = append(e.Capabilities, string(c))
			}
		}
		entries = append(entries, e)
	}
	owner := map[string]string{}
	for i := range entries {
		for _, s := range entries[i].Schemes {
			if first, ok := owner[s]; ok {
				entries[i].SchemesShadowed = append(entries[i].SchemesShadowed, s)
				if entries[i].Error == "" {
					entries[i].Error = fmt.Sprintf("scheme %s served by %s", s, first)
				} else {
					entries[i].Error += fmt.Sprintf("; scheme %s served by %s", s, first)
				}
				continue
			}
			owner[s] = entries[i].Path
		}
	}
	if o.Output == "json" {
		return cliutil.WriteJSON(o.IO.Out, entries)
	}
	if len(entries) == 0 {
		dirs := make([]string, 0)
		for _, d := range h.Dirs() {
			dirs = append(dirs, d.Path)
		}
		fmt.Fprintf(o.IO.ErrOut, "no plugins found (looked in %s)\n", strings.Join(dirs, ", "))
		return nil
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tSCHEMES\tCAPABILITIES\tSTATUS\tCHECKSUM\tPATH")
	for _, e := range entries {
		status := e.Status
		if e.Error != "" {
			status += ": " + e.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, dash(e.Version), dash(strings.Join(e.Schemes, ",")),
			dash(strings.Join(e.Capabilities, ",")), status, e.Checksum, e.Path)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
