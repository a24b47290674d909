//go:build !unix

package store

import (
	"errors"
	"os"
)

// lockFile takes an exclusive lock by creating the lock file; a crashed
// holder leaves it behind, to be removed by hand.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, errors.New("locked by another run (remove " + path + " if none is running)")
		}
		return nil, err
	}
	f.Close()
	return func() { os.Remove(path) }, nil
}
