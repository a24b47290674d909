// Command hp-plugin-numbers is the connector sdk/outoftree_test.go builds
// in a module of its own, outside this repository, the way the connector
// guide tells authors to: it proves that path works.
package main

import "github.com/halfpipe-io/halfpipe/sdk"

func main() { sdk.Serve(numbers{}) }
