package sqlsource

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Slicing is how the slices of one partitioned read (one
// [sdk.Partition.Group]) divide a table, planned once by [Dialect.Slices]
// for the whole group. The plan may hold a connection open (a transaction
// that exported a snapshot, a table lock) until every slice has begun its
// own transaction; Release then lets it go.
type Slicing struct {
	// Where holds one predicate per slice, in the dialect's SQL: as many as
	// the partition's count, pairwise disjoint, and together true for every
	// row of the table.
	Where []string
	// AsOf, when set, follows the table's name in every slice's read:
	// Oracle's AS OF SCN n, which puts the slices at one point in time
	// without a transaction shared between them.
	AsOf string
	// Begin starts a slice's read-only transaction on a driver connection
	// (what database/sql's Conn.Raw hands out, or the connector's own), at
	// the group's point in time; end is called once the slice's read is
	// over, failed or not. Nil: [Dialect.ReadOnly]'s default.
	Begin func(ctx context.Context, conn any) (end func() error, err error)
	// Release, when set, is called once: after every slice has begun, or
	// as soon as one of them failed before it began, or when the group's
	// slices did not all arrive within [GroupTimeout].
	Release func()
}

// GroupTimeout bounds how long a group's plan (and what it holds open)
// waits for all of its slices to begin. The host starts them together, so
// only a host that failed meanwhile leaves one missing.
var GroupTimeout = time.Minute

// tombstoneTTL is how long a finished group is remembered, so that a slice
// arriving after its group was released fails instead of planning the
// group anew (and reading another point in time).
const tombstoneTTL = 10 * time.Minute

// Slice is one slice of a partitioned read: its predicate and the
// transaction it must read in. Exactly one of Begin or Abandon takes
// effect; later calls do nothing.
type Slice struct {
	// Where is the slice's predicate; [Slice.Filter] ANDs it with a read's.
	Where string
	// AsOf follows the table's name in the slice's read (see
	// [Slicing.AsOf]).
	AsOf  string
	begin func(ctx context.Context, conn any) (func() error, error)
	done  func(begun bool)
}

// Begin starts the slice's transaction on a driver connection and tells
// the group the slice has begun (or failed to).
func (s *Slice) Begin(ctx context.Context, conn any) (end func() error, err error) {
	end, err = s.begin(ctx, conn)
	s.done(err == nil)
	return end, err
}

// Abandon tells the group this slice will not begin, which releases the
// group's plan: a read with a missing slice has failed. It does nothing
// after Begin.
func (s *Slice) Abandon() { s.done(false) }

// Filter is where ANDed with the slice's predicate.
func (s *Slice) Filter(where string) string {
	if where == "" {
		return s.Where
	}
	return "(" + where + ") AND (" + s.Where + ")"
}

// group is a plan shared by the slices of one partitioned read.
type group struct {
	count   int
	ready   chan struct{} // closed once plan or err is set
	plan    *Slicing
	err     error
	pending int // slices not yet begun
	timer   *time.Timer
	closed  bool
}

type groups struct {
	mu sync.Mutex
	m  map[string]*group
}

// Slice returns the slice req.Partition asks for, planning its group on
// the first of its slices to arrive; nil for a read that is not split (no
// partition, or a count of 1). A query, a connector without
// [Dialect.Slices], a partition out of range or without a group is an
// sdk.ErrInvalidArgument error. A caller that gets a Slice must call its
// Begin or Abandon.
func (c *Connector) Slice(ctx context.Context, req sdk.ReadRequest) (*Slice, error) {
	p := req.Partition
	if p == nil || p.Count == 1 {
		return nil, nil
	}
	switch {
	case c.dialect.Slices == nil:
		return nil, sdk.InvalidArgumentf("connector %s cannot split a read into partitions", c.info.Name)
	case req.Source.Object == nil:
		return nil, sdk.InvalidArgumentf("a query cannot be read in partitions: read it whole")
	case p.Count < 1 || p.Index < 0 || p.Index >= p.Count:
		return nil, sdk.InvalidArgumentf("partition %d of %d does not exist", p.Index, p.Count)
	case p.Group == "":
		// Slices planned one by one could cut a changing table at
		// different places, overlapping or leaving gaps.
		return nil, sdk.InvalidArgumentf("partition %d of %d has no group: the slices of a read must share one", p.Index, p.Count)
	}
	db, err := c.db(req.Conn)
	if err != nil {
		return nil, err
	}
	ref := *req.Source.Object
	plan := func(ctx context.Context) (*Slicing, error) {
		s, err := c.dialect.Slices(ctx, db, ref, p.Count)
		if err != nil {
			return nil, c.dialect.classify(fmt.Errorf("splitting %s into %d slices: %w", ref, p.Count, err), req.Conn.DSN)
		}
		if len(s.Where) != p.Count {
			s.release()
			return nil, fmt.Errorf("splitting %s: %d predicates for %d slices", ref, len(s.Where), p.Count)
		}
		return s, nil
	}
	key := req.Conn.DSN + fmt.Sprint(req.Conn.Options) + "\x00" + ref.String() + "\x00" + p.Group
	s, done, err := c.join(ctx, key, p.Count, plan)
	if err != nil {
		return nil, err
	}
	return c.slice(s, p.Index, done), nil
}

func (c *Connector) slice(s *Slicing, index int, done func(bool)) *Slice {
	begin := s.Begin
	if begin == nil {
		begin = c.dialect.readOnly
	}
	return &Slice{Where: s.Where[index], AsOf: s.AsOf, begin: begin, done: done}
}

func (s *Slicing) release() {
	if s.Release != nil {
		s.Release()
	}
}

// join returns the plan of group key, made by plan if this slice is the
// first to arrive, and done, which the slice calls once it has begun its
// transaction (true) or will not (false).
func (c *Connector) join(ctx context.Context, key string, count int, plan func(context.Context) (*Slicing, error)) (*Slicing, func(bool), error) {
	gs := &c.groups
	gs.mu.Lock()
	if gs.m == nil {
		gs.m = map[string]*group{}
	}
	g, ok := gs.m[key]
	if !ok {
		g = &group{count: count, ready: make(chan struct{}), pending: count}
		gs.m[key] = g
		gs.mu.Unlock()
		s, err := plan(ctx)
		gs.mu.Lock()
		g.plan, g.err = s, err
		close(g.ready)
		if err != nil {
			gs.closeLocked(key, g, nil)
		} else {
			g.timer = time.AfterFunc(GroupTimeout, func() {
				gs.mu.Lock()
				defer gs.mu.Unlock()
				gs.closeLocked(key, g, fmt.Errorf("the slices of this partitioned read did not all start within %v", GroupTimeout))
			})
		}
	}
	gs.mu.Unlock()
	select {
	case <-g.ready:
	case <-ctx.Done():
		// This slice will not begin: the group's plan is of no more use.
		go func() {
			<-g.ready
			gs.mu.Lock()
			defer gs.mu.Unlock()
			gs.closeLocked(key, g, errors.New("a slice of this partitioned read was cancelled before it started"))
		}()
		return nil, nil, ctx.Err()
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	switch {
	case g.count != count:
		return nil, nil, sdk.InvalidArgumentf("partition count %d differs from the %d of other slices of its group", count, g.count)
	case g.err != nil:
		return nil, nil, g.err
	}
	var once sync.Once
	done := func(begun bool) {
		once.Do(func() {
			gs.mu.Lock()
			defer gs.mu.Unlock()
			if g.closed {
				return
			}
			if !begun {
				gs.closeLocked(key, g, errors.New("another slice of this partitioned read failed before it started"))
				return
			}
			if g.pending--; g.pending == 0 {
				gs.closeLocked(key, g, errors.New("every slice of this partitioned read has already started"))
			}
		})
	}
	return g.plan, done, nil
}

// closeLocked releases a group's plan once and leaves err for slices that
// arrive later, forgotten after tombstoneTTL.
func (gs *groups) closeLocked(key string, g *group, err error) {
	if g.closed {
		return
	}
	g.closed = true
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.plan != nil {
		go g.plan.release()
	}
	if err != nil {
		g.err = err
	}
	time.AfterFunc(tombstoneTTL, func() {
		gs.mu.Lock()
		defer gs.mu.Unlock()
		if gs.m[key] == g {
			delete(gs.m, key)
		}
	})
}

// KeyRanges splits the integers lo..hi (inclusive) into count half-open
// ranges of nearly equal width and returns the count-1 inner boundaries,
// ascending: slice i holds values from boundary i-1 (inclusive; the first
// slice is unbounded below) to boundary i (exclusive; the last slice is
// unbounded above), so values outside lo..hi still fall in one slice.
func KeyRanges(lo, hi int64, count int) []int64 {
	if count < 2 {
		return nil
	}
	if hi < lo {
		hi = lo
	}
	// (hi-lo+1)*i/count in 128 bits: the width of a full int64 range is 2^64.
	span := uint64(hi) - uint64(lo)
	out := make([]int64, count-1)
	for i := 1; i < count; i++ {
		h, l := bits.Mul64(span, uint64(i))
		l, carry := bits.Add64(l, uint64(i), 0)
		q, _ := bits.Div64(h+carry, l, uint64(count))
		out[i-1] = int64(uint64(lo) + q)
	}
	return out
}

// RangeWhere returns the count predicates of slices of quoted column col
// cut at bounds (from [KeyRanges]) with literal making each bound's SQL:
// disjoint, and together true for every non-NULL value. NULLs go to the
// first slice.
func RangeWhere(col string, bounds []int64, literal func(int64) string) []string {
	where := make([]string, len(bounds)+1)
	for i := range where {
		switch {
		case len(bounds) == 0:
			where[i] = "1=1"
		case i == 0:
			where[i] = col + " < " + literal(bounds[0]) + " OR " + col + " IS NULL"
		case i == len(bounds):
			where[i] = col + " >= " + literal(bounds[i-1])
		default:
			where[i] = col + " >= " + literal(bounds[i-1]) + " AND " + col + " < " + literal(bounds[i])
		}
	}
	return where
}

// Whole is a split that reads everything in the first slice (and nothing
// in the others) at the group's point in time: for tables a dialect cannot
// split.
func Whole(count int) []string {
	where := make([]string, count)
	where[0] = "1=1"
	for i := 1; i < count; i++ {
		where[i] = "1=0"
	}
	return where
}
