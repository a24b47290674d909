// Package tool installs the Go commands the tests run as servers (the S3
// server, the Lambda runtime interface emulator) into a cache that
// survives clean clones. It uses the standard library alone, so that
// `make test` can start these builds at once (testkit/cmd/testtools)
// without first compiling what hp's own build compiles at the same time.
package tool

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// The S3 server (versitygw) and the AWS Lambda runtime interface
// emulator, pinned.
const (
	VersitygwModule  = "github.com/versity/versitygw/cmd/versitygw"
	VersitygwVersion = "v1.8.0"
	LambdaRIEModule  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	LambdaRIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

var installMu sync.Mutex

// Ensure installs the Go command module@version (go install) unless
// it is cached, and returns the path of its binary binName. Binaries are
// cached in <os.UserCacheDir()>/halfpipe-testkit/tools/<binName>-<version>/,
// which survives clean clones, so only the first call on a machine builds
// anything. A lock file beside the cache entry makes processes that want
// the same tool at once (test binaries, the prefetch of `make test`) wait
// for one build instead of each compiling it.
func Ensure(module, version, binName string) (string, error) {
	exe := binName
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "halfpipe-testkit", "tools", binName+"-"+version)
	bin := filepath.Join(dir, exe)
	if isFile(bin) {
		return bin, nil
	}

	installMu.Lock()
	defer installMu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("locking the %s cache: %w", binName, err)
	}
	defer unlock()
	if isFile(bin) {
		return bin, nil
	}
	if err := installTool(module, version, dir, exe); err != nil {
		return "", err
	}
	if !isFile(bin) {
		return "", fmt.Errorf("go install %s@%s did not produce %s", module, version, bin)
	}
	return bin, nil
}

func installTool(module, version, dir, exe string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go command not found: %w", err)
	}
	gobin, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gobin)

	// The tools are test servers, so their own packages compile without
	// optimisation (-N -l): on a fresh machine versitygw is the largest
	// build, and this halves it. The standard library compiles as the
	// Makefile's builds compile it (no cgo, the netgo and osusergo tags,
	// no DWARF) and so comes from the build cache.
	cmd := exec.Command(goBin, "install", "-tags=netgo,osusergo", "-gcflags=all=-N -l -dwarf=false", "-gcflags=std=-dwarf=false", "-ldflags=-s -w", module+"@"+version)
	cmd.Dir = gobin // outside any module or workspace
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go install %s@%s: %w\n%s", module, version, err, out)
	}
	// Rename is atomic: a reader either sees no binary or a complete one.
	return os.Rename(filepath.Join(gobin, exe), filepath.Join(dir, exe))
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
