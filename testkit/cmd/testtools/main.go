// Command testtools installs the tools the tests run (the S3 server and
// the Lambda runtime interface emulator) into the test kit's cache.
// `make test` runs it in the background twice: with -fetch from the start
// (the tools' modules download while hp's do), and again once hp is built,
// so that the tools build while the tests compile, with the standard
// library already compiled, instead of when the first test needs them; a
// test that gets there first waits on the same lock.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/halfpipe-io/halfpipe/testkit/tool"
)

func main() {
	fetch := flag.Bool("fetch", false, "only download the modules the tools need")
	flag.Parse()
	tools := []struct{ module, version, bin string }{
		{tool.VersitygwModule, tool.VersitygwVersion, "versitygw"},
		{tool.LambdaRIEModule, tool.LambdaRIEVersion, "aws-lambda-rie"},
	}
	failed := false
	for _, t := range tools {
		if *fetch {
			if err := tool.Fetch(t.module, t.version, t.bin); err != nil {
				fmt.Fprintf(os.Stderr, "testtools: %s: %v\n", t.bin, err)
				failed = true
			}
			continue
		}
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
