package mysql

import (
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Only reads whose columns are all known and none a float go through the
// text protocol, where MariaDB rounds FLOAT to six digits.
func TestTextExact(t *testing.T) {
	col := func(native string) sqlsource.ColumnMeta { return sqlsource.ColumnMeta{Name: "c", NativeType: native} }
	for _, tc := range []struct {
		cols []sqlsource.ColumnMeta
		want bool
	}{
		{nil, false},
		{[]sqlsource.ColumnMeta{col("bigint(20)"), col("decimal(15,2)"), col("varchar(10)"), col("date"), col("datetime(6)"), col("bit(1)"), col("json")}, true},
		{[]sqlsource.ColumnMeta{col("int(11)"), col("float")}, false},
		{[]sqlsource.ColumnMeta{col("float(7,3) unsigned")}, false},
		{[]sqlsource.ColumnMeta{col("double")}, false},
		{[]sqlsource.ColumnMeta{col("real")}, false},
		{[]sqlsource.ColumnMeta{col("decimal(80,2)")}, false}, // unmappable: the binary path reports it
	} {
		if got := textExact(tc.cols); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.cols, got, tc.want)
		}
	}
}

// Reads use the socket only where it carries the protocol as is.
func TestPlainSocket(t *testing.T) {
	for dsn, want := range map[string]bool{
		"root@tcp(127.0.0.1:3306)/test":                      true,
		"root@tcp(127.0.0.1:3306)/test?tls=false":            true,
		"root@unix(/run/mysqld/mysqld.sock)/test":            true,
		"root@tcp(127.0.0.1:3306)/test?tls=true":             false,
		"root@tcp(127.0.0.1:3306)/test?tls=skip-verify":      false,
		"root@tcp(127.0.0.1:3306)/test?tls=preferred":        false,
		"root@tcp(127.0.0.1:3306)/test?compress=true":        false,
		"root@tcp(127.0.0.1:3306)/test?readTimeout=5s&tls=0": true,
	} {
		cfg, err := gomysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := plainSocket(cfg); got != want {
			t.Errorf("%s: %v, want %v", dsn, got, want)
		}
	}
}

// Filter values written into the SQL are the text the driver would send as
// the parameter; other kinds stay parameters.
func TestLiteral(t *testing.T) {
	at := time.Date(2024, 2, 29, 23, 59, 59, 123456000, time.UTC)
	for _, tc := range []struct {
		v    sdk.Value
		want string
	}{
		{sdk.Value{Kind: sdk.KindInt64, Int: -9223372036854775808}, "-9223372036854775808"},
		{sdk.Value{Kind: sdk.KindUint64, Uint: 18446744073709551615}, "18446744073709551615"},
		{sdk.Value{Kind: sdk.KindDecimal, Str: "-123.450"}, "'-123.450'"},
		{sdk.Value{Kind: sdk.KindTimestamp, Time: at}, "'2024-02-29 23:59:59.123456'"},
		{sdk.Value{Kind: sdk.KindTimestamp, Time: at.In(time.FixedZone("x", 3600))}, "'2024-02-29 23:59:59.123456'"},
		{sdk.Value{Kind: sdk.KindTimestamp, Time: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}, "'2024-03-01'"},
		{sdk.Value{Kind: sdk.KindDate, Int: 19782}, "'2024-02-29'"},
		{sdk.Value{Kind: sdk.KindDecimal, Str: "1'; DROP TABLE t; --"}, ""},
		{sdk.Value{Kind: sdk.KindString, Str: "abc"}, ""},
		{sdk.Value{Kind: sdk.KindFloat64, Float: 0.1}, ""},
		{sdk.Value{Kind: sdk.KindTimestamp}, ""},
	} {
		got, ok := literal(&tc.v, sqlsource.ColumnMeta{})
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%v: %q %v, want %q", tc.v, got, ok, tc.want)
		}
	}
}
