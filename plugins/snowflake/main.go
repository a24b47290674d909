// Command hp-plugin-snowflake serves Snowflake as a target: it loads
// published runs from an external stage with COPY INTO.
package main

import (
	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() { sdk.Serve(snowflake.New()) }
