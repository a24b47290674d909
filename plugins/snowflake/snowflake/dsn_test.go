package snowflake_test

import (
	"errors"
	"strings"
	"testing"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestParseDSN(t *testing.T) {
	cfg, err := snowflake.ParseDSN("snowflake://etl:p%40ss@myorg-acct/ANALYTICS?schema=RAW&warehouse=LOAD_WH&role=LOADER")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Account != "myorg-acct" || cfg.User != "etl" || cfg.Password != "p@ss" || cfg.Database != "ANALYTICS" ||
		cfg.Schema != "RAW" || cfg.Warehouse != "LOAD_WH" || cfg.Role != "LOADER" || cfg.Authenticator != sf.AuthTypeSnowflake {
		t.Errorf("config = %+v", cfg)
	}
	cfg, err = snowflake.ParseDSN("snowflake://etl@acct/DB/SCH?authenticator=oauth&token=tok")
	if err != nil || cfg.Schema != "SCH" || cfg.Authenticator != sf.AuthTypeOAuth || cfg.Token != "tok" {
		t.Errorf("oauth: %+v, %v", cfg, err)
	}
}

func TestParseDSNRefuses(t *testing.T) {
	for _, tc := range []struct{ dsn, msg string }{
		{"snowflake://etl:hunter2secret@/DB", "no account"},
		{"snowflake://acct/DB", "no user"},
		{"snowflake://etl:hunter2secret@acct", "the path is /database"},
		{"snowflake://etl@acct/DB", "has no password"},
		{"snowflake://etl:hunter2secret@acct/DB?colour=red", `unknown parameter "colour"`},
		{"snowflake://etl@acct/DB?authenticator=oauth", "needs token="},
		{"snowflake://etl@acct/DB?private_key_file=/nonexistent/key.p8", "private_key_file"},
		{"snowflake://etl:hunter2secret@acct/DB?port=x", "not a port number"},
		{"mysql://etl:hunter2secret@acct/DB", "want snowflake"},
	} {
		_, err := snowflake.ParseDSN(tc.dsn)
		if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want invalid argument with %q", tc.dsn, err, tc.msg)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("%s: the error shows the password: %v", tc.dsn, err)
		}
	}
}

func TestExternalBrowserRefusedInLambda(t *testing.T) {
	dsn := "snowflake://etl@acct/DB?authenticator=externalbrowser"
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "")
	if cfg, err := snowflake.ParseDSN(dsn); err != nil || cfg.Authenticator != sf.AuthTypeExternalBrowser {
		t.Fatalf("outside Lambda: %v", err)
	}
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "hp-orders")
	_, err := snowflake.ParseDSN(dsn)
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), "AWS Lambda") || !strings.Contains(err.Error(), "private_key_file") {
		t.Errorf("in Lambda: %v", err)
	}
}

func TestColumnTypes(t *testing.T) {
	got, err := snowflake.CreateTableSQL()
	if err != nil {
		t.Fatal(err)
	}
	want := `CREATE TABLE "S"."T" ("B" BOOLEAN, "I" NUMBER(19,0), "U" NUMBER(20,0), "F" FLOAT, "D" NUMBER(12,3), "S" VARCHAR, "bin data" BINARY, ` +
		`"DT" DATE, "TM" TIME(6), "NTZ" TIMESTAMP_NTZ(6), "LTZ" TIMESTAMP_LTZ(6), "TZ" TIMESTAMP_TZ(6), "J" VARIANT, ` +
		`"T0" TIME(0), "NS" TIMESTAMP_NTZ(9), "MS" TIMESTAMP_LTZ(3))`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
