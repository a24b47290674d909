package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// VersitygwModule and VersitygwVersion pin the S3 server (versitygw)
// that StartS3 installs with InstallTool.
const (
	VersitygwModule  = "github.com/versity/versitygw/cmd/versitygw"
	VersitygwVersion = "v1.8.0"
)

var installMu sync.Mutex

// InstallTool installs the Go command module@version (go install) and
// returns the path of its binary binName. Binaries are cached in
// <os.UserCacheDir()>/halfpipe-testkit/tools/<binName>-<version>/, which
// survives clean clones, so only the first call on a machine builds
// anything. Installs go to a temporary GOBIN beside the cache entry and
// are renamed into place, so test processes installing the same tool at
// once are safe. When the install fails the test is skipped, or failed
// in CI (see NeedService).
func InstallTool(t TB, module, version, binName string) string {
	t.Helper()
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
		return bin
	}

	installMu.Lock()
	defer installMu.Unlock()
	if isFile(bin) {
		return bin
	}
	if err := installTool(t, module, version, dir, exe); err != nil {
		NeedService(t, binName, err)
	}
	if !isFile(bin) {
		NeedService(t, binName, fmt.Errorf("go install %s@%s did not produce %s", module, version, bin))
	}
	return bin
}

func installTool(t TB, module, version, dir, exe string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go command not found: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	gobin, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gobin)

	cmd := exec.Command(goBin, "install", module+"@"+version)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go install %s@%s: %w\n%s", module, version, err, out)
	}
	// Rename is atomic: a concurrent installer either sees no binary or a
	// complete one. If another process won the race, keep its binary.
	if err := os.Rename(filepath.Join(gobin, exe), filepath.Join(dir, exe)); err != nil && !isFile(filepath.Join(dir, exe)) {
		return fmt.Errorf("installing %s: %w", exe, err)
	}
	return nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
