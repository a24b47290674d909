// Package pipe runs many table jobs from one pipeline file (hp pipe):
// each job is exactly the run of hp cp snap or hp cp delta, planned by
// run.NewPlan from the options of the same names, and carried out by
// run.Snapshot or run.Delta with bounded concurrency.
package pipe

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/core/internal/suggest"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// File is a pipeline file as written: defaults and a list of jobs.
type File struct {
	Defaults Job
	Jobs     []Job
}

// Job is one entry of jobs (or the defaults): a source, a target, a kind
// and options, each option a flag of hp cp snap or hp cp delta by its
// name. Fields left empty in a job come from the defaults.
type Job struct {
	Name, Kind, Source, Target string
	Options                    map[string]Option
	// Line is where the job starts in the file.
	Line int
}

// Option is an option's value as text (as on the command line) and its
// line.
type Option struct {
	Value string
	Line  int
}

// The job's own keys, beside the options.
var jobKeys = []string{"name", "kind", "source", "target"}

// Decode parses a pipeline file strictly: an unknown key, a value of the
// wrong shape or a duplicate key is an error naming its line.
func Decode(data []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, sdk.InvalidArgumentf("pipeline file: %v", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, sdk.InvalidArgumentf("pipeline file is empty: it needs a list of jobs")
	}
	root := deref(doc.Content[0])
	f := &File{}
	err := eachKey(root, "the pipeline file", func(k string, v *yaml.Node) error {
		switch k {
		case "defaults":
			d, err := decodeJob(v, true)
			if err != nil {
				return err
			}
			f.Defaults = *d
		case "jobs":
			if v = deref(v); v.Kind != yaml.SequenceNode {
				return linef(v, "jobs must be a list of jobs")
			}
			for _, n := range v.Content {
				j, err := decodeJob(n, false)
				if err != nil {
					return err
				}
				f.Jobs = append(f.Jobs, *j)
			}
		default:
			return unknownKey(v, k, []string{"defaults", "jobs"})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(f.Jobs) == 0 {
		return nil, sdk.InvalidArgumentf("pipeline file has no jobs: give a list under jobs:")
	}
	return f, nil
}

func decodeJob(n *yaml.Node, defaults bool) (*Job, error) {
	n = deref(n)
	what := "a job"
	if defaults {
		what = "defaults"
	}
	j := &Job{Options: map[string]Option{}, Line: n.Line}
	err := eachKey(n, what, func(k string, v *yaml.Node) error {
		v = deref(v)
		if v.Kind != yaml.ScalarNode {
			return linef(v, "%s must be a single value (a string, number or boolean), not a list or mapping", k)
		}
		switch k {
		case "name":
			if defaults {
				return linef(v, "defaults cannot set a name: each job has its own")
			}
			j.Name = v.Value
		case "kind":
			if v.Value != string(run.KindSnap) && v.Value != string(run.KindDelta) {
				return linef(v, "kind %q: want snap or delta", v.Value)
			}
			j.Kind = v.Value
		case "source":
			j.Source = v.Value
		case "target":
			j.Target = v.Value
		default:
			if !allOptions[k] {
				return unknownKey(v, k, append(jobKeys, optionNames()...))
			}
			j.Options[k] = Option{Value: v.Value, Line: v.Line}
		}
		return nil
	})
	return j, err
}

// eachKey calls fn for every key of a mapping, in order, refusing
// duplicates.
func eachKey(n *yaml.Node, what string, fn func(k string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return linef(n, "%s must be a mapping of keys to values", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			return linef(k, "%s is given twice", k.Value)
		}
		seen[k.Value] = true
		if err := fn(k.Value, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// deref follows YAML aliases (*name) to their anchors.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func unknownKey(n *yaml.Node, k string, known []string) error {
	msg := fmt.Sprintf("unknown key %q", k)
	if s := suggest.Likely(k, known); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	}
	return linef(n, "%s", msg)
}

func linef(n *yaml.Node, format string, args ...any) error {
	return sdk.InvalidArgumentf("line %d: %s", n.Line, fmt.Sprintf(format, args...))
}

// flagSet is the flags of a run of kind, bound to s: the options a job
// of that kind takes, by the same names as hp cp's flags.
func flagSet(kind run.Kind, s *run.Spec) *pflag.FlagSet {
	fl := pflag.NewFlagSet("hp cp "+string(kind), pflag.ContinueOnError)
	run.BindFlags(fl, s, kind)
	return fl
}

// allOptions is every option of either kind (hidden aliases left out: a
// file has one name for each).
var allOptions = func() map[string]bool {
	out := map[string]bool{}
	for _, k := range []run.Kind{run.KindSnap, run.KindDelta} {
		flagSet(k, &run.Spec{}).VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				out[f.Name] = true
			}
		})
	}
	return out
}()

func optionNames() []string {
	out := make([]string, 0, len(allOptions))
	for k := range allOptions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// kindOf is the job's kind, or the default's.
func (j Job) kindOf(d Job) (run.Kind, error) {
	k := firstOf(j.Kind, d.Kind)
	if k == "" {
		return "", sdk.InvalidArgumentf("line %d: the job has no kind: set kind: snap or kind: delta (in the job or the defaults)", j.Line)
	}
	return run.Kind(k), nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// spec binds the defaults' options that apply to kind and then the job's
// own (each of which must apply) to a Spec, as flags of hp cp would be;
// vars replace {table} and {schema} in the state option.
func (j Job) spec(d Job, kind run.Kind, vars map[string]string) (run.Spec, error) {
	var s run.Spec
	fl := flagSet(kind, &s)
	set := func(name string, o Option, mustApply bool) error {
		f := fl.Lookup(name)
		if f == nil {
			if mustApply {
				return sdk.InvalidArgumentf("line %d: %s is an option of %s jobs, not %s", o.Line, name, other(kind), kind)
			}
			return nil
		}
		v := o.Value
		if name == "state" {
			v = substitute(v, vars)
		}
		if err := fl.Set(name, v); err != nil {
			return sdk.InvalidArgumentf("line %d: %s: %v", o.Line, name, err)
		}
		return nil
	}
	for _, name := range sortedKeys(d.Options) {
		if _, mine := j.Options[name]; !mine {
			if err := set(name, d.Options[name], false); err != nil {
				return s, err
			}
		}
	}
	for _, name := range sortedKeys(j.Options) {
		if err := set(name, j.Options[name], true); err != nil {
			return s, err
		}
	}
	return s, nil
}

func other(k run.Kind) run.Kind {
	if k == run.KindSnap {
		return run.KindDelta
	}
	return run.KindSnap
}

func sortedKeys(m map[string]Option) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// substitute replaces {table} and {schema}.
func substitute(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}
