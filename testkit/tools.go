package testkit

import (
	"os"

	"github.com/halfpipe-io/halfpipe/testkit/tool"
)

// InstallTool installs the Go command module@version with [tool.Ensure]
// and returns the path of its binary binName. When the install fails the
// test is skipped, or failed in CI (see NeedService).
func InstallTool(t TB, module, version, binName string) string {
	t.Helper()
	bin, err := tool.Ensure(module, version, binName)
	if err != nil {
		NeedService(t, binName, err)
	}
	return bin
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
