package mssql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	mssqldb "github.com/microsoft/go-mssqldb"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// bulkOptions make bulk copy behave like INSERT: constraints are checked
// (otherwise SQL Server marks foreign keys and checks as not trusted, and
// the load needs ALTER TABLE permission), triggers fire, and NULLs stay
// NULL rather than taking column defaults.
var bulkOptions = mssqldb.BulkOptions{CheckConstraints: true, FireTriggers: true, KeepNulls: true}

// mergeSeq is the column of the merge staging table that numbers the rows
// in arrival order, so that the last row of a key wins.
const mergeSeq = "hp_seq"

// Write implements sdk.Writer in one transaction: CREATE TABLE when asked;
// append bulk copies into the table; replace deletes its rows first;
// merge bulk copies into a #temporary table and MERGEs it in. Any failure,
// a broken incoming stream included, rolls everything back.
func (c *Connector) Write(ctx context.Context, req sdk.WriteRequest, records array.RecordReader) (_ *sdk.WriteResult, err error) {
	dsn := req.Conn.DSN
	defer func() { err = withDSN(err, dsn) }()
	switch req.Mode {
	case sdk.Append, sdk.Replace:
	case sdk.Merge:
		if len(req.Keys) == 0 {
			return nil, sdk.InvalidArgumentf("merge needs key columns")
		}
		if len(records.Schema().FieldIndices(mergeSeq)) > 0 {
			return nil, sdk.InvalidArgumentf("a merge stages rows with a column %q, which the stream has too", mergeSeq)
		}
	default:
		return nil, sdk.InvalidArgumentf("unknown write mode %q", req.Mode)
	}
	if req.Table.Name == "" {
		return nil, sdk.InvalidArgumentf("no table to write to")
	}
	schema := records.Schema()
	for _, k := range req.Keys {
		if len(schema.FieldIndices(k)) != 1 {
			return nil, sdk.NotFoundf("merge key %q is not a column of the stream", k)
		}
	}
	// Every column must have a T-SQL type before anything is sent when
	// tables are created from the stream.
	var ddl []string
	if req.CreateTable || req.Mode == sdk.Merge {
		if ddl, err = columnDefs(schema); err != nil {
			return nil, err
		}
	}
	var n int64
	err = c.inTx(ctx, req.Conn, func(tx *sql.Tx) (err error) {
		n, err = write(ctx, tx, req, records, ddl)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.WriteResult{RowsWritten: n}, nil
}

// inTx runs fn in a transaction on one connection of the pool, committed
// if fn succeeds. The connection is closed rather than returned when the
// write fails: after a cancel (ATTENTION) or an error mid-load SQL Server
// may keep the transaction open, and closing the connection is what makes
// it roll back for certain.
func (c *Connector) inTx(ctx context.Context, conn sdk.Connection, fn func(*sql.Tx) error) error {
	db, err := c.db(conn)
	if err != nil {
		return err
	}
	cn, err := db.Conn(ctx)
	if err != nil {
		return dialectErr(err, conn.DSN)
	}
	ok := false
	defer func() {
		if !ok {
			_ = cn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = cn.Close()
	}()
	tx, err := cn.BeginTx(ctx, nil)
	if err != nil {
		return dialectErr(err, conn.DSN)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", dialectErr(err, conn.DSN))
	}
	ok = true
	return nil
}

// createDDL is the column list of a table the write creates: for a merge,
// the keys become its PRIMARY KEY, so that MERGE matches rows by index.
// Key columns are NOT NULL (a primary key requires it) and text and binary
// keys get the longest type an index key can hold.
func createDDL(req sdk.WriteRequest, schema *arrow.Schema, ddl []string) []string {
	if !req.CreateTable || req.Mode != sdk.Merge {
		return ddl
	}
	out := slices.Clone(ddl)
	var keys []string
	for _, k := range req.Keys {
		q := QuoteIdent(k)
		if slices.Contains(keys, q) {
			continue
		}
		keys = append(keys, q)
		i := schema.FieldIndices(k)[0]
		def := strings.TrimSuffix(strings.TrimSuffix(out[i], " NOT NULL"), " NULL")
		def = strings.Replace(def, " nvarchar(max)", " nvarchar(450)", 1) // 900 bytes, the clustered key limit
		def = strings.Replace(def, " varbinary(max)", " varbinary(900)", 1)
		out[i] = def + " NOT NULL"
	}
	return append(out, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
}

func write(ctx context.Context, tx *sql.Tx, req sdk.WriteRequest, records array.RecordReader, ddl []string) (int64, error) {
	dsn := req.Conn.DSN
	table := objectName(req.Table)
	exec := func(what, q string) error {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", what, dialectErr(err, dsn))
		}
		return nil
	}
	if req.CreateTable {
		if err := exec("creating "+table, createTableSQL(req.Table, createDDL(req, records.Schema(), ddl))); err != nil {
			return 0, err
		}
	}
	// Read inside the transaction: a table it just created is not visible
	// outside.
	cols, collations, err := describe(ctx, tx, req.Table)
	if err != nil {
		return 0, dialectErr(err, dsn)
	}
	conv, err := converters(records.Schema(), cols, req.Table)
	if err != nil {
		return 0, err
	}
	if req.Mode != sdk.Merge {
		if req.Mode == sdk.Replace {
			if err := exec("deleting the rows of "+table, "DELETE FROM "+table); err != nil {
				return 0, err
			}
		}
		return bulkCopy(ctx, tx, table, records, conv, false, dsn)
	}
	temp, err := tempName()
	if err != nil {
		return 0, err
	}
	if ddl, err = stagingDefs(records.Schema(), collations); err != nil {
		return 0, err
	}
	if err := exec("creating the staging table "+temp, "CREATE TABLE "+temp+" ("+strings.Join(ddl, ", ")+", "+QuoteIdent(mergeSeq)+" bigint NOT NULL)"); err != nil {
		return 0, err
	}
	// The staging table has the stream's own types.
	staged := make([]converter, len(conv))
	for i, f := range records.Schema().Fields() {
		staged[i] = converter{name: f.Name, class: classOf(f.Type)}
	}
	n, err := bulkCopy(ctx, tx, temp, records, staged, true, dsn)
	if err != nil {
		return 0, err
	}
	if err := exec("merging into "+table, MergeSQL(req.Table, temp, names(records.Schema()), req.Keys)); err != nil {
		return 0, err
	}
	return n, exec("dropping "+temp, "DROP TABLE "+temp)
}

// createTableSQL creates the table unless it exists. Columns state NULL
// or NOT NULL, since the default depends on session settings.
func createTableSQL(ref sdk.ObjectRef, columnDefs []string) string {
	name := objectName(ref)
	return "IF OBJECT_ID(N'" + strings.ReplaceAll(name, "'", "''") + "', N'U') IS NULL CREATE TABLE " + name + " (" + strings.Join(columnDefs, ", ") + ")"
}

// MergeSQL merges the staging table into target: one source row per key
// (the last to arrive), matched rows updated, the others inserted. HOLDLOCK
// keeps a concurrent writer from inserting the same key between MERGE's
// match and its insert.
func MergeSQL(target sdk.ObjectRef, temp string, cols, keys []string) string {
	isKey := map[string]bool{}
	var on, part []string
	for _, k := range keys {
		isKey[k] = true
		on = append(on, "t."+QuoteIdent(k)+" = s."+QuoteIdent(k))
		part = append(part, QuoteIdent(k))
	}
	var list, set, vals []string
	for _, c := range cols {
		q := QuoteIdent(c)
		list = append(list, q)
		vals = append(vals, "s."+q)
		if !isKey[c] {
			set = append(set, "t."+q+" = s."+q)
		}
	}
	seq := QuoteIdent(mergeSeq)
	src := "SELECT " + strings.Join(list, ", ") + " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY " + strings.Join(part, ", ") +
		" ORDER BY " + seq + " DESC) AS [hp_rn] FROM " + temp + ") AS d WHERE [hp_rn] = 1"
	q := "MERGE " + objectName(target) + " WITH (HOLDLOCK) AS t USING (" + src + ") AS s ON " + strings.Join(on, " AND ")
	if len(set) > 0 {
		q += " WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ")
	}
	return q + " WHEN NOT MATCHED THEN INSERT (" + strings.Join(list, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ");"
}

func names(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

func tempName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "[#hp_merge_" + hex.EncodeToString(b[:]) + "]", nil
}

// bulkCopy streams records into table with the driver's bulk copy
// (INSERT BULK). seq appends each row's arrival number.
func bulkCopy(ctx context.Context, tx *sql.Tx, table string, records array.RecordReader, conv []converter, seq bool, dsn string) (int64, error) {
	cols := make([]string, len(conv))
	for i, cv := range conv {
		cols[i] = cv.name
	}
	if seq {
		cols = append(cols, mergeSeq)
	}
	stmt, err := tx.PrepareContext(ctx, mssqldb.CopyIn(table, bulkOptions, cols...))
	if err != nil {
		return 0, dialectErr(err, dsn)
	}
	defer stmt.Close()
	// Once rows are on the wire the BULKLOAD message must end (DONE) before
	// the connection can roll back; the rolled-back transaction discards it.
	abort := func(err error) (int64, error) {
		_, _ = stmt.ExecContext(ctx)
		return 0, err
	}
	row := make([]any, len(cols))
	var n int64
	for records.Next() {
		rec := records.RecordBatch()
		get := make([]func(int) (any, error), len(conv))
		for i, cv := range conv {
			get[i] = cv.values(rec.Column(i))
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			for i, g := range get {
				v, err := g(r)
				if err != nil {
					return abort(fmt.Errorf("column %q: %w", conv[i].name, err))
				}
				row[i] = v
			}
			if seq {
				row[len(conv)] = n
			}
			if _, err := stmt.ExecContext(ctx, row...); err != nil {
				return abort(fmt.Errorf("bulk copy into %s: %w", table, dialectErr(err, dsn)))
			}
			n++
		}
	}
	if err := records.Err(); err != nil {
		return abort(fmt.Errorf("the incoming stream failed, nothing was written: %w", err))
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return 0, fmt.Errorf("bulk copy into %s: %w", table, dialectErr(err, dsn))
	}
	return n, nil
}

// class is how a target column takes values.
type class int

const (
	clsInt class = iota + 1
	clsDecimal
	clsFloat
	clsBit
	clsText
	clsBinary
	clsTime
	clsTimeOffset // datetimeoffset: takes the value's own offset
	clsGUID
)

func classOfNative(native string) (class, bool) {
	switch baseType(native) {
	case "tinyint", "smallint", "int", "bigint":
		return clsInt, true
	case "decimal", "numeric", "money", "smallmoney":
		return clsDecimal, true
	case "real", "float":
		return clsFloat, true
	case "bit":
		return clsBit, true
	case "char", "varchar", "nchar", "nvarchar", "text", "ntext", "xml":
		return clsText, true
	case "binary", "varbinary", "image":
		return clsBinary, true
	case "date", "time", "datetime2", "datetime", "smalldatetime":
		return clsTime, true
	case "datetimeoffset":
		return clsTimeOffset, true
	case "uniqueidentifier":
		return clsGUID, true
	}
	return 0, false
}

// classOf is the class of the column columnDefs declares for t.
func classOf(t arrow.DataType) class {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return clsInt
	case arrow.UINT64, arrow.DECIMAL128, arrow.DECIMAL256:
		return clsDecimal
	case arrow.FLOAT32, arrow.FLOAT64:
		return clsFloat
	case arrow.BOOL:
		return clsBit
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY:
		return clsBinary
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64:
		return clsTime
	}
	if _, ok := sqlsource.OffsetUnit(t); ok {
		return clsTimeOffset
	}
	return clsText
}

// converter turns one stream column into values for one target column.
type converter struct {
	name  string
	class class
}

// converters pairs the stream's columns with the table's, by name.
func converters(s *arrow.Schema, cols []sqlsource.ColumnMeta, ref sdk.ObjectRef) ([]converter, error) {
	out := make([]converter, s.NumFields())
	for i, f := range s.Fields() {
		var meta *sqlsource.ColumnMeta
		for j := range cols {
			if cols[j].Name == f.Name {
				meta = &cols[j]
			}
		}
		if meta == nil {
			return nil, sdk.NotFoundf("table %s has no column %q", ref, f.Name)
		}
		if _, err := valueOf(f.Type); err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		cl, ok := classOfNative(meta.NativeType)
		if !ok {
			return nil, sdk.Errorf(sdk.ErrUnsupportedType, "column %q of %s is %s, which cannot be written", f.Name, ref, meta.NativeType)
		}
		out[i] = converter{name: f.Name, class: cl}
	}
	return out, nil
}

// decimalText is an exact decimal's text, kept apart from strings.
type decimalText string

// valueOf reads Arrow values as Go values: int64, uint64, float32,
// float64, bool, string, decimalText, []byte or time.Time (UTC, or in the
// row's offset for arrow.timestamp_with_offset).
func valueOf(t arrow.DataType) (func(a arrow.Array, i int) any, error) {
	if _, ok := sqlsource.OffsetUnit(t); ok {
		return func(a arrow.Array, i int) any { return a.(*extensions.TimestampWithOffsetArray).Value(i) }, nil
	}
	switch t.ID() {
	case arrow.INT8:
		return func(a arrow.Array, i int) any { return int64(a.(*array.Int8).Value(i)) }, nil
	case arrow.INT16:
		return func(a arrow.Array, i int) any { return int64(a.(*array.Int16).Value(i)) }, nil
	case arrow.INT32:
		return func(a arrow.Array, i int) any { return int64(a.(*array.Int32).Value(i)) }, nil
	case arrow.INT64:
		return func(a arrow.Array, i int) any { return a.(*array.Int64).Value(i) }, nil
	case arrow.UINT8:
		return func(a arrow.Array, i int) any { return int64(a.(*array.Uint8).Value(i)) }, nil
	case arrow.UINT16:
		return func(a arrow.Array, i int) any { return int64(a.(*array.Uint16).Value(i)) }, nil
	case arrow.UINT32:
		return func(a arrow.Array, i int) any { return int64(a.(*array.Uint32).Value(i)) }, nil
	case arrow.UINT64:
		return func(a arrow.Array, i int) any { return a.(*array.Uint64).Value(i) }, nil
	case arrow.FLOAT32:
		return func(a arrow.Array, i int) any { return a.(*array.Float32).Value(i) }, nil
	case arrow.FLOAT64:
		return func(a arrow.Array, i int) any { return a.(*array.Float64).Value(i) }, nil
	case arrow.BOOL:
		return func(a arrow.Array, i int) any { return a.(*array.Boolean).Value(i) }, nil
	case arrow.STRING:
		return func(a arrow.Array, i int) any { return a.(*array.String).Value(i) }, nil
	case arrow.LARGE_STRING:
		return func(a arrow.Array, i int) any { return a.(*array.LargeString).Value(i) }, nil
	case arrow.STRING_VIEW:
		return func(a arrow.Array, i int) any { return a.(*array.StringView).Value(i) }, nil
	case arrow.BINARY:
		return func(a arrow.Array, i int) any { return a.(*array.Binary).Value(i) }, nil
	case arrow.LARGE_BINARY:
		return func(a arrow.Array, i int) any { return a.(*array.LargeBinary).Value(i) }, nil
	case arrow.BINARY_VIEW:
		return func(a arrow.Array, i int) any { return a.(*array.BinaryView).Value(i) }, nil
	case arrow.FIXED_SIZE_BINARY:
		return func(a arrow.Array, i int) any { return a.(*array.FixedSizeBinary).Value(i) }, nil
	case arrow.DECIMAL128:
		scale := t.(*arrow.Decimal128Type).Scale
		return func(a arrow.Array, i int) any { return decimalText(a.(*array.Decimal128).Value(i).ToString(scale)) }, nil
	case arrow.DECIMAL256:
		scale := t.(*arrow.Decimal256Type).Scale
		return func(a arrow.Array, i int) any { return decimalText(a.(*array.Decimal256).Value(i).ToString(scale)) }, nil
	case arrow.DATE32:
		return func(a arrow.Array, i int) any { return a.(*array.Date32).Value(i).ToTime().UTC() }, nil
	case arrow.DATE64:
		return func(a arrow.Array, i int) any { return a.(*array.Date64).Value(i).ToTime().UTC() }, nil
	case arrow.TIMESTAMP:
		unit := t.(*arrow.TimestampType).Unit
		return func(a arrow.Array, i int) any { return a.(*array.Timestamp).Value(i).ToTime(unit).UTC() }, nil
	case arrow.TIME32:
		unit := t.(*arrow.Time32Type).Unit
		return func(a arrow.Array, i int) any { return dayZero.Add(a.(*array.Time32).Value(i).ToTime(unit).Sub(epoch)) }, nil
	case arrow.TIME64:
		unit := t.(*arrow.Time64Type).Unit
		return func(a arrow.Array, i int) any { return dayZero.Add(a.(*array.Time64).Value(i).ToTime(unit).Sub(epoch)) }, nil
	}
	return nil, sdk.Errorf(sdk.ErrUnsupportedType, "type %s cannot be written to SQL Server", t)
}

var (
	dayZero = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	epoch   = time.Unix(0, 0).UTC()
)

// values returns the driver values of a column: nil for NULL, else what
// go-mssqldb's bulk copy takes for the target class. Numbers go to
// decimal columns as text: the driver sends an integer's digits unscaled,
// which a decimal(p, s > 0) column would read divided by 10^s.
func (cv converter) values(a arrow.Array) func(int) (any, error) {
	get, _ := valueOf(a.DataType())
	return func(i int) (any, error) {
		if a.IsNull(i) {
			return nil, nil
		}
		return adapt(get(a, i), cv.class)
	}
}

// adapt shapes v for a column of class cl; a value that needs no change
// is returned as it came, so it is not boxed again.
func adapt(v any, cl class) (any, error) {
	bad := func() (any, error) {
		return nil, sdk.Errorf(sdk.ErrUnsupportedType, "a %T value cannot be written to a %s column", v, className[cl])
	}
	switch cl {
	case clsInt:
		switch x := v.(type) {
		case int64:
			return v, nil
		case uint64:
			if x > math.MaxInt64 {
				return nil, sdk.InvalidArgumentf("%d does not fit an integer column", x)
			}
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case decimalText:
			// A decimal with a zero fraction, e.g. "42.000".
			whole, frac, _ := strings.Cut(string(x), ".")
			n, err := strconv.ParseInt(whole, 10, 64)
			if err != nil || strings.Trim(frac, "0") != "" {
				return nil, sdk.InvalidArgumentf("%s is not an integer that fits the column", x)
			}
			return n, nil
		}
	case clsDecimal:
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10), nil
		case uint64:
			return strconv.FormatUint(x, 10), nil
		case float32:
			return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		case decimalText:
			return string(x), nil
		case string:
			return v, nil
		}
	case clsFloat:
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case uint64:
			return float64(x), nil
		case float32:
			return float64(x), nil
		case float64:
			return v, nil
		case decimalText:
			return strconv.ParseFloat(string(x), 64)
		}
	case clsBit:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		}
	case clsText:
		switch x := v.(type) {
		case string:
			return v, nil
		case decimalText:
			return string(x), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case uint64:
			return strconv.FormatUint(x, 10), nil
		case float32:
			return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case bool:
			return strconv.FormatBool(x), nil
		case time.Time:
			if x.Location() != time.UTC {
				return x.Format("2006-01-02 15:04:05.999999999 -07:00"), nil
			}
			return x.Format("2006-01-02 15:04:05.999999999"), nil
		case []byte:
			return string(x), nil
		}
	case clsBinary:
		switch x := v.(type) {
		case []byte:
			if x == nil {
				return []byte{}, nil // empty, not NULL
			}
			return v, nil
		case string:
			return []byte(x), nil
		}
	case clsTime, clsTimeOffset:
		if x, ok := v.(time.Time); ok {
			if y := x.UTC().Year(); y < 1 || y > 9999 {
				return nil, sdk.InvalidArgumentf("%s is outside SQL Server's years 0001..9999", x.Format(time.RFC3339Nano))
			}
			if cl == clsTime {
				// Columns without a zone hold UTC wall time.
				return x.UTC(), nil
			}
			return v, nil
		}
	case clsGUID:
		switch x := v.(type) {
		case string:
			return guidWire(x)
		case []byte:
			if len(x) == 16 {
				return append([]byte(nil), x...), nil
			}
		}
	}
	return bad()
}

var className = map[class]string{clsInt: "integer", clsDecimal: "decimal", clsFloat: "float", clsBit: "bit", clsText: "text",
	clsBinary: "binary", clsTime: "date/time", clsTimeOffset: "datetimeoffset", clsGUID: "uniqueidentifier"}

// guidWire turns a canonical GUID ("6F9619FF-8B86-D011-B42D-00C04FD430C8",
// as reads produce) into the bytes bulk copy sends: the first three groups
// little-endian.
func guidWire(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Trim(s, "{}"), "-", ""))
	if err != nil || len(b) != 16 {
		return nil, sdk.InvalidArgumentf("%q is not a uniqueidentifier", s)
	}
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return b, nil
}

// columnDefs declares the stream's columns in T-SQL.
func columnDefs(s *arrow.Schema) ([]string, error) { return defs(s, nil) }

// stagingDefs declares the stream's columns for a #staging table whose
// rows are compared with (or assigned to) the table's. A #table's
// character columns take tempdb's default collation, which need not be
// the database's nor the table's column's: comparing keys across
// collations fails (error 468, "Cannot resolve the collation conflict")
// or, with COLLATE clauses, compares otherwise than the table does. So
// each text column takes the collation of the table's column of its
// name (collations, from sys.columns), else the database's.
func stagingDefs(s *arrow.Schema, collations map[string]string) ([]string, error) {
	if collations == nil {
		collations = map[string]string{}
	}
	return defs(s, collations)
}

// collationName matches a collation name as sys.columns reports it
// (COLLATE takes a bare name, not a quoted identifier).
var collationName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// defs declares the columns; with collations (non-nil) text columns get
// a COLLATE clause.
func defs(s *arrow.Schema, collations map[string]string) ([]string, error) {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		t, err := ddlType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		if collations != nil && strings.HasPrefix(t, "nvarchar") {
			c := collations[f.Name]
			if !collationName.MatchString(c) {
				c = "DATABASE_DEFAULT"
			}
			t += " COLLATE " + c
		}
		null := " NULL"
		if !f.Nullable {
			null = " NOT NULL"
		}
		out[i] = QuoteIdent(f.Name) + " " + t + null
	}
	return out, nil
}

// keyType is the type of a key column of a table PlanTable creates: an
// index key holds at most 900 bytes (1700 for a nonclustered one), so
// text and binary of unbounded size cannot be keys.
func keyType(t arrow.DataType, nkeys int) (string, error) {
	switch t.(type) {
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return fmt.Sprintf("nvarchar(%d)", 450/nkeys), nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType:
		return fmt.Sprintf("varbinary(%d)", 900/nkeys), nil
	}
	return ddlType(t)
}

// ddlType is the T-SQL type a created table uses for an Arrow type. The
// fractional-second digits follow the time unit, so reading the table
// back gives the same Arrow type.
func ddlType(t arrow.DataType) (string, error) {
	digits := map[arrow.TimeUnit]int{arrow.Second: 0, arrow.Millisecond: 3, arrow.Microsecond: 6, arrow.Nanosecond: 7}
	switch t := t.(type) {
	case *arrow.Int8Type, *arrow.Int16Type:
		return "smallint", nil
	case *arrow.Int32Type, *arrow.Uint16Type:
		return "int", nil
	case *arrow.Int64Type, *arrow.Uint32Type:
		return "bigint", nil
	case *arrow.Uint8Type:
		return "tinyint", nil
	case *arrow.Uint64Type:
		return "decimal(20,0)", nil
	case *arrow.BooleanType:
		return "bit", nil
	case *arrow.Float32Type:
		return "real", nil
	case *arrow.Float64Type:
		return "float", nil
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
	case *arrow.Decimal256Type:
		if t.Precision <= 38 {
			return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale), nil
		}
		return "", sdk.Errorf(sdk.ErrUnsupportedType, "%s has more than the 38 digits SQL Server's decimal holds", t)
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return "nvarchar(max)", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType:
		return "varbinary(max)", nil
	case *arrow.FixedSizeBinaryType:
		if t.ByteWidth <= 8000 {
			return fmt.Sprintf("binary(%d)", t.ByteWidth), nil
		}
		return "varbinary(max)", nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return "date", nil
	case *arrow.TimestampType:
		if t.TimeZone != "" {
			return fmt.Sprintf("datetimeoffset(%d)", digits[t.Unit]), nil
		}
		return fmt.Sprintf("datetime2(%d)", digits[t.Unit]), nil
	case *arrow.Time32Type:
		return fmt.Sprintf("time(%d)", digits[t.Unit]), nil
	case *arrow.Time64Type:
		return fmt.Sprintf("time(%d)", digits[t.Unit]), nil
	}
	if u, ok := sqlsource.OffsetUnit(t); ok {
		return fmt.Sprintf("datetimeoffset(%d)", digits[u]), nil
	}
	return "", sdk.Errorf(sdk.ErrUnsupportedType, "type %s has no SQL Server column type", t)
}
