package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/runread"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// filesPlan is NewPlan for hp cp snap with args, the flags' defaults
// where args give none.
func (f *fixture) filesPlan(kind Kind, src, tgt string, args ...string) (*Plan, error) {
	var s Spec
	fl := pflag.NewFlagSet("snap", pflag.ContinueOnError)
	BindFlags(fl, &s, kind)
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	s.Source, s.Target = src, tgt
	return NewPlan(kind, s, &f.conns, time.Now())
}

func TestFilesPlanOptions(t *testing.T) {
	f := newFixture(t, "10")
	p, err := f.filesPlan(KindSnap, "out", "stdout", "--files", "in/*.csv.gz")
	if err != nil || p.SrcRun == nil || p.SrcRun.Files != "in/*.csv.gz" || p.SrcRun.Object != "" || p.SourceName() != "out.in/*.csv.gz" || p.SrcRef.Name != "in" {
		t.Fatalf("bare connection: %+v %v", p, err)
	}
	p, err = f.filesPlan(KindSnap, "out.landing", "out.copy", "--files", "*.tsv", "--files-delimiter", `\t`, "--files-quote", "none", "--files-null", `\N`,
		"--schema", "id:int64,ts:timestamp[us,UTC]", "--files-format", "TSV")
	if err != nil || p.SrcRun.String() != "landing/*.tsv" || p.SrcRef.Name != "landing" {
		t.Fatalf("under a prefix: %+v %v", p, err)
	}
	o, err := p.filesSource(p.SrcRun.Object)
	if err != nil || o.Format != runread.TSV || o.CSV.Delimiter != '\t' || !o.CSV.NoQuote || o.CSV.Null != `\N` || !o.CSV.Header ||
		o.Schema.NumFields() != 2 || o.Schema.Field(1).Type.String() != "timestamp[us, tz=UTC]" {
		t.Fatalf("options %+v %v", o, err)
	}
	for _, c := range []struct {
		kind    Kind
		src     string
		args    []string
		want    string
		invalid bool
	}{
		{KindSnap, "out", []string{"--files", "*.csv", "--files-delimiter", ";;"}, "--files-delimiter \";;\" must be exactly one character", true},
		{KindSnap, "out", []string{"--files", "*.csv", "--files-quote", "ab"}, "--files-quote \"ab\" must be one ASCII character", true},
		{KindSnap, "out", []string{"--files", "*.csv", "--files-quote", ","}, "must differ", true},
		{KindSnap, "out", []string{"--files", "*.csv", "--files-delimiter", `"`}, "must differ", true},
		{KindSnap, "out", []string{"--files", "*.csv", "--schema", "id:integer"}, `--schema: schema column "id": unknown type "integer"`, true},
		{KindSnap, "out", []string{"--files", "*.csv", "--files-format", "xml"}, `--files-format "xml"`, true},
		{KindSnap, "out", []string{"--files", "/abs/*.csv"}, "a relative glob", true},
		{KindSnap, "out", []string{"--files", "../up/*.csv"}, "a relative glob", true},
		{KindSnap, "out", []string{"--files", "in/[.csv"}, "syntax error in pattern", true},
		{KindSnap, "out.orders@20260101T000000Z-1", []string{"--files", "*.csv"}, "not a run", true},
		{KindSnap, "src", []string{"--files", "*.csv"}, "from a file or S3 connection, not src (gen)", true},
		{KindSnap, "out", []string{"--files", "*.csv", "--query", "select 1"}, "--query, --where and --columns", true},
		{KindSnap, "out", []string{"--files", "*.csv", "--stage", "LAKE", "--publish-to", "out.p"}, "--stage applies to a warehouse target", true},
		{KindSnap, "src.narrow", []string{"--schema", "id:int64"}, "apply with --files", true},
		{KindSnap, "out.orders", []string{"--files-header=false"}, "apply with --files", true},
		{KindDelta, "out", []string{"--files", "*.csv"}, "unknown flag: --files", false},
	} {
		_, err := f.filesPlan(c.kind, c.src, "out.o", c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.invalid && !errors.Is(err, sdk.ErrInvalidArgument)) {
			t.Errorf("%s %s %q: %v, want an error saying %q", c.kind, c.src, c.args, err, c.want)
		}
	}
}

// TestSnapshotFiles: plain CSV files become a run in name order, typed by
// --schema; a value that does not parse fails naming file, line and
// column, and publishes nothing; no match is a not-found error.
func TestSnapshotFiles(t *testing.T) {
	f := newFixture(t, "10")
	in := filepath.Join(f.out, "landing", "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(in, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("2.csv", "id;amount\n3;\n")
	write("1.csv", "id;amount\n1;1.5\n2;-0.25\n")
	ctx := context.Background()
	args := []string{"--files", "in/*.csv", "--files-delimiter", ";", "--schema", "id:int64,amount:decimal(9,2)", "--format", "parquet"}
	p, err := f.filesPlan(KindSnap, "out.landing", "out.copy", args...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Snapshot(ctx, f.env, p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewLocal(f.out)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := runread.Find(ctx, st, "copy", "")
	if err != nil {
		t.Fatal(err)
	}
	m := pub.Manifest
	if s.Rows != 3 || m.TotalRows != 3 || m.Source.Object != "landing/in/*.csv" || m.Source.Type != "file" || m.Format != "parquet" {
		t.Fatalf("summary %+v, manifest source %+v, %d rows", s, m.Source, m.TotalRows)
	}
	r, err := runread.Open(ctx, st, m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r.Next() {
		rec := r.RecordBatch()
		if rec.Schema().Field(1).Type.String() != "decimal(9, 2)" {
			t.Fatalf("schema %s", rec.Schema())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, rec.Column(0).ValueStr(i)+"="+rec.Column(1).ValueStr(i))
		}
	}
	r.Release()
	if strings.Join(got, " ") != "1=1.5 2=-0.25 3=(null)" || r.Err() != nil {
		t.Fatalf("rows %v (%v)", got, r.Err())
	}

	write("3.csv", "id;amount\n4;1.5\n5;12.345\n")
	p, err = f.filesPlan(KindSnap, "out.landing", "out.bad", args...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Snapshot(ctx, f.env, p)
	if err == nil || !strings.Contains(err.Error(), "file "+st.URL("landing/in/3.csv")+`: line 3, column "amount": `) || !strings.Contains(err.Error(), "nothing was published") {
		t.Fatalf("bad value: %v", err)
	}
	if left, err := st.List(ctx, "bad/"); err != nil || len(left) != 0 {
		t.Fatalf("a failed copy left %v (%v)", left, err)
	}
	p, err = f.filesPlan(KindSnap, "out.landing", "out.none", "--files", "in/*.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = Snapshot(ctx, f.env, p); !errors.Is(err, sdk.ErrNotFound) || !strings.Contains(err.Error(), `matches "in/*.csv.gz"`) {
		t.Fatalf("no match: %v", err)
	}
}
