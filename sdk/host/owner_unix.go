//go:build unix

package host

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// checkOwner refuses a file owned by a user other than root and the one
// running hp: that user could replace it with code of their own.
func checkOwner(path string, st os.FileInfo) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	me := os.Geteuid()
	if sys.Uid == 0 || int(sys.Uid) == me {
		return nil
	}
	return fmt.Errorf("%w: %s is owned by uid %d, neither root nor this user; run chown %s %s", ErrRefused, path, sys.Uid, strconv.Itoa(me), path)
}

// ownedByMe refuses a file owned by anyone but the user running hp.
func ownedByMe(path string, st os.FileInfo) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int(sys.Uid) == os.Geteuid() {
		return nil
	}
	return fmt.Errorf("%s is owned by uid %d, not this user", path, sys.Uid)
}

// identity is what stat says of the file at path; false where it cannot
// tell (then nothing is cached).
func identity(path string) (fileIdentity, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileIdentity{}, false
	}
	return fileIdentity{
		Dev: uint64(st.Dev), Ino: uint64(st.Ino), Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}, true
}
