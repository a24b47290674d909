package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// InfoFile is the plugin info file looked for beside plugin binaries;
// files named InfoFile.<suffix> are read as well (a Lambda layer brings
// PLUGININFO.<plugin>, as it brings SHA256SUMS.<plugin>).
//
// It holds what each plugin of the directory answers when asked for its
// info (name, version, DSN schemes, capabilities, the environment it
// reads), keyed by the binary's sha256:
//
//	{"plugins": {"<sha256>": {"name": "postgres", "version": "...", "schemes": ["postgres", "postgresql"], ...}}}
//
// With it, a host picks the plugin that serves a DSN's scheme, and starts
// it with the variables it reads, without starting any plugin to ask:
// what the user's cache (DiscoverOptions.CacheDir) does after a first
// run, from the first run on, which matters where every run is a first
// one (Lambda cold starts, fresh containers). `hp plugins index` writes
// it. Its entries are used only for binaries of its own directory with
// that digest, and only when neither it nor the directory is writable by
// group or others (like the checksum files): an entry decides which
// plugin is not asked, so a forged one could hand a DSN to another.
const InfoFile = "PLUGININFO"

// infoFileJSON is the file's layout.
type infoFileJSON struct {
	Plugins map[string]cachedInfo `json:"plugins"`
}

// IsInfoFile reports whether a file name is a plugin info file's:
// PLUGININFO or PLUGININFO.<suffix>.
func IsInfoFile(name string) bool {
	suffix, ok := strings.CutPrefix(name, InfoFile)
	return ok && (suffix == "" || len(suffix) > 1 && suffix[0] == '.') && !strings.ContainsRune(name, filepath.Separator)
}

// readDirInfo merges the info files among a directory's entries. A
// digest that two files describe differently is left out: the plugin is
// asked. The error says why a file was not used; the files read before
// it stay.
func readDirInfo(dir string, entries []os.DirEntry) (map[string]cachedInfo, error) {
	var files []string
	for _, e := range entries {
		if IsInfoFile(e.Name()) && !e.IsDir() {
			files = append(files, e.Name())
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	sort.Strings(files)
	out := map[string]cachedInfo{}
	conflict := map[string]bool{}
	var errs []error
	for _, name := range files {
		path := filepath.Join(dir, name)
		if err := notWritableByOthers(path); err != nil {
			errs = append(errs, fmt.Errorf("plugin info file not used: %w", err))
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin info file not used: %w", err))
			continue
		}
		var f infoFileJSON
		if err := json.Unmarshal(data, &f); err != nil {
			errs = append(errs, fmt.Errorf("plugin info file %s not used: %w", path, err))
			continue
		}
		for digest, info := range f.Plugins {
			digest = strings.ToLower(digest)
			if prev, seen := out[digest]; seen && !sameInfo(prev, info) {
				conflict[digest] = true
			}
			out[digest] = info
		}
	}
	for digest := range conflict {
		delete(out, digest)
	}
	return out, errors.Join(errs...)
}

func sameInfo(a, b cachedInfo) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// WriteInfoFile writes an info file (see InfoFile) at path describing the
// plugin binaries whose sha256 digests key infos, replacing the file
// atomically; it is made readable by all and writable only by its owner.
func WriteInfoFile(path string, infos map[string]sdk.Info) error {
	f := infoFileJSON{Plugins: make(map[string]cachedInfo, len(infos))}
	for digest, i := range infos {
		f.Plugins[digest] = toCached(i)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644)
}
