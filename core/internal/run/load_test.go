package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/runread"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestStagedPlan(t *testing.T) {
	f := newFixture(t, "10")
	staged := func(s Spec) Spec {
		s = withDefaults(s)
		s.Format = "" // as the flag leaves it
		return s
	}
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{Spec{Source: "src.narrow", Target: "src.t", Stage: "LAKE"}, "needs --publish-to"},
		{Spec{Source: "src.narrow", Target: "out.o", Stage: "LAKE", PublishTo: "out.p"}, "--stage applies to a warehouse target"},
		{Spec{Source: "src.narrow", Target: "src.t", PublishTo: "out.p"}, "--publish-to applies with --stage"},
		{Spec{Source: "src.narrow", Target: "src.t", Stage: "LAKE", PublishTo: "src.p"}, "is not a file or S3 store"},
		{Spec{Source: "src.narrow", Target: "src.t", Stage: "LAKE", PublishTo: "nosuch.p"}, "--publish-to:"},
	} {
		_, err := NewPlan(KindSnap, staged(c.spec), &f.conns, time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want an invalid argument saying %q", c.spec, err, c.want)
		}
	}
	p, err := NewPlan(KindSnap, staged(Spec{Source: "src.narrow", Target: "src.t", Stage: "LAKE", PublishTo: "out.lake/orders"}), &f.conns, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != format.Parquet || p.Pub.Name != "out" || p.Vars.Prefix != "lake" || p.Vars.Object != "orders" || p.WriteMode != sdk.Replace {
		t.Errorf("plan: format %s, publish to %s prefix %q object %q, mode %s", p.Format, p.Pub.Name, p.Vars.Prefix, p.Vars.Object, p.WriteMode)
	}
	// --format still chooses.
	s := staged(Spec{Source: "src.narrow", Target: "src.t", Stage: "LAKE", PublishTo: "out.orders"})
	s.Format = "csv"
	if p, err := NewPlan(KindSnap, s, &f.conns, time.Now()); err != nil || p.Format != format.CSV {
		t.Errorf("--format csv with --stage: %v", err)
	}
	// A target that cannot load is refused before anything is read.
	_, err = Snapshot(context.Background(), f.env, p)
	if !errors.Is(err, sdk.ErrUnimplemented) || !strings.Contains(err.Error(), "load") {
		t.Errorf("staged snapshot into gen: %v", err)
	}
}

// TestStagedRun: a published run loads through a stage with its own files
// (no --publish-to); each file must be in the store at its manifest's
// size, checked before the target is started.
func TestStagedRun(t *testing.T) {
	f := newFixture(t, "100")
	f.publishRun(t)
	staged := func(s Spec) Spec {
		s = withDefaults(s)
		s.Format = ""
		return s
	}
	for _, c := range []struct {
		kind Kind
		spec Spec
		want string
	}{
		{KindSnap, Spec{Source: "out.orders", Target: "src.t", Stage: "LAKE", PublishTo: "out.p"}, "is published already"},
		{KindSnap, Spec{Source: "out.orders", Target: "src.t", Stage: "LAKE", Compression: "gzip"}, "as they were published"},
	} {
		s := staged(c.spec)
		if c.spec.Compression != "" {
			s.Format = "csv"
		}
		_, err := NewPlan(c.kind, s, &f.conns, time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want an invalid argument saying %q", c.spec, err, c.want)
		}
	}
	if p, err := NewPlan(KindDelta, staged(Spec{Source: "out.orders", Target: "src.t", Stage: "LAKE"}), &f.conns, time.Now()); err != nil || !p.Staged() {
		t.Fatalf("a delta of runs through the stage: %v", err)
	}
	p, err := NewPlan(KindSnap, staged(Spec{Source: "out.orders", Target: "src.t", Stage: "LAKE"}), &f.conns, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Sound files: the target is reached (and refuses, gen cannot load).
	if _, err := Snapshot(context.Background(), f.env, p); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Fatalf("staged run into gen: %v", err)
	}
	st, err := store.NewLocal(f.out)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := runread.Find(context.Background(), st, "orders", "")
	if err != nil {
		t.Fatal(err)
	}
	files, err := stagedFiles(context.Background(), st, pub.Manifest.Files)
	if err != nil || len(files) != 3 || files[1].URL != st.URL(files[1].Path) {
		t.Fatalf("files %+v: %v", files, err)
	}
	// One byte more, then none: the load stops naming the file, before
	// the target is started.
	second := filepath.Join(f.out, filepath.FromSlash(files[1].Path))
	body, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second, append(body, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Snapshot(context.Background(), f.env, p)
	if !errors.Is(err, runread.ErrDamaged) || !strings.Contains(err.Error(), st.URL(files[1].Path)) || !strings.Contains(err.Error(), "was not loaded") {
		t.Fatalf("a file of another size: %v", err)
	}
	if err := os.Remove(second); err != nil {
		t.Fatal(err)
	}
	if _, err = Snapshot(context.Background(), f.env, p); err == nil || !strings.Contains(err.Error(), "file "+st.URL(files[1].Path)+" is missing") {
		t.Fatalf("a missing file: %v", err)
	}
}
