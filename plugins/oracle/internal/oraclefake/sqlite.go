package oraclefake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godror/godror"
	_ "modernc.org/sqlite" // the store's engine
)

// Store is the schema HP of an Oracle database kept in SQLite, for the
// SDK's conformance suites: each connection of its DB is a session on a
// SQLite connection of its own, with real transactions. It answers the
// connector's catalog queries from SQLite's schema (the Oracle type of a
// column is its declared type) and runs every other statement on SQLite,
// translated: the HP owner dropped, :n binds, FETCH FIRST, Oracle's NULL
// order, Oracle DDL (types kept as declared), global temporary tables
// (emptied at commit), array binds (one row per element, the statement
// atomic as Oracle's), and the connector's MERGE shape. Values bound are
// Oracle's ("" is NULL) and values returned are godror's Go types.
type Store struct {
	db *sql.DB
	q  Queries

	mu  sync.Mutex
	gtt map[string]bool // global temporary tables
}

// NewStore opens (creating) the SQLite file at path.
func NewStore(path string, q Queries) (*Store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(wal)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	return &Store{db: db, q: q, gtt: map[string]bool{}}, nil
}

// Close closes the SQLite database.
func (s *Store) Close() error { return s.db.Close() }

// DB returns a fake database whose connections are sessions on the store.
func (s *Store) DB() *DB {
	return &DB{Connect: func() (Conn, error) {
		c, err := s.db.Conn(context.Background())
		if err != nil {
			return nil, err
		}
		return &session{s: s, c: c}, nil
	}}
}

// Exec runs Oracle SQL on the store outside any session, as a fixture's
// set-up does; args are bound as the connector binds them.
func (s *Store) Exec(q string, args ...any) error {
	c, err := s.db.Conn(context.Background())
	if err != nil {
		return err
	}
	ss := &session{s: s, c: c}
	defer ss.Close()
	_, err = ss.Handle(q, args)
	return err
}

type session struct {
	s  *Store
	c  *sql.Conn
	tx bool
}

var bg = context.Background()

func (ss *session) Begin(readOnly bool) error {
	// A write takes SQLite's write lock at once: upgrading a read later
	// could fail instead of waiting.
	begin := "BEGIN IMMEDIATE"
	if readOnly {
		begin = "BEGIN"
	}
	_, err := ss.c.ExecContext(bg, begin)
	ss.tx = err == nil
	return err
}

func (ss *session) Commit() error {
	ss.s.mu.Lock()
	var gtts []string
	for t := range ss.s.gtt {
		gtts = append(gtts, t)
	}
	ss.s.mu.Unlock()
	for _, t := range gtts { // ON COMMIT DELETE ROWS
		if _, err := ss.c.ExecContext(bg, `DELETE FROM "`+t+`"`); err != nil {
			return err
		}
	}
	ss.tx = false
	_, err := ss.c.ExecContext(bg, "COMMIT")
	return err
}

func (ss *session) Rollback() error {
	ss.tx = false
	_, err := ss.c.ExecContext(bg, "ROLLBACK")
	return err
}

func (ss *session) Close() error {
	if ss.tx {
		_ = ss.Rollback()
	}
	return ss.c.Close()
}

var (
	fetchFirst = regexp.MustCompile(`(?i)\s*FETCH FIRST (\d+) ROWS ONLY`)
	oraBind    = regexp.MustCompile(`:(\d+)`)
	createGTT  = regexp.MustCompile(`^CREATE GLOBAL TEMPORARY TABLE ("\w+") \((.*)\) ON COMMIT DELETE ROWS$`)
	gttAs      = regexp.MustCompile(`^CREATE GLOBAL TEMPORARY TABLE ("\w+") ON COMMIT DELETE ROWS AS (SELECT .+)$`)
	create     = regexp.MustCompile(`^CREATE TABLE (\S+) \((.*)\)$`)
	columnDef  = regexp.MustCompile(`^("[^"]+"|\w+) (.+?)((?: NOT NULL)?(?: PRIMARY KEY)?)$`)
	dropPurge  = regexp.MustCompile(`^(DROP TABLE \S+) PURGE$`)
	mergeShape = regexp.MustCompile(`^MERGE INTO (\S+) t USING \((SELECT .+?)\) s ON \((.+?)\)(?: WHEN MATCHED THEN UPDATE SET (.+?))? WHEN NOT MATCHED THEN INSERT \((.+?)\) VALUES \((.+)\)$`)
	setTarget  = regexp.MustCompile(`(^|, )t\.`)
)

// Handle answers one statement.
func (ss *session) Handle(q string, args []any) (*Result, error) {
	if r, ok, err := ss.catalog(q, args); ok {
		return r, err
	}
	lite := strings.ReplaceAll(q, `"HP".`, "")
	if m := createGTT.FindStringSubmatch(lite); m != nil {
		ss.s.mu.Lock()
		ss.s.gtt[strings.Trim(m[1], `"`)] = true
		ss.s.mu.Unlock()
		lite = "CREATE TABLE " + m[1] + " (" + m[2] + ")"
	}
	if m := gttAs.FindStringSubmatch(lite); m != nil {
		ss.s.mu.Lock()
		ss.s.gtt[strings.Trim(m[1], `"`)] = true
		ss.s.mu.Unlock()
		lite = "CREATE TABLE " + m[1] + " AS " + m[2]
	}
	if m := create.FindStringSubmatch(lite); m != nil {
		name := m[1]
		if !strings.HasPrefix(name, `"`) {
			name = `"` + strings.ToUpper(name) + `"`
		}
		lite = "CREATE TABLE " + name + " (" + liteColumns(m[2]) + ")"
	}
	if m := dropPurge.FindStringSubmatch(lite); m != nil {
		lite = m[1]
		ss.s.mu.Lock()
		delete(ss.s.gtt, strings.Trim(strings.TrimPrefix(lite, "DROP TABLE "), `"`))
		ss.s.mu.Unlock()
	}
	lite = fetchFirst.ReplaceAllString(lite, " LIMIT $1")
	lite = oraBind.ReplaceAllString(lite, "?$1")
	lite = oracleNulls(lite)
	if m := mergeShape.FindStringSubmatch(lite); m != nil {
		return nil, ss.merge(m, q)
	}
	if w, _, _ := strings.Cut(lite, " "); w == "SELECT" || w == "WITH" {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = liteValue(a)
		}
		return ss.query(lite, q, vals)
	}
	n, err := ss.exec(lite, q, args)
	if err != nil {
		return nil, err
	}
	return &Result{Affected: n, Counted: true}, nil
}

// exec runs a statement once, or once per element of its array binds,
// all or nothing, and counts the rows it changed.
func (ss *session) exec(lite, q string, args []any) (int64, error) {
	n := -1
	for _, a := range args {
		if v := reflect.ValueOf(a); v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
			if n >= 0 && v.Len() != n {
				return 0, fmt.Errorf("oraclefake: array binds of %d and %d rows in %s", n, v.Len(), q)
			}
			n = v.Len()
		}
	}
	if n < 0 {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = liteValue(a)
		}
		r, err := ss.c.ExecContext(bg, lite, vals...)
		if err != nil {
			return 0, ss.failed(err, lite, q)
		}
		return r.RowsAffected()
	}
	total := int64(0)
	err := ss.atomic(func() error {
		vals := make([]any, len(args))
		for r := range n {
			for i, a := range args {
				if v := reflect.ValueOf(a); v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
					vals[i] = liteValue(v.Index(r).Interface())
				} else {
					vals[i] = liteValue(a)
				}
			}
			res, err := ss.c.ExecContext(bg, lite, vals...)
			if err != nil {
				return ss.failed(fmt.Errorf("array row %d: %w", r, err), lite, q)
			}
			k, _ := res.RowsAffected()
			total += k
		}
		return nil
	})
	return total, err
}

// atomic runs f as one statement: all of it or nothing.
func (ss *session) atomic(f func() error) error {
	if _, err := ss.c.ExecContext(bg, "SAVEPOINT hp_statement"); err != nil {
		return err
	}
	if err := f(); err != nil {
		_, _ = ss.c.ExecContext(bg, "ROLLBACK TO hp_statement")
		_, _ = ss.c.ExecContext(bg, "RELEASE hp_statement")
		return err
	}
	_, err := ss.c.ExecContext(bg, "RELEASE hp_statement")
	return err
}

func (ss *session) failed(err error, lite, q string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("oraclefake on SQLite: %s (from %s): %w", lite, q, err)
}

// merge runs the connector's MERGE as an UPDATE of the matched rows and an
// INSERT of the others, both from the USING query.
func (ss *session) merge(m []string, q string) error {
	target, using, on, set, cols, vals := m[1], m[2], m[3], m[4], m[5], m[6]
	return ss.atomic(func() error {
		if set != "" {
			upd := "UPDATE " + target + " AS t SET " + setTarget.ReplaceAllString(set, "$1") + " FROM (" + using + ") AS s WHERE " + on
			if _, err := ss.c.ExecContext(bg, upd); err != nil {
				return ss.failed(err, upd, q)
			}
		}
		ins := "INSERT INTO " + target + " (" + cols + ") SELECT " + vals + " FROM (" + using + ") AS s WHERE NOT EXISTS (SELECT 1 FROM " + target + " t WHERE " + on + ")"
		_, err := ss.c.ExecContext(bg, ins)
		return ss.failed(err, ins, q)
	})
}

// liteColumns keeps each column's Oracle type as its SQLite declared type
// (quoted: SQLite's type names take no "(4000 CHAR)" or "WITH TIME ZONE"),
// unquoted names folded to upper case as Oracle folds them.
func liteColumns(defs string) string {
	var out []string
	depth, start := 0, 0
	parts := []string{}
	for i, c := range defs {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(defs[start:i]))
				start = i + 1
			}
		}
	}
	parts = append(parts, strings.TrimSpace(defs[start:]))
	for _, p := range parts {
		m := columnDef.FindStringSubmatch(p)
		if m == nil || strings.HasPrefix(p, "PRIMARY KEY") {
			out = append(out, p)
			continue
		}
		name := m[1]
		if !strings.HasPrefix(name, `"`) {
			name = `"` + strings.ToUpper(name) + `"`
		}
		out = append(out, name+` "`+strings.ToUpper(m[2])+`"`+m[3])
	}
	return strings.Join(out, ", ")
}

func (ss *session) query(lite, q string, args []any) (*Result, error) {
	rows, err := ss.c.QueryContext(bg, lite, args...)
	if err != nil {
		return nil, ss.failed(err, lite, q)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	cts, _ := rows.ColumnTypes()
	r := &Result{Cols: cols, Types: make([]string, len(cols))}
	for i, ct := range cts {
		r.Types[i] = strings.ToUpper(ct.DatabaseTypeName())
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]driver.Value, len(cols))
		for i, v := range vals {
			if row[i], err = godrorValue(v, r.Types[i]); err != nil {
				return nil, fmt.Errorf("oraclefake: column %s of %s: %w", cols[i], q, err)
			}
		}
		r.Rows = append(r.Rows, row)
	}
	return r, rows.Err()
}

// oracleNulls spells out Oracle's NULL order where a statement leaves it
// implicit: Oracle sorts NULL as larger than any value (last ascending,
// first descending), SQLite as smaller.
func oracleNulls(q string) string {
	at := strings.LastIndex(q, " ORDER BY ")
	if at < 0 {
		return q
	}
	head, list, tail := q[:at+len(" ORDER BY ")], q[at+len(" ORDER BY "):], ""
	if l := strings.Index(list, " LIMIT "); l >= 0 {
		list, tail = list[:l], list[l:]
	}
	items := strings.Split(list, ", ")
	for i, it := range items {
		switch {
		case strings.Contains(it, "NULLS"):
		case strings.HasSuffix(it, " DESC"):
			items[i] += " NULLS FIRST"
		default:
			items[i] += " NULLS LAST"
		}
	}
	return head + strings.Join(items, ", ") + tail
}

// timeText is how the store keeps a DATE or TIMESTAMP: the value's wall
// time and offset.
const timeText = "2006-01-02 15:04:05.999999999 -07:00"

// liteValue is a value bound as godror binds it, as SQLite keeps it:
// Oracle's NULLs ("" text and numbers, invalid sql.Null*) as NULL.
func liteValue(a any) any {
	if v, ok := a.(driver.Valuer); ok {
		x, err := v.Value()
		if err != nil {
			return err.Error()
		}
		a = x
	}
	switch x := a.(type) {
	case godror.Number:
		if x == "" {
			return nil
		}
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case string:
		if x == "" {
			return nil
		}
	case []byte:
		if len(x) == 0 {
			return nil
		}
	case float32:
		return float64(x)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		return x.Format(timeText)
	case godror.Lob:
		if x.Reader == nil {
			return nil
		}
		b, err := io.ReadAll(x.Reader)
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
	return a
}

// godrorValue is a SQLite value of a column of Oracle type typ (""
// for expressions) as godror returns it.
func godrorValue(v any, typ string) (driver.Value, error) {
	base, _, _ := strings.Cut(typ, "(")
	switch base {
	case "CHAR", "VARCHAR2", "NCHAR", "NVARCHAR2":
		switch x := v.(type) {
		case nil:
			return "", nil
		case []byte:
			return string(x), nil
		}
		return fmt.Sprint(v), nil
	case "CLOB":
		if v == nil {
			return nil, nil
		}
		return &godror.Lob{Reader: strings.NewReader(fmt.Sprint(v)), IsClob: true}, nil
	case "BINARY_DOUBLE", "BINARY_FLOAT":
		var f float64
		switch x := v.(type) {
		case nil:
			return nil, nil
		case int64:
			f = float64(x)
		case float64:
			f = x
		default:
			return nil, fmt.Errorf("%T in a %s", v, typ)
		}
		if base == "BINARY_FLOAT" {
			return float32(f), nil
		}
		return f, nil
	case "DATE", "TIMESTAMP":
		s, ok := v.(string)
		if !ok {
			return v, nil
		}
		t, err := time.Parse(timeText, s)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(typ, " WITH TIME ZONE") && !strings.Contains(typ, "LOCAL") {
			return t, nil
		}
		// godror hands DATE and TIMESTAMP over in the session's zone.
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), Session), nil
	}
	switch x := v.(type) {
	case int64:
		return godror.Number(strconv.FormatInt(x, 10)), nil
	case float64:
		return godror.Number(strconv.FormatFloat(x, 'f', -1, 64)), nil
	}
	return v, nil
}

var typeParts = regexp.MustCompile(`^(\w+)(?:\((\d+)(?:,\s*(-?\d+))?[^)]*\))?(.*)$`)

// catalogType splits a declared Oracle type as ALL_TAB_COLUMNS does: the
// type name (TIMESTAMP(p)... whole), precision and scale.
func catalogType(decl string) (name string, precision, scale any) {
	m := typeParts.FindStringSubmatch(decl)
	if m == nil {
		return decl, nil, nil
	}
	num := func(s string) any {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil
		}
		return n
	}
	switch m[1] {
	case "NUMBER":
		if m[2] == "" {
			return "NUMBER", nil, nil
		}
		if m[3] == "" {
			return "NUMBER", num(m[2]), int64(0)
		}
		return "NUMBER", num(m[2]), num(m[3])
	case "FLOAT":
		return "FLOAT", num(m[2]), nil
	case "TIMESTAMP":
		p := m[2]
		if p == "" {
			p = "6"
		}
		return "TIMESTAMP(" + p + ")" + m[4], nil, num(p)
	}
	return m[1], nil, nil
}

// catalog answers the connector's catalog queries from SQLite's schema;
// ok is false for other statements.
func (ss *session) catalog(q string, args []any) (r *Result, ok bool, err error) {
	str := func(i int) string { s, _ := args[i].(string); return s }
	owner := func(i, j int) bool { return str(i) == "HP" || str(j) == "HP" }
	tables := func(names ...string) ([]string, error) {
		rows, err := ss.c.QueryContext(bg, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return nil, err
			}
			if len(names) == 0 || n == names[0] || n == names[1] {
				out = append(out, n)
			}
		}
		return out, rows.Err()
	}
	objects := func(names []string, err error) (*Result, bool, error) {
		r := &Result{Cols: []string{"OWNER", "OBJECT_NAME", "OBJECT_TYPE"}}
		for _, n := range names {
			r.Rows = append(r.Rows, []driver.Value{"HP", n, "TABLE"})
		}
		return r, true, err
	}
	switch q {
	case ss.s.q.Version:
		return &Result{Cols: []string{"BANNER"}, Rows: [][]driver.Value{{"Oracle Database 23ai Free (oraclefake on SQLite)"}}}, true, nil
	case ss.s.q.CurrentSchema:
		return &Result{Cols: []string{"S"}, Rows: [][]driver.Value{{"HP"}}}, true, nil
	case ss.s.q.Objects:
		if !owner(0, 1) {
			return objects(nil, nil)
		}
		return objects(tables())
	case ss.s.q.Resolve:
		if !owner(0, 1) {
			return objects(nil, nil)
		}
		return objects(tables(str(2), str(3)))
	case ss.s.q.ObjectType:
		r := &Result{Cols: []string{"OBJECT_TYPE"}}
		names, err := tables(str(1), str(1))
		if str(0) == "HP" && len(names) > 0 {
			r.Rows = [][]driver.Value{{"TABLE"}}
		}
		return r, true, err
	case ss.s.q.Synonym:
		return &Result{Cols: []string{"TABLE_OWNER", "TABLE_NAME", "DB_LINK"}}, true, nil
	case ss.s.q.Columns, ss.s.q.PrimaryKey:
	default:
		return nil, false, nil
	}
	r = &Result{Cols: []string{"COLUMN_NAME"}}
	if q == ss.s.q.Columns {
		r.Cols = []string{"COLUMN_NAME", "DATA_TYPE", "DATA_TYPE_OWNER", "DATA_PRECISION", "DATA_SCALE", "NULLABLE"}
	}
	if str(0) != "HP" {
		return r, true, nil
	}
	rows, err := ss.c.QueryContext(bg, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, str(1))
	if err != nil {
		return nil, true, err
	}
	defer rows.Close()
	var keys [][2]any
	for rows.Next() {
		var name, decl string
		var notNull, pk int64
		if err := rows.Scan(&name, &decl, &notNull, &pk); err != nil {
			return nil, true, err
		}
		if pk > 0 {
			keys = append(keys, [2]any{pk, name})
		}
		typ, p, s := catalogType(decl)
		nullable := "Y"
		if notNull == 1 || pk > 0 {
			nullable = "N"
		}
		if q == ss.s.q.Columns {
			r.Rows = append(r.Rows, []driver.Value{name, typ, nil, number(p), number(s), nullable})
		}
	}
	if q == ss.s.q.PrimaryKey {
		for k := int64(1); k <= int64(len(keys)); k++ {
			for _, kn := range keys {
				if kn[0] == k {
					r.Rows = append(r.Rows, []driver.Value{kn[1]})
				}
			}
		}
	}
	return r, true, rows.Err()
}
