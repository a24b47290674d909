package layout

import (
	"path"
	"regexp"
	"strings"
)

// halfpipeRun is the part of a halfpipe-preset name shared by a run's data
// files, manifest and .man: "<object>-[<from>-<to>-]<date>T<time>".
var halfpipeRun = regexp.MustCompile(`^(.+-\d{8}T\d{6})(?:_\d{6})?\.`)

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
	if m := halfpipeRun.FindStringSubmatch(base); m != nil {
		return dir + m[1]
	}
	return strings.TrimSuffix(dir, "/")
}
