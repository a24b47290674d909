//go:build !unix

package delta

// processAlive cannot tell here, so a lock is never taken over early.
func processAlive(int) bool { return true }
