// Package e2e runs the hp binary and its plugins as a user would and checks
// the files they write with independent readers.
package e2e

import (
	"os"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testkit.Cleanup()
	for _, dir := range []string{lambdaDist.dir, fakeOracleDir.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}
