package oracle

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/godror/godror"
	_ "modernc.org/sqlite"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
)

// The source conformance suite runs on oraclefake backed by SQLite: the
// catalog is answered from the fake tables, and every other statement the
// connector sends is translated (binds, FETCH FIRST, the owner prefix) and
// run on SQLite, its values handed back as godror's Go types. Ranges,
// ordering, NULL placement and bounds are therefore computed, not canned.

var (
	fetchFirst = regexp.MustCompile(`(?i)\s*FETCH FIRST (\d+) ROWS ONLY`)
	oraBind    = regexp.MustCompile(`:(\d+)`)
)

// sqliteStore answers the fake's statements from SQLite.
func sqliteStore(db *sql.DB, tables []*oraclefake.Table) func(q string, args []any) (*oraclefake.Result, error) {
	types := map[string]string{} // column name → Oracle type
	for _, tb := range tables {
		for _, c := range tb.Cols {
			types[c.Name] = c.Type
		}
	}
	return func(q string, args []any) (*oraclefake.Result, error) {
		switch {
		case q == VersionQuery:
			return &oraclefake.Result{Cols: []string{"BANNER"}, Rows: [][]driver.Value{{"Oracle Database 23ai Free (oraclefake on SQLite)"}}}, nil
		case q == ObjectsQuery:
			r := &oraclefake.Result{Cols: []string{"OWNER", "OBJECT_NAME", "OBJECT_TYPE"}}
			for _, tb := range tables {
				if tb.Owner == args[0] || tb.Owner == args[1] {
					r.Rows = append(r.Rows, []driver.Value{tb.Owner, tb.Name, "TABLE"})
				}
			}
			return r, nil
		}
		lite := strings.ReplaceAll(q, `"HP".`, "")
		lite = fetchFirst.ReplaceAllString(lite, " LIMIT $1")
		lite = oraBind.ReplaceAllString(lite, "?$1")
		lite = oracleNulls(lite)
		for i, a := range args {
			// NUMBER binds: the fixture's values fit a float64 exactly.
			if n, ok := a.(godror.Number); ok {
				f, err := strconv.ParseFloat(string(n), 64)
				if err != nil {
					return nil, err
				}
				args[i] = f
			}
		}
		rows, err := db.Query(lite, args...)
		if err != nil {
			return nil, fmt.Errorf("oraclefake on SQLite: %s (from %s): %w", lite, q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		r := &oraclefake.Result{Cols: cols, Types: make([]string, len(cols))}
		for i, c := range cols {
			r.Types[i] = types[strings.Trim(c, `"`)]
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
				row[i] = godrorValue(v, r.Types[i])
			}
			r.Rows = append(r.Rows, row)
		}
		return r, rows.Err()
	}
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

// godrorValue is a SQLite value as godror returns the column's Oracle
// type: NUMBER as godror.Number, NULL text as "".
func godrorValue(v any, typ string) driver.Value {
	switch x := v.(type) {
	case int64:
		return godror.Number(strconv.FormatInt(x, 10))
	case float64:
		return godror.Number(strconv.FormatFloat(x, 'f', -1, 64))
	case string:
		if typ == "CLOB" {
			return &godror.Lob{Reader: strings.NewReader(x), IsClob: true}
		}
	case []byte:
		if typ == "VARCHAR2" {
			return string(x)
		}
		return x
	case nil:
		if typ == "VARCHAR2" {
			return ""
		}
	}
	return v
}

func TestConformanceSourceOnFake(t *testing.T) {
	lite, err := sql.Open("sqlite", "file:"+t.TempDir()+"/conf.db")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	lite.SetMaxOpenConns(1)
	i := func(n int64) any { return n }
	cols := []oraclefake.Column{
		{Name: "ID", Type: "NUMBER", Precision: i(10), Scale: i(0), Nullable: "N"},
		{Name: "V", Type: "NUMBER", Precision: i(10), Scale: i(0), Nullable: "Y"},
		{Name: "NAME", Type: "VARCHAR2", Nullable: "Y"},
	}
	var tables []*oraclefake.Table
	for _, n := range []string{"T_CONF", "T_EMPTY", "T_LARGE"} {
		tables = append(tables, &oraclefake.Table{Owner: "HP", Name: n, Key: []string{"ID"}, Cols: cols})
		if _, err := lite.Exec(`CREATE TABLE "` + n + `" ("ID" NUMBER NOT NULL PRIMARY KEY, "V" NUMBER, "NAME" VARCHAR2)`); err != nil {
			t.Fatal(err)
		}
	}
	expected, rows := sourceRows()
	defer expected.Release()
	for _, r := range rows {
		if _, err := lite.Exec(`INSERT INTO "T_CONF" VALUES (?, ?, ?)`, r...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lite.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 120000)
		INSERT INTO "T_LARGE" SELECT i, i % 97, 'large ' || i FROM n`); err != nil {
		t.Fatal(err)
	}
	// A 5 MiB CLOB, read whole through godror's *Lob.
	tables = append(tables, &oraclefake.Table{Owner: "HP", Name: "T_BIGVAL", Key: []string{"ID"}, Cols: []oraclefake.Column{
		{Name: "ID", Type: "NUMBER", Precision: i(10), Scale: i(0), Nullable: "N"},
		{Name: "DOC", Type: "CLOB", Nullable: "Y"},
	}})
	if _, err := lite.Exec(`CREATE TABLE "T_BIGVAL" ("ID" NUMBER NOT NULL PRIMARY KEY, "DOC" CLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := lite.Exec(`INSERT INTO "T_BIGVAL" VALUES (1, ?), (2, 'small'), (3, NULL)`, largeValue); err != nil {
		t.Fatal(err)
	}

	fake := &oraclefake.DB{}
	fake.Handle = catalog(tables, nil, sqliteStore(lite, tables))
	conformance.RunSourceSuite(t, NewWithDB(open(fake)), conformance.SourceFixture{
		Conn:        sdk.Connection{DSN: "oracle://fake"},
		Table:       sdk.ObjectRef{Name: "T_CONF"},
		Expected:    expected,
		KeyColumn:   "ID",
		OrderColumn: "V",
		Empty:       sdk.ObjectRef{Name: "T_EMPTY"},
		Large:       sdk.ObjectRef{Name: "T_LARGE"},
		LargeValues: sdk.ObjectRef{Name: "T_BIGVAL"},
	})
}

// largeValue is the 5 MiB CLOB the large_values case reads.
var largeValue = strings.Repeat("ünï", 1<<20)

// sourceRows are HP's T_CONF (ID NUMBER(10) key, V NUMBER(10), NAME
// VARCHAR2) as the suite expects them and as rows to insert. V, in ID
// order, is neither ascending nor descending, with ties and NULLs.
func sourceRows() (arrow.RecordBatch, [][]any) {
	vs := []any{int64(5), nil, int64(-3), int64(7), int64(5), nil, int64(0), int64(12), int64(-8), int64(2), int64(9)}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "ID", Type: &arrow.Decimal128Type{Precision: 10}},
		{Name: "V", Type: &arrow.Decimal128Type{Precision: 10}, Nullable: true},
		{Name: "NAME", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil))
	defer b.Release()
	var rows [][]any
	for k, v := range vs {
		id := int64(k + 1)
		name := any(fmt.Sprintf("row %d é", id))
		if id%4 == 0 {
			name = nil
		}
		rows = append(rows, []any{id, v, name})
		b.Field(0).(*array.Decimal128Builder).Append(decimal128.FromI64(id))
		if v == nil {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Decimal128Builder).Append(decimal128.FromI64(v.(int64)))
		}
		if name == nil {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.StringBuilder).Append(name.(string))
		}
	}
	return b.NewRecordBatch(), rows
}
