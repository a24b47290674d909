// Command hp-plugin-greetings is the example connector of
// docs/writing-a-connector.md: a read-only source serving one table,
// "greetings", of generated rows.
package main

import "github.com/halfpipe-io/halfpipe/sdk"

func main() { sdk.Serve(&Greetings{}) }
