package layout

import (
	"path"
	"regexp"
	"strings"

	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
)

// RunGroup names the run an object belongs to, so that a run's objects can
// be told apart from another's without its manifest: the file name's
// shared start for the halfpipe preset (whose runs share a directory),
// else the directory (one per run, named by {run_id}). Hidden files
// (temporary files, locks) and the delta state belong to no run: "".
func RunGroup(key string) string {
	dir, base := path.Split(key)
	if base == "" || strings.HasPrefix(base, ".") || base == "_state.json" {
		return ""
	}
	if m := halfpipe.RunName.FindStringSubmatch(base); m != nil {
		return dir + m[1]
	}
	return strings.TrimSuffix(dir, "/")
}

// runID matches the run ids NewRunID gives.
var runID = regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{8}$`)

// IsRunGroup reports whether a RunGroup is certainly hp's: a directory
// named by a run id, or a halfpipe-preset name. Only such groups may be
// taken for an unpublished run; anything else under a prefix may be
// someone else's.
func IsRunGroup(group string) bool {
	base := path.Base(group)
	return group != "" && (runID.MatchString(base) || halfpipe.RunName.MatchString(base+"."))
}
