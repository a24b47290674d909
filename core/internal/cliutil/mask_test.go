package cliutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// An error that echoes a bare password of any DSN the run knows (from the
// environment, the connections file or the arguments) is masked, and keeps
// its kind.
func TestRunErrorsMaskKnownSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "connections.yaml"), []byte("connections:\n  pg:\n    dsn: host=db user=bob password=FileCanary7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HP_CONFIG_DIR": dir, "HP_SRC_DSN": "mysql://root:EnvCanary7@db:3306/test"}
	io, _, _, _ := Test()
	f := &Factory{IO: io, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string { return []string{"HP_SRC_DSN=" + env["HP_SRC_DSN"]} }}
	in := sdk.Errorf(sdk.ErrUnauthenticated, "driver: login failed with EnvCanary7, FileCanary7 and ArgCanary7")
	err := MaskRunSecrets(f, []string{"config", "connections", "add", "x", "--dsn", "sqlserver://sa:ArgCanary7@h"}, in)
	if msg := err.Error(); strings.Contains(msg, "Canary7") || !strings.Contains(msg, "login failed") || !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("masked: %v", err)
	}
}
