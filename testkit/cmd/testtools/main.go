// Command testtools installs the tools the tests run (the S3 server and
// the Lambda runtime interface emulator) into the test kit's cache.
// `make test` starts it in the background before vetting, so the tools
// build while the module downloads and vet run instead of when the first
// test needs them; a test that gets there first waits on the same lock.
package main

import (
	"fmt"
	"os"

	"github.com/halfpipe-io/halfpipe/testkit"
)

func main() {
	tools := []struct{ module, version, bin string }{
		{testkit.VersitygwModule, testkit.VersitygwVersion, "versitygw"},
		{testkit.LambdaRIEModule, testkit.LambdaRIEVersion, "aws-lambda-rie"},
	}
	failed := false
	for _, tool := range tools {
		path, err := testkit.EnsureTool(tool.module, tool.version, tool.bin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testtools: %s: %v\n", tool.bin, err)
			failed = true
			continue
		}
		fmt.Println(path)
	}
	if failed {
		os.Exit(1)
	}
}
