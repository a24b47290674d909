package testkit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Result is a finished hp run.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs the hp binary with env (added to a minimal environment whose
// HOME and XDG dirs point into a temporary directory, so no user config
// leaks in, except XDG_CACHE_HOME: the plugin info cache of this test
// process) and returns its exit code and output.
func (b *Binaries) Run(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := b.Command(ctx, t, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running hp: %v", err)
	}
	return Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// Command prepares an hp process without starting it.
func (b *Binaries) Command(ctx context.Context, t testing.TB, env []string, args ...string) *exec.Cmd {
	t.Helper()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, b.HP, args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home + "/config",
		"XDG_DATA_HOME=" + home + "/data", "XDG_CACHE_HOME=" + b.cacheDir, "TMPDIR=" + os.TempDir(), "HP_PLUGIN_DIR=" + b.PluginDir,
	}, env...)
	return cmd
}

// Contains fails the test unless s contains every part.
func Contains(t testing.TB, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s does not mention %q:\n%s", what, p, s)
		}
	}
}
