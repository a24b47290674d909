package odbc_test

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc/odbcdriver"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// server is a real database reached through a real ODBC driver: the
// PostgreSQL and MariaDB every machine of this project runs on 127.0.0.1
// (or HP_TEST_ODBC_PG_DSN / HP_TEST_ODBC_MARIADB_DSN, in odbc+ form, with
// the matching HP_TEST_ODBC_*_CONNSTR for the set-up connection).
type server struct {
	name    string
	dsn     string // the connector's DSN, without schema
	connStr string // for setting up tables
	// schemaSQL creates and drops a scratch schema (a MariaDB database).
	create, drop string
	mysql        bool
}

var servers = []server{
	{
		name:    "postgres",
		dsn:     envOr("HP_TEST_ODBC_PG_DSN", "odbc+postgres://postgres@127.0.0.1:5432/test"),
		connStr: envOr("HP_TEST_ODBC_PG_CONNSTR", "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=5432;Database=test;UID=postgres;ConnSettings={SET TIME ZONE 'UTC'};BoolsAsChar=0;NumericAs=-1;"),
		create:  "CREATE SCHEMA %s", drop: "DROP SCHEMA %s CASCADE",
	},
	{
		name:    "mariadb",
		dsn:     envOr("HP_TEST_ODBC_MARIADB_DSN", "odbc+mariadb://root@127.0.0.1:3306/test"),
		connStr: envOr("HP_TEST_ODBC_MARIADB_CONNSTR", "Driver={MariaDB Unicode};Server=127.0.0.1;Port=3306;Database=test;UID=root;"),
		create:  "CREATE DATABASE %s", drop: "DROP DATABASE %s",
		mysql: true,
	},
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// open connects through the ODBC driver and creates a scratch schema
// odbc_<name>_<nanos>, dropped when the test ends.
func (s server) open(t testing.TB) (*sql.DB, string) {
	t.Helper()
	db := sql.OpenDB(&odbcdriver.Connector{ConnStr: s.connStr})
	if err := db.Ping(); err != nil {
		testkit.NeedService(t, s.name+" through ODBC", err)
	}
	name := fmt.Sprintf("odbc_%s_%d", s.name, time.Now().UnixNano())
	exec(t, db, fmt.Sprintf(s.create, name))
	t.Cleanup(func() {
		_, _ = db.Exec(fmt.Sprintf(s.drop, name))
		db.Close()
	})
	return db, name
}

func (s server) conn() sdk.Connection { return sdk.Connection{DSN: s.dsn} }

func exec(t testing.TB, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// q quotes an identifier for the server.
func (s server) q(id string) string {
	if s.mysql {
		return "`" + strings.ReplaceAll(id, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
}
