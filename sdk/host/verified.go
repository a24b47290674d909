package host

import (
	"crypto/sha256"
	"hash"
	"sync/atomic"
	"time"
)

// VerifiedFile is the name, in the cache directory, of the record of the
// plugin binaries whose digests were verified, with their file identity.
const VerifiedFile = "verified.json"

// fileIdentity is a file's device, inode, size and modification and
// change times. Any write, replacement or rename over the file changes it;
// the change time cannot be set by a user.
type fileIdentity struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

// verifiedEntry is a binary's digest as verified while the file had id.
type verifiedEntry struct {
	fileIdentity
	SHA256 string `json:"sha256"`
}

// racyWindow: a file changed this recently is not recorded as verified. A
// file system whose times are coarser than a write could give a binary
// rewritten right after its hash the identity it had (git's "racily
// clean" index entries).
var racyWindow = 2 * time.Second

// hashes counts the plugin binaries hashed, for tests.
var hashes atomic.Int64

type countingHash struct{ hash.Hash }

func (h countingHash) Sum(b []byte) []byte {
	hashes.Add(1)
	return h.Hash.Sum(b)
}

func newHash() hash.Hash { return countingHash{sha256.New()} }

// verifiedDigest is the digest of the binary at path if it was verified
// (hashed, or checked at a launch) while it had the identity it has now.
func (c *infoCache) verifiedDigest(path string) (string, bool) {
	e, ok := c.verified[path]
	if !ok {
		return "", false
	}
	id, ok := identity(path)
	if !ok || id != e.fileIdentity {
		return "", false
	}
	return e.SHA256, true
}

// putVerified records that the binary at path, whose identity was id
// before it was hashed and is still, has digest. Like the info, it is
// only kept in a directory no one else can write: a forged entry would
// let a changed binary run.
func (c *infoCache) putVerified(path string, id fileIdentity, digest string) error {
	if now, ok := identity(path); !ok || now != id || time.Since(time.Unix(0, id.Ctime)) < racyWindow {
		return nil
	}
	if e, ok := c.verified[path]; ok && e.fileIdentity == id && e.SHA256 == digest {
		return nil
	}
	c.verified[path] = verifiedEntry{fileIdentity: id, SHA256: digest}
	return c.save(VerifiedFile, c.verified)
}
