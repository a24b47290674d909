package sqlsource

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestKeyRanges: the slices cover lo..hi exactly once, in order, nearly
// equal, also at the extremes of int64 and with more slices than values.
func TestKeyRanges(t *testing.T) {
	cases := []struct {
		lo, hi int64
		count  int
	}{
		{1, 100, 4}, {0, 0, 3}, {-7, 7, 5}, {1, 3, 8}, {math.MinInt64, math.MaxInt64, 4}, {5, 1, 2}, {0, 1 << 40, 7},
	}
	for _, c := range cases {
		b := KeyRanges(c.lo, c.hi, c.count)
		if len(b) != c.count-1 {
			t.Fatalf("%v: %d bounds", c, len(b))
		}
		for i := 1; i < len(b); i++ {
			if b[i] < b[i-1] {
				t.Fatalf("%v: bounds not ascending: %v", c, b)
			}
		}
		if c.hi >= c.lo && uint64(c.hi)-uint64(c.lo) < 1000 {
			// Every value in exactly one slice; widths differ by at most one.
			counts := make([]int, c.count)
			for v := c.lo; v <= c.hi; v++ {
				s := 0
				for s < len(b) && v >= b[s] {
					s++
				}
				counts[s]++
			}
			lo, hi := counts[0], counts[0]
			for _, n := range counts {
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1 {
				t.Fatalf("%v: uneven slices %v (bounds %v)", c, counts, b)
			}
		}
	}
	if b := KeyRanges(math.MinInt64, math.MaxInt64, 2); b[0] != 0 {
		t.Fatalf("the middle of int64 is %d, want 0", b[0])
	}
}

func TestRangeWhere(t *testing.T) {
	lit := func(v int64) string { return fmt.Sprint(v) }
	got := RangeWhere(`"id"`, []int64{10, 20}, lit)
	want := []string{`"id" < 10 OR "id" IS NULL`, `"id" >= 10 AND "id" < 20`, `"id" >= 20`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if w := Whole(3); strings.Join(w, "|") != "1=1|1=0|1=0" {
		t.Fatalf("Whole(3) = %q", w)
	}
	s := &Slice{Where: "ctid < '(5,0)'"}
	if f := s.Filter("a = 1 OR b = 2"); f != "(a = 1 OR b = 2) AND (ctid < '(5,0)')" {
		t.Fatalf("Filter = %q", f)
	}
}

// planner counts plans and releases.
type planner struct {
	plans, releases atomic.Int32
	fail            error
}

func (p *planner) connector() *Connector {
	return New(sdk.Info{Name: "fake"}, &Dialect{
		Open: func(sdk.Connection) (*sql.DB, error) { return &sql.DB{}, nil },
		Slices: func(_ context.Context, _ *sql.DB, _ sdk.ObjectRef, count int) (*Slicing, error) {
			p.plans.Add(1)
			if p.fail != nil {
				return nil, p.fail
			}
			return &Slicing{
				Where:   Whole(count),
				Begin:   func(context.Context, any) (func() error, error) { return func() error { return nil }, nil },
				Release: func() { p.releases.Add(1) },
			}, nil
		},
	})
}

func partReq(group string, index, count int) sdk.ReadRequest {
	return sdk.ReadRequest{Conn: sdk.Connection{DSN: "fake://"}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}},
		Partition: &sdk.Partition{Index: index, Count: count, Group: group}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupPlansOnce: the slices of a group share one plan, which is held
// until the last has begun; a late slice fails rather than planning anew.
func TestGroupPlansOnce(t *testing.T) {
	p := &planner{}
	c := p.connector()
	ctx := context.Background()
	const n = 4
	slices := make([]*Slice, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slices[i], errs[i] = c.Slice(ctx, partReq("g1", i, n))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("slice %d: %v", i, err)
		}
		if want := Whole(n)[i]; slices[i].Where != want {
			t.Fatalf("slice %d: where %q, want %q", i, slices[i].Where, want)
		}
	}
	if p.plans.Load() != 1 {
		t.Fatalf("%d plans for one group", p.plans.Load())
	}
	for i := range n - 1 {
		if _, err := slices[i].Begin(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if p.releases.Load() != 0 {
		t.Fatal("released before every slice began")
	}
	slices[n-1].Abandon() // the last never begins: the group is released
	waitFor(t, "release", func() bool { return p.releases.Load() == 1 })
	if _, err := c.Slice(ctx, partReq("g1", 0, n)); err == nil || p.plans.Load() != 1 {
		t.Fatalf("a slice after its group closed: err %v, %d plans", err, p.plans.Load())
	}
	// Another group plans again; all begun releases it.
	var s2 []*Slice
	for i := range 2 {
		s, err := c.Slice(ctx, partReq("g2", i, 2))
		if err != nil {
			t.Fatal(err)
		}
		s2 = append(s2, s)
	}
	for _, s := range s2 {
		if _, err := s.Begin(ctx, nil); err != nil {
			t.Fatal(err)
		}
		s.Abandon() // after Begin: nothing
	}
	waitFor(t, "release of g2", func() bool { return p.releases.Load() == 2 })
	if p.plans.Load() != 2 {
		t.Fatalf("%d plans for two groups", p.plans.Load())
	}
}

func TestGroupErrors(t *testing.T) {
	ctx := context.Background()
	p := &planner{}
	c := p.connector()
	if _, err := c.Slice(ctx, partReq("g", 0, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Slice(ctx, partReq("g", 1, 3)); !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "count 3") {
		t.Fatalf("count mismatch: %v", err)
	}
	if _, err := c.Slice(ctx, partReq("h", 2, 2)); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("index out of range: %v", err)
	}
	q := partReq("g", 0, 2)
	q.Source = sdk.Source{Query: "select 1"}
	if _, err := c.Slice(ctx, q); !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "query") {
		t.Fatalf("query: %v", err)
	}
	if _, err := c.Slice(ctx, partReq("", 0, 2)); !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "no group") {
		t.Fatalf("no group: %v", err)
	}
	if s, err := c.Slice(ctx, partReq("g", 0, 1)); s != nil || err != nil {
		t.Fatalf("count 1 is a whole read: %v %v", s, err)
	}
	plain := New(sdk.Info{Name: "plain"}, &Dialect{})
	if _, err := plain.Slice(ctx, partReq("g", 0, 2)); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("no Slices hook: %v", err)
	}
	// A failed plan fails every slice of the group, planned once.
	bad := &planner{fail: errors.New("boom")}
	cb := bad.connector()
	for i := range 2 {
		if _, err := cb.Slice(ctx, partReq("g", i, 2)); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("slice %d of a failed plan: %v", i, err)
		}
	}
	if bad.plans.Load() != 1 {
		t.Fatalf("%d plans", bad.plans.Load())
	}
}

// TestGroupTimeout: a group whose slices do not all begin lets its plan go.
func TestGroupTimeout(t *testing.T) {
	old := GroupTimeout
	GroupTimeout = 20 * time.Millisecond
	defer func() { GroupTimeout = old }()
	p := &planner{}
	c := p.connector()
	if _, err := c.Slice(context.Background(), partReq("g", 0, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "release after the timeout", func() bool { return p.releases.Load() == 1 })
	if _, err := c.Slice(context.Background(), partReq("g", 1, 2)); err == nil || !strings.Contains(err.Error(), "did not all start") {
		t.Fatalf("late slice: %v", err)
	}
}

// TestGroupCancelledWhileWaiting: a slice cancelled while its group is
// being planned releases the plan once it is made.
func TestGroupCancelledWhileWaiting(t *testing.T) {
	planning := make(chan struct{})
	proceed := make(chan struct{})
	var releases atomic.Int32
	c := New(sdk.Info{Name: "fake"}, &Dialect{
		Open: func(sdk.Connection) (*sql.DB, error) { return &sql.DB{}, nil },
		Slices: func(_ context.Context, _ *sql.DB, _ sdk.ObjectRef, count int) (*Slicing, error) {
			close(planning)
			<-proceed
			return &Slicing{Where: Whole(count), Release: func() { releases.Add(1) }}, nil
		},
	})
	go func() { _, _ = c.Slice(context.Background(), partReq("g", 0, 2)) }()
	<-planning
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Slice(ctx, partReq("g", 1, 2))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled slice: %v", err)
	}
	close(proceed)
	waitFor(t, "release", func() bool { return releases.Load() == 1 })
}
