package snowflake

import (
	"context"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

type table struct {
	cols []column
	rows [][]*string
	pk   []string
}

func (t *table) clone() *table {
	c := &table{cols: append([]column(nil), t.cols...), rows: make([][]*string, len(t.rows)), pk: t.pk}
	for i, r := range t.rows {
		c.rows[i] = append([]*string(nil), r...)
	}
	return c
}

func (t *table) col(name string) int {
	for i, c := range t.cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

// orAll is names, or all the table's columns when names is nil.
func (t *table) orAll(names []string) []string {
	if names != nil {
		return names
	}
	var out []string
	for _, c := range t.cols {
		out = append(out, c.name)
	}
	return out
}

// indexes finds columns by name.
func (t *table) indexes(names []string) ([]int, *Error) {
	var out []int
	for _, n := range names {
		i := t.col(n)
		if i < 0 {
			return nil, errorf("000904", "42000", "SQL compilation error:\ninvalid identifier '%s'", n)
		}
		out = append(out, i)
	}
	return out, nil
}

// store is the committed state, or a transaction's working copy of it:
// the tables and each table's load history (the stage files COPY loaded
// into it).
type store struct {
	tables  map[string]*table
	history map[string]map[string]bool
}

func newStore() *store {
	return &store{tables: map[string]*table{}, history: map[string]map[string]bool{}}
}

func (s *store) clone() *store {
	c := newStore()
	for k, t := range s.tables {
		c.tables[k] = t.clone()
	}
	for k, h := range s.history {
		c.history[k] = map[string]bool{}
		for f := range h {
			c.history[k][f] = true
		}
	}
	return c
}

// rowCol is a result column: its name, the rowtype's type name (fixed,
// text, timestamp_tz, ...) and the type's precision, scale and length.
type rowCol struct {
	name, typ           string
	prec, scale, length int
}

func colOf(name string, c colType) rowCol {
	return rowCol{name: name, typ: c.rowtype(), prec: c.prec, scale: c.scale, length: c.length}
}

type result struct {
	cols     []rowCol
	rows     [][]*string
	stmtType int64
	// extra joins the response's data: a PUT's file transfer.
	extra map[string]any
}

// Statement type ids as gosnowflake reads them.
const (
	typeSelect = 0x1000
	typeInsert = 0x3100
	typeDelete = 0x3300
	typeMerge  = 0x3400
	typeDDL    = 0x6000
	typeTx     = 0x5000
)

func (r *result) rowtype() []map[string]any {
	out := []map[string]any{}
	for _, c := range r.cols {
		m := map[string]any{"name": c.name, "type": c.typ, "nullable": true, "length": c.length, "precision": c.prec, "scale": c.scale, "byteLength": c.length}
		switch {
		case c.typ == "fixed" && c.prec == 0:
			m["precision"] = 38
		case c.typ == "text" && c.length == 0:
			m["length"], m["byteLength"] = 16777216, 16777216
		}
		out = append(out, m)
	}
	return out
}

func str(s string) *string { return &s }

func countResult(name string, n int, typ int64) *result {
	return &result{cols: []rowCol{{name: name, typ: "fixed"}}, rows: [][]*string{{str(strconv.Itoa(n))}}, stmtType: typ}
}

func okResult(msg string) *result {
	return &result{cols: []rowCol{{name: "status", typ: "text"}}, rows: [][]*string{{str(msg)}}, stmtType: typeDDL}
}

type exec struct {
	srv   *Server
	sess  *session
	binds []*string
	ctx   context.Context
}

func (x *exec) view() *store {
	if x.sess.tx != nil {
		return x.sess.tx
	}
	return x.srv.store
}

// tableStageDir is where the files of a table's stage (@%table or
// @schema.%table) below path live: the server keeps table stages in a
// local directory, which gosnowflake reaches as a LOCAL_FS stage.
func (x *exec) tableStageDir(stage, path string) (string, *Error) {
	i := strings.Index(stage, "%")
	if i < 0 {
		return "", errorf("000603", "XX000", "the test server keeps table stages (@%%table) only, not %s", stage)
	}
	var parts []string
	if i > 0 {
		parts = append(parts, strings.Trim(strings.TrimSuffix(stage[:i], "."), `"`))
	}
	parts = append(parts, strings.Trim(stage[i+1:], `"`))
	if _, _, e := x.lookup(parts); e != nil {
		return "", e
	}
	if strings.Contains(path, "..") {
		return "", errorf("000603", "XX000", "bad stage path %q", path)
	}
	return filepath.Join(x.srv.stageDir, x.key(parts), filepath.FromSlash(path)), nil
}

// commitOpen commits an open transaction, as every DDL statement does in
// Snowflake.
func (x *exec) commitOpen() {
	if x.sess.tx != nil {
		x.srv.store, x.sess.tx = x.sess.tx, nil
	}
}

func (x *exec) key(parts []string) string {
	switch len(parts) {
	case 1:
		return x.sess.sch + "." + parts[0]
	default:
		return parts[len(parts)-2] + "." + parts[len(parts)-1]
	}
}

// lookup finds a table: the session's temporary tables shadow the others.
func (x *exec) lookup(parts []string) (*table, string, *Error) {
	k := x.key(parts)
	if t, ok := x.sess.temps[k]; ok {
		return t, k, nil
	}
	if t, ok := x.view().tables[k]; ok {
		return t, k, nil
	}
	return nil, k, notFound("Table '" + strings.Join(parts, ".") + "'")
}

// replaceTable stores t under k where it was found.
func (x *exec) replaceTable(k string, t *table) {
	if _, ok := x.sess.temps[k]; ok {
		x.sess.temps[k] = t
		return
	}
	x.view().tables[k] = t
}

func (x *exec) do(stmt any) (*result, *Error) {
	switch st := stmt.(type) {
	case txStmt:
		switch st.kind {
		case "BEGIN":
			if x.sess.tx == nil {
				x.sess.tx = x.srv.store.clone()
			}
		case "COMMIT":
			x.commitOpen()
		case "ROLLBACK":
			x.sess.tx = nil
		}
		return okResult("Statement executed successfully."), nil
	case createTable:
		return x.create(st)
	case dropTable:
		x.commitOpen()
		k := x.key(st.name)
		if _, ok := x.sess.temps[k]; ok {
			delete(x.sess.temps, k)
		} else if _, ok := x.srv.store.tables[k]; ok {
			delete(x.srv.store.tables, k)
			delete(x.srv.store.history, k)
		} else if !st.ifExists {
			return nil, notFound("Table '" + strings.Join(st.name, ".") + "'")
		}
		return okResult(strings.Join(st.name, ".") + " successfully dropped."), nil
	case alterTable:
		return x.alter(st)
	case insertStmt:
		return x.insert(st)
	case deleteStmt:
		t, k, e := x.lookup(st.name)
		if e != nil {
			return nil, e
		}
		n := len(t.rows)
		c := t.clone()
		c.rows = nil
		x.replaceTable(k, c)
		return countResult("number of rows deleted", n, typeDelete), nil
	case *selectStmt:
		return x.selectRows(st)
	case showKeys:
		return x.showKeys(st)
	case copyStmt:
		return x.copyInto(st)
	case mergeStmt:
		return x.merge(st)
	case createStage:
		x.commitOpen()
		name := st.name[len(st.name)-1] // stages are not kept per schema here
		if _, ok := x.srv.stages[name]; ok && !st.orReplace {
			if st.ifNotExists {
				return okResult(name + " already exists, statement succeeded."), nil
			}
			return nil, errorf("002002", "42710", "SQL compilation error:\nObject '%s' already exists.", name)
		}
		x.srv.stages[name] = st.url
		return okResult("Stage area " + name + " successfully created."), nil
	case putStmt:
		dir, e := x.tableStageDir(st.stage, st.path)
		if e != nil {
			return nil, e
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, errorf("000603", "XX000", "stage directory: %v", err)
		}
		return &result{stmtType: typeSelect, extra: map[string]any{
			"command": "UPLOAD", "src_locations": []string{st.src}, "autoCompress": false, "sourceCompression": "none",
			"parallel": 1, "overwrite": true, "stageInfo": map[string]any{"locationType": "LOCAL_FS", "location": dir},
		}}, nil
	case removeStmt:
		dir, e := x.tableStageDir(st.stage, st.path)
		if e != nil {
			return nil, e
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, errorf("000603", "XX000", "stage directory: %v", err)
		}
		return okResult("removed"), nil
	case descStage:
		name := strings.Join(st.name, ".")
		url, ok := x.srv.stages[name]
		if !ok {
			url, ok = x.srv.stages[st.name[len(st.name)-1]]
		}
		if !ok {
			return nil, notFound("Stage '" + name + "'")
		}
		cols := []rowCol{{name: "parent_property", typ: "text"}, {name: "property", typ: "text"}, {name: "property_type", typ: "text"}, {name: "property_value", typ: "text"}, {name: "property_default", typ: "text"}}
		return &result{cols: cols, stmtType: typeSelect, rows: [][]*string{
			{str("STAGE_LOCATION"), str("URL"), str("String"), str(`["` + url + `"]`), str("")},
			{str("STAGE_INTEGRATION"), str("STORAGE_INTEGRATION"), str("String"), str("HP_TEST_INTEGRATION"), str("")},
		}}, nil
	}
	return nil, syntaxErr("statement not supported by the test server")
}

func (x *exec) create(st createTable) (*result, *Error) {
	x.commitOpen()
	k := x.key(st.name)
	exists := x.srv.store.tables[k] != nil || x.sess.temps[k] != nil
	if exists && st.ifNotExists {
		return okResult(st.name[len(st.name)-1] + " already exists, statement succeeded."), nil
	}
	if exists && !st.orReplace {
		return nil, errorf("002002", "42710", "SQL compilation error:\nObject '%s' already exists.", strings.Join(st.name, "."))
	}
	t := &table{cols: st.cols, pk: st.pk}
	if st.like != nil {
		src, _, e := x.lookup(st.like)
		if e != nil {
			return nil, e
		}
		t.cols = append([]column(nil), src.cols...)
	}
	if st.temp {
		x.sess.temps[k] = t
	} else {
		x.srv.store.tables[k] = t
		delete(x.srv.store.history, k)
	}
	return okResult("Table " + st.name[len(st.name)-1] + " successfully created."), nil
}

// alter changes a table as Snowflake allows: a column added (NULL in the
// rows there), a column dropped, or a type widened in place (a NUMBER's
// precision at the same scale, a longer VARCHAR); any other type change
// fails as it does in Snowflake.
func (x *exec) alter(st alterTable) (*result, *Error) {
	x.commitOpen()
	t, k, e := x.lookup(st.name)
	if e != nil {
		return nil, e
	}
	c := t.clone()
	i := c.col(st.col.name)
	switch st.action {
	case "ADD":
		if i >= 0 {
			return nil, errorf("002028", "42601", "SQL compilation error:\nambiguous column name '%s'", st.col.name)
		}
		if strings.HasSuffix(st.col.typ, "NOT NULL") && len(c.rows) > 0 {
			return nil, errorf("100072", "22000", "NULL result in a non-nullable column %s", st.col.name)
		}
		c.cols = append(c.cols, st.col)
		for j := range c.rows {
			c.rows[j] = append(c.rows[j], nil)
		}
	case "DROP":
		if i < 0 {
			return nil, errorf("000904", "42000", "SQL compilation error: error line 0 at position -1\ninvalid identifier '%s'", st.col.name)
		}
		if len(c.cols) == 1 {
			return nil, errorf("002052", "42601", "SQL compilation error:\nCannot drop the only column of table")
		}
		c.cols = append(c.cols[:i:i], c.cols[i+1:]...)
		for j, r := range c.rows {
			c.rows[j] = append(r[:i:i], r[i+1:]...)
		}
		var pk []string
		for _, n := range c.pk {
			if n != st.col.name {
				pk = append(pk, n)
			}
		}
		c.pk = pk
	case "SET TYPE":
		if i < 0 {
			return nil, errorf("000904", "42000", "SQL compilation error: error line 0 at position -1\ninvalid identifier '%s'", st.col.name)
		}
		old, nu := typeOf(c.cols[i].typ), typeOf(st.col.typ)
		ok := old.base == nu.base && (old.base == "NUMBER" && nu.scale == old.scale && nu.prec >= old.prec ||
			old.base == "TEXT" && nu.length >= old.length)
		if !ok {
			return nil, errorf("002108", "22000", "SQL compilation error: cannot change column %s from type %s to %s", st.col.name, c.cols[i].typ, st.col.typ)
		}
		typ := st.col.typ
		if strings.HasSuffix(c.cols[i].typ, "NOT NULL") {
			typ += " NOT NULL"
		}
		c.cols[i].typ = typ
	}
	x.replaceTable(k, c)
	return okResult("Statement executed successfully."), nil
}

func (x *exec) insert(st insertStmt) (*result, *Error) {
	t, k, e := x.lookup(st.name)
	if e != nil {
		return nil, e
	}
	names := t.orAll(st.cols)
	idx, e := t.indexes(names)
	if e != nil {
		return nil, e
	}
	c := t.clone()
	for _, r := range st.rows {
		if len(r) != len(idx) {
			return nil, syntaxErr("Insert value list does not match column list expecting %d but got %d", len(idx), len(r))
		}
		row := make([]*string, len(t.cols))
		for j, v := range r {
			val := v.val
			if v.bind > 0 {
				if v.bind > len(x.binds) {
					return nil, errorf("002049", "42601", "SQL compilation error: Bind variable ? not set.")
				}
				val = x.binds[v.bind-1]
			}
			if err := checkValue(t.cols[idx[j]], val); err != nil {
				return nil, err
			}
			row[idx[j]] = val
		}
		c.rows = append(c.rows, row)
	}
	x.replaceTable(k, c)
	return countResult("number of rows inserted", len(st.rows), typeInsert), nil
}

// checkValue refuses a value a column of that type cannot hold.
func checkValue(c column, v *string) *Error {
	if v == nil {
		if strings.HasSuffix(c.typ, "NOT NULL") {
			return errorf("100072", "22000", "NULL result in a non-nullable column %s", c.name)
		}
		return nil
	}
	typ := c.typ
	switch {
	case strings.HasPrefix(typ, "NUMBER"), strings.HasPrefix(typ, "INT"), strings.HasPrefix(typ, "BIGINT"), strings.HasPrefix(typ, "DECIMAL"):
		if _, ok := new(big.Rat).SetString(*v); !ok {
			return errorf("100038", "22018", "Numeric value '%s' is not recognized", *v)
		}
	case strings.HasPrefix(typ, "BINARY"), strings.HasPrefix(typ, "VARBINARY"):
		if _, err := hex.DecodeString(*v); err != nil {
			return errorf("100115", "22000", "The following string is not a legal hex-encoded value: '%s'", *v)
		}
	case strings.HasPrefix(typ, "BOOLEAN"):
		switch strings.ToLower(*v) {
		case "true", "false", "1", "0", "t", "f", "yes", "no":
		default:
			return errorf("100037", "22018", "Boolean value '%s' is not recognized", *v)
		}
	}
	return nil
}

// compareValues orders NULL first, numbers numerically, the rest as text.
func compareValues(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	ra, okA := new(big.Rat).SetString(*a)
	rb, okB := new(big.Rat).SetString(*b)
	if okA && okB {
		return ra.Cmp(rb)
	}
	return strings.Compare(*a, *b)
}

// merge deduplicates the source by the partition columns, keeping the
// row first in the ORDER BY ... DESC order, then updates the target rows
// whose keys match and inserts the rest.
func (x *exec) merge(st mergeStmt) (*result, *Error) {
	t, tk, e := x.lookup(st.target)
	if e != nil {
		return nil, e
	}
	src, _, e := x.lookup(st.source)
	if e != nil {
		return nil, e
	}
	part, e := src.indexes(st.partition)
	if e != nil {
		return nil, e
	}
	ord, e := src.indexes(st.order)
	if e != nil {
		return nil, e
	}
	var tOn, sOn, tSet, sSet, sIns []int
	var onT, onS, setT, setS []string
	for _, p := range st.on {
		onT, onS = append(onT, p[0]), append(onS, p[1])
	}
	for _, p := range st.set {
		setT, setS = append(setT, p[0]), append(setS, p[1])
	}
	for _, l := range []struct {
		tb    *table
		names []string
		to    *[]int
	}{{t, onT, &tOn}, {src, onS, &sOn}, {t, setT, &tSet}, {src, setS, &sSet}, {src, st.insertVals, &sIns}} {
		if *l.to, e = l.tb.indexes(l.names); e != nil {
			return nil, e
		}
	}
	tIns, e := t.indexes(st.insertCols)
	if e != nil {
		return nil, e
	}
	keyOf := func(r []*string, idx []int) string {
		var b strings.Builder
		for _, i := range idx {
			if r[i] == nil {
				b.WriteString("\x00N")
			} else {
				b.WriteString("\x00V" + *r[i])
			}
		}
		return b.String()
	}
	latest := map[string][]*string{}
	var order []string
	for _, r := range src.rows {
		k := keyOf(r, part)
		cur, ok := latest[k]
		if !ok {
			order = append(order, k)
			latest[k] = r
			continue
		}
		for _, i := range ord {
			if c := compareValues(r[i], cur[i]); c != 0 {
				if c > 0 {
					latest[k] = r
				}
				break
			}
		}
	}
	c := t.clone()
	byKey := map[string]int{}
	for i, r := range c.rows {
		byKey[keyOf(r, tOn)] = i
	}
	inserted, updated := 0, 0
	for _, k := range order {
		r := latest[k]
		if i, ok := byKey[keyOf(r, sOn)]; ok && !hasNull(r, sOn) {
			for j := range tSet {
				c.rows[i][tSet[j]] = r[sSet[j]]
			}
			updated++
			continue
		}
		row := make([]*string, len(c.cols))
		for j := range tIns {
			row[tIns[j]] = r[sIns[j]]
		}
		c.rows = append(c.rows, row)
		inserted++
	}
	x.replaceTable(tk, c)
	return &result{cols: []rowCol{{name: "number of rows inserted", typ: "fixed"}, {name: "number of rows updated", typ: "fixed"}},
		rows: [][]*string{{str(strconv.Itoa(inserted)), str(strconv.Itoa(updated))}}, stmtType: typeMerge}, nil
}

func hasNull(r []*string, idx []int) bool {
	for _, i := range idx {
		if r[i] == nil {
			return true
		}
	}
	return false
}
