// Package e2e runs the hp binary and its plugins as a user would and checks
// the files they write with independent readers.
package e2e

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests mostly wait on hp, its plugins and the servers: run more of
	// them at once than there are cores, unless -parallel says otherwise.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(2*runtime.GOMAXPROCS(0)))
	}
	stopArm64 := prefetchArm64Layers()
	code := m.Run()
	stopArm64()
	testkit.Cleanup()
	for _, dir := range []string{lambdaDist.dir, fakeOracleDir.dir, arm64Dist.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}
