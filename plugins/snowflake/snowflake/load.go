package snowflake

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	sf "github.com/snowflakedb/gosnowflake"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// The LoadRequest.FormatOptions hp sends with a run.
const (
	// OptStage names the external stage (it overrides the connection's
	// stage option).
	OptStage = "stage"
	// OptRows is the manifest's total_rows: COPY must load exactly these.
	OptRows = "rows"
	// OptCSVHeader, OptCSVDelimiter and OptCSVNull are the manifest's CSV
	// settings.
	OptCSVHeader    = "csv_header"
	OptCSVDelimiter = "csv_delimiter"
	OptCSVNull      = "csv_null"
	// OptCompression is the files' compression (gzip, zstd, none; the
	// codec inside Parquet files needs none).
	OptCompression = "compression"
)

// Metadata columns of a merge's temporary table: the file and row each
// row came from, to keep the last row of each key.
const (
	fileCol = "HP_FILE"
	rowCol  = "HP_ROW"
)

// Load copies a run's files from the stage into the table, in one
// transaction, and checks the rows loaded against the manifest.
func (*Connector) Load(ctx context.Context, req sdk.LoadRequest) (*sdk.LoadResult, error) {
	l, err := newLoad(req)
	if err != nil {
		return nil, err
	}
	conn, end, err := session(ctx, req.Conn)
	if err != nil {
		return nil, err
	}
	defer end()
	l.conn = conn
	n, err := l.run(ctx)
	if err != nil {
		return nil, classify(err, req.Conn.DSN)
	}
	return &sdk.LoadResult{RowsLoaded: n}, nil
}

type load struct {
	req   sdk.LoadRequest
	conn  *sql.Conn
	stage string
	rows  int64
	// files names the files to copy: the directory below the stage and
	// the names in it.
	files func(ctx context.Context) (dir string, names []string, err error)
	// upload, when set, puts the files into the stage once the table
	// (and so its table stage) exists.
	upload func(ctx context.Context) error
	// tzText says the Parquet files hold arrow.timestamp_with_offset
	// columns as text with the offset (Write's own files), not as
	// Arrow's struct (a published run).
	tzText bool
}

// CheckLoad refuses, before hp publishes a run, what Load would refuse
// from the request alone: the stage's name, the format, mode and keys,
// a Parquet column COPY cannot load (checkTransform) and a column type
// the table's DDL has none for. It sends nothing to Snowflake.
func (*Connector) CheckLoad(_ context.Context, req sdk.LoadRequest) error {
	l, err := checkedLoad(req)
	if err != nil {
		return err
	}
	if err := l.checkTransform(); err != nil {
		return err
	}
	if req.CreateTable {
		if _, err := createTable(req.Table, req.Schema, false); err != nil {
			return err
		}
	}
	return nil
}

func newLoad(req sdk.LoadRequest) (*load, error) {
	l, err := checkedLoad(req)
	if err != nil {
		return nil, err
	}
	rows, err := strconv.ParseInt(req.FormatOptions[OptRows], 10, 64)
	if err != nil {
		return nil, sdk.InvalidArgumentf("load request without the manifest's row count (%s=%q)", OptRows, req.FormatOptions[OptRows])
	}
	l.rows = rows
	return l, nil
}

// checkedLoad is the load of req, checked but for its row count.
func checkedLoad(req sdk.LoadRequest) (*load, error) {
	l := &load{req: req, stage: req.FormatOptions[OptStage]}
	l.files = l.stageFiles
	if l.stage == "" {
		l.stage = req.Conn.Option("stage", "")
	}
	if l.stage == "" {
		return nil, sdk.InvalidArgumentf("loading into Snowflake needs an external stage over the run's S3 prefix: give --stage NAME (or the connection's stage option)")
	}
	for _, r := range l.stage {
		if !(r == '_' || r == '.' || r == '$' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return nil, sdk.InvalidArgumentf("stage %q: a stage name is letters, digits, _ and $, optionally schema.name", l.stage)
		}
	}
	switch req.Format {
	case "parquet", "csv":
	default:
		return nil, sdk.InvalidArgumentf("Snowflake loads Parquet and CSV runs, not %q", req.Format)
	}
	switch req.Mode {
	case sdk.Replace, sdk.Append:
	case sdk.Merge:
		if len(req.Keys) == 0 {
			return nil, sdk.InvalidArgumentf("merge needs key columns")
		}
	default:
		return nil, sdk.InvalidArgumentf("write mode %q", req.Mode)
	}
	if req.Schema == nil || req.Schema.NumFields() == 0 {
		return nil, sdk.InvalidArgumentf("load request without the run's schema")
	}
	return l, nil
}

// checkTransform refuses, before Snowflake is touched, a Parquet run
// with an arrow.timestamp_with_offset column: Parquet holds it as a
// struct of the UTC instant and the offset's minutes, which no COPY
// transformation hp could check here turns into a TIMESTAMP_TZ.
func (l *load) checkTransform() error {
	if l.req.Format != "parquet" || l.tzText {
		return nil
	}
	for _, f := range l.req.Schema.Fields() {
		if extName(f.Type) == "arrow.timestamp_with_offset" {
			return sdk.Errorf(sdk.ErrUnsupportedType, "column %q (a timestamp with its offset, TIMESTAMP_TZ) is a struct in a Parquet run, "+
				"which COPY does not load into TIMESTAMP_TZ: publish the run with --format csv (the offset travels in the text), or load without --stage (the Write path)", f.Name)
		}
	}
	return nil
}

// extName is an extension type's name, "" for other types.
func extName(t arrow.DataType) string {
	if e, ok := t.(arrow.ExtensionType); ok {
		return e.ExtensionName()
	}
	return ""
}

// transformed says a Parquet load needs a COPY transformation: a
// JSON column becomes VARIANT through PARSE_JSON (loaded by name it
// would be a JSON string), a timestamp with its offset (text in Write's
// files) TIMESTAMP_TZ through a cast.
func (l *load) transformed() bool {
	if l.req.Format != "parquet" {
		return false
	}
	for _, f := range l.req.Schema.Fields() {
		switch extName(f.Type) {
		case "arrow.json", "arrow.timestamp_with_offset":
			return true
		}
	}
	return false
}

func (l *load) exec(ctx context.Context, q string) error {
	_, err := l.conn.ExecContext(ctx, q)
	return err
}

func (l *load) run(ctx context.Context) (loaded int64, err error) {
	if err := l.checkTransform(); err != nil {
		return 0, err
	}
	dir, files, err := l.files(ctx)
	if err != nil {
		return 0, err
	}
	target := tableName(l.req.Table)
	created := false
	if l.req.CreateTable {
		ddl, err := createTable(l.req.Table, l.req.Schema, false)
		if err != nil {
			return 0, err
		}
		// DDL commits: it runs before the transaction. An existing table
		// is kept as it is.
		if err := l.exec(ctx, ddl); err != nil {
			if !isCode(err, 2002) {
				return 0, fmt.Errorf("creating %s: %w", target, err)
			}
		} else {
			created = true
		}
	}
	defer func() {
		if err != nil && created {
			if derr := l.exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+target); derr != nil {
				err = fmt.Errorf("%w; the table %s, created for this load, could not be dropped again (%v): drop it before loading again", err, target, derr)
			}
		}
	}()
	if l.upload != nil {
		if err := l.upload(ctx); err != nil {
			return 0, err
		}
	}
	into := target
	if l.req.Mode == sdk.Merge && len(files) > 0 {
		tmp := sdk.ObjectRef{Schema: l.req.Table.Schema, Name: "HP_LOAD_" + randSuffix()}
		ddl, err := createTable(tmp, l.req.Schema, true, ident(fileCol)+" VARCHAR", ident(rowCol)+" NUMBER(19,0)")
		if err != nil {
			return 0, err
		}
		if err := l.exec(ctx, ddl); err != nil {
			return 0, fmt.Errorf("creating the temporary table of the merge: %w", err)
		}
		into = tableName(tmp)
		// A failed drop is no failure of the load: its rows are committed
		// by then (an error would have the user load them again), and a
		// temporary table ends with the session.
		defer func() { _ = l.exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+into) }()
	}
	if err := l.exec(ctx, "BEGIN"); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = l.exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if l.req.Mode == sdk.Replace {
		if err := l.exec(ctx, "DELETE FROM "+target); err != nil {
			return 0, fmt.Errorf("deleting the rows of %s: %w", target, err)
		}
	}
	if len(files) > 0 {
		if loaded, err = l.copy(ctx, into, dir, files); err != nil {
			return 0, err
		}
	}
	if l.req.Mode == sdk.Merge && len(files) > 0 {
		if err := l.exec(ctx, l.mergeSQL(target, into)); err != nil {
			return 0, fmt.Errorf("merging into %s: %w", target, err)
		}
	}
	if err := l.exec(ctx, "COMMIT"); err != nil {
		return 0, err
	}
	return loaded, nil
}

// stageFiles asks where the stage points and names the run's files
// relative to it: the directory below the stage and the file names in it.
func (l *load) stageFiles(ctx context.Context) (string, []string, error) {
	if len(l.req.URIs) == 0 {
		return "", nil, nil
	}
	loc, err := l.stageURL(ctx)
	if err != nil {
		return "", nil, err
	}
	dir := ""
	var files []string
	for i, u := range l.req.URIs {
		rel, ok := strings.CutPrefix(u, loc)
		if !ok {
			return "", nil, sdk.Errorf(sdk.ErrFailedPrecondition, "file %s is not under stage %s (%s): the stage must cover the S3 prefix hp publishes to", u, l.stage, loc)
		}
		d, f := path.Split(rel)
		if i == 0 {
			dir = d
		} else if d != dir {
			return "", nil, sdk.InvalidArgumentf("the run's files are in more than one directory (%s, %s)", dir, d)
		}
		if strings.ContainsAny(f, "'\\") {
			return "", nil, sdk.InvalidArgumentf("file name %q: quotes and backslashes are not supported", f)
		}
		files = append(files, f)
	}
	return strings.TrimSuffix(dir, "/"), files, nil
}

// stageURL reads the stage's URL from DESC STAGE, with a trailing slash.
func (l *load) stageURL(ctx context.Context) (string, error) {
	rows, err := l.conn.QueryContext(ctx, "DESC STAGE "+l.stage)
	if err != nil {
		return "", fmt.Errorf("describing stage %s: %w", l.stage, err)
	}
	var loc string
	err = eachRow(rows, func(m map[string]sql.NullString) error {
		if loc != "" || m["parent_property"].String != "STAGE_LOCATION" || m["property"].String != "URL" {
			return nil
		}
		var urls []string
		if err := json.Unmarshal([]byte(m["property_value"].String), &urls); err != nil || len(urls) != 1 {
			return fmt.Errorf("stage %s: URL %q is not one location", l.stage, m["property_value"].String)
		}
		loc = urls[0]
		if !strings.HasSuffix(loc, "/") {
			loc += "/"
		}
		return nil
	})
	if err != nil || loc != "" {
		return loc, err
	}
	return "", sdk.Errorf(sdk.ErrFailedPrecondition, "stage %s has no URL: hp loads from an external stage over S3", l.stage)
}

func sqlString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}

// copySQL is the COPY INTO for the run's files.
func (l *load) copySQL(into, dir string, files []string) string {
	var b strings.Builder
	from := "@" + l.stage
	if dir != "" {
		from += "/" + dir + "/"
	}
	if l.transformed() {
		return l.transformSQL(into, from, files)
	}
	b.WriteString("COPY INTO " + into + " FROM " + from)
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = sqlString(f)
	}
	b.WriteString(" FILES=(" + strings.Join(quoted, ", ") + ")")
	o := l.req.FormatOptions
	if l.req.Format == "parquet" {
		b.WriteString(" FILE_FORMAT=(TYPE=PARQUET)")
	} else {
		comp := strings.ToUpper(o[OptCompression])
		if comp == "" {
			comp = "AUTO"
		}
		delim := o[OptCSVDelimiter]
		if delim == "" {
			delim = ","
		}
		// hp writes NULL as an unquoted empty field (EMPTY_FIELD_AS_NULL) and
		// the empty string as "", unless --csv-null names a text for NULL.
		nullIf := ""
		if o[OptCSVNull] != "" {
			nullIf = sqlString(o[OptCSVNull])
		}
		// hp writes binary as base64 in text formats; Snowflake's default
		// is hex.
		fmt.Fprintf(&b, " FILE_FORMAT=(TYPE=CSV PARSE_HEADER=%s FIELD_DELIMITER=%s FIELD_OPTIONALLY_ENCLOSED_BY='\"' EMPTY_FIELD_AS_NULL=TRUE NULL_IF=(%s) BINARY_FORMAT=BASE64 COMPRESSION=%s)",
			strings.ToUpper(strconv.FormatBool(o[OptCSVHeader] != "false")), sqlString(delim), nullIf, comp)
	}
	if l.req.Format == "parquet" || o[OptCSVHeader] != "false" {
		b.WriteString(" MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE")
	}
	if l.req.Mode == sdk.Merge {
		b.WriteString(" INCLUDE_METADATA=(" + ident(fileCol) + "=METADATA$FILENAME, " + ident(rowCol) + "=METADATA$FILE_ROW_NUMBER)")
	}
	b.WriteString(" ON_ERROR=ABORT_STATEMENT")
	if l.req.Mode == sdk.Replace {
		// The DELETE emptied the table: reload files loaded before.
		b.WriteString(" FORCE=TRUE")
	}
	return b.String()
}

// transformSQL is the COPY with a transformation for Parquet files with
// JSON or TIMESTAMP_TZ columns: each column selected from the file by
// its exact name ($1:"name") and cast to the column's type, JSON parsed,
// and for a merge the file and row each row came from.
func (l *load) transformSQL(into, from string, files []string) string {
	var cols, sel []string
	for _, f := range l.req.Schema.Fields() {
		cols = append(cols, ident(f.Name))
		v := `$1:"` + strings.ReplaceAll(f.Name, `"`, `""`) + `"`
		typ, _ := columnType(f) // checked when the table was made
		if extName(f.Type) == "arrow.json" {
			sel = append(sel, "PARSE_JSON("+v+")")
		} else {
			sel = append(sel, v+"::"+typ)
		}
	}
	if l.req.Mode == sdk.Merge {
		cols = append(cols, ident(fileCol), ident(rowCol))
		sel = append(sel, "METADATA$FILENAME", "METADATA$FILE_ROW_NUMBER")
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = sqlString(f)
	}
	q := "COPY INTO " + into + " (" + strings.Join(cols, ", ") + ") FROM (SELECT " + strings.Join(sel, ", ") + " FROM " + from + ")" +
		" FILES=(" + strings.Join(quoted, ", ") + ") FILE_FORMAT=(TYPE=PARQUET) ON_ERROR=ABORT_STATEMENT"
	if l.req.Mode == sdk.Replace {
		q += " FORCE=TRUE"
	}
	return q
}

// copy runs the COPY and checks its result: every file LOADED, the rows
// the manifest lists. Append alone may find the run in the load history
// (a retry of a load that committed): then COPY processes no file and
// loads nothing.
func (l *load) copy(ctx context.Context, into, dir string, files []string) (int64, error) {
	var loaded int64
	processed := 0
	// COPY takes at most maxCopyFiles names: a larger run is copied in
	// several statements of the same transaction.
	for start := 0; start < len(files); start += maxCopyFiles {
		n, p, err := l.copyOnce(ctx, into, dir, files[start:min(start+maxCopyFiles, len(files))])
		if err != nil {
			return 0, err
		}
		loaded, processed = loaded+n, processed+p
	}
	if processed == 0 && l.req.Mode == sdk.Append {
		return 0, nil
	}
	if processed != len(files) || loaded != l.rows {
		return 0, sdk.Errorf(sdk.ErrFailedPrecondition, "COPY INTO %s loaded %d rows from %d files; the manifest lists %d rows in %d files: nothing was committed", into, loaded, processed, l.rows, len(files))
	}
	return loaded, nil
}

// maxCopyFiles is Snowflake's limit on the names in COPY's FILES.
var maxCopyFiles = 1000

// copyOnce runs one COPY and returns the rows it loaded and the files it
// processed, each of which must be LOADED.
func (l *load) copyOnce(ctx context.Context, into, dir string, files []string) (loaded int64, processed int, err error) {
	rows, err := l.conn.QueryContext(ctx, l.copySQL(into, dir, files))
	if err != nil {
		return 0, 0, fmt.Errorf("COPY INTO %s: %w", into, err)
	}
	err = eachRow(rows, func(m map[string]sql.NullString) error {
		if _, ok := m["rows_loaded"]; !ok {
			return nil // "Copy executed with 0 files processed."
		}
		processed++
		if st := m["status"].String; st != "LOADED" {
			return fmt.Errorf("COPY INTO %s: file %s: %s: %s", into, m["file"].String, st, m["first_error"].String)
		}
		n, err := strconv.ParseInt(m["rows_loaded"].String, 10, 64)
		if err != nil {
			return fmt.Errorf("COPY INTO %s: rows_loaded %q", into, m["rows_loaded"].String)
		}
		loaded += n
		return nil
	})
	return loaded, processed, err
}

// mergeSQL merges the temporary table into the target: the last row of
// each key (the last file, then the last row in it) wins.
func (l *load) mergeSQL(target, tmp string) string {
	var keys, on []string
	isKey := map[string]bool{}
	for _, k := range l.req.Keys {
		keys = append(keys, ident(k))
		on = append(on, "T."+ident(k)+" = S."+ident(k))
		isKey[ident(k)] = true
	}
	var set, cols, vals []string
	for _, f := range l.req.Schema.Fields() {
		c := ident(f.Name)
		if !isKey[c] {
			set = append(set, "T."+c+" = S."+c)
		}
		cols = append(cols, c)
		vals = append(vals, "S."+c)
	}
	q := "MERGE INTO " + target + " AS T USING (SELECT * FROM " + tmp + " QUALIFY ROW_NUMBER() OVER (PARTITION BY " +
		strings.Join(keys, ", ") + " ORDER BY " + ident(fileCol) + " DESC, " + ident(rowCol) + " DESC) = 1) AS S ON " + strings.Join(on, " AND ")
	if len(set) > 0 {
		q += " WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ")
	}
	return q + " WHEN NOT MATCHED THEN INSERT (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
}

func isCode(err error, code int) bool {
	var se *sf.SnowflakeError
	return errors.As(err, &se) && se.Number == code
}

// eachRow calls fn with each row of rows by lower-case column name, and
// closes rows.
func eachRow(rows *sql.Rows, fn func(map[string]sql.NullString) error) error {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		m := make(map[string]sql.NullString, len(cols))
		for i, c := range cols {
			m[strings.ToLower(c)] = vals[i]
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}
