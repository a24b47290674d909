package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestSpansReadOnlyTheirRows: a read of many key spans (hp diff --hash)
// returns exactly their rows within the range's bounds, and PostgreSQL's
// plan for it reads only those rows: as an OR of the spans it scanned the
// whole key range around them (on a table without statistics yet, as a
// shadow just filled), and joined with them it scanned the whole table
// when that looked cheaper. A where naming a column called like the join's
// own (hp_lo) reads it from the table.
func TestSpansReadOnlyTheirRows(t *testing.T) {
	db := openDB(t)
	table := scratchTable(t, db, "hp_spans", `create table %[1]s (id bigint primary key, v text, hp_lo bigint);
		insert into %[1]s select g, md5(g::text), g from generate_series(1, 100000) g`)
	var spans []sdk.KeySpan
	for i := range int64(64) {
		spans = append(spans, sdk.KeySpan{Lower: 1000 + i*1500, Upper: 1003 + i*1500})
	}
	// The bounds, both exclusive, cut the first span and the last: 64*4 - 3
	// rows, less the one the where leaves out.
	rf := &sdk.RangeFilter{Column: "id", Lower: sdk.Int64Value(1001), LowerInclusive: false, Upper: sdk.Int64Value(95503), Spans: spans}
	ref := sdk.ObjectRef{Schema: "public", Name: table}
	req := sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn()}, Source: sdk.Source{Object: &ref}, Columns: []string{"id"}, Where: "hp_lo <> 2500", Range: rf, OrderBy: []sdk.OrderBy{{Column: "id"}}}
	rr, err := New().Read(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var got []int64
	for rr.Next() {
		col := rr.RecordBatch().Column(0).(*array.Int64)
		got = append(got, col.Int64Values()...)
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 252 || got[0] != 1002 || got[1] != 1003 || got[2] != 2501 || got[251] != 95502 {
		t.Fatalf("read %d rows: %v", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("rows out of order at %d: %v", i, got)
		}
	}
	q, err := copySQL(req, []string{`"id"`})
	if err != nil {
		t.Fatal(err)
	}
	q = strings.TrimSuffix(strings.TrimPrefix(q, "COPY ("), ") TO STDOUT (FORMAT binary)")
	// As the plugin plans it (spansSession), with a scan of the whole
	// table made to look free and index scans dear: at 100M rows without
	// statistics, the planner preferred one to an index range scan per
	// span.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range append([]string{"SET LOCAL seq_page_cost = 0", "SET LOCAL cpu_tuple_cost = 0", "SET LOCAL random_page_cost = 1000", "SET LOCAL cpu_index_tuple_cost = 1"}, spansSession...) {
		if _, err := tx.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	var plan string
	if err := tx.QueryRow("EXPLAIN (ANALYZE, FORMAT JSON) " + q).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	var nodes []struct{ Plan node }
	if err := json.Unmarshal([]byte(plan), &nodes); err != nil {
		t.Fatal(err)
	}
	if n := nodes[0].Plan.maxScanned(); n > 256 {
		t.Fatalf("a node of the plan read %.0f rows for 252:\n%s", n, plan)
	}
}

type node struct {
	Rows    float64 `json:"Actual Rows"`
	Loops   float64 `json:"Actual Loops"`
	Removed float64 `json:"Rows Removed by Filter"`
	Plans   []node
}

// maxScanned is the most rows a node of the plan produced or dropped.
func (n node) maxScanned() float64 {
	m := (n.Rows + n.Removed) * max(n.Loops, 1)
	for _, c := range n.Plans {
		m = max(m, c.maxScanned())
	}
	return m
}
