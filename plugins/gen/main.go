// Command hp-plugin-gen is the reference connector: deterministic
// synthetic rows of every Arrow type halfpipe supports, in any number.
package main

import (
	"github.com/halfpipe-io/halfpipe/plugins/gen/gen"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() { sdk.Serve(gen.New()) }
