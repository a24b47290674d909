//go:build !unix

package sdk

import "os"

// reclaimStderr does nothing where plugins cannot run (plugins need unix
// sockets); see stdio_unix.go.
func reclaimStderr(*os.File) {}
