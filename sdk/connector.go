// Package sdk is the halfpipe connector SDK.
//
// A connector is a Go value that implements [Connector] and any of the
// optional capability interfaces ([Describer], [Reader], [Bounder],
// [Writer], [Syncer], [Loader], [Executor], [ObjectLister], [TablePlanner]). A connector binary's
// main function is a single call:
//
//	func main() { sdk.Serve(myconnector.New()) }
//
// Serve speaks the halfpipe connector protocol (see docs/protocol.md) over
// hashicorp/go-plugin. The capabilities a connector advertises are derived
// from the interfaces it implements, so they cannot drift from the code.
//
// Tabular data is Apache Arrow (github.com/apache/arrow-go/v18): a
// connector's Read returns an [array.RecordReader]; its Write consumes one.
// Batches should be sized with the [batch] package so that they stay within a
// few MiB whatever the row width.
//
// The generated protocol types are private to this module; connectors use
// only the Go types declared here.
package sdk

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ProtocolVersion is the version of the connector protocol this SDK speaks.
// It is the go-plugin handshake version and GetInfo's protocol_version.
const ProtocolVersion = 1

// Connector is the interface every connector implements.
type Connector interface {
	// Info describes the connector. It is called once per process and must
	// not open connections.
	Info() Info
	// Check opens a connection with the DSN and reports whether it works,
	// returning the server's product and version for display.
	Check(ctx context.Context, conn Connection) (serverVersion string, err error)
}

// ObjectLister is implemented by connectors that can list tables.
type ObjectLister interface {
	// ListObjects lists the tables and views a user could read. schema
	// narrows the list to one schema (a PostgreSQL schema, a MySQL
	// database): the name as the user typed it, to be matched as the
	// database matches unquoted names. An empty schema means the
	// connection's default scope: the current database, or the search
	// path's schemas; a connector without schemas ignores it. Each
	// ObjectInfo's Ref names its schema whenever the database has one, so
	// that hp can read it back.
	ListObjects(ctx context.Context, conn Connection, schema string) ([]ObjectInfo, error)
}

// Describer is implemented by connectors that can describe a source.
type Describer interface {
	Describe(ctx context.Context, conn Connection, src Source) (*Description, error)
}

// Reader is implemented by source connectors.
//
// Read returns a reader whose Schema is known before the first batch, so
// that an empty result still has a schema. The SDK calls Release on the
// reader when the stream ends. Batches the reader returns are released by
// the SDK after they have been sent. The reader must stop promptly (and
// return ctx.Err() from Err) when ctx is cancelled.
type Reader interface {
	Read(ctx context.Context, req ReadRequest) (array.RecordReader, error)
}

// Bounder is implemented by connectors that can compute column bounds.
//
// Bounds considers the rows of the source that pass the request's Where
// and Range (all of them when both are empty) and reports, for
// BoundsRequest.Column, the smallest and largest non-NULL values, the
// number of those rows and how many of them hold NULL in the column: see
// [Bounds].
type Bounder interface {
	Bounds(ctx context.Context, req BoundsRequest) (*Bounds, error)
}

// Writer is implemented by target connectors that insert rows.
//
// Write is all or nothing. It consumes records until Next returns false,
// then checks Err. A nil Err means the stream is complete: Write commits
// every row, as req.Mode says, and returns. A non-nil Err means the
// stream broke (over the protocol hp also cancels ctx): Write must then
// leave the table exactly as it was before the call, in every mode (no
// row appended, none replaced or deleted, none merged; a table it was to
// create does not exist afterwards), and return an error. The same holds
// when Write fails for any other reason or ctx is cancelled. A Write has
// returned only once any rollback or clean-up is over, so whoever reads
// the table after Write returns sees it as it was.
type Writer interface {
	Write(ctx context.Context, req WriteRequest, records array.RecordReader) (*WriteResult, error)
}

// Syncer is implemented by target connectors that can apply a difference
// between two tables in one transaction (hp sync batch); the SDK declares
// CapWriteSync for them. Over the protocol it is a Write in
// WRITE_MODE_SYNC.
//
// Sync upserts the rows of upserts into req.Table, matched on req.Keys
// (as a Write in Merge mode does: a row whose key the table holds
// replaces it, any other is inserted), and deletes the table's rows whose
// keys deleteKeys holds. upserts has the columns to write, named as the
// table's; the key columns are among them. deleteKeys may be called only
// once upserts is exhausted (Next returned false): it returns the stream of
// the keys to delete, whose columns are exactly req.Keys. The two sets of
// keys are disjoint. req.Mode is Sync and req.CreateTable false: the table
// exists.
//
// Sync is all or nothing, like [Writer.Write]: if either stream breaks,
// ctx is cancelled or anything fails, the table is left exactly as it was
// (one transaction), and an error is returned. A key holding a NULL, in
// either stream, is refused (ErrInvalidArgument).
type Syncer interface {
	Sync(ctx context.Context, req WriteRequest, upserts array.RecordReader, deleteKeys func() (array.RecordReader, error)) (*SyncResult, error)
}

// Loader is implemented by warehouses that load files from object storage.
type Loader interface {
	Load(ctx context.Context, req LoadRequest) (*LoadResult, error)
}

// LoadChecker is implemented by a [Loader] that can say, before hp
// publishes a run, whether Load would refuse it from the request alone:
// its table, mode, keys, format, format options and schema, with no
// files (URIs is empty) and no row count. CheckLoad changes nothing and
// should not need the warehouse; it returns the error Load would (e.g.
// wrapping ErrUnsupportedType, naming the column), nil when Load may go
// ahead. hp calls it so that a refused load publishes nothing.
type LoadChecker interface {
	CheckLoad(ctx context.Context, req LoadRequest) error
}

// Executor is implemented by connectors that run statements.
type Executor interface {
	Exec(ctx context.Context, conn Connection, statements []string) (rowsAffected int64, err error)
}

// TablePlanner is implemented by target connectors that can write the DDL
// of a table in their own dialect (hp cp meta).
//
// PlanTable only plans; it changes nothing. When req.Table does not
// exist, the plan is the CREATE TABLE of req.Schema's columns (each field's
// Arrow type mapped to the native type Write would create, NOT NULL for a
// field that is not nullable) with req.PrimaryKey as its primary key.
// When it exists, Exists is true and the plan is the ALTER TABLE
// statements that add the columns it lacks (nullable, so that existing
// rows fit) and widen columns whose type holds less than the field's
// (a smaller integer, a decimal with fewer digits); with req.AllowDrop it
// also drops the columns the schema lacks. Whatever the plan leaves
// different (a column kept, a type that is not a widening) is one sentence
// in Notes. Statements are in the order they must run; none when the
// table already fits. Errors: an Arrow type the target cannot hold wraps
// ErrUnsupportedType, a key that is not a field ErrInvalidArgument.
type TablePlanner interface {
	PlanTable(ctx context.Context, req PlanTableRequest) (*TablePlan, error)
}

// Capability names an optional part of the protocol.
type Capability string

// The capabilities. [CapabilitiesOf] derives them from a connector's
// interfaces; ReadPartitions, ReadQuery and ChecksumRanges are declared in
// [Info.Features].
const (
	CapCheck          Capability = "check"
	CapListObjects    Capability = "list_objects"
	CapDescribe       Capability = "describe"
	CapRead           Capability = "read"
	CapBounds         Capability = "bounds"
	CapWrite          Capability = "write"
	CapLoad           Capability = "load"
	CapExec           Capability = "exec"
	CapReadPartitions Capability = "read_partitions"
	CapReadQuery      Capability = "read_query"
	CapPlanTable      Capability = "plan_table"
	// CapWriteSync: the connector is a [Syncer].
	CapWriteSync Capability = "write_sync"
	// CapChecksumRanges is declared in Info.Features by a
	// [RangeChecksummer].
	CapChecksumRanges Capability = "checksum_ranges"
	// CapMaintainChecksums is declared in Info.Features by a
	// [ChecksumMaintainer].
	CapMaintainChecksums Capability = "maintain_checksums"
	// CapCheckLoad: the connector is a [Loader] and a [LoadChecker].
	CapCheckLoad Capability = "check_load"
	// CapWriteAbort: the SDK serving a [Writer] or [Syncer] tells it when
	// the host's records failed, so the host can wait for its roll-back
	// and clean-up before stopping the plugin. Every connector built with
	// this SDK has it.
	CapWriteAbort Capability = "write_abort"
)

// Info describes a connector. It is the source of the connector's generated
// README and of hp's connection table.
type Info struct {
	// Name is the short name; the binary is hp-plugin-<Name>.
	Name string
	// Version is the connector's semantic version.
	Version string
	// ProtocolVersion is the protocol version the plugin speaks, as the
	// host sees it. The SDK fills it in; a connector leaves it zero, and
	// Serve (and plugintest.Serve) refuse a connector whose Info sets it.
	ProtocolVersion int
	// Description is one line for listings.
	Description string
	// Schemes are the DSN URL schemes served, e.g. "postgres".
	Schemes []string
	// DSNFormat documents the DSN, e.g. "postgres://user:pass@host:port/db".
	DSNFormat string
	// DSNExample is a working example with a placeholder password.
	DSNExample string
	// Options the connector accepts through [Connection.Options].
	Options []OptionSpec
	// TypeMappings documents native → Arrow types.
	TypeMappings []TypeMapping
	// Limits lists known limits, one sentence each.
	Limits []string
	// Features declares capabilities that are not interfaces:
	// CapReadPartitions and CapReadQuery.
	Features []Capability
	// Capabilities is what the plugin can do, as the host sees it. The SDK
	// derives it from the implemented interfaces and Features
	// ([CapabilitiesOf]); a connector leaves it empty, and Serve (and
	// plugintest.Serve) refuse a connector whose Info sets it: declare
	// CapReadQuery and CapReadPartitions in Features.
	Capabilities []Capability
	// Env names the environment variables the connector reads, e.g.
	// "AWS_REGION". The host starts a plugin with only PATH, HOME, TMPDIR,
	// TZ, LANG and LC_* of its own environment, plus these.
	Env []string
}

// Has reports whether the connector has the capability.
func (i Info) Has(c Capability) bool {
	for _, x := range i.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// OptionSpec documents one connector option. Users set an option in the
// connections file (an options map under the connection) or with the
// environment variable HP_<NAME>_<OPTION> (the connection's name and the
// option's name in upper case, e.g. HP_PG_STATEMENT_TIMEOUT). hp checks
// the options against the spec before it sends them in [Connection.Options]:
// an option the spec does not list is dropped with a warning, a required
// option that is missing and a value that does not parse as its Type are
// errors.
type OptionSpec struct {
	// Name is the option's name: lower case letters, digits and '_'.
	Name string
	// Type says how hp checks and sends the value:
	//   - "string" (or empty): sent as given;
	//   - "int": a base-10 integer, sent as given;
	//   - "bool": true, false, 1 or 0, sent as "true" or "false";
	//   - "duration": a Go duration (1m30s, 250ms) or a whole number of
	//     milliseconds, sent as a whole number of milliseconds;
	//   - "size": a byte count (1048576, 64MiB, 1.5GB, 512k), sent as a
	//     whole number of bytes.
	Type string
	// Default is the value the connector uses when the option is not set,
	// for documentation; hp does not send it.
	Default     string
	Description string
	// Required options must be set: hp refuses a connection without them.
	Required bool
	// Secret marks a value hp must never show (a token, a key): it is
	// masked wherever hp prints the connection or an error. Options whose
	// name [IsSecretKey] recognises are treated as secret too.
	Secret bool
}

// TypeMapping documents how a native type maps to Arrow.
type TypeMapping struct {
	NativeType string
	ArrowType  string
	Notes      string
}

// Connection says which database to talk to. DSN may hold a password: never
// log it or put it in an error; use [MaskDSN].
type Connection struct {
	DSN string
	// Options holds the options the user set, by name, checked against
	// [Info.Options] and normalised as [OptionSpec.Type] says. Options the
	// user did not set are absent: apply your defaults.
	Options map[string]string
}

// Option returns the named option, or def when it is not set or empty.
func (c Connection) Option(name, def string) string {
	if v, ok := c.Options[name]; ok && v != "" {
		return v
	}
	return def
}

// ObjectRef names a table or view.
type ObjectRef struct {
	Schema string
	Name   string
}

// String returns schema.name, or name alone.
func (o ObjectRef) String() string {
	if o.Schema == "" {
		return o.Name
	}
	return o.Schema + "." + o.Name
}

// ObjectInfo is one entry of ListObjects.
type ObjectInfo struct {
	Ref  ObjectRef
	Kind string // "table" or "view"
}

// Source is a table or a SQL query: set exactly one of Object and Query.
type Source struct {
	Object *ObjectRef
	Query  string
}

// String names the source for messages.
func (s Source) String() string {
	if s.Object != nil {
		return s.Object.String()
	}
	return "query"
}

// Column describes one column of a [Description].
type Column struct {
	Name       string
	NativeType string
	Nullable   bool
}

// Description is the result of Describe.
type Description struct {
	Schema     *arrow.Schema
	PrimaryKey []string
	// Columns has one entry per schema field, in order.
	Columns []Column
}

// ReadRequest asks for the rows of a source.
type ReadRequest struct {
	Conn    Connection
	Source  Source
	Columns []string // empty = all
	Where   string   // raw predicate in the source's dialect
	Range   *RangeFilter
	// OrderBy orders the rows: by the first entry, rows equal there by
	// the second, and so on; rows equal in every entry come in any order,
	// and an empty OrderBy allows any order. Values compare by their type
	// (numbers numerically, dates and timestamps in time, binary byte by
	// byte, strings by the source's collation). NULL sorts before every
	// other value: first in an ascending entry, last in a descending one
	// (SQL Server, MySQL and SQLite do so unasked; PostgreSQL and Oracle
	// need NULLS FIRST and DESC NULLS LAST). A connector that cannot honour
	// an entry rejects the request with an error wrapping
	// ErrInvalidArgument; it never ignores one.
	OrderBy []OrderBy
	// Partition is nil for a single, whole read.
	Partition *Partition
	// BatchMaxRows and BatchMaxBytes are soft limits per batch; 0 = default.
	BatchMaxRows  int64
	BatchMaxBytes int64
}

// RangeFilter bounds one column; a nil bound is open.
type RangeFilter struct {
	Column         string
	Lower          *Value
	LowerInclusive bool
	Upper          *Value
	UpperInclusive bool
	// Spans, when not empty, keep only the rows whose Column (an integer)
	// lies in one of them too: one read of many key ranges (hp diff
	// --hash). Ascending and disjoint. Only connectors that declare
	// CapChecksumRanges honour it; the SDK refuses a read with spans
	// for any other connector rather than let it return every row.
	Spans []KeySpan
}

// KeySpan is the integer keys Lower <= key <= Upper.
type KeySpan struct{ Lower, Upper int64 }

// OrderBy orders a read by one column, ascending unless Descending; see
// [ReadRequest.OrderBy] for where NULLs go.
type OrderBy struct {
	Column     string
	Descending bool
	// Binary orders a text column by the bytes of its UTF-8 encoding (the
	// order of code points, as Go compares strings) instead of the
	// column's collation, so that databases of different collations (a
	// case-insensitive MySQL one, PostgreSQL's "C") agree on the order.
	// It is meant for text columns only; a connector that cannot order
	// by bytes rejects it with ErrInvalidArgument.
	Binary bool
}

// Partition asks for slice Index (0-based) of Count disjoint slices that
// together hold every row the read would return whole. A connector that
// declares CapReadPartitions in Info.Features honours it; the host then
// sends the Count slices of one read concurrently, all with the same Group.
type Partition struct {
	Index, Count int
	// Group is unique per partitioned read and shared by its slices. A
	// connector splits the table once per group (so the slices' bounds
	// agree even while the table changes) and reads every slice of the
	// group at one point in time where the database allows it. Empty: the
	// connector may refuse the slice (sdk/sqlsource does: slices planned
	// one by one could overlap while the table changes).
	Group string
}

// BoundsRequest asks for min/max/count of a column.
type BoundsRequest struct {
	Conn   Connection
	Source Source
	Column string
	Where  string
	Range  *RangeFilter
	// ChecksumColumns, when set (the key first, as in
	// ChecksumRangesRequest.Columns; Column is the key), lets a
	// ChecksumMaintainer answer from the checksums it maintains when they
	// would serve a ChecksumRanges of these columns with this Where, rather
	// than read the table. Without a Range only.
	ChecksumColumns []string
}

// Bounds is the result of Bounds, over the rows that pass the request's
// Where and Range.
type Bounds struct {
	// Min and Max are the smallest and largest non-NULL values of the
	// column; both are nil when no row holds one.
	Min, Max *Value
	// Count is the number of rows, whether the column is NULL in them or
	// not (COUNT(*), not COUNT(column)).
	Count int64
	// NullCount is the number of those rows in which the column is NULL,
	// so Count-NullCount rows hold a value.
	NullCount int64
	// Maintained: the bounds came from maintained checksums
	// (BoundsRequest.ChecksumColumns).
	Maintained bool
}

// WriteMode says how Write treats existing rows.
type WriteMode string

// The write modes.
const (
	Append  WriteMode = "append"
	Replace WriteMode = "replace"
	Merge   WriteMode = "merge"
	// Sync is the mode of a [Syncer]'s Sync: upserts and deletes by key.
	Sync WriteMode = "sync"
)

// WriteRequest is the header of a Write. Whatever the mode, a Write whose
// stream breaks or that fails changes nothing (see [Writer]).
type WriteRequest struct {
	Conn        Connection
	Table       ObjectRef
	Mode        WriteMode
	Keys        []string
	CreateTable bool
}

// WriteResult reports a finished Write.
type WriteResult struct {
	RowsWritten int64
}

// SyncResult reports a finished Sync.
type SyncResult struct {
	// RowsWritten counts the rows upserted (inserted or updated).
	RowsWritten int64
	// RowsDeleted counts the rows deleted.
	RowsDeleted int64
}

// PlanTableRequest asks a [TablePlanner] for the DDL of a table.
type PlanTableRequest struct {
	Conn  Connection
	Table ObjectRef
	// Schema holds the columns the table must have, in order.
	Schema *arrow.Schema
	// PrimaryKey names the key columns of a table to create, in key order.
	PrimaryKey []string
	// AllowDrop lets the plan drop an existing table's columns that Schema
	// lacks; without it they are kept and named in [TablePlan.Notes].
	AllowDrop bool
}

// TablePlan is the result of PlanTable.
type TablePlan struct {
	// Statements are to be run in order; none when the table fits.
	Statements []string
	// Exists says the table exists: Statements alter it.
	Exists bool
	// Notes name the differences Statements leave, one sentence each.
	Notes []string
}

// LoadRequest asks a warehouse to load files.
type LoadRequest struct {
	Conn          Connection
	Table         ObjectRef
	Mode          WriteMode
	Keys          []string
	URIs          []string
	Format        string
	FormatOptions map[string]string
	Schema        *arrow.Schema
	CreateTable   bool
}

// LoadResult reports a finished Load.
type LoadResult struct {
	RowsLoaded int64
}

// ValueKind is the type held by a [Value].
type ValueKind int

// The value kinds.
const (
	KindInt64 ValueKind = iota + 1
	KindUint64
	KindFloat64
	KindString
	KindBytes
	KindBool
	KindDecimal   // exact decimal text in Str
	KindTimestamp // instant in Time (UTC)
	KindDate      // days since epoch in Int
)

// Value is one exact, typed scalar used in filters and bounds.
type Value struct {
	Kind  ValueKind
	Int   int64
	Uint  uint64
	Float float64
	Str   string // KindString and KindDecimal
	Bytes []byte
	Bool  bool
	Time  time.Time
}

// Int64Value returns an int64 Value.
func Int64Value(v int64) *Value { return &Value{Kind: KindInt64, Int: v} }

// Uint64Value returns a uint64 Value, for unsigned columns whose values
// may exceed the range of int64.
func Uint64Value(v uint64) *Value { return &Value{Kind: KindUint64, Uint: v} }

// Float64Value returns a float64 Value. It travels exactly (the IEEE 754
// bits), but a float column makes a poor range key: prefer an exact type.
func Float64Value(v float64) *Value { return &Value{Kind: KindFloat64, Float: v} }

// BoolValue returns a bool Value.
func BoolValue(v bool) *Value { return &Value{Kind: KindBool, Bool: v} }

// StringValue returns a string Value.
func StringValue(v string) *Value { return &Value{Kind: KindString, Str: v} }

// DecimalValue returns an exact decimal Value from its text.
func DecimalValue(text string) *Value { return &Value{Kind: KindDecimal, Str: text} }

// TimestampValue returns an instant Value, normalised to UTC.
func TimestampValue(t time.Time) *Value { return &Value{Kind: KindTimestamp, Time: t.UTC()} }

// DateValue returns a date Value from days since 1970-01-01.
func DateValue(days int32) *Value { return &Value{Kind: KindDate, Int: int64(days)} }

// Arg returns the value as a database/sql argument.
func (v *Value) Arg() any {
	switch v.Kind {
	case KindInt64:
		return v.Int
	case KindUint64:
		return v.Uint
	case KindFloat64:
		return v.Float
	case KindString, KindDecimal:
		return v.Str
	case KindBytes:
		return v.Bytes
	case KindBool:
		return v.Bool
	case KindTimestamp:
		return v.Time
	case KindDate:
		return time.Unix(v.Int*86400, 0).UTC()
	}
	return nil
}

// String renders the value exactly, for state files and messages.
func (v *Value) String() string {
	if v == nil {
		return "<none>"
	}
	switch v.Kind {
	case KindInt64:
		return formatInt(v.Int)
	case KindUint64:
		return formatUint(v.Uint)
	case KindFloat64:
		return formatFloat(v.Float)
	case KindString, KindDecimal:
		return v.Str
	case KindBytes:
		return formatBytes(v.Bytes)
	case KindBool:
		if v.Bool {
			return "true"
		}
		return "false"
	case KindTimestamp:
		return v.Time.UTC().Format(time.RFC3339Nano)
	case KindDate:
		return time.Unix(v.Int*86400, 0).UTC().Format(time.DateOnly)
	}
	return "<invalid>"
}
