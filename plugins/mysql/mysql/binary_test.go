package mysql

import (
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

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
