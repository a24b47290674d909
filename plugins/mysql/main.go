// Command hp-plugin-mysql serves MySQL and MariaDB databases.
package main

import (
	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() { sdk.Serve(mysql.New()) }
