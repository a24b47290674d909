package layout

import (
	"path"
	"regexp"
	"strings"
)

// halfpipeManifest is the tail of a halfpipe-preset manifest name after
// "<object>-": the run's start time (snapshots) or its delta range and
// start time, and the suffix Layout.Manifest gives.
var halfpipeManifest = regexp.MustCompile(`^(\d{8}T\d{6}|(\d{8}T\d{6}|-?\d+)-(\d{8}T\d{6}|-?\d+)-\d{8}T\d{6}_\d{6})\.manifest\.json$`)

// IsManifest reports whether key is a run's manifest under prefix, in any
// layout: a _manifest.json or <name>.manifest.json below prefix/, or a
// halfpipe-preset manifest of the object prefix itself
// (<prefix>-<date>T<time>.manifest.json, beside rather than below it).
// An empty prefix means the whole store.
func IsManifest(key, prefix string) bool {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" && !strings.HasPrefix(key, prefix+"/") {
		rest, ok := strings.CutPrefix(key, prefix+"-")
		return ok && halfpipeManifest.MatchString(rest)
	}
	base := path.Base(key)
	return base == "_manifest.json" || (strings.HasSuffix(base, ".manifest.json") && !strings.HasPrefix(base, "."))
}
