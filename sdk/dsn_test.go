package sdk

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMaskDSN(t *testing.T) {
	cases := map[string]string{
		"postgres://bob:s3cr%40t@db:5432/app?sslmode=disable":            "postgres://bob:xxxxx@db:5432/app?sslmode=disable",
		"sqlserver://sa:P@ss@host/db":                                    "sqlserver://sa:xxxxx@host/db",
		"host=db user=bob password='s3 cret' dbname=x":                   "host=db user=bob password=xxxxx dbname=x",
		"odbc+mssql://?Server=x;UID=u;PWD={pa;ss};":                      "odbc+mssql://?Server=x;UID=u;PWD=xxxxx;",
		"snowflake://u@acct/db?token=abc&warehouse=w":                    "snowflake://u@acct/db?token=xxxxx&warehouse=w",
		"sqlite:///tmp/demo.db":                                          "sqlite:///tmp/demo.db",
		"oracle://scott/tiger@//db:1521/FREEPDB1?x=1":                    "oracle://scott/xxxxx@//db:1521/FREEPDB1?x=1",
		"oracle://scott/ti@g/er@SALES_HA":                                "oracle://scott/xxxxx@SALES_HA",
		"oracle://scott:tiger@db:1521/FREEPDB1":                          "oracle://scott:xxxxx@db:1521/FREEPDB1",
		"s3://bucket/prefix/part":                                        "s3://bucket/prefix/part",
		"":                                                               "",
		"postgres://u:p?password=abc@h/db?x=Zq7":                         "postgres://u:xxxxx",
		"DSN postgres://... is not a valid URL: percent-encode @ as %40": "DSN postgres://... is not a valid URL: percent-encode @ as %40",
	}
	for in, want := range cases {
		if got := MaskDSN(in); got != want {
			t.Errorf("MaskDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskIn(t *testing.T) {
	dsn := "postgres://bob:hunter22@db/app"
	got := MaskIn(`connect failed for "bob:hunter22": bad`, dsn)
	if strings.Contains(got, "hunter22") {
		t.Fatalf("secret leaked: %s", got)
	}
	// Oracle's user/password form, with an '@' in the password.
	got = MaskIn("ORA-01017 for scott/hun@ter22 and hun@ter22", "oracle://scott/hun@ter22@//db/svc")
	if strings.Contains(got, "hun@ter22") || strings.Contains(got, "ter22") {
		t.Fatalf("secret leaked: %s", got)
	}
}

// MaskErr masks the secret and keeps the error's kind; an error without
// one comes back as it is.
func TestMaskErr(t *testing.T) {
	dsn := "postgres://bob:hunter22@db/app"
	err := MaskErr(fmt.Errorf("%w: password hunter22 refused", ErrUnauthenticated), dsn)
	if strings.Contains(err.Error(), "hunter22") || !strings.Contains(err.Error(), "refused") || !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("MaskErr: %v (kind kept: %v)", err, errors.Is(err, ErrUnauthenticated))
	}
	plain := errors.New("no secret here")
	if MaskErr(plain, dsn) != plain || MaskErr(nil, dsn) != nil {
		t.Fatal("MaskErr changed an error with nothing to mask")
	}
}

// Passwords holding reserved characters make the DSN invalid; masking works
// on the text, so they are masked anyway.
func TestMaskDSNReservedCharacters(t *testing.T) {
	const canary = "Zq7canary"
	for _, pw := range []string{canary + "?x", canary + "#x", canary + "/x", canary + "@x", canary + "%zz", "a?b#c/" + canary + "@d%"} {
		for _, dsn := range []string{
			"postgres://bob:" + pw + "@db:5432/app?sslmode=disable",
			"mysql://root:" + pw + "@127.0.0.1:3306/test",
			"sqlserver://sa:" + pw + "@host:1433?database=x",
		} {
			got := MaskDSN(dsn)
			if strings.Contains(got, canary) || !strings.Contains(got, Mask) {
				t.Errorf("MaskDSN(%q) = %q", dsn, got)
			}
		}
	}
}

// A canary secret in every DSN form the connectors accept never survives.
func TestMaskDSNCanaryEveryForm(t *testing.T) {
	const c = "Zq7canary"
	forms := []string{
		"postgres://bob:" + c + "@db/app?sslmode=verify-full",
		"postgres://bob@db/app?sslpassword=" + c + "&sslmode=require",
		"postgresql://bob@db/app?password=" + c,
		"host=db user=bob password=" + c + " dbname=app",
		"host=db user=bob password='" + c + " x' dbname=app sslpassword=" + c,
		"host=db user=bob sslkey=" + c + " krb5_keytab=" + c,
		"mysql://root:" + c + "@127.0.0.1:3306/test?tls=true",
		"root:" + c + "@tcp(127.0.0.1:3306)/test",
		"sqlserver://sa:" + c + "@host:1433?database=x",
		"sqlserver://sa@host?password=" + c,
		"sqlserver://host?database=x&client_secret=" + c,
		"Server=host;User ID=sa;Password=" + c + " with space;Database=x",
		"odbc+mssql://?Server=x;UID=u;PWD={" + c + ";x};",
		"sqlite:///tmp/demo.db?_auth_pass=" + c + "&_key=" + c,
		"s3://bucket/prefix?aws_secret_access_key=" + c + "&session_token=" + c,
		"s3://bucket/prefix?sse_customer_key=" + c,
		"file:///tmp/out?api_key=" + c,
		"gen://?rows=1&private_key=" + c + "&apiKey=" + c + "&auth=" + c,
	}
	for _, dsn := range forms {
		if got := MaskDSN(dsn); strings.Contains(got, c) {
			t.Errorf("MaskDSN(%q) = %q: canary survives", dsn, got)
		}
		if got := MaskIn("driver said: "+dsn, dsn); strings.Contains(got, c) {
			t.Errorf("MaskIn(%q) = %q: canary survives", dsn, got)
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	for _, k := range []string{"password", "Password", "PWD", "passwd", "pass", "sslpassword", "secret", "client_secret", "token", "session_token",
		"access_token", "key", "sslkey", "private_key", "api_key", "apiKey", "aws_secret_access_key", "krb5_keytab", "keytab", "sas", "auth", "credentials", "_auth_pass", "_key", "passphrase", "sse_customer_key"} {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false", k)
		}
	}
	for _, k := range []string{"user", "host", "dbname", "sslmode", "sslcert", "sslrootcert", "keepalives", "keepalives_idle", "kms_key_id", "access_key_id",
		"aws_access_key_id", "key_columns", "primary_key", "keyspace", "application_name", "database", "rows", "tls", "passfile", "krb5-keytabfile", "sslpasswordpath", "secrets_dir"} {
		if IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true", k)
		}
	}
}

// ParseURL refuses a password with reserved characters, says to
// percent-encode it and never repeats the DSN.
func TestParseURL(t *testing.T) {
	const c = "Zq7canary"
	for _, dsn := range []string{"postgres://bob:" + c + "%zz@db/app", "mysql://root:" + c + "?x@db:3306/test", "sqlserver://sa:a/" + c + "@host:1433"} {
		_, err := ParseURL(dsn)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted an unencoded password", MaskDSN(dsn))
			continue
		}
		if strings.Contains(err.Error(), c) || !strings.Contains(err.Error(), "percent-encode") {
			t.Errorf("ParseURL error %q", err)
		}
	}
	u, err := ParseURL("postgres://bob:a%3Fb%40c@db:5432/app?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := u.User.Password(); p != "a?b@c" || u.Host != "db:5432" {
		t.Fatalf("ParseURL: password %q host %q", p, u.Host)
	}
}
