// Command hp-plugin-postgres serves PostgreSQL databases.
package main

import (
	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() { sdk.Serve(postgres.New()) }
