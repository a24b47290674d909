package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// CacheFile is the name of the plugin info cache in the cache directory.
const CacheFile = "plugins.json"

// cachedInfo is what the cache keeps of a plugin's GetInfo: enough to
// pick the plugin for a scheme and list it without starting it.
type cachedInfo struct {
	Name         string           `json:"name"`
	Version      string           `json:"version"`
	Schemes      []string         `json:"schemes"`
	Capabilities []sdk.Capability `json:"capabilities,omitempty"`
	Env          []string         `json:"env,omitempty"`
}

func toCached(i sdk.Info) cachedInfo {
	return cachedInfo{Name: i.Name, Version: i.Version, Schemes: i.Schemes, Capabilities: i.Capabilities, Env: i.Env}
}

func (c cachedInfo) info() sdk.Info {
	return sdk.Info{Name: c.Name, Version: c.Version, ProtocolVersion: sdk.ProtocolVersion, Schemes: c.Schemes, Capabilities: c.Capabilities, Env: c.Env}
}

// infoCache maps a binary's sha256 to its info. It is only read from and
// written to a directory and file no one but this user can write: a
// forged entry could send a DSN to the wrong plugin.
type infoCache struct {
	dir      string
	entries  map[string]cachedInfo
	verified map[string]verifiedEntry // by binary path (verified.go)
}

// privateErr says why path, which must exist, may not hold the cache.
func privateErr(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link", path)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %v); run chmod go-w %s", path, st.Mode().Perm(), path)
	}
	if err := ownedByMe(path, st); err != nil {
		return err
	}
	return nil
}

// loadCache reads the cache of dir ("" for none). A cache that others
// could have written is not used; the error says why.
func loadCache(dir string) (*infoCache, error) {
	c := &infoCache{entries: map[string]cachedInfo{}, verified: map[string]verifiedEntry{}}
	if dir == "" {
		return c, nil
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		c.dir = dir
		return c, nil
	}
	if err := privateErr(dir); err != nil {
		return c, fmt.Errorf("plugin cache not used: %w", err)
	}
	c.dir = dir
	var notPrivate bool
	var err, verr error
	c.verified, _, verr = readCacheFile[verifiedEntry](filepath.Join(dir, VerifiedFile))
	c.entries, notPrivate, err = readCacheFile[cachedInfo](filepath.Join(dir, CacheFile))
	if notPrivate {
		c.dir = ""
		c.verified = map[string]verifiedEntry{}
	}
	return c, errors.Join(err, verr)
}

// readCacheFile reads one of the cache's files, if it exists, into a new
// map. A file others could write is not read (notPrivate); one that is
// not valid JSON reads as empty, and is rewritten by the next save.
func readCacheFile[V any](path string) (m map[string]V, notPrivate bool, err error) {
	m = map[string]V{}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err := privateErr(path); err != nil {
		return m, true, fmt.Errorf("plugin cache not used: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return m, false, fmt.Errorf("plugin cache: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return map[string]V{}, false, fmt.Errorf("plugin cache %s is not valid JSON, rewriting it: %w", path, err)
	}
	return m, false, nil
}

// save writes v as the cache's file name: mode 0600 in a 0700
// directory, replaced atomically; nothing when the cache has no
// directory.
func (c *infoCache) save(name string, v any) error {
	if c.dir == "" {
		return nil
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("plugin cache: %w", err)
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(c.dir, name), data, 0o600); err != nil {
		return fmt.Errorf("plugin cache: %w", err)
	}
	return nil
}

func (c *infoCache) get(digest string) (sdk.Info, bool) {
	if digest == "" {
		return sdk.Info{}, false
	}
	e, ok := c.entries[digest]
	return e.info(), ok
}

// put records a plugin's info and writes the cache.
func (c *infoCache) put(digest string, i sdk.Info) error {
	if digest == "" {
		return nil
	}
	c.entries[digest] = toCached(i)
	return c.save(CacheFile, c.entries)
}

// writeFileAtomic replaces path with data, of the given mode, through a
// temporary file in its directory: a reader sees the old file or the new.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
