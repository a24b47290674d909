package tds

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// StoreQueries are the catalog statements of the connector a Store
// answers (the mssql connector's ColumnsQuery, PrimaryKeyQuery and
// VersionQuery).
type StoreQueries struct {
	Columns, PrimaryKey, Version string
}

// Store is a small in-memory database behind the TDS test server: the
// server's catalog holds the tables' columns, the store their rows. It
// runs the statements the mssql connector sends (the SELECTs of Read and
// Bounds, ORDER BY with a COLLATE, DELETE, MERGE, a sync's DELETE ...
// JOIN) on those rows, takes bulk loads, and undoes a rolled-back
// transaction. It understands exactly the SQL shapes the connector
// produces, so a change in them shows up as a failure.
type Store struct {
	s    *Server
	mu   sync.Mutex
	rows map[string][][]any  // by the quoted name the connector sends
	temp map[string][]Column // staging tables' columns, from their bulk load
	// before is each session's snapshot at its BEGIN TRANSACTION, and
	// dirty the sessions that changed rows since: a rollback restores
	// only a dirty session's snapshot (a read's transaction is rolled back
	// too), and other sessions read the committed rows, as under SQL
	// Server's read committed snapshot.
	before map[uint64]map[string][][]any
	dirty  map[uint64]bool
}

// NewStore serves a Store on s.
func NewStore(s *Server, q StoreQueries) *Store {
	st := &Store{s: s, rows: map[string][][]any{}, temp: map[string][]Column{}, before: map[uint64]map[string][][]any{}, dirty: map[uint64]bool{}}
	s.HandleCatalog(q.Columns)
	s.Handle(q.PrimaryKey, Response{Columns: []Column{{Name: "name", Type: NVarChar, Length: 128}}})
	s.Handle(q.Version, Response{Columns: []Column{{Type: NVarChar, Length: 300}}, Rows: [][]any{{"Microsoft SQL Server 2022 (TDS test server)"}}})
	s.HandleFunc("BEGIN TRANSACTION", func(q Query) Response { st.begin(q.Session); return Response{} })
	s.HandleFunc("COMMIT TRANSACTION", func(q Query) Response { st.end(q.Session, false); return Response{} })
	s.HandleFunc("ROLLBACK TRANSACTION", func(q Query) Response { st.end(q.Session, true); return Response{} })
	s.HandleBulk(st.bulk)
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "SELECT ") }, st.selectRows)
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "DELETE FROM ") }, st.deleteAll)
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "MERGE ") }, st.merge)
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "DELETE t FROM ") }, st.deleteJoin)
	st.handleSQLSource(s)
	return st
}

// Rows returns a copy of a table's committed rows.
func (st *Store) Rows(name string) [][]any {
	st.mu.Lock()
	defer st.mu.Unlock()
	return copyRows(map[string][][]any{name: st.committed(0)[name]})[name]
}

// Add creates a table with rows, or replaces its rows; name is quoted as
// the connector quotes it ([dbo].[t]).
func (st *Store) Add(name string, cols []Column, rows [][]any) {
	st.s.CreateTable(name, cols)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rows[name] = rows
}

func copyRows(m map[string][][]any) map[string][][]any {
	out := make(map[string][][]any, len(m))
	for k, rows := range m {
		c := make([][]any, len(rows))
		for i, r := range rows {
			c[i] = slices.Clone(r)
		}
		out[k] = c
	}
	return out
}

func (st *Store) begin(session uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.before[session] = copyRows(st.rows)
}

func (st *Store) end(session uint64, rollback bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if b, ok := st.before[session]; ok && rollback && st.dirty[session] {
		st.rows = b
	}
	delete(st.before, session)
	delete(st.dirty, session)
}

// committed is what session reads: the rows, or another session's
// snapshot while that session has uncommitted changes.
func (st *Store) committed(session uint64) map[string][][]any {
	for s, d := range st.dirty {
		if d && s != session && st.before[s] != nil {
			return st.before[s]
		}
	}
	return st.rows
}

func (st *Store) columns(name string) ([]Column, bool) {
	if c, ok := st.temp[name]; ok {
		return c, true
	}
	return st.s.Table(name)
}

func colIndex(cols []Column, name string) int {
	return slices.IndexFunc(cols, func(c Column) bool { return c.Name == name })
}

func (st *Store) bulk(b Bulk) *Error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.dirty[b.Session] = true
	if strings.HasPrefix(b.Table, "[#") {
		// The load's columns, with the collations the table was
		// created with.
		cols := slices.Clone(b.Columns)
		for i := range cols {
			if j := colIndex(b.Declared, cols[i].Name); j >= 0 {
				cols[i].Collation = b.Declared[j].Collation
			}
		}
		st.temp[b.Table] = cols
	}
	cols, ok := st.columns(b.Table)
	if !ok {
		return &Error{Number: 208, Message: "Invalid object name '" + b.Table + "'."}
	}
	for _, in := range b.Rows {
		row := make([]any, len(cols))
		for i, c := range b.Columns {
			j := colIndex(cols, c.Name)
			if j < 0 {
				return &Error{Number: 4819, Message: "no column " + c.Name}
			}
			row[j] = in[i]
		}
		st.rows[b.Table] = append(st.rows[b.Table], row)
	}
	return nil
}

func (st *Store) deleteAll(q Query) Response {
	name := strings.TrimPrefix(q.SQL, "DELETE FROM ")
	st.mu.Lock()
	defer st.mu.Unlock()
	st.dirty[q.Session] = true
	n := len(st.rows[name])
	st.rows[name] = nil
	return Response{RowsAffected: int64(n)}
}

var (
	nameRE   = `(\[(?:[^\]]|\]\])*\](?:\.\[(?:[^\]]|\]\])*\])?)`
	selectRE = regexp.MustCompile(`^SELECT (.+?) FROM ` + nameRE + `(?: WHERE (.+?))?(?: ORDER BY (.+))?$`)
	condRE   = regexp.MustCompile(`^(\[(?:[^\]]|\]\])*\]) (>=|<=|>|<) @p(\d+)$`)
	boundsRE = regexp.MustCompile(`^MIN\((\[.*\])\), MAX\(`)
	deleteRE = regexp.MustCompile(`^DELETE t FROM ` + nameRE + ` AS t INNER JOIN (\[#hp_delete_[0-9a-f]+\]) AS s ON (.+)$`)
	collate  = regexp.MustCompile(` COLLATE \w+$`)
	mergeRE  = regexp.MustCompile(`^MERGE ` + nameRE + ` WITH \(HOLDLOCK\) AS t USING \(SELECT .+ FROM \(SELECT \*, ROW_NUMBER\(\) OVER \(PARTITION BY (.+?) ORDER BY \[hp_seq\] DESC\) AS \[hp_rn\] FROM (\[#hp_merge_[0-9a-f]+\])\) AS d WHERE \[hp_rn\] = 1\) AS s ON (.+?)(?: WHEN MATCHED THEN UPDATE SET (.+?))? WHEN NOT MATCHED THEN INSERT \((.+?)\) VALUES \((.+?)\);$`)
)

func unquote(q string) string {
	return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(q, "["), "]"), "]]", "]")
}

// less orders two non-NULL values of one column.
func less(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case *big.Rat:
		return x.Cmp(b.(*big.Rat)) < 0
	case float64:
		return x < b.(float64)
	case string:
		return x < b.(string)
	case time.Time:
		return x.Before(b.(time.Time))
	}
	panic(fmt.Sprintf("cannot order %T", a))
}

// selectRows answers Read's and Bounds' SELECTs.
func (st *Store) selectRows(q Query) Response {
	m := selectRE.FindStringSubmatch(q.SQL)
	if m == nil {
		return Response{Err: &Error{Number: 102, Message: "store: unexpected SELECT " + q.SQL}}
	}
	list, name, where, order := m[1], m[2], m[3], m[4]
	st.mu.Lock()
	defer st.mu.Unlock()
	cols, ok := st.columns(name)
	if !ok {
		return Response{Err: &Error{Number: 208, Message: "Invalid object name '" + name + "'."}}
	}
	rows := st.committed(q.Session)[name]
	if where != "" {
		var keep [][]any
		conds := strings.Split(where, " AND ")
	row:
		for _, r := range rows {
			for _, c := range conds {
				cm := condRE.FindStringSubmatch(c)
				if cm == nil {
					return Response{Err: &Error{Number: 102, Message: "store: unexpected condition " + c}}
				}
				v, arg := r[colIndex(cols, unquote(cm[1]))], q.Args()[cm[3][0]-'1']
				if v == nil {
					continue row
				}
				ok := map[string]bool{">": less(arg, v), ">=": !less(v, arg), "<": less(v, arg), "<=": !less(arg, v)}[cm[2]]
				if !ok {
					continue row
				}
			}
			keep = append(keep, r)
		}
		rows = keep
	}
	if bm := boundsRE.FindStringSubmatch(list); bm != nil {
		c := cols[colIndex(cols, unquote(bm[1]))]
		i := colIndex(cols, c.Name)
		var lo, hi any
		nonNull := int64(0)
		for _, r := range rows {
			if v := r[i]; v != nil {
				nonNull++
				if lo == nil || less(v, lo) {
					lo = v
				}
				if hi == nil || less(hi, v) {
					hi = v
				}
			}
		}
		c.Nullable = true
		return Response{Columns: []Column{c, c, {Type: BigInt}, {Type: BigInt}}, Rows: [][]any{{lo, hi, int64(len(rows)), nonNull}}}
	}
	var idx []int
	var out []Column
	for _, n := range strings.Split(list, ", ") {
		i := colIndex(cols, unquote(n))
		if i < 0 {
			return Response{Err: &Error{Number: 207, Message: "Invalid column name '" + unquote(n) + "'."}}
		}
		idx = append(idx, i)
		out = append(out, cols[i])
	}
	if order != "" {
		rows = slices.Clone(rows)
		terms := strings.Split(order, ", ")
		sort.SliceStable(rows, func(a, b int) bool {
			for _, term := range terms {
				x, y := rows[a], rows[b]
				if strings.HasSuffix(term, " DESC") {
					x, y = y, x
				}
				// As SQL Server: NULL sorts before every value. Text
				// compares by its UTF-8 bytes, as a _BIN2 collation does
				// (but for characters beyond U+FFFF).
				i := colIndex(cols, unquote(collate.ReplaceAllString(strings.TrimSuffix(term, " DESC"), "")))
				switch {
				case x[i] == nil && y[i] == nil:
				case x[i] == nil:
					return true
				case y[i] == nil:
					return false
				case less(x[i], y[i]):
					return true
				case less(y[i], x[i]):
					return false
				}
			}
			return false
		})
	}
	res := Response{Columns: out}
	for _, r := range rows {
		p := make([]any, len(idx))
		for k, i := range idx {
			p[k] = r[i]
		}
		res.Rows = append(res.Rows, p)
	}
	return res
}

func quotedList(s string, prefix string) []string {
	var out []string
	for _, p := range strings.Split(s, ", ") {
		out = append(out, unquote(strings.TrimPrefix(p, prefix)))
	}
	return out
}

// merge runs the connector's MERGE: one source row per key (the highest
// hp_seq), matched rows updated, the others inserted.
func (st *Store) merge(q Query) Response {
	m := mergeRE.FindStringSubmatch(q.SQL)
	if m == nil {
		return Response{Err: &Error{Number: 102, Message: "store: unexpected MERGE " + q.SQL}}
	}
	target, partition, temp, on, set, insert := m[1], quotedList(m[2], ""), m[3], m[4], m[5], quotedList(m[6], "")
	var keys []string
	for _, c := range strings.Split(on, " AND ") {
		l, r, _ := strings.Cut(c, " = ")
		if strings.TrimPrefix(l, "t.") != strings.TrimPrefix(r, "s.") {
			return Response{Err: &Error{Number: 102, Message: "store: unexpected ON " + c}}
		}
		keys = append(keys, unquote(strings.TrimPrefix(l, "t.")))
	}
	if !slices.Equal(keys, partition) {
		return Response{Err: &Error{Number: 102, Message: "store: the source is not deduplicated on the merge keys"}}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.dirty[q.Session] = true
	tcols, _ := st.columns(target)
	scols := st.temp[temp]
	if e := collationConflict(tcols, scols, keys); e != nil {
		return Response{Err: e}
	}
	keyOf := func(cols []Column, r []any) string {
		var k []string
		for _, name := range keys {
			k = append(k, fmt.Sprintf("%#v", r[colIndex(cols, name)]))
		}
		return strings.Join(k, "|")
	}
	last := map[string][]any{}
	var order []string
	seq := colIndex(scols, "hp_seq")
	for _, r := range st.rows[temp] {
		k := keyOf(scols, r)
		if prev, ok := last[k]; !ok {
			order = append(order, k)
		} else if prev[seq].(int64) > r[seq].(int64) {
			continue
		}
		last[k] = r
	}
	var updates []string
	if set != "" {
		for _, a := range strings.Split(set, ", ") {
			l, _, _ := strings.Cut(a, " = ")
			updates = append(updates, unquote(strings.TrimPrefix(l, "t.")))
		}
	}
	// A NULL for a NOT NULL column fails the statement before it changes
	// anything, as SQL Server's error 515 does.
	for _, k := range order {
		for _, c := range insert {
			if j := colIndex(tcols, c); !tcols[j].Nullable && last[k][colIndex(scols, c)] == nil {
				return Response{Err: &Error{Number: 515, State: 2, Class: 16, Message: "Cannot insert the value NULL into column '" + c + "', table '" + target + "'; column does not allow nulls. UPDATE fails."}}
			}
		}
	}
	n := int64(0)
	for _, k := range order {
		src := last[k]
		matched := false
		for _, tr := range st.rows[target] {
			if keyOf(tcols, tr) == k {
				matched = true
				for _, c := range updates {
					tr[colIndex(tcols, c)] = src[colIndex(scols, c)]
				}
				n++
			}
		}
		if !matched {
			row := make([]any, len(tcols))
			for _, c := range insert {
				row[colIndex(tcols, c)] = src[colIndex(scols, c)]
			}
			st.rows[target] = append(st.rows[target], row)
			n++
		}
	}
	return Response{RowsAffected: n}
}

// collationConflict is error 468 when a key column of the target and of
// the staging table are character columns of different collations,
// which ON t.[k] = s.[k] cannot compare.
func collationConflict(tcols, scols []Column, keys []string) *Error {
	for _, k := range keys {
		i, j := colIndex(tcols, k), colIndex(scols, k)
		if i < 0 || j < 0 {
			continue
		}
		a, b := tcols[i].Collation, scols[j].Collation
		if a != "" && b != "" && !strings.EqualFold(a, b) {
			return CollationConflict(a, b)
		}
	}
	return nil
}

// deleteJoin runs a sync's DELETE t FROM target AS t INNER JOIN keys AS
// s ON t.[k] = s.[k] AND ...: the target's rows whose keys the staged
// table holds go.
func (st *Store) deleteJoin(q Query) Response {
	m := deleteRE.FindStringSubmatch(q.SQL)
	if m == nil {
		return Response{Err: &Error{Number: 102, Message: "store: unexpected DELETE " + q.SQL}}
	}
	target, temp := m[1], m[2]
	keys, e := joinKeys(m[3], "s.")
	if e != nil {
		return Response{Err: e}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	tcols, ok := st.columns(target)
	if !ok {
		return Response{Err: invalidObject(target)}
	}
	return st.deleteMatching(q.Session, target, tcols, st.rows[temp], st.temp[temp], keys)
}

// joinKeys reads the key names of a join's ON list, t.[k] = <alias>[k]
// AND ...
func joinKeys(on, alias string) ([]string, *Error) {
	var keys []string
	for _, c := range strings.Split(on, " AND ") {
		l, r, _ := strings.Cut(c, " = ")
		if strings.TrimPrefix(l, "t.") != strings.TrimPrefix(r, alias) {
			return nil, &Error{Number: 102, Message: "store: unexpected ON " + c}
		}
		keys = append(keys, unquote(strings.TrimPrefix(l, "t.")))
	}
	return keys, nil
}

// deleteMatching deletes the target's rows whose keys one of the staged
// rows holds (NULL equals nothing), after the check SQL Server makes of
// the keys' collations. The caller holds st.mu.
func (st *Store) deleteMatching(session uint64, target string, tcols []Column, staged [][]any, scols []Column, keys []string) Response {
	if e := collationConflict(tcols, scols, keys); e != nil {
		return Response{Err: e}
	}
	keyOf := func(cols []Column, r []any) (string, bool) {
		var k []string
		for _, name := range keys {
			v := r[colIndex(cols, name)]
			if v == nil {
				return "", false
			}
			k = append(k, fmt.Sprintf("%#v", v))
		}
		return strings.Join(k, "|"), true
	}
	del := map[string]bool{}
	for _, r := range staged {
		if k, ok := keyOf(scols, r); ok {
			del[k] = true
		}
	}
	st.dirty[session] = true
	var kept [][]any
	for _, r := range st.rows[target] {
		if k, ok := keyOf(tcols, r); !ok || !del[k] {
			kept = append(kept, r)
		}
	}
	n := len(st.rows[target]) - len(kept)
	st.rows[target] = kept
	return Response{RowsAffected: int64(n)}
}
