package run

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
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
