// Package create implements `hp create stage`, Halfpipe's command: it
// creates the Snowflake external stage a staged run loads from, over an
// S3 prefix, with a storage integration (never AWS keys).
package create

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// StageOptions are the inputs of `hp create stage`.
type StageOptions struct {
	IO               *cliutil.IOStreams
	Host             func() *host.Host
	Conns            *config.Store
	Target           string
	URL, Integration string
	Print, OrReplace bool
}

// NewCmd returns `hp create` and its subcommands.
func NewCmd(f *cliutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "create", Short: "Create warehouse objects hp loads through"}
	o := &StageOptions{IO: f.IO, Host: f.Host, Conns: f.Conns()}
	stage := &cobra.Command{
		Use:   "stage <conn>.<stage>",
		Short: "Create a Snowflake external stage over an S3 prefix, with a storage integration",
		Long: `Create a Snowflake external stage over an S3 prefix, with a storage integration.

The stage is what --stage names in hp cp snap/delta: Snowflake loads the runs hp
publishes below its URL. The storage integration (created once by an account
administrator, see docs/snowflake.md) gives Snowflake read access to the
bucket through an IAM role; hp never puts AWS keys into Snowflake.`,
		Example: `  hp create stage sf.PUBLIC.HP_LAKE --url s3://my-lake/raw/ --storage-integration HP_S3
  hp create stage sf.HP_LAKE --url s3://my-lake/raw/ --storage-integration HP_S3 --print`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cliutil.UsageErrorf("hp create stage takes one <conn>.<stage>, got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return RunStage(cmd.Context(), o)
		},
	}
	stage.Flags().StringVar(&o.URL, "url", "", "S3 prefix the stage covers, s3://bucket/prefix/ (required)")
	stage.Flags().StringVar(&o.Integration, "storage-integration", "", "Storage integration that lets Snowflake read the bucket (required)")
	stage.Flags().BoolVar(&o.Print, "print", false, "Print the statement instead of running it")
	stage.Flags().BoolVar(&o.OrReplace, "replace", false, "Replace a stage of that name (CREATE OR REPLACE) instead of keeping it")
	cmd.AddCommand(stage)
	return cmd
}

var (
	stageName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$`)
	s3URL     = regexp.MustCompile(`^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^'\\]*)?$`)
)

// StageSQL is the statement that creates the stage.
func StageSQL(name, url, integration string, orReplace bool) (string, error) {
	if !stageName.MatchString(name) {
		return "", cliutil.UsageErrorf("stage %q: a name is letters, digits, _ and $, as [database.][schema.]name", name)
	}
	if !stageName.MatchString(integration) || strings.Contains(integration, ".") {
		return "", cliutil.UsageErrorf("--storage-integration %q: an integration name is letters, digits, _ and $", integration)
	}
	if !s3URL.MatchString(url) {
		return "", cliutil.UsageErrorf("--url %q: want s3://bucket/prefix/", url)
	}
	if !strings.HasSuffix(url, "/") {
		url += "/"
	}
	verb := "CREATE STAGE IF NOT EXISTS "
	if orReplace {
		verb = "CREATE OR REPLACE STAGE "
	}
	return verb + name + " URL = '" + url + "' STORAGE_INTEGRATION = " + integration, nil
}

// RunStage creates (or prints) the stage.
func RunStage(ctx context.Context, o *StageOptions) error {
	connName, name, err := config.SplitConnObject(o.Target)
	if err != nil {
		return cliutil.UsageErrorf("%v", err)
	}
	q, err := StageSQL(name, o.URL, o.Integration, o.OrReplace)
	if err != nil {
		return err
	}
	if o.Print {
		_, err := fmt.Fprintln(o.IO.Out, q+";")
		return err
	}
	c, err := o.Conns.Resolve(connName)
	if err != nil {
		return cliutil.UsageErrorf("%v", err)
	}
	inst, err := registry.Plugin(ctx, o.Host(), c, "", sdk.CapExec)
	if err != nil {
		return err
	}
	if inst.Info.Name != "snowflake" {
		return cliutil.UsageErrorf("connection %q is %s: hp create stage creates Snowflake stages", c.Name, inst.Info.Name)
	}
	if _, err := inst.Exec(ctx, c.Wire(), []string{q}); err != nil {
		return fmt.Errorf("creating stage %s on %q: %w", name, c.Name, err)
	}
	_, err = fmt.Fprintf(o.IO.ErrOut, "stage %s on %q covers %s\n", name, c.Name, o.URL)
	return err
}
