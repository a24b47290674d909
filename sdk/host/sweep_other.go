//go:build !unix

package host

func sweepSocketDirs(string) error { return nil }
