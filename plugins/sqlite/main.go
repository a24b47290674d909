// Command hp-plugin-sqlite serves SQLite databases (pure Go driver).
package main

import (
	"github.com/halfpipe-io/halfpipe/plugins/sqlite/sqlite"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() { sdk.Serve(sqlite.New()) }
