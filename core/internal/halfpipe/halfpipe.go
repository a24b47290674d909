// Package halfpipe holds what hp keeps of the original Halfpipe, so that
// its users can switch without changing their consumers or their
// configuration: its file and .man names (the "halfpipe" layout), the
// high-water mark read back from those names, and the variables of
// 12-factor mode (also AWS Lambda's).
package halfpipe

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Files is the file name template of a snapshot:
// <prefix>-<YYYYMMDDTHHMMSS>_000001.csv.gz.
const Files = "{prefix}/{object}-{date}T{time}_{part:06}.{ext}"

// DeltaFiles is the file name template of a delta run, given the range's
// ends (Bound): <prefix>-<from>-<to>-<YYYYMMDDTHHMMSS>_000001.csv.gz.
const DeltaFiles = "{prefix}/{object}-%s-%s-{date}T{time}_{part:06}.{ext}"

// ManifestTail matches what follows "<object>-" in the name of a manifest
// of the halfpipe layout: the run's start (snapshots) or its delta range
// and start, and the suffix ".manifest.json".
var ManifestTail = regexp.MustCompile(`^(\d{8}T\d{6}|(\d{8}T\d{6}|-?\d+)-(\d{8}T\d{6}|-?\d+)-\d{8}T\d{6}_\d{6})\.manifest\.json$`)

// RunName matches the part of a name shared by a run's data files,
// manifest and .man: "<object>-[<from>-<to>-]<date>T<time>" (group 1).
var RunName = regexp.MustCompile(`^(.+-\d{8}T\d{6})(?:_\d{6})?\.`)

// deltaMan matches the .man names of the delta runs of an object: group 1
// is the range's upper end (YYYYMMDDTHHMMSS or a sequence).
func deltaMan(object string) *regexp.Regexp {
	return regexp.MustCompile(`(?:^|/)` + regexp.QuoteMeta(object) + `-(?:\d{8}T\d{6}|-?\d+)-(\d{8}T\d{6}|-?\d+)-\d{8}T\d{6}_\d{6}\.man$`)
}

// Man renders a .man file: a CSV with the header FileName and the base
// name of each data file, one per line.
func Man(paths []string) []byte {
	var b strings.Builder
	b.WriteString("FileName\n")
	for _, name := range paths {
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		b.WriteString(name)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// Bound writes a range end as Halfpipe named files: whole seconds
// (YYYYMMDDTHHMMSS, UTC) for time drivers, the number itself otherwise.
func Bound(v *sdk.Value, driverType string) string {
	switch {
	case v == nil && (driverType == "timestamp" || driverType == "date"):
		return "19000101T000000"
	case v == nil:
		return "0"
	case v.Kind == sdk.KindTimestamp:
		return v.Time.UTC().Format("20060102T150405")
	case v.Kind == sdk.KindDate:
		return time.Unix(v.Int*86400, 0).UTC().Format("20060102T150405")
	}
	return delta.Format(v)
}

// Mark derives the high-water mark of an object that Halfpipe extracted
// into <prefix>/<object>, from its .man names
// (<object>-<from>-<to>-<extract>_NNNNNN.man): the highest <to>, or nil
// when there is none. Halfpipe kept whole seconds, and read "driver > to"
// next, as hp does.
func Mark(ctx context.Context, log *slog.Logger, st store.Store, prefix, object, driverType string) (*sdk.Value, error) {
	objs, err := st.List(ctx, strings.TrimPrefix(prefix+"/", "/"))
	if err != nil {
		return nil, fmt.Errorf("looking for Halfpipe manifests: %w", err)
	}
	re := deltaMan(object)
	var best *sdk.Value
	from := ""
	for _, obj := range objs {
		m := re.FindStringSubmatch(obj.Key)
		if m == nil {
			continue
		}
		v, err := delta.Parse(driverType, m[1])
		if err != nil {
			return nil, fmt.Errorf("Halfpipe manifest %s: its upper bound %q is not a %s: %w", st.URL(obj.Key), m[1], driverType, sdk.ErrInvalidArgument)
		}
		if best == nil || delta.Compare(v, best) > 0 {
			best, from = v, obj.Key
		}
	}
	if best != nil {
		log.Info("high-water mark taken from the original Halfpipe's manifests", "high_water_mark", delta.Format(best), "manifest", st.URL(from))
	}
	return best, nil
}
