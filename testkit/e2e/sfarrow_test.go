package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	sfserver "github.com/halfpipe-io/halfpipe/testkit/snowflake"
)

// sfarrowTable holds every type the Snowflake source maps, with 38-digit
// and negative decimals, a NUMBER(18,4) a float64 cannot hold, NULLs,
// the sentinel timestamps 0001-01-01 and 9999-12-31 and TZ offsets, at
// scales that the Arrow format sends as scaled integers and as structs.
var sfarrowTable = []string{
	`CREATE TABLE "PUBLIC"."SFARROW_T" ("ID" NUMBER(38,0) NOT NULL, "BIG" NUMBER(38,0), "DEC" NUMBER(38,10), "N18" NUMBER(18,4), "SMALL" NUMBER(5,2),
		"F" FLOAT, "S" VARCHAR, "B" BINARY, "OK" BOOLEAN, "D" DATE, "TM3" TIME(3), "TM9" TIME(9),
		"NTZ0" TIMESTAMP_NTZ(0), "NTZ6" TIMESTAMP_NTZ(6), "NTZ9" TIMESTAMP_NTZ(9), "LTZ3" TIMESTAMP_LTZ(3), "TZ3" TIMESTAMP_TZ(3), "TZ6" TIMESTAMP_TZ(6),
		"V" VARIANT, "O" OBJECT, "A" ARRAY, PRIMARY KEY ("ID"))`,
	`INSERT INTO "PUBLIC"."SFARROW_T" VALUES
		(1, 12345678901234567890123456789012345678, 1234567890123456789012345678.9012345678, 99999999999999.9999, -1.5,
			1.5, 'héllo, "world"', '00FF10', TRUE, '2024-02-29', '23:59:59.999', '23:59:59.123456789',
			'9999-12-31 23:59:59', '9999-12-31 23:59:59.999999', '2024-05-01 12:34:56.123456789', '9999-12-31 23:59:59.999 +00:00',
			'9999-12-31 23:59:59.999 +14:00', '2024-05-01 12:34:56.123456 +05:30', '{"a": [1, 2]}', '{"k": "v"}', '[1, "x"]'),
		(2, -99999999999999999999999999999999999999, -9999999999999999999999999999.9999999999, -12345678901234.5678, 0.01,
			-0.25, '', '', FALSE, '0001-01-01', '00:00:00', '00:00:00.000000001',
			'0001-01-01 00:00:00', '0001-01-01 00:00:00', '1969-12-31 23:59:59.999999999', '0001-01-01 00:00:00 +00:00',
			'0001-01-01 00:00:00 -12:00', '1969-12-31 23:59:59.5 -08:00', '[]', '{}', '[]'),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
}

// TestSfarrowCSVBothFormats reads the same table through hp into CSV from
// a server answering in JSON and from one answering in Arrow: the files
// are identical byte for byte, and hold the values exactly.
func TestSfarrowCSVBothFormats(t *testing.T) {
	t.Parallel() // its own servers and directories
	bin := testkit.Build(t, "snowflake")
	files := map[string]string{}
	for _, format := range []string{"json", "arrow"} {
		sf := sfserver.Start(t, sfserver.Config{Account: "hptest", Users: []sfserver.User{{Name: "ETL", Password: "sfarrow-pw-3"}}, ResultFormat: format})
		if err := sf.Exec(sfarrowTable...); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		env := []string{"HP_OUT_DSN=" + out,
			fmt.Sprintf("HP_SF_DSN=snowflake://etl:sfarrow-pw-3@hptest/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d", sf.Host, sf.Port)}
		res := bin.Run(t, env, "cp", "snap", "sf.public.sfarrow_t", "out.t", "--format", "csv", "--compression", "none", "--csv-null", `\N`)
		if res.Code != 0 {
			t.Fatalf("%s: exit %d\n%s", format, res.Code, res.Stderr)
		}
		m, _ := readManifest(t, out)
		if m.TotalRows != 3 || len(m.Files) != 1 {
			t.Fatalf("%s: manifest: %d rows in %d files", format, m.TotalRows, len(m.Files))
		}
		data, err := os.ReadFile(filepath.Join(out, m.Files[0].Path))
		if err != nil {
			t.Fatal(err)
		}
		files[format] = string(data)
		// The table's rows were answered in the format under test.
		n := 0
		for _, st := range sf.Statements() {
			if strings.HasPrefix(st.SQL, "SELECT") && strings.Contains(st.SQL, `"SFARROW_T"`) && !strings.Contains(st.SQL, "INFORMATION_SCHEMA") {
				n++
				if st.Sent != format {
					t.Errorf("%s: %s answered in %q", format, st.SQL, st.Sent)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no SELECT read the table", format)
		}
	}
	if files["json"] != files["arrow"] {
		t.Errorf("the CSV files differ:\njson:\n%s\narrow:\n%s", files["json"], files["arrow"])
	}
	want := strings.Join([]string{
		`ID,BIG,DEC,N18,SMALL,F,S,B,OK,D,TM3,TM9,NTZ0,NTZ6,NTZ9,LTZ3,TZ3,TZ6,V,O,A`,
		`1,12345678901234567890123456789012345678,1234567890123456789012345678.9012345678,99999999999999.9999,-1.50,1.5,"héllo, ""world""",AP8Q,true,2024-02-29,` +
			`23:59:59.999000,23:59:59.123456789,9999-12-31T23:59:59.000000,9999-12-31T23:59:59.999999,2024-05-01T12:34:56.123456789,9999-12-31T23:59:59.999000Z,` +
			`9999-12-31T23:59:59.999000+14:00,2024-05-01T12:34:56.123456+05:30,"{""a"": [1, 2]}","{""k"": ""v""}","[1, ""x""]"`,
		`2,-99999999999999999999999999999999999999,-9999999999999999999999999999.9999999999,-12345678901234.5678,0.01,-0.25,,,false,0001-01-01,` +
			`00:00:00.000000,00:00:00.000000001,0001-01-01T00:00:00.000000,0001-01-01T00:00:00.000000,1969-12-31T23:59:59.999999999,0001-01-01T00:00:00.000000Z,` +
			`0001-01-01T00:00:00.000000-12:00,1969-12-31T23:59:59.500000-08:00,[],{},[]`,
		`3,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N,\N`,
	}, "\n")
	if got := strings.TrimSpace(files["json"]); got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
}
