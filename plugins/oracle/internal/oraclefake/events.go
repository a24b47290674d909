package oraclefake

import (
	"database/sql/driver"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/godror/godror"
)

// Events is HP.EVENTS, whose columns drive deltas: ID NUMBER(10), UPDATED
// DATE, TS TIMESTAMP(6) and N (NUMBER without precision).
func Events() *Table {
	i := func(n int64) any { return n }
	return &Table{Owner: "HP", Name: "EVENTS", Key: []string{"ID"}, Cols: []Column{
		{Name: "ID", Type: "NUMBER", Precision: i(10), Scale: i(0), Nullable: "N"},
		{Name: "UPDATED", Type: "DATE", Nullable: "Y"},
		{Name: "TS", Type: "TIMESTAMP(6)", Scale: i(6), Nullable: "Y"},
		{Name: "N", Type: "NUMBER", Nullable: "Y"},
	}}
}

// EventRow is row i of HP.EVENTS (and of HP.NOKEY).
func EventRow(i int) []driver.Value { return eventRow(i) }

// eventRow is row i of HP.EVENTS, as godror returns it: every driver
// grows with ID (UPDATED by days, TS by seconds from a microsecond past
// midnight, N by eighths).
func eventRow(i int) []driver.Value {
	n := new(big.Rat).SetFrac64(int64(i), 8).FloatString(3)
	n = strings.TrimRight(strings.TrimRight(n, "0"), ".")
	return []driver.Value{godror.Number(strconv.Itoa(i)), time.Date(2024, 1, 1+i, 0, 0, 0, 0, Session),
		time.Date(2024, 1, 1, 0, 0, i, 1000, Session), godror.Number(n)}
}

// EventsTZ is HP.EVENTS_TZ: ID NUMBER(10) and TSTZ TIMESTAMP(6) WITH TIME
// ZONE, whose instants grow with ID while their offsets (-11:00 to
// +13:45) put the wall times out of order.
func EventsTZ() *Table {
	i := func(n int64) any { return n }
	return &Table{Owner: "HP", Name: "EVENTS_TZ", Key: []string{"ID"}, Cols: []Column{
		{Name: "ID", Type: "NUMBER", Precision: i(10), Scale: i(0), Nullable: "N"},
		{Name: "TSTZ", Type: "TIMESTAMP(6) WITH TIME ZONE", Scale: i(6), Nullable: "Y"},
	}}
}

// tzOffsets are EVENTS_TZ's offsets in minutes, row by row.
var tzOffsets = []int{330, -480, 0, 825, -210, 60, -660, 540}

// EventTZ is the TSTZ of row i of HP.EVENTS_TZ, as godror returns it (in
// the value's own offset): 20 minutes apart from 2024-03-10 12:00 UTC.
func EventTZ(i int) time.Time {
	zone := time.FixedZone("", tzOffsets[(i-1)%len(tzOffsets)]*60)
	return time.Date(2024, 3, 10, 12, 20*i, 0, 0, time.UTC).In(zone)
}

func eventTZRow(i int) []driver.Value {
	return []driver.Value{godror.Number(strconv.Itoa(i)), EventTZ(i)}
}

var (
	condition = regexp.MustCompile(`^"(\w+)" (>=|>|<=|<) (?:TO_DATE\('([^']*)', 'YYYY-MM-DD HH24:MI:SS'\)|TIMESTAMP '([^']*)'|:(\d+))$`)
	zoned     = regexp.MustCompile(` [+-]\d\d:\d\d$`) // a TIMESTAMP WITH TIME ZONE literal
)

// AnswerEvents answers the connector's bounds and range reads of
// HP.EVENTS and HP.EVENTS_TZ holding rows 1..n, evaluating their range
// conditions as Oracle would (each column compared as its own type); ok
// is false for other statements.
func AnswerEvents(n int, q string, args []any) (r *Result, ok bool, err error) {
	if r, ok, err := answerTable(Events(), eventRow, n, q, args); ok {
		return r, ok, err
	}
	return answerTable(EventsTZ(), eventTZRow, n, q, args)
}

// answerTable answers bounds and range reads of table t, whose rows 1..n
// are row(i), each driver growing with ID; it has no physical ROWIDs.
func answerTable(t *Table, row func(int) []driver.Value, n int, q string, args []any) (r *Result, ok bool, err error) {
	return answerRows(t, row, func(string) (int, error) { return n, nil }, nil, q, args)
}

// answerRows answers bounds and range reads of table t, whose rows 1..n
// are row(i), n being visible(scn) for a read AS OF SCN scn ("" for a
// read without); at gives a row's physical address (nil: the table has
// none, and a ROWID condition fails).
func answerRows(t *Table, row func(int) []driver.Value, visible func(scn string) (int, error), at func(int) ([4]int64, error), q string, args []any) (r *Result, ok bool, err error) {
	// A partitioned read's slices read AS OF one SCN.
	from := regexp.QuoteMeta(`FROM "HP"."`+t.Name+`"`) + `(?: AS OF SCN (\d+))?`
	boundsQuery := regexp.MustCompile(`^SELECT MIN\("(\w+)"\), MAX\("\w+"\)(, COUNT\(\*\), COUNT\("\w+"\))? ` + from + `(?: WHERE (.*))?$`)
	readQuery := regexp.MustCompile(`^SELECT (.+?) ` + from + `(?: WHERE (.*?))?(?: ORDER BY .*)?$`)
	cols := t.Names()
	index := func(name string) int {
		for i, c := range cols {
			if c == name {
				return i
			}
		}
		return -1
	}
	var where, list, scn string
	var bounds int
	counts := false
	if m := boundsQuery.FindStringSubmatch(q); m != nil {
		bounds, counts, scn, where = index(m[1]), m[2] != "", m[3], m[4]
	} else if m := readQuery.FindStringSubmatch(q); m != nil {
		list, scn, where = m[1], m[2], m[3]
	} else {
		return nil, false, nil
	}
	n, err := visible(scn)
	if err != nil {
		return nil, true, err
	}
	var rows [][]driver.Value
	for i := 1; i <= n; i++ {
		r := row(i)
		var addr *[4]int64
		if at != nil {
			a, err := at(i)
			if err != nil {
				return nil, true, err
			}
			addr = &a
		}
		keep, err := matches(r, addr, index, where, args)
		if err != nil {
			return nil, true, err
		}
		if keep {
			rows = append(rows, r)
		}
	}
	if list == "" {
		if bounds < 0 {
			return nil, true, fmt.Errorf("oraclefake: bounds of an unknown column: %s", q)
		}
		var lo, hi driver.Value
		if len(rows) > 0 {
			lo, hi = rows[0][bounds], rows[len(rows)-1][bounds]
		}
		if !counts {
			return &Result{Cols: []string{"MIN", "MAX"}, Rows: [][]driver.Value{{lo, hi}}}, true, nil
		}
		count := godror.Number(strconv.Itoa(len(rows)))
		return &Result{Cols: []string{"MIN", "MAX", "COUNT", "COUNT"}, Rows: [][]driver.Value{{lo, hi, count, count}}}, true, nil
	}
	var pick []int
	for _, c := range strings.Split(list, ", ") {
		i := index(strings.Trim(c, `"`))
		if i < 0 {
			return nil, true, fmt.Errorf("oraclefake: unknown column %s in %s", c, q)
		}
		pick = append(pick, i)
	}
	out := &Result{}
	for _, i := range pick {
		out.Cols = append(out.Cols, cols[i])
	}
	for _, got := range rows {
		var r []driver.Value
		for _, i := range pick {
			r = append(r, got[i])
		}
		out.Rows = append(out.Rows, r)
	}
	return out, true, nil
}

// topLevel splits s at sep outside parentheses.
func topLevel(s, sep string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '(':
			depth++
		case s[i] == ')':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			out = append(out, s[start:i])
			start = i + len(sep)
			i += len(sep) - 1
		}
	}
	return append(out, s[start:])
}

// balanced reports whether s's parentheses pair up without closing below
// its start.
func balanced(s string) bool {
	depth := 0
	for _, c := range s {
		if c == '(' {
			depth++
		} else if c == ')' {
			if depth--; depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

var intCondition = regexp.MustCompile(`^"(\w+)" (>=|>|<=|<) (-?\d+)$`)

// matches evaluates a WHERE of conditions joined by AND and OR (with
// parentheses, as a partitioned read's slices send) on a row.
func matches(row []driver.Value, addr *[4]int64, index func(string) int, where string, args []any) (bool, error) {
	if where == "" {
		return true, nil
	}
	if ors := topLevel(where, " OR "); len(ors) > 1 {
		for _, o := range ors {
			if ok, err := matches(row, addr, index, o, args); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}
	// A ROWID range, whose BETWEEN's AND is no conjunction.
	if m := rowidBetween.FindStringSubmatch(where); m != nil {
		if addr == nil {
			return false, fmt.Errorf("oraclefake: a ROWID range on a table without physical ROWIDs: %s", where)
		}
		return inRowidRange(m, *addr)
	}
	for _, c := range topLevel(where, " AND ") {
		if strings.HasPrefix(c, "(") && strings.HasSuffix(c, ")") && balanced(c[1:len(c)-1]) {
			ok, err := matches(row, addr, index, c[1:len(c)-1], args)
			if !ok || err != nil {
				return false, err
			}
			continue
		}
		switch col, isNull := strings.CutSuffix(c, " IS NULL"); {
		case c == "1=1":
			continue
		case c == "1=0":
			return false, nil
		case isNull && index(strings.Trim(col, `"`)) >= 0:
			if row[index(strings.Trim(col, `"`))] != nil {
				return false, nil
			}
			continue
		}
		if m := intCondition.FindStringSubmatch(c); m != nil && index(m[1]) >= 0 {
			num, _ := row[index(m[1])].(godror.Number)
			x, ok := new(big.Rat).SetString(string(num))
			v, _ := new(big.Rat).SetString(m[3])
			if !ok {
				return false, fmt.Errorf("oraclefake: %q against %T", c, row[index(m[1])])
			}
			cmp := x.Cmp(v)
			if !map[string]bool{">": cmp > 0, ">=": cmp >= 0, "<": cmp < 0, "<=": cmp <= 0}[m[2]] {
				return false, nil
			}
			continue
		}
		m := condition.FindStringSubmatch(c)
		if m == nil || index(m[1]) < 0 {
			return false, fmt.Errorf("oraclefake: cannot evaluate %q", c)
		}
		cmp, err := compare(row[index(m[1])], m)
		if err != nil {
			return false, err
		}
		ok := map[string]bool{">": cmp > 0, ">=": cmp >= 0, "<": cmp < 0, "<=": cmp <= 0}[m[2]]
		if m[5] != "" {
			k, _ := strconv.Atoi(m[5])
			num, isNum := args[k-1].(godror.Number)
			v, isRat := new(big.Rat).SetString(string(num))
			x, _ := new(big.Rat).SetString(string(row[index(m[1])].(godror.Number)))
			if !isNum || !isRat {
				return false, fmt.Errorf("oraclefake: bind :%s is %T, not a NUMBER", m[5], args[k-1])
			}
			cmp := x.Cmp(v)
			ok = map[string]bool{">": cmp > 0, ">=": cmp >= 0, "<": cmp < 0, "<=": cmp <= 0}[m[2]]
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// compare compares a DATE or TIMESTAMP value (its wall time), or a
// TIMESTAMP WITH TIME ZONE literal (an instant, as Oracle compares them),
// with a typed literal; binds compare in matches.
func compare(v driver.Value, m []string) (int, error) {
	if m[5] != "" {
		return 0, nil
	}
	t, ok := v.(time.Time)
	if !ok {
		return 0, fmt.Errorf("oraclefake: a time literal against %T", v)
	}
	lit, layout := m[4], "2006-01-02 15:04:05.999999999"
	if m[3] != "" {
		lit, layout = m[3], "2006-01-02 15:04:05"
	}
	if zoned.MatchString(lit) {
		l, err := time.Parse(layout+" -07:00", lit)
		if err != nil {
			return 0, err
		}
		return t.Compare(l), nil
	}
	l, err := time.Parse(layout, lit)
	if err != nil {
		return 0, err
	}
	w := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	return w.Compare(l), nil
}
