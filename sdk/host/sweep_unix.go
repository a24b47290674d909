//go:build unix

package host

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
)

// sockDirPattern is the name of a plugin socket directory: hp-plugin-<pid of
// the hp that made it>-<random>.
var sockDirPattern = regexp.MustCompile(`^hp-plugin-([0-9]+)-[0-9]+$`)

// sweepSocketDirs removes the socket directories of hp processes that died
// without cleaning up (killed): only ours by name and owner, and only when
// the process that made one no longer exists.
func sweepSocketDirs(tmp string) error {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		m := sockDirPattern.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		path := filepath.Join(tmp, e.Name())
		st, err := os.Lstat(path)
		if err != nil || !st.IsDir() {
			continue
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Geteuid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue // alive, or not ours to signal: leave it
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
