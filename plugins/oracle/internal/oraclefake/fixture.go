package oraclefake

import (
	"bytes"
	"database/sql/driver"
	"math"
	"strings"
	"time"

	"github.com/godror/godror"
)

// AllTypes is HP.T_ALL, a column of every type the connector maps.
func AllTypes() *Table {
	i := func(n int64) any { return n }
	return &Table{Owner: "HP", Name: "T_ALL", Key: []string{"ID"}, Cols: []Column{
		{Name: "ID", Type: "NUMBER", Precision: i(10), Scale: i(0), Nullable: "N"},
		{Name: "AMOUNT", Type: "NUMBER", Precision: i(38), Scale: i(10), Nullable: "Y"},
		{Name: "BIG", Type: "NUMBER", Nullable: "Y"},
		{Name: "NEGS", Type: "NUMBER", Precision: i(5), Scale: i(-2), Nullable: "Y"},
		{Name: "F", Type: "BINARY_FLOAT", Nullable: "Y"},
		{Name: "D", Type: "BINARY_DOUBLE", Nullable: "Y"},
		{Name: "DT", Type: "DATE", Nullable: "Y"},
		{Name: "TS", Type: "TIMESTAMP(6)", Scale: i(6), Nullable: "Y"},
		{Name: "TS9", Type: "TIMESTAMP(9)", Scale: i(9), Nullable: "Y"},
		{Name: "TSTZ", Type: "TIMESTAMP(6) WITH TIME ZONE", Scale: i(6), Nullable: "Y"},
		{Name: "TSLTZ", Type: "TIMESTAMP(6) WITH LOCAL TIME ZONE", Scale: i(6), Nullable: "Y"},
		{Name: "YM", Type: "INTERVAL YEAR(2) TO MONTH", Precision: i(2), Scale: i(0), Nullable: "Y"},
		{Name: "DS", Type: "INTERVAL DAY(2) TO SECOND(6)", Precision: i(2), Scale: i(6), Nullable: "Y"},
		{Name: "NAME", Type: "VARCHAR2", Nullable: "Y"},
		{Name: "NOTE", Type: "CLOB", Nullable: "Y"},
		{Name: "RAWV", Type: "RAW", Nullable: "Y"},
		{Name: "BLOBV", Type: "BLOB", Nullable: "Y"},
		{Name: "RID", Type: "ROWID", Nullable: "Y"},
		{Name: "DOC", Type: "XMLTYPE", Owner: "SYS", Nullable: "Y"},
		{Name: "J", Type: "JSON", Nullable: "Y"},
		{Name: "FLAG", Type: "BOOLEAN", Nullable: "Y"},
		{Name: "FL", Type: "FLOAT", Precision: i(126), Nullable: "Y"},
	}}
}

// Session is the session zone, +05:00: godror puts DATE and TIMESTAMP
// values there.
var Session = time.FixedZone("", 5*3600)

// AllRows are the values godror's rows.Next returns for T_ALL: a row of
// edge values and a row of NULLs (nil, and "" for text as godror hands
// NULL character data over). LOB readers are fresh on each call.
func AllRows() [][]driver.Value {
	note := strings.Repeat("ünïcode ", 20000) // 200 kB: read whole
	blob := bytes.Repeat([]byte{0, 0xff, 7}, 50000)
	return [][]driver.Value{
		{int64(1), godror.Number("-1234567890123456789012345678.0123456789"), godror.Number("123456789012345678901234567890123456789"),
			godror.Number("-9999900"), float32(math.NaN()), math.Inf(-1),
			time.Date(2024, 2, 29, 23, 59, 59, 0, Session), time.Date(1, 1, 1, 0, 0, 0, 0, Session),
			time.Date(2262, 4, 11, 23, 47, 16, 854775807, Session),
			time.Date(2024, 6, 1, 12, 0, 0, 123456000, time.FixedZone("", -(3*3600+30*60))),
			time.Date(2024, 6, 1, 12, 0, 0, 0, time.FixedZone("", 2*3600)),
			"-1--2", 3*24*time.Hour + 4*time.Hour + 5*time.Minute + 6*time.Second + 7*time.Microsecond,
			"héllo", &godror.Lob{Reader: strings.NewReader(note), IsClob: true}, []byte{0, 1, 2},
			&godror.Lob{Reader: bytes.NewReader(blob)}, "AAAR3sAAEAAAACXAAA", "<a>1</a>", `{"a":1}`, true, godror.Number("0.1")},
		{godror.Number("2"), nil, nil, nil, float32(math.Inf(1)), math.NaN(), nil, time.Date(9999, 12, 31, 23, 59, 59, 999999000, Session), nil, nil, nil,
			"1-2", -time.Second, "", "", nil, nil, nil, "", "", false, nil},
	}
}
