package tds

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The statements of a merge and a sync through sqlsource's SQL Server
// dialect (the odbc connector's sqlserver flavor over FreeTDS): rows
// staged by INSERT … VALUES into a #table the session created, the last
// row of each key picked by SELECT … INTO, then DELETE … JOIN and
// INSERT … SELECT. The #tables' rows are the session's.
var (
	tempRE       = `(\[#[^\]]+\])`
	insertValRE  = regexp.MustCompile(`^INSERT INTO ` + tempRE + ` \((.+?)\) VALUES \((@P\d+(?:, @P\d+)*)\)$`)
	selectLastRE = regexp.MustCompile(`^SELECT (.+), MAX\(\[hp_seq\]\) AS \[hp_seq\] INTO ` + tempRE + ` FROM ` + tempRE + ` GROUP BY (.+)$`)
	deleteLastRE = regexp.MustCompile(`^DELETE t FROM ` + nameRE + ` t JOIN ` + tempRE + ` l ON (.+)$`)
	insertSelRE  = regexp.MustCompile(`^INSERT INTO ` + nameRE + ` \((.+?)\) SELECT (.+?) FROM ` + tempRE + ` s JOIN ` + tempRE + ` l ON s\.\[hp_seq\] = l\.\[hp_seq\]$`)
)

func (st *Store) handleSQLSource(s *Server) {
	s.HandleMatch(func(q string) bool { return insertValRE.MatchString(q) }, st.insertValues)
	s.HandleMatch(func(q string) bool { return selectLastRE.MatchString(q) }, st.selectLast)
	s.HandleMatch(func(q string) bool { return deleteLastRE.MatchString(q) }, st.deleteLast)
	s.HandleMatch(func(q string) bool { return insertSelRE.MatchString(q) }, st.insertSelect)
}

// sessionTable is the key of a session's #table's rows.
func sessionTable(session uint64, name string) string {
	return name + "@" + strconv.FormatUint(session, 10)
}

func (st *Store) insertValues(q Query) Response {
	m := insertValRE.FindStringSubmatch(q.SQL)
	cols, ok := st.s.TempTable(q.Session, m[1])
	if !ok {
		return Response{Err: invalidObject(m[1])}
	}
	names, args := quotedList(m[2], ""), q.Args()
	if len(names) != len(args) {
		return Response{Err: &Error{Number: 109, Message: "There are fewer columns in the INSERT statement than values specified in the VALUES clause."}}
	}
	row := make([]any, len(cols))
	for i, n := range names {
		j := colIndex(cols, n)
		if j < 0 {
			return Response{Err: &Error{Number: 207, Message: "Invalid column name '" + n + "'."}}
		}
		row[j] = args[i]
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.dirty[q.Session] = true
	k := sessionTable(q.Session, m[1])
	st.rows[k] = append(st.rows[k], row)
	return Response{RowsAffected: 1}
}

// selectLast keeps, per key, the staged row of the highest hp_seq: its
// key and hp_seq.
func (st *Store) selectLast(q Query) Response {
	m := selectLastRE.FindStringSubmatch(q.SQL)
	keys, last, stage := quotedList(m[1], ""), m[2], m[3]
	if group := quotedList(m[4], ""); !slices.Equal(keys, group) {
		return Response{Err: &Error{Number: 8120, Message: "store: SELECT list and GROUP BY differ"}}
	}
	cols, ok := st.s.TempTable(q.Session, stage)
	if !ok {
		return Response{Err: invalidObject(stage)}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.dirty[q.Session] = true
	seq := colIndex(cols, "hp_seq")
	best := map[string][]any{}
	var order []string
	for _, r := range st.rows[sessionTable(q.Session, stage)] {
		var k []string
		out := make([]any, 0, len(keys)+1)
		for _, n := range keys {
			v := r[colIndex(cols, n)]
			k, out = append(k, fmt.Sprintf("%#v", v)), append(out, v)
		}
		out = append(out, r[seq])
		key := strings.Join(k, "|")
		if b, ok := best[key]; !ok {
			order = append(order, key)
		} else if b[len(b)-1].(int64) > r[seq].(int64) {
			continue
		}
		best[key] = out
	}
	var lastCols []Column
	for _, n := range append(slices.Clone(keys), "hp_seq") {
		lastCols = append(lastCols, cols[colIndex(cols, n)])
	}
	st.temp[sessionTable(q.Session, last)] = lastCols
	k := sessionTable(q.Session, last)
	st.rows[k] = nil
	for _, key := range order {
		st.rows[k] = append(st.rows[k], best[key])
	}
	return Response{RowsAffected: int64(len(order))}
}

// lastColumns are the columns of a session's #table: created by CREATE
// TABLE, or by selectLast.
func (st *Store) lastColumns(session uint64, name string) ([]Column, bool) {
	if c, ok := st.temp[sessionTable(session, name)]; ok {
		return c, true
	}
	return st.s.TempTable(session, name)
}

// deleteLast deletes the target's rows whose key a #table holds.
func (st *Store) deleteLast(q Query) Response {
	m := deleteLastRE.FindStringSubmatch(q.SQL)
	target, temp := m[1], m[2]
	keys, e := joinKeys(m[3], "l.")
	if e != nil {
		return Response{Err: e}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	tcols, ok := st.columns(target)
	if !ok {
		return Response{Err: invalidObject(target)}
	}
	lcols, ok := st.lastColumns(q.Session, temp)
	if !ok {
		return Response{Err: invalidObject(temp)}
	}
	return st.deleteMatching(q.Session, target, tcols, st.rows[sessionTable(q.Session, temp)], lcols, keys)
}

// insertSelect inserts the staged rows that are their key's last.
func (st *Store) insertSelect(q Query) Response {
	m := insertSelRE.FindStringSubmatch(q.SQL)
	target, names, sel, stage, last := m[1], quotedList(m[2], ""), quotedList(m[3], "s."), m[4], m[5]
	if !slices.Equal(names, sel) {
		return Response{Err: &Error{Number: 102, Message: "store: INSERT and SELECT lists differ"}}
	}
	scols, ok := st.s.TempTable(q.Session, stage)
	if !ok {
		return Response{Err: invalidObject(stage)}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	tcols, ok := st.columns(target)
	if !ok {
		return Response{Err: invalidObject(target)}
	}
	lcols, _ := st.lastColumns(q.Session, last)
	seqs := map[any]bool{}
	for _, r := range st.rows[sessionTable(q.Session, last)] {
		seqs[r[colIndex(lcols, "hp_seq")]] = true
	}
	var add [][]any
	for _, r := range st.rows[sessionTable(q.Session, stage)] {
		if !seqs[r[colIndex(scols, "hp_seq")]] {
			continue
		}
		row := make([]any, len(tcols))
		for _, n := range names {
			j := colIndex(tcols, n)
			v := r[colIndex(scols, n)]
			if !tcols[j].Nullable && v == nil {
				return Response{Err: &Error{Number: 515, State: 2, Class: 16, Message: "Cannot insert the value NULL into column '" + n + "', table '" + target + "'; column does not allow nulls. INSERT fails."}}
			}
			row[j] = v
		}
		add = append(add, row)
	}
	st.dirty[q.Session] = true
	st.rows[target] = append(st.rows[target], add...)
	return Response{RowsAffected: int64(len(add))}
}
