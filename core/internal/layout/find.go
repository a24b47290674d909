package layout

import (
	"path"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
)

// IsManifest reports whether key is a run's manifest under prefix, in any
// layout: a _manifest.json or <name>.manifest.json below prefix/, or a
// halfpipe-preset manifest of the object prefix itself
// (<prefix>-<date>T<time>.manifest.json, beside rather than below it).
// An empty prefix means the whole store.
func IsManifest(key, prefix string) bool {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" && !strings.HasPrefix(key, prefix+"/") {
		rest, ok := strings.CutPrefix(key, prefix+"-")
		return ok && halfpipe.ManifestTail.MatchString(rest)
	}
	base := path.Base(key)
	return base == "_manifest.json" || (strings.HasSuffix(base, ".manifest.json") && !strings.HasPrefix(base, "."))
}
