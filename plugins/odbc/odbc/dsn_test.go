package odbc

import (
	"errors"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func fakeDrivers() ([]string, error) {
	return []string{"PostgreSQL Unicode", "MariaDB Unicode", "FreeTDS"}, nil
}

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct{ dsn, connStr, proto string }{
		{"odbc+postgres://u:p%3Bw@db.example:5433/shop", "Driver=PostgreSQL Unicode;Server=db.example;Port=5433;Database=shop;UID=u;PWD={p;w};ConnSettings=SET TIME ZONE 'UTC';BoolsAsChar=0;NumericAs=-1;UseDeclareFetch=1;Fetch=10000;", "postgres"},
		{"odbc+mariadb://root@127.0.0.1/test?driver=MariaDB+Unicode&OPTION=3", "Driver=MariaDB Unicode;Server=127.0.0.1;Database=test;UID=root;OPTION=3;", "mysql"},
		{"odbc+sqlserver://sa:pw@host:1433/master", "Driver=FreeTDS;Server=host;Port=1433;Database=master;UID=sa;PWD=pw;", "sqlserver"},
		{"odbc+db2://u:p@host:50000/sample?driver=FreeTDS", "Driver=FreeTDS;Server=host;Port=50000;Database=sample;UID=u;PWD=p;", ""},
		{"odbc://u:pw@warehouse", "DSN=warehouse;UID=u;PWD=pw;", ""},
		{"odbc://?connstr=DSN%3Dx%3BUID%3Du", "DSN=x;UID=u", ""},
		{"odbc://?connstr=DSN=x;UID=u;PWD=a+b", "DSN=x;UID=u;PWD=a+b", ""},
		{"odbc+mysql://?connstr=Driver%3D%7BMariaDB%20Unicode%7D", "Driver={MariaDB Unicode}", "mysql"},
		{"DSN=x;UID=u;PWD=secret", "DSN=x;UID=u;PWD=secret", ""},
		{"Driver={PostgreSQL Unicode};Server=h", "Driver={PostgreSQL Unicode};Server=h", ""},
	} {
		c, err := parseDSN(tc.dsn, fakeDrivers)
		if err != nil {
			t.Errorf("%s: %v", tc.dsn, err)
			continue
		}
		if c.connStr != tc.connStr || c.protocol != tc.proto {
			t.Errorf("%s:\n got %q (%q)\nwant %q (%q)", tc.dsn, c.connStr, c.protocol, tc.connStr, tc.proto)
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	for dsn, want := range map[string]string{
		"odbc+postgres://u:secret@h/db?driver=Nope": `ODBC driver "Nope" is not registered in odbcinst.ini; registered drivers: FreeTDS, MariaDB Unicode, PostgreSQL Unicode`,
		"Driver={Oracle 19};UID=u;PWD=secret":       `ODBC driver "Oracle 19" is not registered`,
		"odbc+oracle://u:secret@h/db":               `no ODBC driver for "oracle" is registered`,
		"odbc+postgres://u:secret@/db":              "no host",
		"odbc://u:secret@name/extra":                "names a data source in odbc.ini",
		"odbc://?connstr=DSN%3Dx&driver=y":          "connstr is the whole connection",
		"postgres://u:secret@h/db":                  "the scheme is not odbc",
		"just-a-word":                               "neither a URL nor a connection string",
	} {
		_, err := parseDSN(dsn, fakeDrivers)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", dsn, err, want)
			continue
		}
		if !errors.Is(err, sdk.ErrInvalidArgument) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v is not an unmasked invalid argument", dsn, err)
		}
	}
}

func TestMaskDSNForms(t *testing.T) {
	for _, dsn := range []string{
		"odbc+postgres://u:secret@h/db",
		"odbc+sqlserver://sa:secret@h:1433/master?driver=FreeTDS",
		"DSN=x;UID=u;PWD=secret",
		"Driver={FreeTDS};Server=h;UID=u;PWD={se;cret}",
		"odbc://?connstr=DSN=x;UID=u;PWD=secret",
	} {
		if m := sdk.MaskDSN(dsn); strings.Contains(m, "secret") || strings.Contains(m, "cret") {
			t.Errorf("MaskDSN(%s) = %s", dsn, m)
		}
	}
}
