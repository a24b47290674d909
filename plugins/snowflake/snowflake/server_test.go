package snowflake_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
	sfserver "github.com/halfpipe-io/halfpipe/testkit/snowflake"
)

const (
	account  = "hptest"
	password = "pw-s3cret-xyz"
	oauthTok = "oauth-tok-123"
)

// env is a Snowflake test server with an S3 server behind its stage.
type env struct {
	srv  *sfserver.Server
	s3   *testkit.S3Server
	key  *rsa.PrivateKey
	keyF string
}

func (e *env) dsn(user, pass, extra string) string {
	cred := user
	if pass != "" {
		cred += ":" + pass
	}
	return fmt.Sprintf("snowflake://%s@%s/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d&warehouse=WH%s", cred, account, e.srv.Host, e.srv.Port, extra)
}

func newEnv(t *testing.T, withS3 bool) *env {
	t.Helper()
	return newEnvFormat(t, withS3, "")
}

// resultFormats are the formats the test server answers SELECTs in:
// JSON, which the plugin asks for, and Arrow, which a real account
// answers a driver that asks for its default.
var resultFormats = []string{"json", "arrow"}

// newEnvFormat is newEnv with the server answering SELECTs in a format
// (see sfserver.Config.ResultFormat).
func newEnvFormat(t *testing.T, withS3 bool, format string) *env {
	t.Helper()
	snowflake.New() // sets the driver's environment
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyF := filepath.Join(t.TempDir(), "key.p8")
	if err := os.WriteFile(keyF, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{key: key, keyF: keyF}
	cfg := sfserver.Config{Account: account, Users: []sfserver.User{
		{Name: "ETL", Password: password},
		{Name: "KEYUSER", PublicKey: &key.PublicKey},
		{Name: "OAUTHUSER", OAuthToken: oauthTok},
	}, ResultFormat: format}
	if withS3 {
		e.s3 = testkit.StartS3(t)
		e.s3.CreateBucket(t, "sf-lake")
		cfg.S3 = e.s3.Client(t)
	}
	e.srv = sfserver.Start(t, cfg)
	e.srv.AddStage("LAKE", "s3://sf-lake/runs/")
	return e
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	cfg, err := snowflake.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *cfg))
	t.Cleanup(func() { db.Close() })
	return db
}

func TestServerLogins(t *testing.T) {
	e := newEnv(t, false)
	c := snowflake.New()
	ctx := context.Background()
	for _, tc := range []struct{ name, dsn string }{
		{"password", e.dsn("etl", password, "")},
		{"key pair", e.dsn("keyuser", "", "&private_key_file="+e.keyF)},
		{"oauth", e.dsn("oauthuser", "", "&authenticator=oauth&token="+oauthTok)},
	} {
		v, err := c.Check(ctx, sdk.Connection{DSN: tc.dsn})
		if err != nil || v != "Snowflake 9.0.0" {
			t.Errorf("%s: Check = %q, %v", tc.name, v, err)
		}
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	otherF := filepath.Join(t.TempDir(), "other.p8")
	_ = os.WriteFile(otherF, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	for _, tc := range []struct{ name, dsn, code string }{
		{"wrong password", e.dsn("etl", "nope-wrong", ""), "390100"},
		{"wrong key", e.dsn("keyuser", "", "&private_key_file="+otherF), "390144"},
		{"wrong token", e.dsn("oauthuser", "", "&authenticator=oauth&token=bad"), "390303"},
	} {
		_, err := c.Check(ctx, sdk.Connection{DSN: tc.dsn})
		if !errors.Is(err, sdk.ErrUnauthenticated) || !bytes.Contains([]byte(err.Error()), []byte(tc.code)) {
			t.Errorf("%s: Check error = %v, want unauthenticated %s", tc.name, err, tc.code)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), []byte("nope-wrong")) {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
}

func TestServerStatements(t *testing.T) {
	e := newEnv(t, false)
	db := openDB(t, e.dsn("etl", password, ""))
	ctx := context.Background()
	mustExec := func(q string, args ...any) sql.Result {
		t.Helper()
		r, err := db.ExecContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return r
	}
	mustExec(`CREATE TABLE "T" ("ID" NUMBER(19,0), "NAME" VARCHAR)`)
	r := mustExec(`INSERT INTO "T" ("ID", "NAME") VALUES (?, ?), (?, ?)`, 1, "one", 2, nil)
	if n, _ := r.RowsAffected(); n != 2 {
		t.Errorf("INSERT affected %d rows, want 2", n)
	}
	// A rolled-back transaction leaves nothing; a committed one stays.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM "T"`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "T"`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("after ROLLBACK: COUNT(*) = %d, %v; want 2", n, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT "ID", "NAME" FROM "T" ORDER BY "ID"`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id string
		var name sql.NullString
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s=%v", id, name))
	}
	rows.Close()
	if fmt.Sprint(got) != "[1={one true} 2={ false}]" {
		t.Errorf("SELECT = %v", got)
	}
	// Snowflake's code and state for an unknown table.
	_, err = db.ExecContext(ctx, `DELETE FROM "NOPE"`)
	var se *sf.SnowflakeError
	if !errors.As(err, &se) || se.Number != 2003 || se.SQLState != "42S02" {
		t.Errorf("unknown table: %v, want 002003/42S02", err)
	}
	// A numeric column refuses text.
	_, err = db.ExecContext(ctx, `INSERT INTO "T" ("ID") VALUES (?)`, "x")
	if !errors.As(err, &se) || se.Number != 100038 {
		t.Errorf("bad number: %v, want 100038", err)
	}
	// DDL commits an open transaction, as in Snowflake.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"BEGIN", `DELETE FROM "T"`, `CREATE TABLE "U" ("A" VARCHAR)`, "ROLLBACK"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if rs, _ := e.srv.Rows("PUBLIC.T"); len(rs) != 0 {
		t.Errorf("the DELETE before CREATE TABLE was not committed: %d rows", len(rs))
	}
	if got := e.srv.Statements(); len(got) == 0 || got[1].SQL != `INSERT INTO "T" ("ID", "NAME") VALUES (?, ?), (?, ?)` || fmt.Sprint(got[1].Bindings) != "[1 one 2 NULL]" {
		t.Errorf("recorded statements: %+v", got[:2])
	}
}

// TestServerResultFormatSession: with ResultFormat "session" the server
// answers in the format the session asked for: Arrow for gosnowflake's
// default, JSON for hp's sessions.
func TestServerResultFormatSession(t *testing.T) {
	e := newEnvFormat(t, false, "session")
	if err := e.srv.Exec(`CREATE TABLE "PUBLIC"."F" ("N" NUMBER(18,4))`, `INSERT INTO "PUBLIC"."F" VALUES (99999999999999.9999)`); err != nil {
		t.Fatal(err)
	}
	cfg, err := snowflake.ParseDSN(e.dsn("etl", password, ""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Params = nil // gosnowflake's default: Arrow
	for _, db := range []*sql.DB{openDB(t, e.dsn("etl", password, "")), sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *cfg))} {
		var n string
		if err := db.QueryRow(`SELECT "N" FROM "PUBLIC"."F"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	var sent []string
	for _, st := range e.srv.Statements() {
		sent = append(sent, st.ResultFormat+"->"+st.Sent)
	}
	if fmt.Sprint(sent) != "[JSON->json ARROW->arrow]" {
		t.Errorf("asked -> answered: %v", sent)
	}
}
