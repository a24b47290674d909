package tds

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ServeKeyTable plays the rows of a table whose first column is an
// integer key, for reads split into key ranges (hp cp snap --parallel):
// it answers SELECT MIN(k), MAX(k) FROM name (any table hint after the
// name) and SELECT [c], ... FROM name [WHERE pred], pred being OR of ANDs
// of [k] < n, [k] >= n, [k] IS NULL, 1=1 and 1=0, with n an integer or
// CAST(n AS bigint). name is as the client sends it, e.g. [dbo].[t];
// cols are the wire columns, rows' values int64 keys first (nil: NULL).
// Other statements about the table fail, so an unexpected shape shows.
// Exact registrations (Handle, ...) still win.
func (s *Server) ServeKeyTable(name string, cols []Column, rows [][]any) {
	from := " FROM " + name
	s.HandleMatch(func(q string) bool { return strings.HasPrefix(q, "SELECT ") && strings.Contains(q, from) }, func(q Query) Response {
		fail := func(format string, args ...any) Response {
			return Response{Err: &Error{Number: 102, Class: 15, Message: "tds key table: " + fmt.Sprintf(format, args...)}}
		}
		list, rest, _ := strings.Cut(strings.TrimPrefix(q.SQL, "SELECT "), from)
		key := "[" + cols[0].Name + "]"
		if list == "MIN("+key+"), MAX("+key+")" {
			bounds := Column{Type: cols[0].Type, Length: cols[0].Length, Nullable: true}
			row := []any{nil, nil}
			for _, r := range rows {
				if k, ok := r[0].(int64); ok {
					if row[0] == nil || k < row[0].(int64) {
						row[0] = k
					}
					if row[1] == nil || k > row[1].(int64) {
						row[1] = k
					}
				}
			}
			return Response{Columns: []Column{bounds, bounds}, Rows: [][]any{row}}
		}
		var idx []int
		var out []Column
		for _, n := range strings.Split(list, ", ") {
			i := slices.IndexFunc(cols, func(c Column) bool { return "["+c.Name+"]" == n })
			if i < 0 {
				return fail("no column %s in %q", n, q.SQL)
			}
			idx, out = append(idx, i), append(out, cols[i])
		}
		pred := "1=1"
		if rest != "" {
			var ok bool
			if pred, ok = strings.CutPrefix(rest, " WHERE "); !ok {
				return fail("unexpected %q", q.SQL)
			}
		}
		resp := Response{Columns: out}
		for _, r := range rows {
			in, err := evalKeyPred(pred, key, r[0])
			if err != nil {
				return fail("%v in %q", err, q.SQL)
			}
			if in {
				p := make([]any, len(idx))
				for j, i := range idx {
					p[j] = r[i]
				}
				resp.Rows = append(resp.Rows, p)
			}
		}
		return resp
	})
}

var keyAtom = regexp.MustCompile(`^(\[[^\]]+\]) (<|>=) (?:CAST\((-?\d+) AS bigint\)|(-?\d+))$`)

// evalKeyPred evaluates a slice predicate (see ServeKeyTable) for key v.
func evalKeyPred(pred, key string, v any) (bool, error) {
	if strings.HasPrefix(pred, "(") && strings.HasSuffix(pred, ")") {
		// A read's WHERE wraps each condition.
		pred = pred[1 : len(pred)-1]
	}
	for _, or := range strings.Split(pred, " OR ") {
		all := true
		for _, atom := range strings.Split(or, " AND ") {
			var ok bool
			switch m := keyAtom.FindStringSubmatch(atom); {
			case atom == "1=1":
				ok = true
			case atom == "1=0":
			case atom == key+" IS NULL":
				ok = v == nil
			case m != nil && m[1] == key:
				n, _ := strconv.ParseInt(m[3]+m[4], 10, 64)
				k, isInt := v.(int64)
				ok = isInt && (m[2] == "<" && k < n || m[2] == ">=" && k >= n)
			default:
				return false, fmt.Errorf("unexpected condition %q", atom)
			}
			all = all && ok
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}
