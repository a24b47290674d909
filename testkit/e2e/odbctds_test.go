package e2e

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// snapFiles runs hp cp snap of src in format (CSV with NULL as \N) and
// returns its data files' contents in the manifest's order.
func snapFiles(t *testing.T, bin *testkit.Binaries, env []string, src, format string) [][]byte {
	t.Helper()
	out := t.TempDir()
	res := bin.Run(t, append(env, "HP_OUT_DSN="+out), append([]string{"cp", "snap", src, "out.t", "--format", format, "--compression", "none"}, csvNull(format)...)...)
	if res.Code != 0 {
		t.Fatalf("hp cp snap %s --format %s: exit %d\n%s", src, format, res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	var files [][]byte
	for _, f := range m.Files {
		data, err := os.ReadFile(filepath.Join(out, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
	}
	return files
}

// snapCSV runs hp cp snap of src to CSV and returns the records of its
// files, the header once.
func snapCSV(t *testing.T, bin *testkit.Binaries, env []string, src string) [][]string {
	t.Helper()
	var recs [][]string
	for _, text := range snapFiles(t, bin, env, src, "csv") {
		r, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			r = r[1:]
		}
		recs = append(recs, r...)
	}
	return recs
}

// TestODBCFreeTDSMatchesNativeMSSQL: every SQL Server type the mssql
// connector reads, with edge values, from one table of the TDS test
// server, read by hp through the mssql plugin (go-mssqldb) and through
// the odbc plugin over FreeTDS (odbc+sqlserver://, the original
// Halfpipe's path): the CSV files agree value for value and the Parquet
// files byte for byte (time, datetimeoffset, uniqueidentifier and
// rowversion included: the odbc connector's SQL Server dialect reads them
// as the mssql connector does).
func TestODBCFreeTDSMatchesNativeMSSQL(t *testing.T) {
	t.Parallel() // its own TDS server
	bin := testkit.Build(t, "mssql", "odbc")
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	cols := make([]msColumn, len(msAllTypes))
	cat := make([]tds.CatalogColumn, len(msAllTypes))
	for i, c := range msAllTypes {
		cols[i] = c.msColumn
		cat[i] = tds.CatalogColumn{Name: c.name, Type: c.typ, Nullable: c.nullable, MaxLength: c.maxLen, Precision: c.precision, Scale: c.scale}
	}
	serveTable(db, "all_types", cols, msAllTypesRows())
	db.DescribeTable("[dbo].[all_types]", cat, "id")
	env := []string{"HP_MS_DSN=" + db.DSN("etl", "pw", "Sales"), "HP_OD_DSN=odbc+sqlserver://etl:pw@" + db.Addr + "/Sales?driver=FreeTDS"}

	native := snapCSV(t, bin, env, "ms.dbo.all_types")
	odbc := snapCSV(t, bin, env, "od.dbo.all_types")
	if len(native) != len(odbc) || len(odbc) != 5 {
		t.Fatalf("%d native lines, %d ODBC lines", len(native), len(odbc))
	}
	for r := range native {
		for c := range native[r] {
			if c >= len(odbc[r]) || odbc[r][c] != native[r][c] {
				g := "(missing)"
				if c < len(odbc[r]) {
					g = abbrev(odbc[r][c])
				}
				t.Errorf("line %d column %s: ODBC %s, native %s", r+1, native[0][c], g, abbrev(native[r][c]))
			}
		}
	}
	nativePq, odbcPq := snapFiles(t, bin, env, "ms.dbo.all_types", "parquet"), snapFiles(t, bin, env, "od.dbo.all_types", "parquet")
	if len(nativePq) != len(odbcPq) {
		t.Fatalf("%d native Parquet files, %d ODBC", len(nativePq), len(odbcPq))
	}
	for i := range nativePq {
		if !bytes.Equal(nativePq[i], odbcPq[i]) {
			t.Errorf("Parquet file %d: the ODBC connector's differs from the native connector's (%d and %d bytes)", i+1, len(odbcPq[i]), len(nativePq[i]))
		}
	}
}
