// Command hp-plugin-mssql serves Microsoft SQL Server and Azure SQL databases.
package main

import (
	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() { sdk.Serve(mssql.New()) }
