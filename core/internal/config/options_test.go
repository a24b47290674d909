package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// testStore is a store over a temporary file and exactly env.
func testStore(t *testing.T, env map[string]string, log *bytes.Buffer) *Store {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(log, nil))
	return &Store{Path: filepath.Join(t.TempDir(), "connections.yaml"),
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Environ: func() []string {
			var kv []string
			for k, v := range env {
				kv = append(kv, k+"="+v)
			}
			return kv
		},
		Logger: func() *slog.Logger { return logger }}
}

var testInfo = sdk.Info{Name: "t", Options: []sdk.OptionSpec{
	{Name: "rows", Type: "int"}, {Name: "fast", Type: "bool"}, {Name: "wait", Type: "duration"},
	{Name: "chunk", Type: "size"}, {Name: "label"}, {Name: "access", Secret: true},
}}

// Options come from the file and from HP_<NAME>_<OPTION>, which wins;
// reserved variables and a longer connection's variables are not options.
func TestResolveOptions(t *testing.T) {
	env := map[string]string{"HP_MY_DB_ROWS": "7", "HP_MY_DB_TYPE": "postgres", "HP_MY_DB_S3_REGION": "eu-west-1",
		"HP_MY_DB_X_DSN": "gen://", "HP_MY_DB_X_ROWS": "9", "HP_OTHER_ROWS": "1"}
	var log bytes.Buffer
	s := testStore(t, env, &log)
	if _, err := s.Add("my-db", "gen://", "", map[string]string{"rows": "5", "label": "from-file"}, false); err != nil {
		t.Fatal(err)
	}
	c, err := s.Resolve("my-db")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"rows": "7", "label": "from-file"}
	if fmt.Sprint(c.Options) != fmt.Sprint(want) {
		t.Fatalf("options = %v, want %v", c.Options, want)
	}
	if c.OptionFrom["rows"] != "env HP_MY_DB_ROWS" || c.OptionFrom["label"] != s.Path {
		t.Fatalf("option sources = %v", c.OptionFrom)
	}
	if !s.IsOptionVar("HP_MY_DB_ROWS", nil) || s.IsOptionVar("HP_MY_DB_DSN", nil) || s.IsOptionVar("HP_NOPE_ROWS", nil) {
		t.Fatal("IsOptionVar misjudges")
	}
}

// Bind normalises typed values, drops unknown options with a warning that
// names the nearest one, and sends only what the spec knows.
func TestBindNormalisesAndWarns(t *testing.T) {
	env := map[string]string{"HP_G_DSN": "gen://", "HP_G_ROWS": " 12", "HP_G_FAST": "1", "HP_G_WAIT": "1m30s",
		"HP_G_CHUNK": "64MiB", "HP_G_ROWZ": "3"}
	var log bytes.Buffer
	s := testStore(t, env, &log)
	c, err := s.Resolve("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(testInfo); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"rows": "12", "fast": "true", "wait": "90000", "chunk": "67108864"}
	if got := c.Wire().Options; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("wire options = %v, want %v", got, want)
	}
	if !strings.Contains(log.String(), "option=rowz") || !strings.Contains(log.String(), "did_you_mean=rows") {
		t.Fatalf("no warning naming the nearest option: %s", log.String())
	}
	if c.Wire().DSN != "gen://" {
		t.Fatal("DSN lost")
	}
}

// A bad typed value and a missing required option are invalid-argument
// errors naming the connection and option; a secret value never shows.
func TestBindErrors(t *testing.T) {
	const canary = "Zq7canary"
	env := map[string]string{"HP_G_DSN": "gen://", "HP_G_ROWS": "many", "HP_G_ACCESS": canary, "HP_G_API_TOKEN": canary}
	var log bytes.Buffer
	s := testStore(t, env, &log)
	c, err := s.Resolve("g")
	if err != nil {
		t.Fatal(err)
	}
	info := testInfo
	info.Options = append(info.Options, sdk.OptionSpec{Name: "region", Required: true}, sdk.OptionSpec{Name: "access_n", Type: "int", Secret: true})
	c.Options["access_n"], c.OptionFrom["access_n"] = canary, "test"
	err = c.Bind(info)
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("err = %v, want invalid argument", err)
	}
	for _, want := range []string{`connection "g": option rows = "many" (env HP_G_ROWS): not an integer`, "requires option region: set HP_G_REGION", "option access_n = xxxxx"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error()+log.String(), canary) {
		t.Fatalf("a secret leaked: %v\n%s", err, log.String())
	}
	// The spec's secret option and a secret-looking name are masked in
	// any error, and in displays.
	leak := fmt.Errorf("driver said: bad key %s: %w", canary, sdk.ErrUnauthenticated)
	masked := s.MaskErr(leak, s.Environ())
	if strings.Contains(masked.Error(), canary) || !errors.Is(masked, sdk.ErrUnauthenticated) {
		t.Fatalf("MaskErr = %v", masked)
	}
	if m := c.MaskedOptions(); m["access"] != sdk.Mask || m["api_token"] != sdk.Mask || m["rows"] != "many" {
		t.Fatalf("MaskedOptions = %v", m)
	}
}

// A secret option only the spec marks is masked once Bind has seen the
// spec: MaskErr learns it from the connections the store resolved.
func TestMaskErrLearnsSpecSecrets(t *testing.T) {
	const canary = "Zq7canary"
	env := map[string]string{"HP_G_DSN": "gen://", "HP_G_ACCESS": canary}
	var log bytes.Buffer
	s := testStore(t, env, &log)
	c, err := s.Resolve("g")
	if err != nil {
		t.Fatal(err)
	}
	leak := errors.New("echo " + canary)
	if !strings.Contains(s.MaskErr(leak, s.Environ()).Error(), canary) {
		t.Fatal("masked before the spec said the option is secret (the test proves nothing)")
	}
	if err := c.Bind(testInfo); err != nil {
		t.Fatal(err)
	}
	if got := s.MaskErr(leak, s.Environ()).Error(); got != "echo xxxxx" {
		t.Fatalf("MaskErr = %q", got)
	}
}

// Without an environment listing, Bind still finds the variables of the
// options the spec names.
func TestBindLooksUpSpecOptions(t *testing.T) {
	env := map[string]string{"HP_G_DSN": "gen://", "HP_G_ROWS": "3"}
	var log bytes.Buffer
	s := testStore(t, env, &log)
	s.Environ = nil
	c, err := s.Resolve("g")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Options) != 0 {
		t.Fatalf("options before Bind = %v", c.Options)
	}
	if err := c.Bind(testInfo); err != nil {
		t.Fatal(err)
	}
	if c.Wire().Options["rows"] != "3" {
		t.Fatalf("wire = %v", c.Wire().Options)
	}
}

func TestParseOption(t *testing.T) {
	if k, v, err := ParseOption("Rows=5=x"); err != nil || k != "rows" || v != "5=x" {
		t.Fatalf("ParseOption = %q %q %v", k, v, err)
	}
	for _, bad := range []string{"rows", "=5", "9x=1", "dsn=x", "TYPE=x"} {
		if _, _, err := ParseOption(bad); err == nil {
			t.Errorf("ParseOption(%q) accepted", bad)
		}
	}
	if _, _, err := ParseOption("pass word=Zq7canary"); err == nil || strings.Contains(err.Error(), "Zq7canary") {
		t.Fatalf("bad secret option: %v", err)
	}
}

func TestNormalise(t *testing.T) {
	ok := map[[2]string]string{{"duration", "250"}: "250", {"duration", "1500us"}: "2", {"bool", "FALSE"}: "false",
		{"size", "1k"}: "1024", {"string", " x "}: " x ", {"mystery", "v"}: "v"}
	for in, want := range ok {
		if got, err := normalise(in[0], in[1]); err != nil || got != want {
			t.Errorf("normalise(%q, %q) = %q, %v; want %q", in[0], in[1], got, err, want)
		}
	}
	for _, in := range [][2]string{{"int", "1.5"}, {"bool", "yes"}, {"duration", "-1s"}, {"size", "lots"}} {
		if _, err := normalise(in[0], in[1]); err == nil {
			t.Errorf("normalise(%q, %q) accepted", in[0], in[1])
		}
	}
}
