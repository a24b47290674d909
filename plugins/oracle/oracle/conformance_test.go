package oracle

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/godror/godror"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
)

// The conformance suites run on oraclefake's Store: the catalog is
// answered from SQLite's schema, and every other statement the connector
// sends is translated and run on SQLite in the connection's own
// transaction, its values handed back as godror's Go types. Ranges,
// ordering, NULL placement, bounds, array inserts, merges and rollbacks
// are therefore computed, not canned.

func newStore(t *testing.T) *oraclefake.Store {
	t.Helper()
	st, err := oraclefake.NewStore(t.TempDir()+"/hp.db", queries)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func storeExec(t *testing.T, st *oraclefake.Store, q string, args ...any) {
	t.Helper()
	if err := st.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func TestConformanceSourceOnFake(t *testing.T) {
	st := newStore(t)
	// The real-server suite's tables (TestRealServerSourceConformance).
	cols := `ID NUMBER(10) PRIMARY KEY, V NUMBER(10), NAME VARCHAR2(100 CHAR)`
	for _, n := range []string{"T_CONF", "T_EMPTY", "T_LARGE"} {
		storeExec(t, st, "CREATE TABLE "+n+" ("+cols+")")
	}
	expected, rows := sourceRows()
	defer expected.Release()
	for _, r := range rows {
		storeExec(t, st, `INSERT INTO T_CONF VALUES (:1, :2, :3)`, r...)
	}
	ids := make([]godror.Number, 120000)
	vs := make([]godror.Number, len(ids))
	names := make([]string, len(ids))
	for i := range ids {
		ids[i], vs[i], names[i] = godror.Number(strconv.Itoa(i+1)), godror.Number(strconv.Itoa((i+1)%97)), fmt.Sprintf("large %d", i+1)
	}
	storeExec(t, st, `INSERT INTO T_LARGE VALUES (:1, :2, :3)`, ids, vs, names)
	// A 5 MiB CLOB, read whole through godror's *Lob.
	storeExec(t, st, `CREATE TABLE T_BIGVAL (ID NUMBER(10) PRIMARY KEY, DOC CLOB)`)
	storeExec(t, st, `INSERT INTO T_BIGVAL VALUES (1, :1)`, godror.Lob{IsClob: true, Reader: strings.NewReader(largeValue)})
	storeExec(t, st, `INSERT INTO T_BIGVAL VALUES (2, 'small')`)
	storeExec(t, st, `INSERT INTO T_BIGVAL VALUES (3, NULL)`)

	conformance.RunSourceSuite(t, NewWithDB(open(st.DB())), conformance.SourceFixture{
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

// The SDK's target suite, with Oracle's ” that is NULL.
func TestConformanceTargetOnFake(t *testing.T) {
	st := newStore(t)
	n := 0
	conformance.RunTargetSuite(t, NewWithDB(open(st.DB())), conformance.TargetFixture{
		Conn: sdk.Connection{DSN: "oracle://fake"},
		NewTable: func(t *testing.T) sdk.ObjectRef {
			n++
			return sdk.ObjectRef{Name: fmt.Sprintf("T_TARGET_%d", n)}
		},
		EmptyStringIsNull: true,
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
