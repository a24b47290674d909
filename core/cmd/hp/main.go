// Command hp is halfpipe: it moves tables out of databases into files,
// object storage and warehouses through connector plugins.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/root"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/lambda"
	"github.com/halfpipe-io/halfpipe/core/internal/memlimit"
	"github.com/halfpipe-io/halfpipe/sdk/profile"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	memlimit.Start()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if lambda.Active(os.LookupEnv) {
		// Inside AWS Lambda: bootstrap of a provided.al2023 function.
		lambda.Serve(ctx, version)
		stop()
		return
	}
	stopProfile := profile.Start("hp")
	code := root.Run(ctx, cliutil.NewSystemFactory(version), os.Args[1:])
	stop()
	stopProfile()
	os.Exit(code)
}
