// Package store is where output objects go: a local directory, standard
// output, and (beside them) S3. Objects are written under a temporary name
// and appear only on Commit, so a reader never sees a partial file.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Errors.
var (
	// ErrExists means a conditional write found the key taken.
	ErrExists = errors.New("object already exists")
	// ErrNotExist means the key holds nothing.
	ErrNotExist = errors.New("object does not exist")
	// ErrConflict means a compare-and-swap found the object changed.
	ErrConflict = errors.New("object was changed by someone else")
)

// Versioned stores can replace a small object only if it is unchanged
// since it was read: the delta state relies on it so that two runs can
// never both advance a high-water mark.
type Versioned interface {
	// GetVersion reads a small object and an opaque version of it.
	GetVersion(ctx context.Context, key string) (data []byte, version string, err error)
	// PutIfVersion writes a small object if its current version is
	// version ("" = the key must hold nothing), else fails with
	// ErrConflict.
	PutIfVersion(ctx context.Context, key string, data []byte, version string) error
	// DeleteIfVersion removes a small object if its current version is
	// version, else fails with ErrConflict; an object already gone is
	// not an error (there is nothing left to protect).
	DeleteIfVersion(ctx context.Context, key string, version string) error
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
}

// Store holds objects under slash-separated keys relative to its root.
type Store interface {
	// Create starts an object. Bytes written are invisible under key until
	// Commit; Abort discards them.
	Create(ctx context.Context, key string) (Object, error)
	// PutIfAbsent writes a small object atomically, failing with ErrExists
	// when the key is taken.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// Put writes a small object atomically, replacing any existing one.
	Put(ctx context.Context, key string, data []byte) error
	// Get reads a small object.
	Get(ctx context.Context, key string) ([]byte, error)
	// Open streams an object.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// List returns the objects under prefix, recursively, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// URL names a key for manifests and messages.
	URL(key string) string
}

// Object is an object being written.
type Object interface {
	io.Writer
	Key() string
	// Commit makes the object visible under its key.
	Commit(ctx context.Context) error
	// Abort discards everything written.
	Abort(ctx context.Context) error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Kind describes one store built into hp, for docs and listings.
type Kind struct {
	Scheme, Description, DSNFormat, DSNExample string
}

// Kinds are the stores built into hp: every other scheme is served by a
// plugin.
var Kinds = []Kind{
	{"file", "Local files (built in)", "file:///absolute/dir, file://relative/dir or a plain path", "file:///var/data/extracts"},
	{"s3", "Amazon S3 and S3-compatible object stores (built in)",
		"s3://bucket/prefix[?region=R&endpoint=URL&sse=AES256|aws:kms&kms_key_id=K&storage_class=C&part_size=8MiB&concurrency=4] (credentials from the AWS chain, never in the DSN; HP_<NAME>_S3_REGION sets the region)",
		"s3://acme-lake/raw?region=eu-west-1"},
	{"stdout", "Standard output (built in; no manifest)", "stdout", "stdout"},
}

// IsScheme reports whether scheme is served by a built-in store.
func IsScheme(scheme string) bool {
	for _, k := range Kinds {
		if k.Scheme == scheme {
			return true
		}
	}
	return false
}

// Open returns the store for a target DSN: file:///abs, file://rel, a
// plain path, s3://bucket/prefix (configured by s3), or stdout (whose
// objects go to out).
func Open(ctx context.Context, dsn string, out io.Writer, s3 S3Options) (Store, error) {
	switch {
	case dsn == "stdout" || dsn == "-":
		return NewStdout(out), nil
	case strings.HasPrefix(dsn, "file://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, fmt.Errorf("file DSN %q: %w", sdk.MaskDSN(dsn), sdk.MaskErr(err, dsn))
		}
		p := u.Host + u.Path
		if p == "" {
			return nil, fmt.Errorf("file DSN %q names no directory", sdk.MaskDSN(dsn))
		}
		return NewLocal(p)
	case strings.HasPrefix(dsn, "s3://"):
		s, err := NewS3(ctx, dsn, s3)
		if err != nil {
			return nil, err
		}
		return s, nil
	case !strings.Contains(dsn, "://"):
		return NewLocal(dsn)
	}
	return nil, fmt.Errorf("%q is not a file, s3 or stdout target", sdk.MaskDSN(dsn))
}

// CleanKey validates a key: relative, slash-separated, no "..".
func CleanKey(key string) (string, error) {
	k := strings.TrimLeft(key, "/")
	for _, part := range strings.Split(k, "/") {
		if part == ".." {
			return "", fmt.Errorf("key %q leaves the target root", key)
		}
	}
	if k == "" {
		return "", fmt.Errorf("empty key")
	}
	return k, nil
}

// Pending is a write that never finished: a local temporary file or an S3
// multipart upload, left by a run that was killed.
type Pending struct {
	// Key is the object the write was for.
	Key string
	// ID names the write: the temporary file's key, or the upload id.
	ID      string
	Size    int64
	Started time.Time
}

// PendingLister stores can list and discard unfinished writes.
type PendingLister interface {
	// ListPending returns the unfinished writes under prefix, by key.
	ListPending(ctx context.Context, prefix string) ([]Pending, error)
	// AbortPending discards one; a write already gone is not an error.
	AbortPending(ctx context.Context, p Pending) error
}
