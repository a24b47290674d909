// Command hp-plugin-odbc serves any database with an ODBC driver.
package main

import (
	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() { sdk.Serve(odbc.New()) }
