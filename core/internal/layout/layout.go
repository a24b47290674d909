// Package layout names output objects: a path template for data files and
// the manifest key derived from it, plus the "halfpipe" preset that
// reproduces the original Halfpipe's file and .man names.
package layout

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
)

// Default is the default data file template.
const Default = "{prefix}/{object}/{run_id}/part-{part:05}.{ext}"

// Placeholders are the names a template may use.
var Placeholders = []string{"prefix", "object", "schema", "table", "run_id", "date", "time", "part", "ext"}

// Vars are the values of one run.
type Vars struct {
	Prefix, Object, Schema, Table, RunID, Ext string
	Start                                     time.Time
	// DeltaFrom and DeltaTo are a delta run's range as Halfpipe wrote it
	// in names (HalfpipeBound); empty for snapshots.
	DeltaFrom, DeltaTo string
}

// SplitTarget splits a target object ("dir/sub/name") into prefix and object.
func SplitTarget(obj string) (prefix, object string) {
	obj = strings.Trim(obj, "/")
	if i := strings.LastIndexByte(obj, '/'); i >= 0 {
		return obj[:i], obj[i+1:]
	}
	return "", obj
}

var token = regexp.MustCompile(`\{([a-z_]+)(?::0(\d+))?\}`)

// Layout names a run's files and manifest.
type Layout struct {
	Name     string // "default", "halfpipe" or "custom"
	template string
}

// New returns the layout for a preset name and an optional custom template
// (which wins over the preset's file names).
func New(preset, template string) (*Layout, error) {
	l := &Layout{Name: preset}
	switch preset {
	case "", "default":
		l.Name, l.template = "default", Default
	case "halfpipe":
		l.template = halfpipe.Files
	default:
		return nil, fmt.Errorf("unknown layout %q: use default or halfpipe", preset)
	}
	if template != "" {
		l.template = template
		if l.Name == "default" {
			l.Name = "custom"
		}
	}
	if err := validate(l.template); err != nil {
		return nil, err
	}
	return l, nil
}

func validate(tmpl string) error {
	for _, m := range token.FindAllStringSubmatch(tmpl, -1) {
		if !contains(Placeholders, m[1]) {
			return fmt.Errorf("path template %q: unknown placeholder {%s}; use {%s}", tmpl, m[1], strings.Join(Placeholders, "} {"))
		}
	}
	if rest := token.ReplaceAllString(tmpl, ""); strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("path template %q has an unbalanced or malformed placeholder", tmpl)
	}
	base := path.Base(tmpl)
	if !strings.Contains(base, "{part") {
		return fmt.Errorf("path template %q must have {part} in the file name, so that files of one run get distinct names", tmpl)
	}
	if strings.Contains(path.Dir(tmpl), "{part") {
		return fmt.Errorf("path template %q: {part} may appear only in the file name", tmpl)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func expand(tmpl string, v Vars, part int) string {
	out := token.ReplaceAllStringFunc(tmpl, func(tok string) string {
		m := token.FindStringSubmatch(tok)
		switch m[1] {
		case "prefix":
			return v.Prefix
		case "object":
			return v.Object
		case "schema":
			return v.Schema
		case "table":
			return v.Table
		case "run_id":
			return v.RunID
		case "date":
			return v.Start.UTC().Format("20060102")
		case "time":
			return v.Start.UTC().Format("150405")
		case "ext":
			return v.Ext
		case "part":
			if m[2] != "" {
				width, _ := strconv.Atoi(m[2])
				return fmt.Sprintf("%0*d", width, part)
			}
			return strconv.Itoa(part)
		}
		return tok
	})
	return clean(out)
}

// clean drops empty segments, so an empty {prefix} leaves no "//".
func clean(p string) string {
	parts := strings.Split(p, "/")
	kept := parts[:0]
	for _, s := range parts {
		if s != "" {
			kept = append(kept, s)
		}
	}
	out := strings.Join(kept, "/")
	// "{prefix}-..." with an empty prefix would start with "-" after a
	// slash was dropped; Halfpipe names never do.
	return strings.ReplaceAll(out, "/-", "/")
}

// File is the key of data file part (1-based).
func (l *Layout) File(v Vars, part int) string {
	if l.Name == "halfpipe" && l.template == halfpipe.Files && v.DeltaTo != "" {
		return expand(fmt.Sprintf(halfpipe.DeltaFiles, v.DeltaFrom, v.DeltaTo), v, part)
	}
	return expand(l.template, v, part)
}

// Manifest is the key of the run's manifest: beside the data files, named
// _manifest.json in the default layout and <prefix>-<ts>.manifest.json in
// the halfpipe layout (whose runs share a directory).
func (l *Layout) Manifest(v Vars) string {
	if l.Name == "halfpipe" {
		return strings.TrimSuffix(l.halfpipeBase(v), ".") + ".manifest.json"
	}
	return clean(path.Dir(l.File(v, 1)) + "/_manifest.json")
}

// HalfpipeMan is the key of the original .man file (halfpipe layout only).
func (l *Layout) HalfpipeMan(v Vars) string { return l.halfpipeBase(v) + ".man" }

func (l *Layout) halfpipeBase(v Vars) string {
	if v.DeltaTo != "" {
		// Halfpipe's delta names: <prefix>-<from>-<to>-<extract>_NNNNNN.
		return clean(expand("{prefix}/{object}-", v, 0)) + v.DeltaFrom + "-" + v.DeltaTo + "-" + v.Start.UTC().Format("20060102T150405") + "_000001"
	}
	return clean(expand("{prefix}/{object}-{date}T{time}", v, 0))
}

// NewRunID returns a sortable, unique run id: the start time and 8 random
// hex digits, e.g. 20261125T033000Z-1a2b3c4d.
func NewRunID(start time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return start.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
