// Command hp-plugin-oracle serves Oracle Database through godror (cgo and
// the Oracle client libraries, loaded at the first connection).
package main

import (
	"github.com/halfpipe-io/halfpipe/plugins/oracle/oracle"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() { sdk.Serve(oracle.New()) }
