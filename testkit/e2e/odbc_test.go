package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	pgTabbed(t, "SELECT 1")
	bin := testkit.Build(t, "postgres", "odbc")
	schema := "odbc_e2e_" + rtSuffix()
	n38 := "1234567890123456789012345678.9012345678"
	pgTabbed(t, fmt.Sprintf(`CREATE SCHEMA %[1]s;
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
	pgCleanup(t, "DROP SCHEMA "+schema+" CASCADE")
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

// TestLambdaODBC runs the packaged function with the odbc layer unpacked
// into a fake /opt, as Lambda would, plus a driver layer made of the
// system's odbc-postgresql library and an etc/odbcinst.ini naming it
// (ODBCSYSINI=/opt/etc, unixODBC from /opt/lib), reading PostgreSQL into
// S3.
func TestLambdaODBC(t *testing.T) {
	t.Parallel() // its own schema, S3 server and emulator
	pgTabbed(t, "SELECT 1")
	bootstrap, opt := lambdaTree(t)
	for _, f := range []string{"hp/plugins/hp-plugin-odbc", "lib/libodbc.so.2", "lib/libodbcinst.so.2", "etc/odbcinst.ini"} {
		if _, err := os.Stat(filepath.Join(opt, f)); err != nil {
			t.Fatalf("the odbc layer lacks %s: %v", f, err)
		}
	}
	// The driver layer.
	lib, err := exec.Command("sh", "-c", "odbcinst -q -d -n 'PostgreSQL Unicode' | sed -n 's/^Driver=//p'").Output()
	if err != nil || len(bytes.TrimSpace(lib)) == 0 {
		t.Fatalf("odbc-postgresql's library: %v", err)
	}
	path := strings.TrimSpace(string(lib))
	if !filepath.IsAbs(path) {
		path = filepath.Join("/usr/lib/x86_64-linux-gnu/odbc", path)
		if alt, _ := filepath.Glob("/usr/lib/*/odbc/" + filepath.Base(path)); len(alt) > 0 {
			path = alt[0]
		}
	}
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	driver := filepath.Join(opt, "psqlodbc", "psqlodbcw.so")
	if err := os.MkdirAll(filepath.Dir(driver), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(driver, body, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(opt, "etc", "odbcinst.ini"), []byte("[PostgreSQL Unicode]\nDriver="+driver+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	schema := "odbc_lambda_" + rtSuffix()
	pgTabbed(t, fmt.Sprintf("CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.orders AS SELECT n AS id, (n * 1.25)::numeric(38,10) AS amount FROM generate_series(1, 1000) n", schema))
	pgCleanup(t, "DROP SCHEMA "+schema+" CASCADE")
	srv := testkit.StartS3(t)
	srv.CreateBucket(t, "lake")
	env := append(srv.Env(),
		"HP_12FACTOR_MODE=1", "HP_COMMAND=cp", "HP_SUBCOMMAND=snap",
		"HP_SOURCE_DSN=odbc+postgres://postgres:s3cret@127.0.0.1:5432/test", "HP_SOURCE_OBJECT="+schema+".orders",
		"HP_TARGET_DSN=s3://lake/raw?endpoint="+srv.Endpoint, "HP_TARGET_OBJECT=orders", "HP_TARGET_S3_REGION="+srv.Region,
		"HP_LOG_LEVEL=warn", "HP_AUTH_KEY=anything", "HP_PLUGIN_DIR="+filepath.Join(opt, "hp", "plugins"),
		"HP_COMPRESSION=none", "HP_REQUIRE_CHECKSUMS=true",
		"ODBCSYSINI="+filepath.Join(opt, "etc"), "LD_LIBRARY_PATH="+filepath.Join(opt, "lib"))
	fn := testkit.StartLambda(t, bootstrap, env, 20*time.Second)
	out, failed := fn.Invoke(t, `{}`)
	if failed {
		t.Fatalf("function error: %s\n%s", out, fn.Output())
	}
	var s lambdaSummary
	if err := json.Unmarshal(out, &s); err != nil || s.Rows != 1000 || s.Files != 1 {
		t.Fatalf("summary %s (%v)\n%s", out, err, fn.Output())
	}
	dir := download(t, srv, "lake", "raw/orders/")
	m, _ := readManifest(t, dir)
	data, err := os.ReadFile(filepath.Join(dir, m.Files[0].Path))
	if err != nil || m.TotalRows != 1000 || !bytes.Contains(data, []byte("\n1000,1250.0000000000\n")) && !bytes.HasSuffix(data, []byte("\n1000,1250.0000000000\n")) {
		t.Fatalf("manifest %+v, file: %.200s (%v)", m, data, err)
	}
	if strings.Contains(fn.Output()+string(out), "s3cret") {
		t.Error("the function showed the password")
	}
}
