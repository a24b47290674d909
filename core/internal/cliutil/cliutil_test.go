package cliutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"max-file-rows": "HP_MAX_FILE_ROWS", "format": "HP_FORMAT", "s3-kms-key-id": "HP_S3_KMS_KEY_ID"} {
		if got := EnvName(flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}

// newCmd has a string, an int and a bool flag, and a persistent flag of a
// parent, as commands inherit the root's.
func newCmd(t *testing.T, args ...string) (*cobra.Command, *struct {
	format string
	rows   int64
	header bool
	level  string
}) {
	t.Helper()
	v := &struct {
		format string
		rows   int64
		header bool
		level  string
	}{}
	root := &cobra.Command{Use: "hp"}
	root.PersistentFlags().StringVar(&v.level, "log-level", "info", "")
	cmd := &cobra.Command{Use: "snap", RunE: func(*cobra.Command, []string) error { return nil }}
	cmd.Flags().StringVar(&v.format, "format", "csv", "")
	cmd.Flags().Int64Var(&v.rows, "max-file-rows", 0, "")
	cmd.Flags().BoolVar(&v.header, "csv-header", true, "")
	root.AddCommand(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return cmd, v
}

func TestApplyEnv(t *testing.T) {
	cmd, v := newCmd(t, "--format", "jsonl")
	env := map[string]string{"HP_FORMAT": "parquet", "HP_MAX_FILE_ROWS": "500", "HP_CSV_HEADER": "0", "HP_LOG_LEVEL": "debug"}
	if err := ApplyEnv(cmd, lookup(env)); err != nil {
		t.Fatal(err)
	}
	// The command line wins over the environment.
	if v.format != "jsonl" || v.rows != 500 || v.header || v.level != "debug" {
		t.Errorf("format %q rows %d header %v level %q", v.format, v.rows, v.header, v.level)
	}
	if !cmd.Flags().Changed("max-file-rows") {
		t.Error("a flag set from the environment is not marked as given")
	}
}

func TestApplyEnvRefusesBadValues(t *testing.T) {
	cmd, _ := newCmd(t)
	err := ApplyEnv(cmd, lookup(map[string]string{"HP_CSV_HEADER": "yes", "HP_MAX_FILE_ROWS": "many"}))
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("error %v, want a usage error", err)
	}
	for _, want := range []string{"HP_CSV_HEADER", `"yes" is not a boolean`, "HP_MAX_FILE_ROWS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestParseBool(t *testing.T) {
	for s, want := range map[string]bool{"true": true, "TRUE": true, " 1 ": true, "false": false, "False": false, "0": false} {
		if got, err := ParseBool(s); err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"yes", "no", "", "2", "t"} {
		if _, err := ParseBool(s); err == nil {
			t.Errorf("ParseBool(%q) took it", s)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("disk full"), ExitFailed},
		{UsageErrorf("--format %q", "xml"), ExitUsage},
		{fmt.Errorf("source: %w", sdk.Errorf(sdk.ErrNotFound, "table t")), ExitUsage},
		{fmt.Errorf("x: %w", sdk.ErrUnauthenticated), ExitUsage},
		{fmt.Errorf("x: %w", host.ErrNoPlugin), ExitUsage},
		{fmt.Errorf("x: %w", host.ErrRefused), ExitUsage},
		{fmt.Errorf("snapshot failed: %w", context.Canceled), ExitFailed},
		// A crashed plugin is a failure whatever error kind it wraps.
		{fmt.Errorf("%w: %w", host.ErrPluginExited, sdk.ErrInvalidArgument), ExitFailed},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestExactArgs(t *testing.T) {
	cmd, _ := newCmd(t)
	check := ExactArgs(2, "a source and a target")
	if err := check(cmd, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	err := check(cmd, []string{"a"})
	if !errors.Is(err, ErrUsage) || err.Error() != "hp snap takes a source and a target, got 1 argument(s)" {
		t.Errorf("error %v", err)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.00 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestOutput(t *testing.T) {
	for _, ok := range []string{"text", "json"} {
		if err := CheckOutput(ok); err != nil {
			t.Errorf("CheckOutput(%q): %v", ok, err)
		}
	}
	if err := CheckOutput("yaml"); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `"yaml"`) {
		t.Errorf("CheckOutput(yaml) = %v", err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, map[string]int{"rows": 3}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "{\n  \"rows\": 3\n}\n" {
		t.Errorf("WriteJSON wrote %q", buf.String())
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "warn", "json", false)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "rows", 3)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "shown" || rec["rows"] != 3.0 {
		t.Errorf("logged %q (%v)", buf.String(), err)
	}
	buf.Reset()
	l, _ = NewLogger(&buf, "info", "auto", true)
	l.Info("in lambda")
	if !strings.HasPrefix(buf.String(), "{") {
		t.Errorf("auto in Lambda is not JSON: %q", buf.String())
	}
	buf.Reset()
	l, _ = NewLogger(&buf, "info", "", false)
	l.Info("on a terminal")
	if !strings.Contains(buf.String(), `msg="on a terminal"`) {
		t.Errorf("auto outside Lambda is not text: %q", buf.String())
	}
	for _, c := range [][2]string{{"loud", "text"}, {"info", "xml"}} {
		if _, err := NewLogger(&buf, c[0], c[1], false); !errors.Is(err, ErrUsage) {
			t.Errorf("NewLogger(%q, %q) = %v, want a usage error", c[0], c[1], err)
		}
	}
}

func TestOpenPrefix(t *testing.T) {
	dir := t.TempDir()
	conns := &config.Store{Path: filepath.Join(t.TempDir(), "connections.yaml"), LookupEnv: lookup(map[string]string{
		"HP_OUT_DSN": dir,
		"HP_PG_DSN":  "postgres://hp:s3cr3t-canary@127.0.0.1:5432/test",
	})}
	ctx := context.Background()
	st, prefix, err := OpenPrefix(ctx, conns, "out./lake/orders/", nil, store.S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	if prefix != "lake/orders" || st.URL("x") != "file://"+filepath.ToSlash(filepath.Join(dir, "x")) {
		t.Errorf("prefix %q, store at %s", prefix, st.URL("x"))
	}
	if _, prefix, err := OpenPrefix(ctx, conns, "out", nil, store.S3Options{}); err != nil || prefix != "" {
		t.Errorf("the whole store: prefix %q, %v", prefix, err)
	}
	for arg, want := range map[string]string{
		".orders":   "is not <connection>[.<prefix>]",
		"nope.x":    `"nope"`,
		"stdout.x":  "not a file or s3 target",
		"pg.public": "not a file or s3 target",
		// The DSN is named, masked.
		"pg": "(postgres://hp:",
	} {
		_, _, err := OpenPrefix(ctx, conns, arg, nil, store.S3Options{})
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenPrefix(%q) = %v, want a usage error saying %s", arg, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t-canary") {
			t.Errorf("OpenPrefix(%q) shows the password: %v", arg, err)
		}
	}
}

func TestFactoryGetenv(t *testing.T) {
	f := &Factory{LookupEnv: lookup(map[string]string{"HP_X": "1"})}
	if f.Getenv("HP_X") != "1" || f.Getenv("HP_Y") != "" {
		t.Errorf("Getenv: %q %q", f.Getenv("HP_X"), f.Getenv("HP_Y"))
	}
}
