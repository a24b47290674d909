// Command testplugin is a connector used by the host package's tests: it
// streams rows until cancelled, and can misbehave on request (by the name it is installed under) to
// exercise crash and version-mismatch handling.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	plugin "github.com/hashicorp/go-plugin"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
	"github.com/halfpipe-io/halfpipe/sdk/internal/wire"
)

type endless struct{}

func (endless) Info() sdk.Info {
	info := sdk.Info{Name: "endless", Version: "0.0.1", Schemes: []string{"endless"}, DSNExample: "endless://", Env: []string{"TESTPLUGIN_DECLARED", "TESTPLUGIN_PREFIX_*"}}
	if named("claims") {
		// What the SDK fills in; Serve must refuse it.
		info.Capabilities = []sdk.Capability{sdk.CapWrite}
	}
	return info
}

// Check answers with the plugin's environment, one variable a line, for
// the host's tests of what a plugin is given. As "chatty" it first prints
// to stdout; as "exiter" it exits at once after a last line on stderr
// (through the SDK's log and through os.Stderr), as a connector that gives
// up does.
func (endless) Check(context.Context, sdk.Connection) (string, error) {
	if named("chatty") {
		fmt.Println("chatty: a stray line on stdout")
	}
	if named("exiter") {
		slog.Error("exiter: logged before exiting")
		fmt.Fprintln(os.Stderr, "exiter: last words on stderr")
		os.Exit(3)
	}
	return strings.Join(os.Environ(), "\n"), nil
}

// named reports whether the binary is hp-plugin-<name>: the tests choose
// a misbehaviour by the name they install the plugin under, since a
// plugin does not inherit the host's environment.
func named(name string) bool { return filepath.Base(os.Args[0]) == "hp-plugin-"+name }

func (endless) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var n int64
	fill := func(b *batch.Builder) (bool, error) {
		if named("crasher") && n > 1000 {
			// A panic outside the request goroutine kills the process, as a
			// driver bug would.
			done := make(chan struct{})
			go func() { defer close(done); panic("simulated crash") }()
			<-done
		}
		time.Sleep(time.Millisecond)
		ids := b.Field(0).(*array.Int64Builder)
		for {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			ids.Append(n)
			n++
			if b.EndRow() {
				return true, nil
			}
		}
	}
	return batch.NewReader(schema, fill, nil, batch.WithMaxRows(100)), nil
}

func main() {
	if named("early") {
		// Before the handshake line: go-plugin would take this for it.
		fmt.Println("early: hello before the handshake")
	}
	if named("future") {
		svc, err := wire.NewServer(endless{})
		if err != nil {
			panic(err)
		}
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  wire.Handshake(2),
			VersionedPlugins: map[int]plugin.PluginSet{2: {wire.PluginKey: &wire.Plugin{Service: svc}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		return
	}
	sdk.Serve(endless{})
}
