package sdk_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// documentedGoMod returns the go.mod the connector guide tells authors to
// write (section 1), with the SDK's path filled in.
func documentedGoMod(t *testing.T, sdkDir string) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/writing-a-connector.md")
	if err != nil {
		t.Fatalf("reading the connector guide: %v", err)
	}
	m := regexp.MustCompile("(?s)## 1\\. .*?```\n(module .*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/writing-a-connector.md section 1 has no go.mod block")
	}
	gomod := string(m[1])
	const placeholder = "/path/to/halfpipe/sdk"
	if !strings.Contains(gomod, "require github.com/halfpipe-io/halfpipe/sdk v0.0.0") || !strings.Contains(gomod, "=> "+placeholder) {
		t.Fatalf("the documented go.mod lacks the require and replace lines:\n%s", gomod)
	}
	return strings.Replace(gomod, placeholder, sdkDir, 1)
}

// TestOutOfTreeConnector follows the connector guide from outside this
// repository: a module of its own in a temporary directory with the
// documented go.mod, a main that is one sdk.Serve call, built with
// GOWORK=off. The binary is then launched by package host as hp launches
// plugins and must pass the conformance suite over the real protocol.
func TestOutOfTreeConnector(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin (-short)")
	}
	sdkDir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(documentedGoMod(t, sdkDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "numbers.go"} {
		src, err := os.ReadFile(filepath.Join("testdata", "outoftree", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, f), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plugins := t.TempDir()
	start := time.Now()
	// -mod=mod fills in go.sum from the module cache (or the proxy), as the
	// guide's "go mod tidy" does; GOWORK=off keeps this repository's
	// go.work out of it.
	cmd := exec.Command("go", "build", "-o", filepath.Join(plugins, "hp-plugin-numbers"), ".")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the out-of-tree connector as documented: %v\n%s", err, out)
	}
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))

	h := host.New([]host.Dir{{Path: plugins, Origin: "test"}}, host.DiscoverOptions{CacheDir: t.TempDir()},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inst, err := h.ByName(ctx, "numbers")
	if err != nil {
		t.Fatalf("launching the out-of-tree connector: %v", err)
	}
	if inst.Info.ProtocolVersion != sdk.ProtocolVersion || !inst.Info.Has(sdk.CapBounds) {
		t.Fatalf("GetInfo over the protocol: %+v", inst.Info)
	}

	const rows = 30
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for id := int64(1); id <= rows; id++ {
		b.Field(0).(*array.Int64Builder).Append(id)
		if id%3 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("n%d", id))
		}
	}
	expected := b.NewRecordBatch()
	defer expected.Release()
	conformance.RunSourceSuite(t, inst.Remote, conformance.SourceFixture{
		Conn: sdk.Connection{DSN: fmt.Sprintf("numbers://?rows=%d", rows)}, Table: sdk.ObjectRef{Name: "numbers"},
		Expected: expected, KeyColumn: "id", Empty: sdk.ObjectRef{Name: "empty"}, LargeValues: sdk.ObjectRef{Name: "big"},
		Large: sdk.ObjectRef{Name: "numbers"}, LargeConn: sdk.Connection{DSN: "numbers://?rows=1000000"},
	})
}
