//go:build unix

package delta

import (
	"errors"
	"syscall"
)

// processAlive reports whether pid runs on this host; EPERM means it runs
// as another user.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
