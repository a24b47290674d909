// Package plugins implements `hp plugins list` and `hp plugins index`.
package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// NewCmd returns `hp plugins` with its subcommands.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "Inspect installed connector plugins"}
	cmd.AddCommand(newListCmd(f), newIndexCmd(f))
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
capabilities come from its directory's PLUGININFO files (hp plugins index)
or the cache (plugins.json in --cache-dir), keyed by the binary's sha256;
a binary in neither is started once to ask, and stopped again. A refused
plugin is never started.

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

// IndexOptions are the inputs of `hp plugins index`.
type IndexOptions struct {
	IO     *cliutil.IOStreams
	Logger *slog.Logger
	Dir    string
	// File is the info file's name in Dir: PLUGININFO or PLUGININFO.<suffix>.
	File string
	// InfoFrom is a directory of builds, for this machine, of the same
	// plugins as Dir's (which may be for another architecture): they are
	// asked instead.
	InfoFrom string
}

func newIndexCmd(f *cliutil.Factory) *cobra.Command {
	opts := &IndexOptions{IO: f.IO, File: host.InfoFile}
	cmd := &cobra.Command{
		Use:   "index DIR",
		Short: "Write DIR's plugin info file, so that hp starts no plugin to find one",
		Long: `Write DIR/` + host.InfoFile + `: what each plugin binary in DIR answers when
asked for its info (name, version, DSN schemes, capabilities, the
environment it reads), keyed by the binary's sha256. hp reads it beside
the binaries, as it reads SHA256SUMS, and then starts only the plugins a
job needs, with the variables they read, without asking the others: what
its cache (plugins.json in --cache-dir) does after a first run, from the
first run on (an AWS Lambda cold start, a fresh container). Every plugin
in DIR is started once to ask. The file is used only for the binaries of
its own directory with those digests, and not at all when it or the
directory is writable by group or others. Write it again whenever a
binary changes; an entry whose binary changed is not used.

--file names it PLUGININFO.<suffix> instead, for packages unpacked into
one directory (each Lambda layer brings PLUGININFO.<plugin>, beside its
SHA256SUMS.<plugin>). --info-from takes each plugin's info from the
plugin of the same name in another directory: builds for this machine of
the same source, when DIR's binaries are for another architecture and
cannot run here (layer/build.sh arm64 on x86-64).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir, opts.Logger = args[0], f.Logger
			return RunIndex(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.File, "file", host.InfoFile, "File name in DIR: "+host.InfoFile+" or "+host.InfoFile+".<suffix>")
	cmd.Flags().StringVar(&opts.InfoFrom, "info-from", "", "Ask the plugins of the same names in this directory (builds for this machine) instead")
	return cmd
}

// RunIndex writes the info file.
func RunIndex(ctx context.Context, o *IndexOptions) error {
	if !host.IsInfoFile(o.File) {
		return cliutil.UsageErrorf("--file %q: want %s or %s.<suffix>", o.File, host.InfoFile, host.InfoFile)
	}
	ps, err := indexed(ctx, o.Logger, o.Dir, o.InfoFrom == "", nil)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return fmt.Errorf("no plugin binaries (%s*) in %s", host.BinaryPrefix, o.Dir)
	}
	if o.InfoFrom != "" {
		names := map[string]bool{}
		for _, p := range ps {
			names[p.name] = true
		}
		from, err := indexed(ctx, o.Logger, o.InfoFrom, true, names)
		if err != nil {
			return err
		}
		byName := map[string]sdk.Info{}
		for _, p := range from {
			byName[p.name] = p.info
		}
		for i := range ps {
			info, ok := byName[ps[i].name]
			if !ok {
				return fmt.Errorf("%s: no %s%s in %s (--info-from) to ask", ps[i].path, host.BinaryPrefix, ps[i].name, o.InfoFrom)
			}
			ps[i].info = info
		}
	}
	infos := make(map[string]sdk.Info, len(ps))
	for _, p := range ps {
		infos[p.digest] = p.info
	}
	path := filepath.Join(o.Dir, o.File)
	if err := host.WriteInfoFile(path, infos); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(o.IO.ErrOut, "wrote %s: %d plugin(s)\n", path, len(infos))
	return nil
}

type indexedPlugin struct {
	name, path, digest string
	info               sdk.Info
}

// indexed hashes the plugins of dir (those named in only, when not nil)
// and, with ask, asks each for its info; a refused plugin is an error.
func indexed(ctx context.Context, logger *slog.Logger, dir string, ask bool, only map[string]bool) ([]indexedPlugin, error) {
	h := host.New([]host.Dir{{Path: dir, Origin: "hp plugins index"}}, host.DiscoverOptions{NoInfoFiles: true}, logger)
	defer h.Close()
	ps, err := h.Plugins()
	if err != nil {
		return nil, err
	}
	out := make([]indexedPlugin, 0, len(ps))
	for _, p := range ps {
		if only != nil && !only[p.Name] {
			continue
		}
		if p.Refused != nil {
			return nil, p.Refused
		}
		ip := indexedPlugin{name: p.Name, path: p.Path, digest: p.SHA256}
		if ask {
			if ip.info, err = h.Info(ctx, p); err != nil {
				return nil, err
			}
		}
		out = append(out, ip)
	}
	return out, nil
}
