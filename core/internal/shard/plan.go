// Package shard runs one snapshot as many processes: Make writes a plan
// that cuts the table into key ranges, Run reads one range into files and
// a receipt, and Commit checks every receipt against the files in the
// store and publishes the one manifest (a delta's advances its state's
// mark too: delta.go). No process shares a transaction
// with another, so the shards are each consistent but not one point in
// time.
package shard

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/delta"
	"github.com/halfpipe-io/halfpipe/core/internal/registry"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/core/internal/store"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Version is the plan and receipt format version.
const Version = 1

// MaxShards bounds --shards (a Distributed Map runs up to 10,000 children
// at once).
const MaxShards = 10000

// Plan is a run cut into slices, each read by its own process.
type Plan struct {
	Version   int       `json:"plan_version"`
	RunID     string    `json:"run_id"`
	CreatedAt time.Time `json:"created_at"`
	// Options are the run's cp snap options, Source and Target included
	// (connection names: every process resolves them itself).
	Options run.Spec `json:"options"`
	// ShardBy is the column the slices bound; KeyType its kind.
	ShardBy string  `json:"shard_by"`
	KeyType string  `json:"key_type,omitempty"`
	Slices  []Slice `json:"slices"`
	// RunDir holds the files and the receipts (_shards/); ManifestKey and
	// Manifest are the manifest Commit publishes, as a key of the target
	// store and as its URL.
	RunDir      string `json:"run_dir"`
	ManifestKey string `json:"manifest_key"`
	Manifest    string `json:"manifest"`
	// Delta is the range of a sharded delta (hp plan --delta-driver),
	// whose slices cut it.
	Delta *DeltaRange `json:"delta,omitempty"`
}

// Slice is the rows of ShardBy in [Lower, Upper): an empty bound is open;
// a delta's first slice may exclude its Lower, its last include its Upper.
// An Empty slice holds no key value (a range narrower than the shards).
type Slice struct {
	Index          int    `json:"index"`
	Lower          string `json:"lower,omitempty"`
	LowerExclusive bool   `json:"lower_exclusive,omitempty"`
	Upper          string `json:"upper,omitempty"`
	UpperInclusive bool   `json:"upper_inclusive,omitempty"`
	Empty          bool   `json:"empty,omitempty"`
}

// Filter is the slice as a read's range filter.
func (p *Plan) Filter(s Slice) (*sdk.RangeFilter, error) {
	f := &sdk.RangeFilter{Column: p.ShardBy, LowerInclusive: !s.LowerExclusive, UpperInclusive: s.UpperInclusive}
	var err error
	if s.Lower != "" {
		if f.Lower, err = delta.Parse(p.KeyType, s.Lower); err != nil {
			return nil, fmt.Errorf("slice %d: %w", s.Index, err)
		}
	}
	if s.Upper != "" {
		if f.Upper, err = delta.Parse(p.KeyType, s.Upper); err != nil {
			return nil, fmt.Errorf("slice %d: %w", s.Index, err)
		}
	}
	return f, nil
}

// Make plans the snapshot of spec in n slices of a column (by, else the
// first primary-key column) from the source's bounds of it; it reads no
// rows. The plan must still be written (Write).
func Make(ctx context.Context, env run.Env, conns run.Resolver, spec run.Spec, n int, by string, now time.Time) (*Plan, error) {
	if n < 1 || n > MaxShards {
		return nil, sdk.InvalidArgumentf("--shards must be between 1 and %d, not %d", MaxShards, n)
	}
	p, err := newRun(spec, conns, now)
	if err != nil {
		return nil, err
	}
	src, err := registry.Source(ctx, env.Host(), p.Src, spec.SourceType)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Version: Version, RunID: p.RunID, CreatedAt: p.Start, Options: spec,
		RunDir: path.Dir(p.Layout.Manifest(p.Vars)), ManifestKey: p.Layout.Manifest(p.Vars)}
	st, err := registry.OpenStore(ctx, p.Tgt, spec.TargetType, nil, spec.S3)
	if err != nil {
		return nil, err
	}
	plan.Manifest = st.URL(plan.ManifestKey)
	if spec.Delta.Driver != "" {
		return plan, makeDelta(ctx, env, p, src, plan, n, by)
	}
	req := p.ReadRequest()
	if by == "" {
		if !src.Info.Has(sdk.CapDescribe) {
			return nil, sdk.InvalidArgumentf("the %s connector cannot describe %s: name the column to shard by with --shard-by", src.Info.Name, p.SourceName())
		}
		d, err := src.Describe(ctx, req.Conn, req.Source)
		if err != nil {
			return nil, fmt.Errorf("describing %s: %w", p.SourceName(), err)
		}
		if len(d.PrimaryKey) == 0 {
			return nil, sdk.InvalidArgumentf("%s has no primary key: name an integer, decimal, date or timestamp column to shard by with --shard-by", p.SourceName())
		}
		by = d.PrimaryKey[0]
	}
	if !src.Info.Has(sdk.CapBounds) {
		return nil, sdk.InvalidArgumentf("the %s connector cannot report a column's bounds, which a plan cuts into slices", src.Info.Name)
	}
	b, err := src.Bounds(ctx, sdk.BoundsRequest{Conn: req.Conn, Source: req.Source, Column: by, Where: spec.Where})
	if err != nil {
		return nil, fmt.Errorf("bounds of %s in %s: %w", by, p.SourceName(), err)
	}
	if b.NullCount > 0 {
		return nil, sdk.InvalidArgumentf("%s holds NULL in %d rows, which no key range selects: shard by a NOT NULL column (--shard-by)", by, b.NullCount)
	}
	plan.ShardBy = by
	if plan.KeyType, plan.Slices, err = cut(b.Min, b.Max, n); err != nil {
		return nil, sdk.InvalidArgumentf("--shard-by %s: %v", by, err)
	}
	return plan, nil
}

// newRun validates spec as a snapshot (or a delta) a plan can shard,
// started at now.
func newRun(spec run.Spec, conns run.Resolver, now time.Time) (*run.Plan, error) {
	kind := run.KindSnap
	if spec.Delta.Driver != "" {
		kind = run.KindDelta
	}
	p, err := run.NewPlan(kind, spec, conns, now)
	if err != nil {
		return nil, err
	}
	switch {
	case !p.TargetIsStore || p.Tgt.Scheme == "stdout":
		return nil, sdk.InvalidArgumentf("a sharded run writes files to a file or S3 target, not %s", p.TargetName())
	case p.SrcRun != nil:
		return nil, sdk.InvalidArgumentf("a sharded run reads a database table, not published runs or files")
	case spec.Query != "":
		return nil, sdk.InvalidArgumentf("a --query read cannot be sharded: its rows have no key ranges hp can cut")
	case p.Staged():
		return nil, sdk.InvalidArgumentf("a sharded run does not load a warehouse (--stage): load its manifest afterwards")
	case p.Layout.Name != "default" || spec.Path != "":
		return nil, sdk.InvalidArgumentf("a sharded run uses the default layout (no --layout halfpipe, no --path)")
	}
	return p, nil
}

// cut splits [lo, hi] into n ranges; the first is open below and the last
// above, so that keys outside the bounds when the shards read are read too.
func cut(lo, hi *sdk.Value, n int) (string, []Slice, error) {
	slices := make([]Slice, n)
	for i := range slices {
		slices[i] = Slice{Index: i, Empty: i > 0}
	}
	if lo == nil {
		return "", slices, nil // an empty table: slice 0 reads it whole
	}
	kind, err := delta.KindName(lo.Kind)
	if err != nil || !cuttable(lo.Kind) {
		return "", nil, fmt.Errorf("slices cut integer, decimal, date and timestamp columns, not %s", orKind(kind, lo))
	}
	if hi == nil || hi.Kind != lo.Kind {
		return "", nil, fmt.Errorf("the bounds of a %s column are of two kinds", kind)
	}
	o, err := ordinals(lo, hi)
	if err != nil {
		return "", nil, err
	}
	span := new(big.Int).Sub(o.hi, o.lo)
	span.Add(span, big.NewInt(1))
	bounds := make([]string, n+1)
	for k := 1; k < n; k++ {
		c := new(big.Int).Mul(span, big.NewInt(int64(k)))
		c.Quo(c, big.NewInt(int64(n)))
		c.Add(c, o.lo)
		bounds[k] = o.format(c)
	}
	for i := range slices {
		// Equal bounds (fewer keys than shards) leave an empty slice.
		slices[i] = Slice{Index: i, Lower: bounds[i], Upper: bounds[i+1], Empty: i > 0 && i < n-1 && bounds[i] == bounds[i+1]}
	}
	return kind, slices, nil
}

func cuttable(k sdk.ValueKind) bool {
	return k == sdk.KindInt64 || k == sdk.KindDate || k == sdk.KindTimestamp || k == sdk.KindDecimal
}

// keyOrdinals are the bounds of a key as integers (days of a date,
// microseconds of a timestamp, a decimal in units of its last digit) and
// the way back from such an integer to a key's exact text.
type keyOrdinals struct {
	lo, hi *big.Int
	format func(*big.Int) string
}

func ordinals(lo, hi *sdk.Value) (keyOrdinals, error) {
	if lo.Kind != sdk.KindDecimal {
		return keyOrdinals{lo: big.NewInt(ordinal(lo)), hi: big.NewInt(ordinal(hi)),
			format: func(x *big.Int) string { return delta.Format(fromOrdinal(lo.Kind, x.Int64())) }}, nil
	}
	// Decimals are cut in units of the finer scale of the two bounds
	// (a NUMERIC(p,s)'s bounds carry s digits after the point), exactly.
	scale := max(fractionDigits(lo.Str), fractionDigits(hi.Str))
	a, err := scaledDecimal(lo.Str, scale)
	if err != nil {
		return keyOrdinals{}, err
	}
	b, err := scaledDecimal(hi.Str, scale)
	if err != nil {
		return keyOrdinals{}, err
	}
	return keyOrdinals{lo: a, hi: b, format: func(x *big.Int) string { return formatScaled(x, scale) }}, nil
}

// fractionDigits counts the digits after the point of a decimal text.
func fractionDigits(text string) int {
	if i := strings.IndexByte(text, '.'); i >= 0 {
		return len(text) - i - 1
	}
	return 0
}

// scaledDecimal is the decimal text times 10^scale, an integer when the
// text has at most scale digits after its point.
func scaledDecimal(text string, scale int) (*big.Int, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(text))
	if !ok || strings.ContainsAny(text, "/eE") {
		return nil, fmt.Errorf("%q is not a decimal number", text)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		return nil, fmt.Errorf("%q has more than %d digits after the point", text, scale)
	}
	return new(big.Int).Set(r.Num()), nil
}

// formatScaled writes x / 10^scale as a decimal text with scale digits
// after the point.
func formatScaled(x *big.Int, scale int) string {
	digits := new(big.Int).Abs(x).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	if scale > 0 {
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if x.Sign() < 0 {
		return "-" + digits
	}
	return digits
}

func orKind(name string, v *sdk.Value) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("kind %d", v.Kind)
}

// ordinal is a key value as an integer: days of a date, microseconds of
// a timestamp.
func ordinal(v *sdk.Value) int64 {
	if v.Kind == sdk.KindTimestamp {
		return v.Time.UnixMicro()
	}
	return v.Int
}

func fromOrdinal(k sdk.ValueKind, x int64) *sdk.Value {
	switch k {
	case sdk.KindTimestamp:
		return sdk.TimestampValue(time.UnixMicro(x))
	case sdk.KindDate:
		return sdk.DateValue(int32(x))
	}
	return sdk.Int64Value(x)
}

// Item is one shard as a Step Functions Distributed Map item: the event
// of the function's shard step.
type Item struct {
	Command string `json:"command"`
	Plan    string `json:"plan"`
	Index   int    `json:"index"`
}

// Write stores the plan at ref (a path, file:// or s3:// URL), and beside
// it (<name>.items.json) a JSON array of its Items, for a Distributed
// Map's ItemReader.
func Write(ctx context.Context, ref string, p *Plan) error {
	st, key, err := openPlan(ctx, ref)
	if err != nil {
		return err
	}
	items := make([]Item, len(p.Slices))
	for i := range items {
		items[i] = Item{Command: "shard", Plan: ref, Index: i}
	}
	for _, o := range []struct {
		key string
		v   any
	}{{itemsKey(key), items}, {key, p}} {
		data, err := json.MarshalIndent(o.v, "", "  ")
		if err != nil {
			return err
		}
		if err := st.Put(ctx, o.key, append(data, '\n')); err != nil {
			return fmt.Errorf("writing the plan: %w", err)
		}
	}
	return nil
}

func itemsKey(planKey string) string { return strings.TrimSuffix(planKey, ".json") + ".items.json" }

// Planned is what a plan step answers: the run, and the bucket and key
// of its items when the plan is in S3.
type Planned struct {
	RunID       string `json:"run_id"`
	Plan        string `json:"plan"`
	Shards      int    `json:"shards"`
	Manifest    string `json:"manifest"`
	ItemsBucket string `json:"items_bucket,omitempty"`
	ItemsKey    string `json:"items_key,omitempty"`
}

// Answer sums up the plan p written at ref.
func Answer(ref string, p *Plan) *Planned {
	a := &Planned{RunID: p.RunID, Plan: ref, Shards: len(p.Slices), Manifest: p.Manifest}
	if u, err := url.Parse(ref); err == nil && u.Scheme == "s3" {
		a.ItemsBucket, a.ItemsKey = u.Host, itemsKey(strings.TrimPrefix(u.Path, "/"))
	}
	return a
}

// Read loads the plan at ref.
func Read(ctx context.Context, ref string) (*Plan, error) {
	st, key, err := openPlan(ctx, ref)
	if err != nil {
		return nil, err
	}
	data, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading the plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, sdk.InvalidArgumentf("%s is not a shard plan: %v", sdk.MaskDSN(ref), err)
	}
	if p.Version != Version || p.RunID == "" || len(p.Slices) == 0 {
		return nil, sdk.InvalidArgumentf("%s is not a shard plan of this hp (plan_version %d, run_id %q, %d slices)", sdk.MaskDSN(ref), p.Version, p.RunID, len(p.Slices))
	}
	return &p, nil
}

// openPlan opens the store and key of the plan at ref.
func openPlan(ctx context.Context, ref string) (store.Store, string, error) {
	st, key, err := store.OpenObject(ctx, ref, store.S3Options{})
	if err != nil {
		return nil, "", fmt.Errorf("--plan: %w", err)
	}
	return st, key, nil
}
