package sdk

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMaskDSN(t *testing.T) {
	cases := map[string]string{
		"postgres://bob:s3cr%40t@db:5432/app?sslmode=disable": "postgres://bob:xxxxx@db:5432/app?sslmode=disable",
		"sqlserver://sa:P@ss@host/db":                         "sqlserver://sa:xxxxx@host/db",
		"host=db user=bob password='s3 cret' dbname=x":        "host=db user=bob password=xxxxx dbname=x",
		"odbc+mssql://?Server=x;UID=u;PWD={pa;ss};":           "odbc+mssql://?Server=x;UID=u;PWD=xxxxx;",
		"snowflake://u@acct/db?token=abc&warehouse=w":         "snowflake://u@acct/db?token=xxxxx&warehouse=w",
		"sqlite:///tmp/demo.db":                               "sqlite:///tmp/demo.db",
		"":                                                    "",
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
