package oracle

import (
	"bytes"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
)

var heapQueries = oraclefake.HeapQueries{SCN: SCNQuery, Extents: ExtentsQuery, TableKind: TableKindQuery}

// lockedBuffer is a log sink safe for the goroutines that plan slices.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// captureLog collects what the test logs (the package's tests do not run
// in parallel).
func captureLog(t *testing.T) *lockedBuffer {
	t.Helper()
	buf := &lockedBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf
}

// heapFake serves the heap tables (and the catalog of their tables) and
// fails any other statement.
func heapFake(heaps ...*oraclefake.Heap) *oraclefake.DB {
	var tables []*oraclefake.Table
	for _, h := range heaps {
		tables = append(tables, h.Table)
	}
	f := &oraclefake.DB{}
	f.Handle = catalog(tables, nil, func(q string, args []any) (*oraclefake.Result, error) {
		for _, h := range heaps {
			if r, ok, err := h.Answer(heapQueries, q, args); ok {
				return r, err
			}
		}
		return nil, fmt.Errorf("fake: unexpected %s", q)
	})
	return f
}

// exactlyOnce fails unless the slices read ids 1..n, each once.
func exactlyOnce(t *testing.T, got [][]string, n int) {
	t.Helper()
	seen := map[string]int{}
	for i, ids := range got {
		for _, id := range ids {
			if s, dup := seen[id]; dup {
				t.Fatalf("row %s read by slices %d and %d", id, s, i)
			}
			seen[id] = i
		}
	}
	for id := 1; id <= n; id++ {
		if _, ok := seen[strconv.Itoa(id)]; !ok {
			t.Fatalf("row %d read by no slice (slices: %v)", id, got)
		}
	}
	if len(seen) != n {
		t.Fatalf("the slices read %d rows, want the %d at the SCN (rows committed after it included?): %v", len(seen), n, got)
	}
}

// reads returns the reads of table name the fake was sent.
func reads(f *oraclefake.DB, name string) []string {
	var out []string
	for _, q := range f.Statements() {
		if strings.HasPrefix(q, `SELECT "ID" FROM "HP"."`+name+`"`) {
			out = append(out, q)
		}
	}
	return out
}

// TestPartitionsByRowidRanges: a table without a primary key, partitioned
// (two segments, data objects 74021 and 74022) with extents in relative
// files 4 and 7 allocated out of order, is cut into four ROWID ranges of
// 12 blocks each, read AS OF the one SCN: the slices read the 120 rows at
// the SCN exactly once, and none of the 20 committed after it. Each
// BETWEEN stays in one data object and file; a slice's blocks across a
// cut extent, two files or two segments become ORed ranges. The SQL is
// pinned, and nothing is logged.
func TestPartitionsByRowidRanges(t *testing.T) {
	h := &oraclefake.Heap{Table: oraclefake.NoKey(), Row: oraclefake.EventRow, PerBlock: 3, Rows: 120, Later: 20, SCN: "555",
		Extents: []oraclefake.Extent{
			{Obj: 74021, File: 7, Block: 520, Blocks: 8},
			{Obj: 74021, File: 4, Block: 136, Blocks: 8},
			{Obj: 74022, File: 4, Block: 144, Blocks: 8}, // the next blocks of file 4, another segment
			{Obj: 74021, File: 7, Block: 16, Blocks: 8},
			{Obj: 74021, File: 4, Block: 264, Blocks: 16},
		}}
	f := heapFake(h)
	log := captureLog(t)
	got := readSlices(t, NewWithDB(open(f)), "nokey", 4)
	exactlyOnce(t, got, 120)
	for i, ids := range got {
		if len(ids) == 0 {
			t.Fatalf("slice %d read nothing: %v", i, got)
		}
	}
	rid := func(obj, file, block, row int) string {
		return fmt.Sprintf("DBMS_ROWID.ROWID_CREATE(1, %d, %d, %d, %d)", obj, file, block, row)
	}
	between := func(obj, file, first, last int) string {
		return "(ROWID BETWEEN " + rid(obj, file, first, 0) + " AND " + rid(obj, file, last, 32767) + ")"
	}
	read := `SELECT "ID" FROM "HP"."NOKEY" AS OF SCN 555 WHERE `
	want := []string{
		read + "(" + between(74021, 4, 136, 267) + ")",
		read + "(" + between(74021, 4, 268, 279) + ")",
		read + "(" + between(74021, 7, 16, 523) + ")",
		read + "(" + between(74021, 7, 524, 527) + " OR " + between(74022, 4, 144, 151) + ")",
	}
	if r := reads(f, "NOKEY"); !slices.Equal(r, want) {
		t.Fatalf("reads:\n%s\nwant:\n%s", strings.Join(r, "\n"), strings.Join(want, "\n"))
	}
	var extents int
	for _, c := range f.Calls() {
		if c.SQL == ExtentsQuery {
			extents++
			if fmt.Sprint(c.Args) != "[HP NOKEY]" {
				t.Fatalf("extents of %v", c.Args)
			}
		}
	}
	if extents != 1 || strings.Count(strings.Join(f.Statements(), "\n"), SCNQuery) != 1 {
		t.Fatalf("the SCN and the extents must be read once each: %q", f.Statements())
	}
	if w := log.String(); w != "" {
		t.Fatalf("logged:\n%s", w)
	}
}

// TestPartitionsByRowidRangesSizes: any count of slices over tables of
// a few rows to many extents reads each row at the SCN exactly once;
// slices beyond the table's blocks read nothing (1=0).
func TestPartitionsByRowidRangesSizes(t *testing.T) {
	for _, c := range []struct{ rows, later, perBlock, count int }{
		{0, 0, 3, 3}, {1, 0, 3, 4}, {5, 2, 3, 12}, {23, 1, 3, 2}, {100, 7, 2, 3}, {1000, 50, 7, 7}, {300, 0, 1, 16},
	} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			h := oraclefake.NoKeyHeap(c.rows, c.later, c.perBlock, "31337")
			f := heapFake(h)
			got := readSlices(t, NewWithDB(open(f)), "nokey", c.count)
			exactlyOnce(t, got, c.rows)
			blocks := int64(0)
			for _, e := range h.Extents {
				blocks += e.Blocks
			}
			empty := 0
			for _, q := range reads(f, "NOKEY") {
				if !strings.Contains(q, " AS OF SCN 31337 WHERE ") {
					t.Fatalf("read %q", q)
				}
				if strings.HasSuffix(q, " WHERE (1=0)") {
					empty++
				}
			}
			if want := max(0, c.count-int(blocks)); empty != want {
				t.Fatalf("%d slices read nothing, want %d (%d blocks)", empty, want, blocks)
			}
		})
	}
}

// TestPartitionsRowidFallbacks: without SELECT on DBA_EXTENTS, or with
// extents in a bigfile tablespace, a table without a key is read whole by
// one slice (in its own read-only transaction, not AS OF); an
// index-organized table with an integer key is split by key ranges at the
// SCN. Each says why in a warning.
func TestPartitionsRowidFallbacks(t *testing.T) {
	denied := oraclefake.NoKeyHeap(30, 5, 3, "8")
	denied.ExtentsErr = errors.New("ORA-01031: insufficient privileges")
	bigfile := oraclefake.NoKeyHeap(30, 5, 3, "8")
	bigfile.Bigfile = true
	broken := oraclefake.NoKeyHeap(30, 5, 3, "8")
	broken.ExtentsErr = errors.New("ORA-01219: database or pluggable database not open: queries allowed on fixed tables or views only")
	many := oraclefake.NoKeyHeap(30, 5, 3, "8")
	many.Extents = nil
	for k := range int64(maxRowidRanges*3 + 3) { // one block in each of many segments
		many.Extents = append(many.Extents, oraclefake.Extent{Obj: 90000 + k, File: 4, Block: 128 + k, Blocks: 1})
	}
	many.PerBlock = 1
	for _, c := range []struct {
		name string
		h    *oraclefake.Heap
		why  string
	}{
		{"denied", denied, "no SELECT on DBA_EXTENTS and DBA_TABLESPACES (grant SELECT_CATALOG_ROLE or SELECT ANY DICTIONARY): ORA-01031"},
		{"bigfile", bigfile, "bigfile tablespace"},
		{"other error", broken, "cannot read the extents (DBA_EXTENTS): ORA-01219"},
		{"too many ranges", many, "a slice would need 1001 ROWID ranges"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := heapFake(c.h)
			log := captureLog(t)
			got := readSlices(t, NewWithDB(open(f)), "nokey", 3)
			if len(got[0]) != 35 || len(got[1])+len(got[2]) != 0 {
				t.Fatalf("slices read %v, want every row (35, read now) in the first", got)
			}
			if w := log.String(); !strings.Contains(w, "reads it whole") || !strings.Contains(w, c.why) {
				t.Fatalf("logged:\n%s\nwant why: %s", w, c.why)
			}
			for _, q := range reads(f, "NOKEY") {
				if strings.Contains(q, "AS OF") || strings.Contains(q, "ROWID") {
					t.Fatalf("a whole read sent %q", q)
				}
			}
		})
	}
	t.Run("iot", func(t *testing.T) {
		f := &oraclefake.DB{}
		f.Handle = catalog([]*oraclefake.Table{oraclefake.Events()}, nil, func(q string, args []any) (*oraclefake.Result, error) {
			switch q {
			case SCNQuery:
				return &oraclefake.Result{Cols: []string{"CURRENT_SCN"}, Rows: [][]driver.Value{{godror.Number("9")}}}, nil
			case ExtentsQuery: // an IOT's rows are in its key's index segment
				return &oraclefake.Result{Cols: []string{"DATA_OBJECT_ID", "RELATIVE_FNO", "BLOCK_ID", "BLOCKS", "BIGFILE"}}, nil
			case TableKindQuery:
				return &oraclefake.Result{Cols: []string{"IOT_TYPE", "TEMPORARY", "CLUSTER_NAME", "EXTERNAL"}, Rows: [][]driver.Value{{"IOT", "N", "", godror.Number("0")}}}, nil
			}
			if r, ok, err := oraclefake.AnswerEvents(9, q, args); ok {
				return r, err
			}
			return nil, fmt.Errorf("fake: unexpected %s", q)
		})
		log := captureLog(t)
		got := readSlices(t, NewWithDB(open(f)), "events", 3)
		if fmt.Sprint(got) != "[[1 2 3] [4 5 6] [7 8 9]]" {
			t.Fatalf("slices read %v", got)
		}
		if w := log.String(); !strings.Contains(w, "ranges of its integer key") || !strings.Contains(w, "index-organized") {
			t.Fatalf("logged:\n%s", w)
		}
		for _, q := range reads(f, "EVENTS") {
			if !strings.Contains(q, " AS OF SCN 9 WHERE ") {
				t.Fatalf("read %q", q)
			}
		}
	})
}

// TestRowidRangesCoverEveryBlockOnce checks the cut itself on layouts
// the fake does not build: every block of every extent falls in exactly
// one slice's ranges, no range spans two files or data objects, and the
// slices' block counts differ by at most one.
func TestRowidRangesCoverEveryBlockOnce(t *testing.T) {
	layouts := [][]extent{
		{{1, 4, 8, 1}},
		{{9, 7, 1000, 1024}, {9, 3, 8, 8}, {9, 3, 16, 8}, {8, 3, 24, 128}, {9, 1023, 4194000, 8}},
		{{5, 1, 100, 3}, {5, 2, 100, 3}, {6, 1, 103, 3}, {5, 1, 200, 5}},
	}
	parse := regexp.MustCompile(`\(ROWID BETWEEN DBMS_ROWID\.ROWID_CREATE\(1, (\d+), (\d+), (\d+), 0\) AND DBMS_ROWID\.ROWID_CREATE\(1, (\d+), (\d+), (\d+), 32767\)\)`)
	for li, exts := range layouts {
		for count := 1; count <= 12; count++ {
			where := rowidRanges(exts, count)
			if len(where) != count {
				t.Fatalf("layout %d: %d predicates for %d slices", li, len(where), count)
			}
			owner := map[[3]int64]int{} // object, file, block → slice
			var sizes []int64
			for i, w := range where {
				var ranges [][7]int64
				for _, m := range parse.FindAllStringSubmatch(w, -1) {
					var n [7]int64
					for j := 1; j <= 6; j++ {
						n[j], _ = strconv.ParseInt(m[j], 10, 64)
					}
					if n[1] != n[4] || n[2] != n[5] || n[3] > n[6] {
						t.Fatalf("layout %d: range %s spans objects or files", li, m[0])
					}
					ranges = append(ranges, n)
				}
				size := int64(0)
				for _, e := range exts {
					for b := e.block; b < e.block+e.blocks; b++ {
						in := false
						for _, n := range ranges {
							in = in || n[1] == e.obj && n[2] == e.file && n[3] <= b && b <= n[6]
						}
						if in {
							k := [3]int64{e.obj, e.file, b}
							if s, dup := owner[k]; dup {
								t.Fatalf("layout %d, %d slices: block %v in slices %d and %d", li, count, k, s, i)
							}
							owner[k] = i
							size++
						}
					}
				}
				if size == 0 && w != "1=0" {
					t.Fatalf("layout %d: slice %d has no blocks but reads %s", li, i, w)
				}
				sizes = append(sizes, size)
			}
			total := int64(0)
			for _, e := range exts {
				total += e.blocks
			}
			if int64(len(owner)) != total {
				t.Fatalf("layout %d, %d slices: %d of %d blocks covered", li, count, len(owner), total)
			}
			if slices.Max(sizes)-slices.Min(sizes) > 1 {
				t.Fatalf("layout %d, %d slices: unequal blocks %v", li, count, sizes)
			}
		}
	}
}
