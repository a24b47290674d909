// Package diff compares two tables by key with a sorted merge: both sides
// arrive ordered by the key columns, so only one record batch of each is
// held at a time, whatever the tables' size.
package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Status says how a key differs.
type Status string

// The statuses: a key only the source has is new, one only the target
// has is deleted, one whose other columns differ is changed.
const (
	New     Status = "new"
	Changed Status = "changed"
	Deleted Status = "deleted"
)

// ErrNullKey is the kind of the error for a row whose key holds a NULL.
var ErrNullKey = errors.New("NULL key")

// Difference is one key that differs.
type Difference struct {
	Status Status
	// Key is the key as a JSON object, columns in key order (the source's
	// values for new and changed rows, the target's for deleted ones).
	Key json.RawMessage
	// Columns are the names of the columns that differ (changed only).
	Columns []string
	// Record and Row locate the row that differs, for a caller that applies
	// the difference (hp sync batch): the source's row for new and changed
	// keys, the target's for deleted ones, in a batch of the side's
	// Records. The batch is valid during the emit call only (Retain it to
	// keep it).
	Record arrow.RecordBatch
	Row    int
}

// MarshalJSON writes {"status":…,"key":{…},"columns":[…]}.
func (d Difference) MarshalJSON() ([]byte, error) {
	cols := d.Columns
	if cols == nil {
		cols = []string{}
	}
	return json.Marshal(struct {
		Status  Status          `json:"status"`
		Key     json.RawMessage `json:"key"`
		Columns []string        `json:"columns"`
	}{d.Status, d.Key, cols})
}

// Summary counts what Compare saw.
type Summary struct {
	SourceRows int64 `json:"source_rows"`
	TargetRows int64 `json:"target_rows"`
	New        int64 `json:"new"`
	Changed    int64 `json:"changed"`
	Deleted    int64 `json:"deleted"`
}

// Differences is the number of keys that differ.
func (s Summary) Differences() int64 { return s.New + s.Changed + s.Deleted }

// Side is one table of a comparison: its rows in ascending key order
// (NULL-free keys, text keys ordered by bytes), and the names its columns
// have there.
type Side struct {
	// Name names the table in errors.
	Name    string
	Records array.RecordReader
	// Keys and Columns are the side's names of the key columns and of the
	// compared columns, in the same order on both sides.
	Keys, Columns []string
}

// Compare merges the two sides and calls emit for every key that differs,
// in key order. Columns compare by value across Arrow types: integers of
// any width, decimals of any scale (1.50 equals 1.5) and integers with
// decimals, instants whatever their zone or unit. It fails when a key
// holds a NULL (ErrNullKey), when a side's rows are not in strictly
// ascending key order (its order disagrees with the comparison here, or
// the key is not unique), and when a key or column has types that cannot
// be compared.
func Compare(src, tgt Side, emit func(Difference) error) (Summary, error) {
	var sum Summary
	if len(src.Keys) == 0 || len(src.Keys) != len(tgt.Keys) || len(src.Columns) != len(tgt.Columns) {
		return sum, fmt.Errorf("the two sides must name as many keys and columns")
	}
	s, err := newCursor(src)
	if err != nil {
		return sum, err
	}
	t, err := newCursor(tgt)
	if err != nil {
		return sum, err
	}
	for i := range s.keyIdx {
		if err := sameFamily("key", src.Keys[i], s.types[i], t.types[i]); err != nil {
			return sum, err
		}
	}
	nk := len(s.keyIdx)
	for i := range src.Columns {
		if err := sameFamily("column", src.Columns[i], s.types[nk+i], t.types[nk+i]); err != nil {
			return sum, err
		}
	}
	sok, err := s.next()
	if err != nil {
		return sum, err
	}
	tok, err := t.next()
	if err != nil {
		return sum, err
	}
	for sok || tok {
		c := 0
		switch {
		case !tok:
			c = -1
		case !sok:
			c = 1
		default:
			c = compareKeys(s.key, t.key)
		}
		var d *Difference
		switch {
		case c < 0:
			sum.New++
			d = &Difference{Status: New, Key: s.keyJSON(), Record: s.rec, Row: s.row}
		case c > 0:
			sum.Deleted++
			d = &Difference{Status: Deleted, Key: keyJSON(src.Keys, t.key), Record: t.rec, Row: t.row}
		default:
			var changed []string
			for i, name := range src.Columns {
				if !equal(s.value(nk+i), t.value(nk+i)) {
					changed = append(changed, name)
				}
			}
			if changed != nil {
				sum.Changed++
				d = &Difference{Status: Changed, Key: s.keyJSON(), Columns: changed, Record: s.rec, Row: s.row}
			}
		}
		if d != nil {
			if err := emit(*d); err != nil {
				return sum, err
			}
		}
		if c <= 0 {
			if sok, err = s.next(); err != nil {
				return sum, err
			}
		}
		if c >= 0 {
			if tok, err = t.next(); err != nil {
				return sum, err
			}
		}
	}
	sum.SourceRows, sum.TargetRows = s.rows, t.rows
	return sum, nil
}

func sameFamily(what, name string, a, b arrow.DataType) error {
	if !comparable(kindOf(a), kindOf(b)) {
		return fmt.Errorf("%s %q is %s in the source and %s in the target: they cannot be compared", what, name, a, b)
	}
	if what == "key" && (kindOf(a) == kOther || kindOf(a) == kFloat) {
		return fmt.Errorf("key %q is %s: only integers, decimals, text, binary, booleans, dates and times can be keys of a diff", name, a)
	}
	return nil
}

// cursor walks one side row by row.
type cursor struct {
	side   Side
	idx    []int // schema index of each key, then of each column
	keyIdx []int
	types  []arrow.DataType
	rec    arrow.RecordBatch
	get    []getter
	row    int
	rows   int64
	key    []val
	prev   []val
}

func newCursor(s Side) (*cursor, error) {
	c := &cursor{side: s}
	schema := s.Records.Schema()
	for _, n := range append(append([]string(nil), s.Keys...), s.Columns...) {
		f := schema.FieldIndices(n)
		if len(f) != 1 {
			return nil, fmt.Errorf("%s has no column %q", s.Name, n)
		}
		c.idx = append(c.idx, f[0])
		c.types = append(c.types, schema.Field(f[0]).Type)
	}
	c.keyIdx = c.idx[:len(s.Keys)]
	c.key = make([]val, len(s.Keys))
	return c, nil
}

// next moves to the next row; false at the end.
func (c *cursor) next() (bool, error) {
	c.row++
	for c.rec == nil || c.row >= int(c.rec.NumRows()) {
		// The key kept for the order check must not point into the
		// batch being left, which Next releases (its memory may then be
		// the next batch's).
		for i := range c.key {
			c.key[i].s = strings.Clone(c.key[i].s)
		}
		if !c.side.Records.Next() {
			if err := c.side.Records.Err(); err != nil {
				return false, fmt.Errorf("reading %s: %w", c.side.Name, err)
			}
			return false, nil
		}
		c.rec, c.row = c.side.Records.RecordBatch(), 0
		c.get = c.get[:0]
		for _, i := range c.idx {
			c.get = append(c.get, getterFor(c.rec.Column(i)))
		}
	}
	c.rows++
	c.prev, c.key = c.key, c.prev
	if c.key == nil {
		c.key = make([]val, len(c.keyIdx))
	}
	for i := range c.keyIdx {
		c.key[i] = c.get[i](c.row)
		if c.key[i].k == kNull {
			return false, fmt.Errorf("%w: key column %q is NULL in row %d of %s: a row without a key cannot be matched", ErrNullKey, c.side.Keys[i], c.rows, c.side.Name)
		}
	}
	if c.rows > 1 && compareKeys(c.prev, c.key) >= 0 {
		return false, fmt.Errorf("the rows of %s are not in strictly ascending key order at key %s (after %s): the key is not unique, or the database orders it differently", c.side.Name, c.keyJSON(), keyJSON(c.side.Keys, c.prev))
	}
	return true, nil
}

func (c *cursor) value(i int) val { return c.get[i](c.row) }

func (c *cursor) keyJSON() json.RawMessage { return keyJSON(c.side.Keys, c.key) }

func compareKeys(a, b []val) int {
	for i := range a {
		if c := compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func keyJSON(names []string, key []val) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(n)
		b.Write(name)
		b.WriteByte(':')
		key[i].json(&b)
	}
	b.WriteByte('}')
	return b.Bytes()
}
