package host

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// signatureSuffixes end the names of detached signatures of a checksum
// file (SHA256SUMS.asc, SHA256SUMS.sig, ...): they sit beside it but are
// not checksum files themselves.
var signatureSuffixes = []string{".asc", ".sig", ".gpg", ".minisig", ".pem", ".bundle", ".sigstore.json"}

// isSumsFile reports whether a directory entry name is a checksum file:
// SHA256SUMS itself or SHA256SUMS.<suffix>, such as the SHA256SUMS.postgres
// a Lambda layer carries so that layers merged into one directory don't
// overwrite each other's checksums.
func isSumsFile(name string) bool {
	if name == SumsFile {
		return true
	}
	suffix, ok := strings.CutPrefix(name, SumsFile+".")
	if !ok || suffix == "" {
		return false
	}
	for _, s := range signatureSuffixes {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// sumEntry is one binary's digest as a checksum file lists it.
type sumEntry struct {
	digest string
	file   string // base name of the checksum file
	line   int
}

func (e sumEntry) String() string { return fmt.Sprintf("%s line %d", e.file, e.line) }

// dirSums is the union of the checksum files of one directory.
type dirSums struct {
	files   []string            // base names of the checksum files read, sorted
	entries map[string]sumEntry // binary name → its entry
	// conflicts holds, per binary name, an entry that disagrees with the
	// one in entries. Such a binary is refused: one of the two files is
	// wrong, and hp cannot tell which.
	conflicts map[string]sumEntry
}

// readDirSums reads every checksum file among a directory's entries and
// merges them. An unreadable or malformed checksum file is an error.
func readDirSums(dir string, entries []os.DirEntry) (*dirSums, error) {
	s := &dirSums{entries: map[string]sumEntry{}, conflicts: map[string]sumEntry{}}
	for _, e := range entries {
		if isSumsFile(e.Name()) && !e.IsDir() {
			s.files = append(s.files, e.Name())
		}
	}
	sort.Strings(s.files)
	for _, file := range s.files {
		if err := notWritableByOthers(filepath.Join(dir, file)); err != nil {
			return nil, err
		}
		lines, err := readSums(filepath.Join(dir, file))
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			prev, seen := s.entries[l.name]
			switch {
			case !seen:
				s.entries[l.name] = l.sumEntry
			case prev.digest != l.digest:
				if _, already := s.conflicts[l.name]; !already {
					s.conflicts[l.name] = l.sumEntry
				}
			}
		}
	}
	return s, nil
}

// sumLine is one line of a checksum file.
type sumLine struct {
	name string
	sumEntry
}

// readSums parses a sha256sum-style file into its entries, in file order.
func readSums(path string) ([]sumLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	base := filepath.Base(path)
	var out []sumLine
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		digest, name, ok := strings.Cut(text, " ")
		name = strings.TrimPrefix(strings.TrimSpace(name), "*")
		if !ok || len(digest) != 64 || name == "" {
			return nil, fmt.Errorf("%s line %d is not '<sha256>  <file>'", path, line)
		}
		if _, err := hex.DecodeString(digest); err != nil {
			return nil, fmt.Errorf("%s line %d: bad digest", path, line)
		}
		out = append(out, sumLine{name: name, sumEntry: sumEntry{digest: strings.ToLower(digest), file: base, line: line}})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := newHash()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
