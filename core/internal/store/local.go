package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Local stores objects as files under a directory.
type Local struct {
	root string
	// dirs orders prunes after the directory making and file creation of
	// this process; other processes are covered by inDir's retries.
	dirs sync.RWMutex
}

// NewLocal returns a store rooted at dir (created on first write).
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Local{root: abs}, nil
}

func (l *Local) path(key string) (string, error) {
	k, err := CleanKey(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(k)), nil
}

// URL implements Store.
func (l *Local) URL(key string) string {
	p, err := l.path(key)
	if err != nil {
		return "file://" + filepath.ToSlash(l.root) + "/" + key
	}
	return "file://" + filepath.ToSlash(p)
}

func tempName(final string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".tmp-"+hex.EncodeToString(b[:]))
}

// pathError gives an OS error the path it concerns and a plain cause.
func pathError(op, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s %s: permission denied: %w", op, path, err)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s %s: %w", op, path, ErrExists)
	case strings.Contains(err.Error(), "no space left"):
		return fmt.Errorf("%s %s: the disk is full: %w", op, path, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// Create implements Store.
func (l *Local) Create(_ context.Context, key string) (Object, error) {
	final, err := l.path(key)
	if err != nil {
		return nil, err
	}
	tmp := tempName(final)
	var f *os.File
	err = l.inDir(final, func() (err error) {
		f, err = os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		return err
	})
	if err != nil {
		return nil, pathError("creating", tmp, err)
	}
	return &localObject{l: l, key: key, final: final, tmp: tmp, f: f}, nil
}

// inDir makes path's directory and runs create in it, again if a prune
// of another run removed the new directory in between.
func (l *Local) inDir(path string, create func() error) error {
	l.dirs.RLock()
	defer l.dirs.RUnlock()
	for try := 1; ; try++ {
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			err = create()
		}
		if err == nil || try == 10 || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
}

// prune removes dir and then its parents while they are empty, up to the
// root, so a failed or deleted run leaves no empty directories behind.
func (l *Local) prune(dir string) {
	l.dirs.Lock()
	defer l.dirs.Unlock()
	for strings.HasPrefix(dir, l.root+string(filepath.Separator)) && os.Remove(dir) == nil {
		dir = filepath.Dir(dir)
	}
}

type localObject struct {
	l               *Local
	key, final, tmp string
	f               *os.File
	done            bool
}

func (o *localObject) Key() string { return o.key }

func (o *localObject) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	if err != nil {
		return n, pathError("writing", o.final, err)
	}
	return n, nil
}

// Commit syncs the file and links it into place. A link (not a rename)
// refuses to replace an existing file, so two runs never overwrite each
// other's output.
func (o *localObject) Commit(context.Context) error {
	if o.done {
		return nil
	}
	if err := o.f.Sync(); err != nil {
		o.abort()
		return pathError("syncing", o.final, err)
	}
	if err := o.f.Close(); err != nil {
		o.abort()
		return pathError("closing", o.final, err)
	}
	err := os.Link(o.tmp, o.final)
	_ = os.Remove(o.tmp)
	o.done = true
	if err != nil {
		return pathError("publishing", o.final, err)
	}
	return nil
}

func (o *localObject) abort() {
	_ = o.f.Close()
	_ = os.Remove(o.tmp)
	o.l.prune(filepath.Dir(o.final))
	o.done = true
}

func (o *localObject) Abort(context.Context) error {
	if !o.done {
		o.abort()
	}
	return nil
}

func (l *Local) put(key string, data []byte, replace bool) error {
	final, err := l.path(key)
	if err != nil {
		return err
	}
	o, err := l.Create(context.Background(), key)
	if err != nil {
		return err
	}
	lo := o.(*localObject)
	if _, err := lo.Write(data); err != nil {
		lo.abort()
		return err
	}
	if !replace {
		return lo.Commit(context.Background())
	}
	if err := lo.f.Sync(); err != nil {
		lo.abort()
		return pathError("syncing", final, err)
	}
	_ = lo.f.Close()
	if err := os.Rename(lo.tmp, final); err != nil {
		_ = os.Remove(lo.tmp)
		return pathError("replacing", final, err)
	}
	return nil
}

// PutIfAbsent implements Store.
func (l *Local) PutIfAbsent(_ context.Context, key string, data []byte) error {
	return l.put(key, data, false)
}

// Put implements Store.
func (l *Local) Put(_ context.Context, key string, data []byte) error { return l.put(key, data, true) }

// Get implements Store.
func (l *Local) Get(_ context.Context, key string) ([]byte, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, ErrNotExist)
	}
	if err != nil {
		return nil, pathError("reading", p, err)
	}
	return data, nil
}

// Open implements Store.
func (l *Local) Open(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, ErrNotExist)
	}
	if err != nil {
		return nil, pathError("opening", p, err)
	}
	return f, nil
}

// List implements Store. Temporary files of writes in progress are not
// listed.
func (l *Local) List(_ context.Context, prefix string) ([]ObjectInfo, error) {
	var out []ObjectInfo
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(l.root, p)
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size(), Modified: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, pathError("listing", l.root, err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out, nil
}

// tempFile matches the names tempName gives: ".<name>.tmp-<12 hex>".
var tempFile = regexp.MustCompile(`^\.(.+)\.tmp-[0-9a-f]{12}$`)

// ListPending implements PendingLister: the temporary files of writes
// that were never committed or aborted.
func (l *Local) ListPending(_ context.Context, prefix string) ([]Pending, error) {
	var out []Pending
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		m := tempFile.FindStringSubmatch(d.Name())
		if d.IsDir() || m == nil {
			return nil
		}
		rel, _ := filepath.Rel(l.root, p)
		id := filepath.ToSlash(rel)
		key := path.Join(path.Dir(id), m[1])
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, Pending{Key: key, ID: id, Size: info.Size(), Started: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, pathError("listing", l.root, err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// AbortPending implements PendingLister: it removes the temporary file.
func (l *Local) AbortPending(ctx context.Context, p Pending) error {
	if !tempFile.MatchString(path.Base(p.ID)) {
		return fmt.Errorf("%s is not a temporary file", l.URL(p.ID))
	}
	return l.Delete(ctx, p.ID)
}

// RemoveEmptyDirs removes the directory prefix and those below it that are
// empty (a killed run leaves its run directory behind).
func (l *Local) RemoveEmptyDirs(_ context.Context, prefix string) error {
	var dirs []string
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(l.root, p)
		if r := filepath.ToSlash(rel); d.IsDir() && rel != "." && (prefix == "" || r == prefix || strings.HasPrefix(r, prefix+"/")) {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return pathError("listing", l.root, err)
	}
	// Deepest first, so that a parent emptied by its children goes too.
	for i := len(dirs) - 1; i >= 0; i-- {
		if entries, err := os.ReadDir(dirs[i]); err != nil || len(entries) > 0 {
			continue
		}
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return pathError("removing", dirs[i], err)
		}
	}
	return nil
}

// Delete implements Store.
func (l *Local) Delete(_ context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return pathError("deleting", p, err)
	}
	l.prune(filepath.Dir(p))
	return nil
}

// GetVersion implements Versioned: the version is the content's SHA-256.
func (l *Local) GetVersion(ctx context.Context, key string) ([]byte, string, error) {
	data, err := l.Get(ctx, key)
	if err != nil {
		return nil, "", err
	}
	return data, contentVersion(data), nil
}

func contentVersion(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// PutIfVersion implements Versioned. An exclusive lock on a file beside
// the object makes the compare and the swap one step for every process on
// the machine.
func (l *Local) PutIfVersion(ctx context.Context, key string, data []byte, version string) error {
	return l.ifVersion(key, version, func() error { return l.put(key, data, true) })
}

// DeleteIfVersion implements Versioned under the same lock as
// PutIfVersion.
func (l *Local) DeleteIfVersion(ctx context.Context, key string, version string) error {
	if version == "" {
		return fmt.Errorf("deleting %s: no version given: %w", l.URL(key), ErrConflict)
	}
	err := l.ifVersion(key, version, func() error { return l.Delete(ctx, key) })
	if errors.Is(err, errGone) {
		return nil
	}
	return err
}

// errGone is the ErrConflict of an object removed since it was read.
var errGone = fmt.Errorf("%w: object was removed", ErrConflict)

// ifVersion runs swap if the object at key is at version ("" = absent),
// holding the object's lock file.
func (l *Local) ifVersion(key, version string, swap func() error) error {
	final, unlock, err := l.lockKey(key)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := os.ReadFile(final)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if version != "" {
			return fmt.Errorf("%s: %w (it was removed)", final, errGone)
		}
	case err != nil:
		return pathError("reading", final, err)
	case version == "" || contentVersion(cur) != version:
		return fmt.Errorf("%s: %w", final, ErrConflict)
	}
	return swap()
}

// lockKey takes the exclusive lock beside key's file, which makes a
// compare and the change that follows one step for every process on the
// machine.
func (l *Local) lockKey(key string) (path string, unlock func(), err error) {
	final, err := l.path(key)
	if err != nil {
		return "", nil, err
	}
	lockPath := filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".lock")
	if err := l.inDir(lockPath, func() (err error) { unlock, err = lockFile(lockPath); return err }); err != nil {
		return "", nil, pathError("locking", lockPath, err)
	}
	return final, unlock, nil
}
