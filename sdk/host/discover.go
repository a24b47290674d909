// Package host is the side of the connector protocol that hp runs: it
// discovers plugin binaries, verifies them, launches the ones a job needs
// and stops them all when the job ends.
//
// Discovery looks, in order, in every directory of HP_PLUGIN_DIR (a
// ':'-separated list), <directory of the hp executable>/plugins,
// $XDG_DATA_HOME/halfpipe/plugins (default ~/.local/share/halfpipe/plugins),
// /opt/hp/plugins and /opt, for executables named hp-plugin-<name>. The
// first plugin of a name wins; later ones are reported as shadowed.
//
// A directory may hold checksum files in the format of sha256sum's output:
// SHA256SUMS and any number of SHA256SUMS.<suffix> (detached signatures
// such as SHA256SUMS.asc or .sig excepted). The directory's checksums are
// the union of them all, so that packages unpacked into one directory —
// Lambda merges every layer into /opt — can each bring their own file,
// e.g. SHA256SUMS.postgres, without overwriting another's. A plugin whose
// digest does not match its entry is refused, and so is a plugin listed
// with two different digests (in two files, or twice in one), naming both
// places; a checksum file that cannot be read or parsed refuses every
// plugin of its directory. With RequireChecksums a plugin without an entry
// is refused too. As sshd does with its keys, hp always refuses a plugin
// that others could change: a directory or checksum file writable by
// group or others, and a binary writable by them or owned by a user other
// than root and the one running hp; the error names the chmod or chown
// that fixes it.
// Discover and Host.Plugins hash every binary; a Host finding a plugin to
// run hashes only the ones it launches. What a plugin serves comes from its
// directory's info files (InfoFile) or the user's cache when its digest is
// there; other plugins are started to ask.
package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// BinaryPrefix starts the file name of every plugin binary.
const BinaryPrefix = "hp-plugin-"

// SumsFile is the checksum file looked for beside plugin binaries; files
// named SumsFile.<suffix> are read as well.
const SumsFile = "SHA256SUMS"

// Dir is one discovery location.
type Dir struct {
	Path   string
	Origin string // what put it on the list, e.g. "HP_PLUGIN_DIR"
}

// DefaultDirs returns the discovery locations in order. getenv is
// os.Getenv in production; exe is the path of the running hp binary (empty
// to skip that location).
func DefaultDirs(getenv func(string) string, exe string) []Dir {
	var dirs []Dir
	for _, d := range filepath.SplitList(getenv("HP_PLUGIN_DIR")) {
		if d != "" {
			dirs = append(dirs, Dir{Path: d, Origin: "HP_PLUGIN_DIR"})
		}
	}
	if exe != "" {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, Dir{Path: filepath.Join(filepath.Dir(exe), "plugins"), Origin: "hp executable"})
	}
	data := getenv("XDG_DATA_HOME")
	if data == "" {
		if home := getenv("HOME"); home != "" {
			data = filepath.Join(home, ".local", "share")
		}
	}
	if data != "" {
		dirs = append(dirs, Dir{Path: filepath.Join(data, "halfpipe", "plugins"), Origin: "user data"})
	}
	dirs = append(dirs, Dir{Path: "/opt/hp/plugins", Origin: "system"}, Dir{Path: "/opt", Origin: "lambda layer"})
	return dirs
}

// ChecksumStatus says how a plugin binary's digest was checked.
type ChecksumStatus string

// Checksum states.
const (
	ChecksumVerified ChecksumStatus = "verified"
	ChecksumNoFile   ChecksumStatus = "no SHA256SUMS"
	ChecksumUnlisted ChecksumStatus = "not listed in SHA256SUMS"
	ChecksumMismatch ChecksumStatus = "MISMATCH"
	ChecksumConflict ChecksumStatus = "CONFLICT" // listed with two different digests
	// ChecksumAtLaunch: listed, and hashed only when launched (a Host
	// discovering plugins to run one does not hash the others).
	ChecksumAtLaunch ChecksumStatus = "checked at launch"
)

// Plugin is one discovered plugin binary.
type Plugin struct {
	Name     string
	Path     string
	Dir      Dir
	SHA256   string
	Checksum ChecksumStatus
	// Refused is why the plugin may not run; nil when it may.
	Refused error
	// Shadowed is set when a plugin of the same name was found earlier.
	Shadowed bool
	entry    sumEntry // its checksum entry, when listed
	// dirInfo is its directory's info files, by digest.
	dirInfo map[string]cachedInfo
}

// ErrRefused marks a plugin hp will not run.
var ErrRefused = errors.New("plugin refused")

// DiscoverOptions tunes Discover.
type DiscoverOptions struct {
	// RequireChecksums refuses plugins that have no SHA256SUMS entry.
	RequireChecksums bool
	// CacheDir holds plugins.json, each plugin's name, version, schemes,
	// capabilities and declared environment keyed by its binary's sha256,
	// so that finding the plugin of a scheme or listing plugins does not
	// start them. Empty: no cache. A cache directory or file that anyone
	// but this user can write is not used.
	CacheDir string
	// NoInfoFiles ignores the directories' plugin info files (InfoFile):
	// every plugin whose info is not in the cache is started to ask.
	NoInfoFiles bool
}

// Discover lists the plugin binaries in dirs, in order, and checks each
// one's digest. Missing directories are skipped; unreadable ones are an
// error.
func Discover(dirs []Dir, opts DiscoverOptions) ([]Plugin, error) {
	ps, _, err := discover(dirs, opts, true)
	return ps, err
}

// discover is Discover; without hash, a listed plugin's digest is left to
// be checked when it is launched (ChecksumAtLaunch). notes says why info
// files were not used.
func discover(dirs []Dir, opts DiscoverOptions, hash bool) (out []Plugin, notes []error, err error) {
	seen := map[string]bool{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d.Path)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) && d.Origin == "lambda layer" {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading plugin directory %s (%s): %w", d.Path, d.Origin, err)
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), BinaryPrefix) && !e.IsDir() {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		dirErr := notWritableByOthers(d.Path)
		sums, sumsErr := readDirSums(d.Path, entries)
		var info map[string]cachedInfo
		if !opts.NoInfoFiles && dirErr == nil {
			var infoErr error
			if info, infoErr = readDirInfo(d.Path, entries); infoErr != nil {
				notes = append(notes, infoErr)
			}
		}
		for _, n := range names {
			p := Plugin{Name: strings.TrimPrefix(n, BinaryPrefix), Path: filepath.Join(d.Path, n), Dir: d, dirInfo: info}
			p.Shadowed = seen[p.Name]
			seen[p.Name] = true
			p.Refused = dirErr
			if p.Refused == nil {
				p.Refused = check(&p, sums, sumsErr, opts, hash)
			}
			out = append(out, p)
		}
	}
	return out, notes, nil
}

// notWritableByOthers refuses a file or directory that a group or other
// users may write: they could put their own code in hp's place.
func notWritableByOthers(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRefused, path, err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by group or others (mode %v); run chmod go-w %s", ErrRefused, path, st.Mode().Perm(), path)
	}
	return nil
}

func check(p *Plugin, sums *dirSums, sumsErr error, opts DiscoverOptions, hash bool) error {
	st, err := os.Stat(p.Path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRefused, p.Path, err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by group or others (mode %v); run chmod go-w %s", ErrRefused, p.Path, st.Mode().Perm(), p.Path)
	}
	if err := checkOwner(p.Path, st); err != nil {
		return err
	}
	if st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s is not executable", ErrRefused, p.Path)
	}
	if sumsErr != nil {
		p.Checksum = ChecksumMismatch
		return fmt.Errorf("%w: %s: %v", ErrRefused, p.Path, sumsErr)
	}
	base := filepath.Base(p.Path)
	want, listed := sums.entries[base]
	other, conflict := sums.conflicts[base]
	if !hash && listed && !conflict {
		p.entry, p.SHA256, p.Checksum = want, want.digest, ChecksumAtLaunch
		return nil
	}
	if hash {
		if p.SHA256, err = fileSHA256(p.Path); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrRefused, p.Path, err)
		}
	}
	switch {
	case len(sums.files) == 0:
		p.Checksum = ChecksumNoFile
	case !listed:
		p.Checksum = ChecksumUnlisted
	case conflict:
		p.Checksum = ChecksumConflict
		return fmt.Errorf("%w: %s has conflicting checksum entries in %s: %s (%s) and %s (%s); remove the stale one", ErrRefused, p.Path, p.Dir.Path, want, want.digest, other, other.digest)
	case want.digest != p.SHA256:
		p.Checksum = ChecksumMismatch
		return errMismatch(p.Path, want, p.SHA256)
	default:
		p.Checksum = ChecksumVerified
	}
	if opts.RequireChecksums && p.Checksum != ChecksumVerified {
		return fmt.Errorf("%w: %s has no SHA256SUMS entry and checksums are required (--require-checksums)", ErrRefused, p.Path)
	}
	return nil
}

func errMismatch(path string, want sumEntry, have string) error {
	return fmt.Errorf("%w: %s does not match its %s entry (line %d: want %s, have %s): the binary was changed after it was installed", ErrRefused, path, want.file, want.line, want.digest, have)
}
