// Package gendocs implements the hidden `hp gendocs` command that writes
// docs/connections.md and every plugin's README.md from the specs the
// installed plugins serve, or checks that the committed files are current.
package gendocs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/catalog"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Options are the inputs of `hp gendocs`.
type Options struct {
	IO    *cliutil.IOStreams
	Host  func() *host.Host
	Dir   string
	Check bool
}

// NewCmd returns the command.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO, Host: f.Host}
	cmd := &cobra.Command{
		Use:    "gendocs",
		Short:  "Generate docs/connections.md and plugin READMEs from plugin specs",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   func(cmd *cobra.Command, _ []string) error { return Run(cmd.Context(), opts) },
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", ".", "Repository root")
	cmd.Flags().BoolVar(&opts.Check, "check", false, "Fail if a generated file is stale instead of writing it")
	return cmd
}

// Run generates or checks the files.
func Run(ctx context.Context, o *Options) error {
	h := o.Host()
	ps, err := h.Plugins()
	if err != nil {
		return err
	}
	files := map[string]string{}
	entries := catalog.Builtins()
	for _, p := range ps {
		if p.Shadowed || p.Refused != nil {
			continue
		}
		// Only document plugins that live in this repository.
		if _, err := os.Stat(filepath.Join(o.Dir, "plugins", p.Name, "main.go")); err != nil {
			continue
		}
		inst, err := h.Launch(ctx, p)
		if err != nil {
			return err
		}
		entries = append(entries, catalog.FromInfo(inst.Info))
		readme := catalog.PluginREADME(inst.Info)
		if notes, err := os.ReadFile(filepath.Join(o.Dir, "plugins", p.Name, "NOTES.md")); err == nil {
			readme += "\n" + string(notes)
		}
		files[filepath.Join("plugins", p.Name, "README.md")] = readme
		inst.Close()
	}
	files[filepath.Join("docs", "connections.md")] = catalog.Markdown(entries)

	var stale []string
	for rel, want := range files {
		path := filepath.Join(o.Dir, rel)
		have, _ := os.ReadFile(path)
		if bytes.Equal(have, []byte(want)) {
			continue
		}
		if o.Check {
			stale = append(stale, rel)
			continue
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.ErrOut, "wrote %s\n", rel)
	}
	if len(stale) > 0 {
		return fmt.Errorf("generated docs are stale: %s (run 'make docs' and commit)", strings.Join(stale, ", "))
	}
	return nil
}
