// Command testtools installs the tools the tests run (the S3 server and
// the Lambda runtime interface emulator) into the test kit's cache.
// `make test` starts it in the background before vetting, so the tools
// build while the module downloads and vet run instead of when the first
// test needs them; a test that gets there first waits on the same lock.
package main

import (
	"fmt"
	"os"

	"github.com/halfpipe-io/halfpipe/testkit/tool"
)

func main() {
	tools := []struct{ module, version, bin string }{
		{tool.VersitygwModule, tool.VersitygwVersion, "versitygw"},
		{tool.LambdaRIEModule, tool.LambdaRIEVersion, "aws-lambda-rie"},
	}
	failed := false
	for _, t := range tools {
		path, err := tool.Ensure(t.module, t.version, t.bin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testtools: %s: %v\n", t.bin, err)
			failed = true
			continue
		}
		fmt.Println(path)
	}
	if failed {
		os.Exit(1)
	}
}
