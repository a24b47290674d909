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
	"strings"
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
	bin := binPath(binName, version)
	dir, exe := filepath.Split(bin)
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

// Fetch downloads what installing module@version needs (go install -n:
// the modules, no compiling) unless its binary is cached. `make test`
// fetches at once and builds once hp is built: the tools' build then finds
// the standard library compiled instead of compiling it beside hp's build.
func Fetch(module, version, binName string) error {
	if isFile(binPath(binName, version)) {
		return nil
	}
	dir, err := os.MkdirTemp("", "hp-tool-fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return goInstall(dir, module, version, "-n")
}

// binPath is where Ensure keeps binName at version.
func binPath(binName, version string) string {
	if runtime.GOOS == "windows" {
		binName += ".exe"
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "halfpipe-testkit", "tools", binName+"-"+version, binName)
}

func installTool(module, version, dir, exe string) error {
	gobin, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gobin)
	if err := goInstall(gobin, module, version); err != nil {
		return err
	}
	// Rename is atomic: a reader either sees no binary or a complete one.
	return os.Rename(filepath.Join(gobin, exe), filepath.Join(dir, exe))
}

// goInstall runs go install module@version into gobin, outside any module
// or workspace, with extra flags (-n: fetch only).
func goInstall(gobin, module, version string, extra ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go command not found: %w", err)
	}
	// The tools are test servers, so their own packages compile without
	// optimisation (-N -l): on a fresh machine versitygw is the largest
	// build, and this halves it. The standard library compiles as the
	// Makefile's builds compile it (no cgo, the netgo and osusergo tags,
	// no DWARF) and so comes from the build cache.
	args := append([]string{"install", "-tags=netgo,osusergo", "-gcflags=all=-N -l -dwarf=false", "-gcflags=std=-dwarf=false", "-ldflags=-s -w"}, extra...)
	cmd := exec.Command(goBin, append(args, module+"@"+version)...)
	cmd.Dir = gobin
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go install %s %s@%s: %w\n%s", strings.Join(extra, " "), module, version, err, out)
	}
	return nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
