//go:build !unix

package tool

// lockFile does not lock where flock is missing: concurrent installs of a
// tool then each build it, and the atomic rename keeps the result whole.
func lockFile(string) (func(), error) { return func() {}, nil }
