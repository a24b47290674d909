package oraclefake

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/godror/godror"
)

// Extent is one extent of a fake table's segment: Blocks blocks from
// block Block of relative file File, in the segment whose data object id
// is Obj (a partitioned table has one segment, and id, per partition).
type Extent struct{ Obj, File, Block, Blocks int64 }

// Heap is a heap-organized fake table with physical ROWIDs, for
// partitioned reads by ROWID ranges: its rows fill its extents in the
// order listed (allocation order, which need not be file and block
// order), PerBlock rows a block, each row with its own address (data
// object, file, block, row number). Rows 1..Rows were committed at the
// SCN, rows Rows+1..Rows+Later after it: a read AS OF SCN sees the first,
// a read without AS OF all of them. Reads evaluate their conditions
// (ROWID BETWEEN DBMS_ROWID.ROWID_CREATE(...) AND ..., and the key
// conditions AnswerEvents evaluates) on every row, so a slice reads
// exactly the rows its predicate holds.
type Heap struct {
	Table       *Table
	Row         func(i int) []driver.Value
	Extents     []Extent
	PerBlock    int
	Rows, Later int
	SCN         string
	Bigfile     bool  // the extents' tablespace is a bigfile one
	ExtentsErr  error // the extents query fails so (a missing privilege)

	mu      sync.Mutex
	scnRead bool
}

// HeapQueries are the connector's statements a Heap answers.
type HeapQueries struct{ SCN, Extents, TableKind string }

// Address returns row i's physical address: data object, relative file,
// block and row number.
func (h *Heap) Address(i int) ([4]int64, error) {
	slot := int64(i - 1)
	per := int64(h.PerBlock)
	for _, e := range h.Extents {
		if slot < e.Blocks*per {
			return [4]int64{e.Obj, e.File, e.Block + slot/per, slot % per}, nil
		}
		slot -= e.Blocks * per
	}
	return [4]int64{}, fmt.Errorf("oraclefake: row %d of %s does not fit its extents", i, h.Table.Name)
}

// Answer answers the SCN, extents and table kind queries and the reads of
// h; ok is false for other statements. The extents must be asked for
// after the SCN: extents listed before it could miss rows committed
// between the two.
func (h *Heap) Answer(hq HeapQueries, q string, args []any) (r *Result, ok bool, err error) {
	str := func(i int) string { s, _ := args[i].(string); return s }
	switch q {
	case hq.SCN:
		h.mu.Lock()
		h.scnRead = true
		h.mu.Unlock()
		return &Result{Cols: []string{"CURRENT_SCN"}, Rows: [][]driver.Value{{godror.Number(h.SCN)}}}, true, nil
	case hq.Extents:
		if str(0) != h.Table.Owner || str(1) != h.Table.Name {
			return nil, false, nil
		}
		h.mu.Lock()
		read := h.scnRead
		h.mu.Unlock()
		if !read {
			return nil, true, errors.New("oraclefake: the extents were listed before the SCN was read")
		}
		if h.ExtentsErr != nil {
			return nil, true, h.ExtentsErr
		}
		big := "NO"
		if h.Bigfile {
			big = "YES"
		}
		r := &Result{Cols: []string{"DATA_OBJECT_ID", "RELATIVE_FNO", "BLOCK_ID", "BLOCKS", "BIGFILE"}}
		for _, e := range h.Extents {
			r.Rows = append(r.Rows, []driver.Value{num(e.Obj), num(e.File), num(e.Block), num(e.Blocks), big})
		}
		return r, true, nil
	case hq.TableKind:
		if str(0) != h.Table.Owner || str(1) != h.Table.Name {
			return nil, false, nil
		}
		return &Result{Cols: []string{"IOT_TYPE", "TEMPORARY", "CLUSTER_NAME", "EXTERNAL"}, Rows: [][]driver.Value{{"", "N", "", godror.Number("0")}}}, true, nil
	}
	visible := func(scn string) (int, error) {
		switch scn {
		case "":
			return h.Rows + h.Later, nil
		case h.SCN:
			return h.Rows, nil
		}
		return 0, fmt.Errorf("oraclefake: AS OF SCN %s, but the SCN handed out is %s", scn, h.SCN)
	}
	return answerRows(h.Table, h.Row, visible, h.Address, q, args)
}

func num(n int64) driver.Value { return godror.Number(strconv.FormatInt(n, 10)) }

// rowidBetween is a ROWID range as the connector's slices send it.
var rowidBetween = regexp.MustCompile(`^ROWID BETWEEN DBMS_ROWID\.ROWID_CREATE\(1, (\d+), (\d+), (\d+), (\d+)\) AND DBMS_ROWID\.ROWID_CREATE\(1, (\d+), (\d+), (\d+), (\d+)\)$`)

// inRowidRange evaluates a ROWID BETWEEN on an address: ROWIDs compare as
// data object, file, block and row number, in that order.
func inRowidRange(m []string, at [4]int64) (bool, error) {
	var lo, hi [4]int64
	for i := range 4 {
		var err1, err2 error
		lo[i], err1 = strconv.ParseInt(m[1+i], 10, 64)
		hi[i], err2 = strconv.ParseInt(m[5+i], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return false, err
		}
	}
	if lo[3] > 65535 || hi[3] > 65535 {
		return false, fmt.Errorf("oraclefake: a row number beyond a ROWID's 16 bits in %s", m[0])
	}
	cmp := func(a, b [4]int64) int {
		for i := range 4 {
			if a[i] != b[i] {
				if a[i] < b[i] {
					return -1
				}
				return 1
			}
		}
		return 0
	}
	return cmp(lo, at) <= 0 && cmp(at, hi) <= 0, nil
}

// NoKey is HP.NOKEY: the columns of HP.EVENTS without a primary key.
func NoKey() *Table {
	return &Table{Owner: "HP", Name: "NOKEY", Cols: Events().Cols}
}

// NoKeyHeap is HP.NOKEY as a Heap of rows 1..rows (EVENTS's rows) at SCN
// scn, and later rows after it, perBlock rows a block, in extents of 8
// blocks (data object 74021; at least one, as a table created with its
// segment has) allocated alternately in relative files 7 (downwards from
// block 4000) and 4 (upwards from block 128): listed in allocation order,
// they are out of file and block order.
func NoKeyHeap(rows, later, perBlock int, scn string) *Heap {
	var exts []Extent
	for k := int64(0); k == 0 || int64(len(exts))*8*int64(perBlock) < int64(rows+later); k++ {
		if k%2 == 0 {
			exts = append(exts, Extent{Obj: 74021, File: 7, Block: 4000 - 16*k, Blocks: 8})
		} else {
			exts = append(exts, Extent{Obj: 74021, File: 4, Block: 128 + 16*k, Blocks: 8})
		}
	}
	return &Heap{Table: NoKey(), Row: eventRow, Extents: exts, PerBlock: perBlock, Rows: rows, Later: later, SCN: scn}
}
