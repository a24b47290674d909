// Package clitest runs hp's command tree in-process, with injected
// streams and environment, for the commands' tests.
package clitest

import (
	"context"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/root"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
)

// Run runs hp with args and exactly env (plus a fresh HP_CONFIG_DIR) and
// returns the exit code, standard output and standard error.
func Run(t testing.TB, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := cliutil.Test()
	vars := map[string]string{"HP_CONFIG_DIR": t.TempDir()}
	for k, v := range env {
		vars[k] = v
	}
	f := &cliutil.Factory{IO: io, Version: "test", LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	code := root.Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}
