package conformance

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Maintain runs action on the maintained checksums of table, keyed by
// its column "id", hashing columns (all others when none), in blocks of
// width 4 (small enough for a test table to span many), and fails t on an
// error.
func Maintain(t *testing.T, c sdk.ChecksumMaintainer, conn sdk.Connection, table sdk.ObjectRef, action sdk.ChecksumsAction, columns ...string) *sdk.MaintainChecksumsResult {
	t.Helper()
	r, err := c.MaintainChecksums(context.Background(), sdk.MaintainChecksumsRequest{Conn: conn, Table: table, Key: "id", Columns: columns, Action: action, BlockWidth: 4})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Install installs the maintained checksums of req's table as [Maintain]
// does, hashing every other column, and returns their state, failing t
// unless a dry run first plans a statement holding planned and installs
// nothing.
func Install(t *testing.T, c sdk.ChecksumMaintainer, req sdk.ChecksumRangesRequest, planned string) sdk.ChecksumsState {
	t.Helper()
	dry, err := c.MaintainChecksums(context.Background(), sdk.MaintainChecksumsRequest{Conn: req.Conn, Table: req.Table, Key: "id", Action: sdk.ChecksumsInstall, DryRun: true, BlockWidth: 4})
	if err != nil || !strings.Contains(strings.Join(dry.Statements, "\n"), planned) || dry.State.Installed {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if st := Maintain(t, c, req.Conn, req.Table, sdk.ChecksumsStatus).State; st.Installed {
		t.Fatalf("installed by a dry run: %+v", st)
	}
	return Maintain(t, c, req.Conn, req.Table, sdk.ChecksumsInstall).State
}

// CheckMaintained fails t unless the checksums of req's table over
// [req.Lower, req.Upper] (req.Columns those its maintained checksums hash)
// are summed from the maintained hashes and equal the ones computed from
// the rows (asked for with a where that keeps every row), at several
// widths, with and without spans; that the table's key bounds, when c is
// a Bounder, come from the maintained hashes and equal those read from
// the table; and, when the bounds report blocks, that the checksums of
// ranges of whole blocks (summed from the blocks) equal the computed ones
// too.
func CheckMaintained(t *testing.T, c sdk.RangeChecksummer, req sdk.ChecksumRangesRequest) {
	t.Helper()
	checkMaintained(t, c, req, 1, 3, math.MaxInt64)
	b, ok := c.(sdk.Bounder)
	if !ok {
		return
	}
	ctx := context.Background()
	breq := sdk.BoundsRequest{Conn: req.Conn, Source: sdk.Source{Object: &req.Table}, Column: req.Key, ChecksumColumns: req.Columns}
	got, err := b.Bounds(ctx, breq)
	if err != nil {
		t.Fatal(err)
	}
	breq.ChecksumColumns = nil
	want, err := b.Bounds(ctx, breq)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Maintained || want.Maintained {
		t.Fatalf("bounds maintained %v, without checksum columns %v: want maintained, then read from the table", got.Maintained, want.Maintained)
	}
	w := got.BlockWidth
	got.Maintained, got.BlockWidth = false, 0
	if fmt.Sprint(*got) != fmt.Sprint(*want) {
		t.Fatalf("bounds from the maintained hashes %+v, from the table %+v", *got, *want)
	}
	if w > 0 {
		r := req
		r.Lower, r.Upper = req.Lower&^(w-1), req.Upper|(w-1)
		checkMaintained(t, c, r, w, 2*w, 3*w, math.MaxInt64)
	}
}

// checkMaintained compares maintained and computed checksums at widths,
// with and without spans (aligned like req's bounds when they are).
func checkMaintained(t *testing.T, c sdk.RangeChecksummer, req sdk.ChecksumRangesRequest, widths ...int64) {
	t.Helper()
	ctx := context.Background()
	spans := [][]sdk.KeySpan{nil}
	if u := widths[0]; req.Upper-req.Lower >= 6*u {
		spans = append(spans, []sdk.KeySpan{{Lower: req.Lower, Upper: req.Lower + 3*u - 1}, {Lower: req.Lower + 5*u, Upper: req.Upper}})
	}
	check := func(w int64, s []sdk.KeySpan) []sdk.RangeChecksum {
		t.Helper()
		r := req
		r.Width, r.Spans, r.Where = w, s, ""
		got, err := c.ChecksumRanges(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		r.Where = "1 = 1"
		want, err := c.ChecksumRanges(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Maintained || want.Maintained || want.Note == "" {
			t.Fatalf("width %d, spans %v: maintained %v (note %q), with a where %v (note %q): want maintained, then computed with a note", w, s, got.Maintained, got.Note, want.Maintained, want.Note)
		}
		if fmt.Sprint(got.Ranges) != fmt.Sprint(want.Ranges) {
			t.Fatalf("width %d, spans %v: maintained checksums\n%v\ncomputed\n%v", w, s, got.Ranges, want.Ranges)
		}
		return got.Ranges
	}
	for _, w := range widths {
		var all []sdk.RangeChecksum
		for _, s := range spans {
			if r := check(w, s); s == nil {
				all = r
			}
		}
		// Spans over every other range that holds rows (up to 40 of them),
		// so that each span holds rows and many are asked for at once.
		var held []sdk.KeySpan
		for i := 0; i < len(all) && len(held) < 40 && w < math.MaxInt64/4; i += 2 {
			lo := req.Lower + all[i].Index*w
			held = append(held, sdk.KeySpan{Lower: lo, Upper: min(lo+w-1, req.Upper)})
		}
		if len(held) > 1 {
			check(w, held)
		}
	}
}

// CheckCompactWhileWriting fails t unless compactions of the blocks of
// req's table (installed with blocks of width 4), two at a time, running
// while two writers call write(writer, i), leave the maintained checksums equal to
// the computed ones (CheckMaintained), before and after one more
// compaction.
func CheckCompactWhileWriting(t *testing.T, c interface {
	sdk.ChecksumMaintainer
	sdk.RangeChecksummer
}, req sdk.ChecksumRangesRequest, write func(w, i int64) error) {
	t.Helper()
	compact := func() (sdk.ChecksumsState, error) {
		r, err := c.MaintainChecksums(context.Background(), sdk.MaintainChecksumsRequest{Conn: req.Conn, Table: req.Table, Action: sdk.ChecksumsCompact})
		if err != nil {
			return sdk.ChecksumsState{}, fmt.Errorf("compact: %w", err)
		}
		return r.State, nil
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range int64(2) {
		wg.Go(func() {
			for i := int64(0); !stop.Load(); i++ {
				if err := write(w, i); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		})
	}
	// Two compactions at a time, which must not fold the same rows twice,
	// until the writers have written a while during them.
	var cg sync.WaitGroup
	for range 2 {
		cg.Go(func() {
			for n := 0; (n < 5 || writes.Load() < 300) && !t.Failed(); n++ {
				if _, err := compact(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	cg.Wait()
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	CheckMaintained(t, c, req)
	if st, err := compact(); err != nil || st.BlockRows == 0 || st.BlockWidth != 4 {
		t.Fatalf("after compacting: %+v, %v", st, err)
	}
	CheckMaintained(t, c, req)
}
