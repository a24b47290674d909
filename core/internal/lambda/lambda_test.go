package lambda

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pluginDir holds an executable plugin with no SHA256SUMS entry.
func pluginDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hp-plugin-unlisted"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func handler(env map[string]string) *Handler {
	return &Handler{
		Version:   "test",
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string {
			var out []string
			for k, v := range env {
				out = append(out, k+"="+v)
			}
			return out
		},
		Stderr: io.Discard,
	}
}

type listed struct{ Name, Status, Error string }

func TestLambdaRequiresChecksums(t *testing.T) {
	env := map[string]string{"HP_PLUGIN_DIR": pluginDir(t)}
	out, err := handler(env).Invoke(context.Background(), json.RawMessage(`{"HP_COMMAND":"plugins","HP_SUBCOMMAND":"list"}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []listed
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got) != 1 || got[0].Status != "refused" || !strings.Contains(got[0].Error, "checksums are required") {
		t.Fatalf("an unlisted plugin in Lambda: %s", out)
	}
	// The function's own configuration may opt out.
	env["HP_REQUIRE_CHECKSUMS"] = "false"
	out, err = handler(env).Invoke(context.Background(), json.RawMessage(`{"HP_COMMAND":"plugins","HP_SUBCOMMAND":"list"}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "refused") {
		t.Fatalf("HP_REQUIRE_CHECKSUMS=false in the function's configuration: %s", out)
	}
}

func TestLambdaEventCannotChangePlugins(t *testing.T) {
	env := map[string]string{"HP_PLUGIN_DIR": t.TempDir()}
	for _, key := range []string{"HP_PLUGIN_DIR", "HP_REQUIRE_CHECKSUMS", "HP_CACHE_DIR"} {
		val := pluginDir(t)
		if key == "HP_REQUIRE_CHECKSUMS" {
			val = "false"
		}
		event, _ := json.Marshal(map[string]string{"HP_COMMAND": "plugins", "HP_SUBCOMMAND": "list", key: val})
		out, err := handler(env).Invoke(context.Background(), event)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("event setting %s: %v, output %s", key, err, out)
		}
	}
}
