package pipe

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Task is one job of a pipeline after its table selection was expanded:
// one table, one run.
type Task struct {
	Name string
	Kind run.Kind
	Spec run.Spec
	// Line is where the job that produced the task starts in the file.
	Line int
}

// Lister lists the tables and views of a connection (of one schema when
// schema is given), as hp ls does.
type Lister func(ctx context.Context, conn, schema string) ([]sdk.ObjectRef, error)

// HostLister lists through the connector plugin of the connection, with
// the same call as hp ls.
func HostLister(h func() *host.Host, conns run.Resolver) Lister {
	return func(ctx context.Context, name, schema string) ([]sdk.ObjectRef, error) {
		c, err := conns.Resolve(name)
		if err != nil {
			return nil, sdk.InvalidArgumentf("%v", err)
		}
		if registry.IsStore(c) {
			return nil, sdk.InvalidArgumentf("connection %q is a %s store: a table selection (* or /regex/) needs a database to list", c.Name, c.Scheme)
		}
		inst, err := registry.Plugin(ctx, h(), c, "", sdk.CapListObjects)
		if err != nil {
			return nil, err
		}
		objs, err := inst.ListObjects(ctx, c.Wire(), schema)
		if err != nil {
			return nil, fmt.Errorf("listing the tables of %q: %w", c.Name, err)
		}
		refs := make([]sdk.ObjectRef, len(objs))
		for i, o := range objs {
			refs[i] = o.Ref
		}
		return refs, nil
	}
}

// Expand turns the jobs into tasks: a source with * (a glob) or /regex/
// in its table name becomes one task per matching table (in name order),
// with {table} and {schema} in the target, name and state replaced.
// Every task is then validated by run.NewPlan, and names and targets
// must be unique. All errors are reported together; nothing runs.
func (f *File) Expand(ctx context.Context, list Lister, conns run.Resolver, now time.Time) ([]Task, error) {
	var tasks []Task
	var errs []error
	list = memo(list)
	for _, j := range f.Jobs {
		ts, err := f.expandJob(ctx, j, list)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tasks = append(tasks, ts...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	names := map[string]int{}
	targets := map[string]string{}
	for _, t := range tasks {
		if l, dup := names[t.Name]; dup {
			errs = append(errs, sdk.InvalidArgumentf("line %d: job name %q is also the name of the job on line %d: names must be unique (use {table} in a name that selects many tables)", t.Line, t.Name, l))
			continue
		}
		names[t.Name] = t.Line
		p, err := run.NewPlan(t.Kind, t.Spec, conns, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s (line %d): %w", t.Name, t.Line, err))
			continue
		}
		if p.Tgt.Scheme == "stdout" {
			errs = append(errs, sdk.InvalidArgumentf("job %s (line %d): target %s is stdout: the jobs of a pipe write to files, S3 or tables", t.Name, t.Line, t.Spec.Target))
			continue
		}
		if other, dup := targets[p.TargetName()]; dup {
			errs = append(errs, sdk.InvalidArgumentf("job %s (line %d): job %s writes to %s too: give every job a target of its own (use {table})", t.Name, t.Line, other, p.TargetName()))
			continue
		}
		targets[p.TargetName()] = t.Name
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return tasks, nil
}

func (f *File) expandJob(ctx context.Context, j Job, list Lister) ([]Task, error) {
	kind, err := j.kindOf(f.Defaults)
	if err != nil {
		return nil, err
	}
	source, target := firstOf(j.Source, f.Defaults.Source), firstOf(j.Target, f.Defaults.Target)
	if source == "" || target == "" {
		return nil, sdk.InvalidArgumentf("line %d: the job needs a source and a target (<conn>.<table>, <conn>.<object>)", j.Line)
	}
	conn, object, err := config.SplitConnObject(source)
	if err != nil {
		return nil, sdk.InvalidArgumentf("line %d: source: %v", j.Line, err)
	}
	sel, err := parseSelection(object)
	if err != nil {
		return nil, sdk.InvalidArgumentf("line %d: source %s: %v", j.Line, source, err)
	}
	var refs []sdk.ObjectRef
	if sel == nil {
		// One table (or published runs of a store): named as given.
		ref, _ := config.ParseTable(object)
		refs = []sdk.ObjectRef{ref}
	} else {
		all, err := list(ctx, conn, sel.schema)
		if err != nil {
			return nil, fmt.Errorf("line %d: source %s: %w", j.Line, source, err)
		}
		for _, r := range all {
			if sel.match(r.Name) {
				refs = append(refs, r)
			}
		}
		if len(refs) == 0 {
			return nil, sdk.InvalidArgumentf("line %d: source %s matches no table of %q (hp ls %s lists them)", j.Line, source, conn, strings.TrimSuffix(conn+"."+sel.schema, "."))
		}
		sort.Slice(refs, func(a, b int) bool { return refs[a].String() < refs[b].String() })
		if len(refs) > 1 && j.Name != "" && !strings.Contains(j.Name, "{table}") {
			return nil, sdk.InvalidArgumentf("line %d: name %q would name %d tables: put {table} in it", j.Line, j.Name, len(refs))
		}
	}
	tasks := make([]Task, 0, len(refs))
	for _, ref := range refs {
		vars := map[string]string{"table": ref.Name, "schema": ref.Schema}
		src := source
		if sel != nil {
			src = conn + "." + quoteRef(ref)
		}
		s, err := j.spec(f.Defaults, kind, vars)
		if err != nil {
			return nil, err
		}
		s.Source, s.Target = src, substitute(target, vars)
		name := substitute(j.Name, vars)
		if name == "" {
			name = src
		}
		tasks = append(tasks, Task{Name: name, Kind: kind, Spec: s, Line: j.Line})
	}
	return tasks, nil
}

// memo lists each connection and schema once.
func memo(list Lister) Lister {
	type key struct{ conn, schema string }
	seen := map[key][]sdk.ObjectRef{}
	return func(ctx context.Context, conn, schema string) ([]sdk.ObjectRef, error) {
		k := key{conn, schema}
		if refs, ok := seen[k]; ok {
			return refs, nil
		}
		refs, err := list(ctx, conn, schema)
		if err == nil {
			seen[k] = refs
		}
		return refs, err
	}
}

// selection is a source's table pattern: a glob or a regular expression
// over table names, in one schema or in every schema the connector lists.
type selection struct {
	schema string
	glob   string
	re     *regexp.Regexp
}

func (s *selection) match(name string) bool {
	if s.re != nil {
		return s.re.MatchString(name)
	}
	ok, _ := path.Match(s.glob, name)
	return ok
}

// parseSelection reads [schema.]/regex/ or [schema.]glob; nil when object
// names one table.
func parseSelection(object string) (*selection, error) {
	if i := strings.IndexByte(object, '/'); i >= 0 && len(object) > i+1 && strings.HasSuffix(object, "/") {
		prefix := object[:i]
		if prefix != "" && !strings.HasSuffix(prefix, ".") {
			return nil, fmt.Errorf("a /regex/ selection is [schema.]/regex/")
		}
		re, err := regexp.Compile(object[i+1 : len(object)-1])
		if err != nil {
			return nil, fmt.Errorf("regular expression: %w", err)
		}
		return &selection{schema: strings.TrimSuffix(prefix, "."), re: re}, nil
	}
	if !strings.ContainsAny(object, "*?[") {
		return nil, nil
	}
	schema, glob := "", object
	if i := strings.LastIndexByte(object, '.'); i >= 0 {
		schema, glob = object[:i], object[i+1:]
	}
	if strings.ContainsAny(schema, "*?[") {
		return nil, fmt.Errorf("the schema is named exactly: only the table name may hold * ? or [ ]")
	}
	if _, err := path.Match(glob, ""); err != nil {
		return nil, fmt.Errorf("glob %q: %w", glob, err)
	}
	return &selection{schema: schema, glob: glob}, nil
}

// quoteRef writes ref as config.ParseTable reads it back.
func quoteRef(ref sdk.ObjectRef) string {
	q := func(s string) string {
		if strings.ContainsAny(s, `."`) {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
		return s
	}
	if ref.Schema == "" {
		return q(ref.Name)
	}
	return q(ref.Schema) + "." + q(ref.Name)
}
