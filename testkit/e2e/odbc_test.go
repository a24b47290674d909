package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// ODBC against the native connectors: the same table read by hp through
// hp-plugin-postgres and through odbc-postgresql (hp-plugin-odbc), and by
// hp-plugin-mysql and through odbc-mariadb, gives byte-identical CSV and
// Parquet files for the types both map alike.

// odbcSnap runs hp cp snap of src and returns the data files' bytes in
// the manifest's order (CSV uncompressed), and the manifest's source DSN.
func odbcSnap(t *testing.T, bin *testkit.Binaries, env []string, src, format string) ([]byte, string) {
	t.Helper()
	out := t.TempDir()
	res := bin.Run(t, append(env, "HP_OUT_DSN="+out), "cp", "snap", src, "out.t", "--format", format, "--compression", "none")
	if res.Code != 0 {
		t.Fatalf("hp cp snap %s --format %s: exit %d\n%s", src, format, res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	var data []byte
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(out, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	if m.TotalRows != 5 {
		t.Fatalf("%s: %d rows, want 5", src, m.TotalRows)
	}
	return data, m.Source.DSN
}

// odbcPair snapshots the table through the native connector and through
// ODBC and fails unless the files are byte-identical.
func odbcPair(t *testing.T, bin *testkit.Binaries, env []string, native, odbc, format string) (nativeData, odbcData []byte) {
	t.Helper()
	nativeData, _ = odbcSnap(t, bin, env, native, format)
	odbcData, _ = odbcSnap(t, bin, env, odbc, format)
	if !bytes.Equal(nativeData, odbcData) {
		t.Errorf("%s: the ODBC connector's file differs from the native connector's (%d and %d bytes)", format, len(odbcData), len(nativeData))
		if format == "csv" {
			t.Logf("native:\n%.2000s\nodbc:\n%.2000s", nativeData, odbcData)
		}
	}
	t.Logf("%s: %d bytes from each", format, len(odbcData))
	return nativeData, odbcData
}

func TestODBCMatchesNativePostgres(t *testing.T) {
	t.Parallel() // its own schema
	psqlOut(t, "SELECT 1")
	bin := testkit.Build(t, "postgres", "odbc")
	schema := "odbc_e2e_" + rtSuffix()
	n38 := "1234567890123456789012345678.9012345678"
	psqlOut(t, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.t (id bigint PRIMARY KEY, i integer, s smallint, amount numeric(38,10), wide numeric(60,5), name varchar(50), note text,
			flag boolean, day date, at timestamp(6), instant timestamptz, raw bytea, f double precision, r real, u uuid);
		INSERT INTO %[1]s.t VALUES
			(1, 2147483647, -32768, %[2]s, 12345678901234567890123456789012345678901234567890.12345, 'a😀b𝄞', repeat('long 😀 ', 20000),
			 true, '0001-01-01', '2024-02-29 23:59:59.123456', '2024-02-29 23:59:59.123456+05:45', '\x00ff', 0.1, 1.5, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
			(2, -1, 0, -%[2]s, 0, '', '', false, '9999-12-31', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999+00', '', -0.0, 3.4e38, NULL),
			(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(4, 0, 1, 0.0000000001, -1, 'quote " and, comma', E'new\nline', true, '2000-02-29', '2000-02-29 12:00:00.5', '2000-02-29 12:00:00.5+00', '\x', 1e308, -1e-38, '00000000-0000-0000-0000-000000000000'),
			(5, 42, 42, 9999999999999999999999999999.9999999999, 1, 'back\slash', 'tab	here', false, '1999-12-31', '1999-12-31 23:59:59.999999', '1999-12-31 23:59:59.999999-08', '\xdeadbeef', 2.5, 0.25, NULL)`,
		schema, n38))
	t.Cleanup(func() { _ = exec.Command("psql", pgDSN, "-qc", "DROP SCHEMA "+schema+" CASCADE").Run() })
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_OD_DSN=odbc+postgres://postgres@127.0.0.1:5432/test",
		"HP_RAW_DSN=Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=test;UID=postgres;PWD=n0tused;BoolsAsChar=0;NumericAs=-1;ConnSettings={SET TIME ZONE 'UTC'}"}
	for _, f := range []string{"csv", "parquet"} {
		native, odbc := odbcPair(t, bin, env, "pg."+schema+".t", "od."+schema+".t", f)
		if f == "csv" && !bytes.Contains(odbc, []byte(n38)) {
			t.Errorf("the NUMERIC(38,10) value %s is not in the CSV", n38)
		}
		// The raw connection string form, masked in the manifest.
		raw, dsn := odbcSnap(t, bin, env, "raw."+schema+".t", f)
		if !bytes.Equal(native, raw) || strings.Contains(dsn, "n0tused") {
			t.Errorf("%s through a connection string: equal %v, manifest DSN %s", f, bytes.Equal(native, raw), dsn)
		}
	}
}

func TestODBCMatchesNativeMariaDB(t *testing.T) {
	t.Parallel() // its own database
	mysqlOut(t, "SELECT 1")
	bin := testkit.Build(t, "mysql", "odbc")
	db := "odbc_e2e_" + rtSuffix()
	mysqlOut(t, fmt.Sprintf("CREATE DATABASE %[1]s; CREATE TABLE %[1]s.t (id BIGINT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, su SMALLINT UNSIGNED, iu INT UNSIGNED, bu BIGINT UNSIGNED, "+
		"amount DECIMAL(38,10), wide DECIMAL(65,30), name VARCHAR(50), note LONGTEXT, flag BIT(1), day DATE, at DATETIME(6), raw BLOB, f DOUBLE); "+
		"INSERT INTO %[1]s.t VALUES "+
		"(1, -128, 255, 65535, 4294967295, 18446744073709551615, 1234567890123456789012345678.9012345678, -99999999999999999999999999999999999.999999999999999999999999999999, 'a😀b𝄞', REPEAT('long 😀 ', 20000), 1, '1000-01-01', '2024-02-29 23:59:59.123456', x'00ff', 0.1), "+
		"(2, 127, 0, 0, 0, 0, -1234567890123456789012345678.9012345678, 0, '', '', 0, '9999-12-31', '1970-01-01 00:00:00', x'', -1e308), "+
		"(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "+
		"(4, 0, 1, 1, 1, 1, 0.0000000001, 1, 'quote \" and, comma', 'new\\nline', 1, '2000-02-29', '2000-02-29 12:00:00.5', x'deadbeef', 2.5), "+
		"(5, 1, 2, 3, 4, 5, 1, -1, 'back\\\\slash', 'tab\\there', 0, '1999-12-31', '1999-12-31 23:59:59.999999', NULL, 0.25)", db))
	t.Cleanup(func() { _ = mysqlOutQuiet("DROP DATABASE " + db) })
	env := []string{"HP_MY_DSN=mysql://root@127.0.0.1:3306/test", "HP_OD_DSN=odbc+mariadb://root@127.0.0.1:3306/test"}
	for _, f := range []string{"csv", "parquet"} {
		odbcPair(t, bin, env, "my."+db+".t", "od."+db+".t", f)
	}
}
