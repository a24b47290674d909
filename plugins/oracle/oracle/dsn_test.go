package oracle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestParseDSN(t *testing.T) {
	tns := t.TempDir()
	if err := os.WriteFile(filepath.Join(tns, "tnsnames.ora"), []byte("SALES=(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db)(PORT=1521))(CONNECT_DATA=(SERVICE_NAME=sales)))\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TNS_ADMIN", "")
	cases := []struct {
		dsn                     string
		user, password, connect string
		configDir               string
	}{
		// Halfpipe's form; the password is taken as written, '@' and all.
		{"oracle://scott/ti@ger:x@//db.example:1521/FREEPDB1", "scott", "ti@ger:x", "//db.example:1521/FREEPDB1", ""},
		// URL form, percent-decoded.
		{"oracle://scott:p%40ss%2Fw@db.example:1521/FREEPDB1", "scott", "p@ss/w", "db.example:1521/FREEPDB1", ""},
		// Easy Connect Plus with its own parameters.
		{"oracle://scott/tiger@tcps://db.example:2484/svc?ssl_server_dn_match=yes", "", "", "", ""},
		// A TNS alias with its directory.
		{"oracle://scott/tiger@SALES?tns_admin=" + tns, "scott", "tiger", "SALES", tns},
		// A wallet: an Easy Connect string names it; an alias reads the
		// wallet's tnsnames.ora.
		{"oracle://scott/tiger@db:1521/svc?wallet_location=/w", "scott", "tiger", "db:1521/svc?wallet_location=/w", ""},
		{"oracle://scott/tiger@SALES?wallet_location=" + tns, "scott", "tiger", "SALES", tns},
	}
	for _, c := range cases {
		p, err := parseDSN(c.dsn)
		if c.user == "" { // Easy Connect Plus parameters are not hp's
			if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), `unknown parameter "ssl_server_dn_match"`) {
				t.Errorf("%s: %v", c.dsn, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.dsn, err)
			continue
		}
		if p.user != c.user || p.password != c.password || p.connect != c.connect || p.configDir != c.configDir {
			t.Errorf("%s: got %q %q %q %q", c.dsn, p.user, p.password, p.connect, p.configDir)
		}
		cp := p.connectionParams()
		if cp.Username != c.user || cp.Password.Secret() != c.password || cp.ConnectString != c.connect || cp.ConfigDir != c.configDir || !cp.IsStandalone() {
			t.Errorf("%s: godror parameters %s", c.dsn, cp)
		}
		if strings.Contains(cp.String(), c.password) {
			t.Errorf("godror's parameters print the password: %s", cp)
		}
	}
	// TNS_ADMIN names the directory when the DSN does not.
	t.Setenv("TNS_ADMIN", tns)
	if p, err := parseDSN("oracle://scott/tiger@SALES"); err != nil || p.configDir != tns {
		t.Errorf("TNS_ADMIN: %+v %v", p, err)
	}
}

// Bad DSNs are refused naming the fault, never the password.
func TestParseDSNRefused(t *testing.T) {
	t.Setenv("TNS_ADMIN", "")
	cases := map[string]string{
		"postgres://scott/hunter22@db/x":                       "scheme is not oracle",
		"oracle://scott@db:1521/x":                             "no password",
		"oracle://db:1521/x":                                   "no user and password",
		"oracle:///hunter22@db/x":                              "no user",
		"oracle://scott/hunter22@":                             "no connect string",
		"oracle://scott/hunter22@SALES":                        "needs tnsnames.ora",
		"oracle://scott/hunter22@SALES?tns_admin=/nonexistent": "cannot be read",
		"oracle://scott/hunter22@db/x?sslmode=on":              `unknown parameter "sslmode"`,
		"oracle://sys/hunter22@//db:1521/x as sysdba":          "administrative role (AS SYSDBA)",
		"oracle://sys as sysoper/hunter22@//db:1521/x":         "administrative role (AS SYSOPER)",
		"oracle://sys/hunter22@//db:1521/x?as=sysdba":          "administrative role (as=sysdba)",
		"oracle://sys:hunter22@db:1521/x?adminRole=SYSASM":     "administrative role",
		"oracle://scott:hunter22%zz@db:1521/x":                 "not validly percent-encoded",
	}
	for dsn, want := range cases {
		_, err := parseDSN(dsn)
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an invalid argument saying %q", dsn, err, want)
			continue
		}
		if strings.Contains(err.Error(), "hunter22") {
			t.Errorf("%s: the error holds the password: %v", dsn, err)
		}
	}
}

func TestFetchOptions(t *testing.T) {
	p, a, err := fetchOptions(sdk.Connection{})
	if err != nil || p != 500 || a != 1000 {
		t.Fatalf("defaults: %d %d %v", p, a, err)
	}
	p, a, err = fetchOptions(sdk.Connection{Options: map[string]string{"prefetch_rows": "2", "array_size": "5000"}})
	if err != nil || p != 2 || a != 5000 {
		t.Fatalf("set: %d %d %v", p, a, err)
	}
	if _, _, err := fetchOptions(sdk.Connection{Options: map[string]string{"array_size": "0"}}); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("array_size=0: %v", err)
	}
}
