// Package gen is the reference connector: it serves deterministic
// synthetic tables of any size, needs no database, and is the source of
// the conformance suite's reference run and of hp's benchmarks.
//
// Every cell is a pure function of (seed, row id, column), so a range or
// partitioned read returns exactly the rows of a full read, and tests can
// compute the expected value of any cell with [Expected].
package gen

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
)

// Version is the connector's version.
const Version = "0.1.0"

// Connector is the gen connector.
type Connector struct{}

// New returns the connector.
func New() *Connector { return &Connector{} }

// Tables lists the tables gen serves.
var Tables = []string{"all_types", "narrow", "empty", "large_values"}

// Info implements sdk.Connector.
func (*Connector) Info() sdk.Info {
	info := sdk.Info{
		Name:        "gen",
		Version:     Version,
		Description: "Deterministic synthetic data of every supported Arrow type (reference connector, benchmarks)",
		Schemes:     []string{"gen"},
		DSNFormat:   "gen://[?rows=N&seed=S&value_bytes=B]",
		DSNExample:  "gen://?rows=1000000",
		Options: []sdk.OptionSpec{
			{Name: "rows", Type: "int", Default: "1000", Description: "Rows in each table (empty has none)"},
			{Name: "seed", Type: "int", Default: "1", Description: "Seed of the values; the same seed gives the same data"},
			{Name: "value_bytes", Type: "size", Default: "8388608", Description: "Size of each value in large_values"},
		},
		Limits: []string{
			"Tables: all_types (every type, NULLs, edge values), narrow (4 columns, the benchmark source), empty (no rows) and large_values (multi-MiB values).",
			"Range filters, ordering and bounds work on the id column only; --where and SQL queries are not supported.",
			"Reads honour partitions (disjoint id ranges).",
		},
		Features: []sdk.Capability{sdk.CapReadPartitions},
	}
	for _, c := range allTypesColumns {
		info.TypeMappings = append(info.TypeMappings, sdk.TypeMapping{NativeType: c.field.Name, ArrowType: c.field.Type.String(), Notes: c.notes})
	}
	return info
}

// params are the settings of one connection.
type params struct {
	rows       int64
	seed       int64
	valueBytes int64
}

func parse(conn sdk.Connection) (params, error) {
	p := params{rows: 1000, seed: 1, valueBytes: 8 << 20}
	u, err := url.Parse(conn.DSN)
	if err != nil || u.Scheme != "gen" {
		return p, sdk.InvalidArgumentf("gen DSN %q must look like gen://?rows=N", sdk.MaskDSN(conn.DSN))
	}
	q := u.Query()
	for _, o := range []struct {
		name string
		dst  *int64
		min  int64
	}{{"rows", &p.rows, 0}, {"seed", &p.seed, -1 << 63}, {"value_bytes", &p.valueBytes, 0}} {
		v := conn.Option(o.name, q.Get(o.name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < o.min {
			return p, sdk.InvalidArgumentf("gen option %s=%q is not a valid number", o.name, v)
		}
		*o.dst = n
	}
	return p, nil
}

// Check implements sdk.Connector.
func (*Connector) Check(_ context.Context, conn sdk.Connection) (string, error) {
	if _, err := parse(conn); err != nil {
		return "", err
	}
	return "gen " + Version, nil
}

// ListObjects implements sdk.ObjectLister.
func (*Connector) ListObjects(context.Context, sdk.Connection, string) ([]sdk.ObjectInfo, error) {
	out := make([]sdk.ObjectInfo, len(Tables))
	for i, t := range Tables {
		out[i] = sdk.ObjectInfo{Ref: sdk.ObjectRef{Name: t}, Kind: "table"}
	}
	return out, nil
}

// table resolves a source to its generator.
func table(src sdk.Source) (*tableDef, error) {
	if src.Query != "" || src.Object == nil {
		return nil, sdk.InvalidArgumentf("gen serves tables only, not SQL queries")
	}
	if src.Object.Schema != "" && src.Object.Schema != "gen" {
		return nil, sdk.NotFoundf("gen has no schema %q (its tables are %v)", src.Object.Schema, Tables)
	}
	t, ok := tables[src.Object.Name]
	if !ok {
		return nil, sdk.NotFoundf("gen has no table %q (its tables are %v)", src.Object.Name, Tables)
	}
	return t, nil
}

// Describe implements sdk.Describer.
func (*Connector) Describe(_ context.Context, _ sdk.Connection, src sdk.Source) (*sdk.Description, error) {
	t, err := table(src)
	if err != nil {
		return nil, err
	}
	d := &sdk.Description{Schema: t.schema(), PrimaryKey: []string{"id"}}
	for _, c := range t.columns {
		d.Columns = append(d.Columns, sdk.Column{Name: c.field.Name, NativeType: c.field.Type.String(), Nullable: c.field.Nullable})
	}
	return d, nil
}

// idRange is the inclusive range of ids a read covers.
type idRange struct{ lo, hi int64 }

func (r idRange) empty() bool { return r.lo > r.hi }

func rangeOf(p params, t *tableDef, rf *sdk.RangeFilter, part *sdk.Partition) (idRange, error) {
	r := idRange{lo: 1, hi: p.rows}
	if t.name == "empty" {
		r.hi = 0
	}
	if t.name == "large_values" {
		r.hi = min(r.hi, 4)
	}
	if rf != nil {
		if rf.Column != "id" {
			return r, sdk.InvalidArgumentf("gen filters on the id column only, not %q", rf.Column)
		}
		bound := func(v *sdk.Value) (int64, error) {
			switch v.Kind {
			case sdk.KindInt64:
				return v.Int, nil
			case sdk.KindDecimal, sdk.KindString:
				return strconv.ParseInt(v.Str, 10, 64)
			}
			return 0, sdk.InvalidArgumentf("gen id bounds must be integers, got %v", v)
		}
		if rf.Lower != nil {
			lo, err := bound(rf.Lower)
			if err != nil {
				return r, err
			}
			if !rf.LowerInclusive {
				lo++
			}
			r.lo = max(r.lo, lo)
		}
		if rf.Upper != nil {
			hi, err := bound(rf.Upper)
			if err != nil {
				return r, err
			}
			if !rf.UpperInclusive {
				hi--
			}
			r.hi = min(r.hi, hi)
		}
	}
	if part != nil && part.Count > 1 && !r.empty() {
		if part.Index < 0 || part.Index >= part.Count {
			return r, sdk.InvalidArgumentf("partition %d of %d does not exist", part.Index, part.Count)
		}
		n := r.hi - r.lo + 1
		lo := r.lo + n*int64(part.Index)/int64(part.Count)
		hi := r.lo + n*int64(part.Index+1)/int64(part.Count) - 1
		r = idRange{lo, hi}
	}
	return r, nil
}

// Read implements sdk.Reader.
func (*Connector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	p, err := parse(req.Conn)
	if err != nil {
		return nil, err
	}
	t, err := table(req.Source)
	if err != nil {
		return nil, err
	}
	if req.Where != "" {
		return nil, sdk.InvalidArgumentf("gen does not support --where; filter with a range on id")
	}
	cols, err := t.project(req.Columns)
	if err != nil {
		return nil, err
	}
	r, err := rangeOf(p, t, req.Range, req.Partition)
	if err != nil {
		return nil, err
	}
	desc := false
	for _, o := range req.OrderBy {
		if o.Column != "id" {
			return nil, sdk.InvalidArgumentf("gen orders by id only, not %q", o.Column)
		}
		desc = o.Descending
	}
	schema := schemaOf(cols)
	// Logged to the plugin's stderr, which hp forwards into its own log.
	slog.Debug("generating rows", "table", req.Source.Object.Name, "first_id", r.lo, "last_id", r.hi)
	g := &generator{p: p, cols: cols, next: r.lo, last: r.hi, step: 1}
	if desc {
		g.next, g.last, g.step = r.hi, r.lo, -1
	}
	fill := func(b *batch.Builder) (bool, error) { return g.fill(ctx, b) }
	return batch.NewReader(schema, fill, nil, batch.WithMaxRows(req.BatchMaxRows), batch.WithMaxBytes(req.BatchMaxBytes)), nil
}

// Bounds implements sdk.Bounder.
func (*Connector) Bounds(_ context.Context, req sdk.BoundsRequest) (*sdk.Bounds, error) {
	p, err := parse(req.Conn)
	if err != nil {
		return nil, err
	}
	t, err := table(req.Source)
	if err != nil {
		return nil, err
	}
	if req.Column != "id" {
		return nil, sdk.InvalidArgumentf("gen computes bounds of the id column only, not %q", req.Column)
	}
	if req.Where != "" {
		return nil, sdk.InvalidArgumentf("gen does not support --where")
	}
	r, err := rangeOf(p, t, req.Range, nil)
	if err != nil {
		return nil, err
	}
	if r.empty() {
		return &sdk.Bounds{}, nil
	}
	return &sdk.Bounds{Min: sdk.Int64Value(r.lo), Max: sdk.Int64Value(r.hi), Count: r.hi - r.lo + 1}, nil
}

type generator struct {
	p          params
	cols       []column
	next, last int64
	step       int64
}

func (g *generator) done() bool {
	if g.step > 0 {
		return g.next > g.last
	}
	return g.next < g.last
}

func (g *generator) fill(ctx context.Context, b *batch.Builder) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	fields := b.Fields()
	for n := 0; !g.done(); n++ {
		if n&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		id := g.next
		for i, c := range g.cols {
			c.appendTo(fields[i], g.p, id)
		}
		g.next += g.step
		if b.EndRow() {
			return !g.done(), nil
		}
	}
	return false, nil
}

func schemaOf(cols []column) *arrow.Schema {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.field
	}
	return arrow.NewSchema(fields, nil)
}

func (t *tableDef) schema() *arrow.Schema { return schemaOf(t.columns) }

func (t *tableDef) project(names []string) ([]column, error) {
	if len(names) == 0 {
		return t.columns, nil
	}
	out := make([]column, 0, len(names))
	for _, n := range names {
		found := false
		for _, c := range t.columns {
			if c.field.Name == n {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			return nil, sdk.NotFoundf("gen table %s has no column %q", t.name, n)
		}
	}
	return out, nil
}
