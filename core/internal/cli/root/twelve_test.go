package root

import (
	"context"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
)

// TestTwelveFactorRun: a job from the environment alone, with a declared
// type checked against the DSN, a misspelt variable warned about, and the
// licence key accepted and ignored.
func TestTwelveFactorRun(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"HP_12FACTOR_MODE": "1", "HP_COMMAND": "cp", "HP_SUBCOMMAND": "snap", "HP_DRY_RUN": "true",
		"HP_SOURCE_DSN": "sqlite:///nowhere.db", "HP_SOURCE_OBJECT": "t", "HP_TARGET_DSN": dir, "HP_TARGET_OBJECT": "x",
		"HP_AUTH_KEY": "secret-licence", "HP_FORMATT": "parquet",
	}
	environ := func() []string {
		var out []string
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		return out
	}
	exec := func() (int, string, string) {
		io, _, out, errOut := cliutil.Test()
		f := &cliutil.Factory{IO: io, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Environ: environ}
		code := Run(context.Background(), f, nil)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := exec()
	if code != 0 || !strings.Contains(out, "plan (dry run") || !strings.Contains(out, "source:   source = sqlite:///nowhere.db") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"HP_FORMATT", "did_you_mean=HP_FORMAT", "HP_AUTH_KEY is ignored"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut+out, "secret-licence") {
		t.Error("the licence key was printed")
	}
	env["HP_TARGET_TYPE"] = "s3"
	if code, _, errOut := exec(); code != 2 || !strings.Contains(errOut, `declared as type "s3"`) {
		t.Fatalf("a wrong HP_TARGET_TYPE: exit %d\n%s", code, errOut)
	}
	code, out, _ = run(t, nil, "12f")
	if code != 0 || !strings.Contains(out, "HP_SOURCE_OBJECT") || !strings.Contains(out, "HP_DELTA_DRIVER") || !strings.Contains(out, "HP_MAX_FILE_ROWS") {
		t.Fatalf("hp 12f: exit %d\n%s", code, out)
	}
}
