//go:build unix

package sdk

import (
	"os"

	"golang.org/x/sys/unix"
)

// reclaimStderr points os.Stderr's descriptor back at the process's own
// stderr (fd 2).
//
// After the handshake go-plugin replaces os.Stderr with a pipe whose
// contents it forwards to the host over gRPC. A plugin that writes its
// last words there and exits loses them: the process is gone before the
// forwarding goroutine sends them. On fd 2 the host reads every line
// before it reports the exit. os.Stderr itself is left alone (other
// goroutines may be reading the variable); its descriptor becomes a
// duplicate of fd 2.
func reclaimStderr(real *os.File) {
	if os.Stderr == real {
		return
	}
	_ = unix.Dup2(int(real.Fd()), int(os.Stderr.Fd()))
}
