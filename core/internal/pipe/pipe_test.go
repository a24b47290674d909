package pipe

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// conns resolves pg (PostgreSQL) and lake (a directory) from the
// environment, as HP_<NAME>_DSN would.
func conns(t *testing.T) *config.Store {
	env := map[string]string{"HP_PG_DSN": "postgres://u@127.0.0.1:1/db", "HP_LAKE_DSN": t.TempDir(), "HP_MY_DSN": "mysql://root@127.0.0.1:1/db"}
	return &config.Store{Path: filepath.Join(t.TempDir(), "none.yaml"), LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
}

// lister serves a fixed catalog and records the listings asked for.
type lister struct {
	tables map[string][]sdk.ObjectRef // conn → tables
	asked  []string
}

func (l *lister) list(_ context.Context, conn, schema string) ([]sdk.ObjectRef, error) {
	l.asked = append(l.asked, conn+"/"+schema)
	var out []sdk.ObjectRef
	for _, r := range l.tables[conn] {
		if schema == "" || r.Schema == schema {
			out = append(out, r)
		}
	}
	return out, nil
}

func catalog() *lister {
	var refs []sdk.ObjectRef
	for _, n := range []string{"orders", "order_items", "customers", "audit_log", "with.dot"} {
		refs = append(refs, sdk.ObjectRef{Schema: "public", Name: n})
	}
	refs = append(refs, sdk.ObjectRef{Schema: "sales", Name: "orders"})
	return &lister{tables: map[string][]sdk.ObjectRef{"pg": refs}}
}

func expand(t *testing.T, yaml string, l *lister) ([]Task, error) {
	t.Helper()
	f, err := Decode([]byte(yaml))
	if err != nil {
		return nil, err
	}
	return f.Expand(context.Background(), l.list, conns(t), time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	if !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("error %q is not an invalid argument (exit 2)", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"empty", "", []string{"empty"}},
		{"no jobs", "defaults:\n  format: csv\n", []string{"no jobs"}},
		{"unknown top key", "jobs:\n  - {kind: snap, source: pg.a, target: lake.a}\nsettings: 1\n", []string{"line 3", `unknown key "settings"`}},
		{"unknown job key", "jobs:\n  - kind: snap\n    source: pg.a\n    target: lake.a\n    fromat: parquet\n", []string{"line 5", `"fromat"`, `did you mean "format"`}},
		{"unknown default key", "defaults:\n  primary_keys: id\njobs:\n  - {kind: snap, source: pg.a, target: lake.a}\n", []string{"line 2", `did you mean "primary-keys"`}},
		{"hidden alias", "jobs:\n  - {kind: snap, source: pg.a, target: lake.a, csv-rows: 5}\n", []string{"line 2", `unknown key "csv-rows"`}},
		{"list value", "jobs:\n  - kind: snap\n    source: pg.a\n    target: lake.a\n    columns: [a, b]\n", []string{"line 5", "columns must be a single value"}},
		{"duplicate key", "jobs:\n  - kind: snap\n    source: pg.a\n    source: pg.b\n    target: lake.a\n", []string{"line 4", "source is given twice"}},
		{"bad kind", "jobs:\n  - {kind: full, source: pg.a, target: lake.a}\n", []string{"line 2", `kind "full"`}},
		{"name in defaults", "defaults:\n  name: x\njobs:\n  - {kind: snap, source: pg.a, target: lake.a}\n", []string{"line 2", "defaults cannot set a name"}},
		{"jobs not a list", "jobs:\n  a: 1\n", []string{"line 2", "jobs must be a list"}},
		{"syntax", "jobs: [\n", []string{"pipeline file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.yaml))
			wantErr(t, err, c.want...)
		})
	}
}

func TestExpandSelection(t *testing.T) {
	l := catalog()
	tasks, err := expand(t, `
defaults:
  kind: snap
  format: parquet
  target: lake.raw/{table}
jobs:
  - source: pg.public.order*
  - name: re-{schema}-{table}
    source: pg./^orders$/
    target: lake.copy/{schema}/{table}
    format: csv
  - source: pg.public.customers
    kind: delta
    delta-driver: updated_at
  - source: pg.public./dot/
`, l)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ name, kind, source, target, format, driver string }
	var got []row
	for _, tk := range tasks {
		got = append(got, row{tk.Name, string(tk.Kind), tk.Spec.Source, tk.Spec.Target, tk.Spec.Format, tk.Spec.Delta.Driver})
	}
	want := []row{
		{"pg.public.order_items", "snap", "pg.public.order_items", "lake.raw/order_items", "parquet", ""},
		{"pg.public.orders", "snap", "pg.public.orders", "lake.raw/orders", "parquet", ""},
		{"re-public-orders", "snap", "pg.public.orders", "lake.copy/public/orders", "csv", ""},
		{"re-sales-orders", "snap", "pg.sales.orders", "lake.copy/sales/orders", "csv", ""},
		{"pg.public.customers", "delta", "pg.public.customers", "lake.raw/customers", "parquet", "updated_at"},
		{"pg.public.\"with.dot\"", "snap", "pg.public.\"with.dot\"", "lake.raw/with.dot", "parquet", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tasks %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("task %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Listings: one schema for a schema-qualified selection, every schema
	// otherwise, each once; a literal table is not listed.
	if strings.Join(l.asked, " ") != "pg/public pg/" {
		t.Errorf("listings %v", l.asked)
	}
	// The flags' defaults hold where the file says nothing, as for hp cp.
	if s := tasks[0].Spec; !s.CSVHeader || s.CSVDelimiter != "," || s.RowGroupRows != run.DefaultRowGroupRows {
		t.Errorf("flag defaults lost: %+v", s)
	}
}

func TestExpandOptionsByKind(t *testing.T) {
	tasks, err := expand(t, `
defaults:
  delta-driver: updated_at
  write-mode: append
  lookback: 10m
  state: file:///tmp/hp-states/{schema}.{table}.json
jobs:
  - {kind: snap, source: pg.public.orders, target: my.copy_orders}
  - {kind: delta, source: pg.public.customers, target: lake.customers, lookback: 1h}
`, catalog())
	if err != nil {
		t.Fatal(err)
	}
	snap, delta := tasks[0].Spec, tasks[1].Spec
	if snap.WriteMode != "append" || snap.Delta.Driver != "" {
		t.Errorf("snap job: %+v", snap)
	}
	if delta.WriteMode != "" || delta.Delta.Driver != "updated_at" || delta.Delta.Lookback != "1h" || delta.Delta.StateURL != "file:///tmp/hp-states/public.customers.json" {
		t.Errorf("delta job: %+v", delta.Delta)
	}
}

func TestExpandErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"no kind", "jobs:\n  - {source: pg.a, target: lake.a}\n", []string{"line 2", "no kind"}},
		{"no target", "jobs:\n  - {kind: snap, source: pg.a}\n", []string{"line 2", "needs a source and a target"}},
		{"option of the other kind", "jobs:\n  - kind: snap\n    source: pg.public.orders\n    target: lake.o\n    delta-driver: ts\n", []string{"line 5", "delta-driver is an option of delta jobs, not snap"}},
		{"bad option value", "jobs:\n  - kind: snap\n    source: pg.public.orders\n    target: lake.o\n    max-file-rows: lots\n", []string{"line 5", "max-file-rows"}},
		{"no match", "jobs:\n  - {kind: snap, source: pg.public.nothing_*, target: \"lake.{table}\"}\n", []string{"line 2", "matches no table", "hp ls pg.public"}},
		{"name for many", "jobs:\n  - {name: all, kind: snap, source: pg.public.order*, target: \"lake.{table}\"}\n", []string{"line 2", "would name 2 tables", "{table}"}},
		{"same target", "jobs:\n  - {kind: snap, source: pg.public.order*, target: lake.all}\n", []string{"writes to lake.all too"}},
		{"same name", "jobs:\n  - {kind: snap, source: pg.public.orders, target: lake.a}\n  - {kind: snap, source: pg.public.orders, target: lake.b}\n", []string{"line 3", `"pg.public.orders"`, "line 2", "unique"}},
		{"plan refuses", "jobs:\n  - {kind: snap, source: pg.public.orders, target: lake.a, format: xml}\n", []string{"job pg.public.orders (line 2)", "--format"}},
		{"delta needs driver", "jobs:\n  - {kind: delta, source: pg.public.orders, target: lake.a}\n", []string{"line 2", "--delta-driver"}},
		{"stdout", "jobs:\n  - {kind: snap, source: pg.public.orders, target: stdout}\n", []string{"line 2", "stdout"}},
		{"unknown connection", "jobs:\n  - {kind: snap, source: nope.t, target: lake.a}\n", []string{"line 2", `"nope"`}},
		{"bad regex", "jobs:\n  - {kind: snap, source: pg./(/, target: lake.a}\n", []string{"line 2", "regular expression"}},
		{"glob schema", "jobs:\n  - {kind: snap, source: pg.p*.orders, target: lake.a}\n", []string{"line 2", "schema is named exactly"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := expand(t, c.yaml, catalog())
			wantErr(t, err, c.want...)
		})
	}
	// Every job's errors are reported at once.
	_, err := expand(t, "jobs:\n  - {kind: snap, source: pg.a, target: lake.a, format: xml}\n  - {kind: delta, source: pg.b, target: lake.b}\n", catalog())
	wantErr(t, err, "line 2", "line 3")
}

func TestPrepareSelects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pipe.yaml")
	yaml := "defaults: {kind: snap, target: \"lake.{table}\"}\njobs:\n  - source: pg.public.*\n"
	st, _ := store.NewLocal(dir)
	if err := st.Put(context.Background(), "pipe.yaml", []byte(yaml)); err != nil {
		t.Fatal(err)
	}
	prepare := func(o Options) ([]string, error) {
		o.Jobs = 1
		tasks, err := Prepare(context.Background(), &o, catalog().list, conns(t), time.Now())
		var names []string
		for _, tk := range tasks {
			names = append(names, tk.Name)
		}
		return names, err
	}
	all, err := prepare(Options{Pipe: file})
	if err != nil || len(all) != 5 {
		t.Fatalf("all jobs: %v %v", all, err)
	}
	inline, err := prepare(Options{Pipe: yaml})
	if err != nil || len(inline) != 5 {
		t.Fatalf("inline pipeline: %v %v", inline, err)
	}
	only, err := prepare(Options{Pipe: file, Only: "pg.public.orders, pg.public.customers"})
	if err != nil || strings.Join(only, " ") != "pg.public.customers pg.public.orders" {
		t.Fatalf("--only: %v %v", only, err)
	}
	_, err = prepare(Options{Pipe: file, Only: "pg.public.ordrs"})
	wantErr(t, err, `--only names job "pg.public.ordrs"`, `did you mean "pg.public.orders"`)

	sumFile := filepath.Join(dir, "sum", "summary.json")
	sum := &Summary{Jobs: []Result{{Name: "pg.public.orders", Status: StatusOK}, {Name: "pg.public.audit_log", Status: StatusFailed}, {Name: "pg.public.customers", Status: StatusNotRun}}}
	if err := WriteSummary(context.Background(), sumFile, sum); err != nil {
		t.Fatal(err)
	}
	failed, err := prepare(Options{Pipe: file, FailedFrom: sumFile})
	if err != nil || strings.Join(failed, " ") != "pg.public.audit_log pg.public.customers" {
		t.Fatalf("--failed-from: %v %v", failed, err)
	}
	sum.Jobs = append(sum.Jobs, Result{Name: "pg.public.gone", Status: StatusFailed})
	if err := WriteSummary(context.Background(), "file://"+sumFile, sum); err != nil {
		t.Fatal(err)
	}
	_, err = prepare(Options{Pipe: file, FailedFrom: sumFile})
	wantErr(t, err, `names job "pg.public.gone"`)
	_, err = prepare(Options{Pipe: file, FailedFrom: sumFile, Only: "x"})
	wantErr(t, err, "not both")
	_, err = prepare(Options{})
	wantErr(t, err, "no pipeline")
	if _, err = prepare(Options{Pipe: filepath.Join(dir, "missing.yaml")}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestRunnerCancelledStartsNothing(t *testing.T) {
	tasks, err := expand(t, "jobs:\n  - {kind: snap, source: pg.public.*, target: \"lake.{table}\"}\n", catalog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var heard []string
	r := &Runner{Env: run.Env{Now: time.Now}, Conns: conns(t), Jobs: 2, Done: func(r Result) { heard = append(heard, r.Name+"="+r.Status) }}
	s := r.Run(ctx, tasks)
	if s.NotRun != len(tasks) || s.OK != 0 || s.Failed != 0 || len(heard) != len(tasks) {
		t.Fatalf("summary %+v, heard %v", s, heard)
	}
	for _, j := range s.Jobs {
		if j.Status != StatusNotRun || !strings.Contains(j.Error, "stopped") {
			t.Errorf("job %+v", j)
		}
	}
	// Past its deadline (Lambda's), a pipe starts nothing either, with
	// one slot as with many.
	r = &Runner{Env: run.Env{Now: time.Now}, Conns: conns(t), Jobs: 1, Deadline: time.Now().Add(-time.Second)}
	s = r.Run(context.Background(), tasks)
	if s.NotRun != len(tasks) || !strings.Contains(s.Jobs[len(tasks)-1].Error, "time was up") {
		t.Fatalf("past the deadline: %+v", s)
	}
}
