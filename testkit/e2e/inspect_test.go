package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// mssqlObjectsQuery is the mssql dialect's ListObjects query (pinned in
// plugins/mssql's own tests too).
const mssqlObjectsQuery = `SELECT s.name, o.name, o.type_desc FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id ` +
	`WHERE o.type IN ('U', 'V') AND o.is_ms_shipped = 0 AND (@p1 = '' OR s.name = @p1) ORDER BY s.name, o.name`

// inspectCase is one connector under hp ls, describe and check.
type inspectCase struct {
	name  string
	env   []string
	ls    string   // the ls argument
	objs  []string // the objects ls must list, as schema.name:kind
	desc  string   // the describe argument
	cols  []string // its columns as name:arrow type:native type:nullable:key position
	check string   // what check must print
	// missing is a describe argument naming no object.
	missing string
	// rows is the row count describe must show; -1: none (the connector
	// cannot count the object).
	rows int64
}

func inspectPostgres(t *testing.T) inspectCase {
	pgExec(t, `drop schema if exists hp_e2e_inspect cascade; create schema hp_e2e_inspect;
		create table hp_e2e_inspect.items (id bigint, k2 int, name text not null, amount numeric(10,2), primary key (id, k2));
		create view hp_e2e_inspect.items_v as select id, name from hp_e2e_inspect.items;
		insert into hp_e2e_inspect.items values (1, 1, 'a', 1.5), (1, 2, 'b', null)`)
	pgCleanup(t, "drop schema if exists hp_e2e_inspect cascade")
	return inspectCase{name: "postgres", env: []string{"HP_DB_DSN=" + pgDSN}, ls: "db.hp_e2e_inspect",
		objs:  []string{"hp_e2e_inspect.items:table", "hp_e2e_inspect.items_v:view"},
		desc:  "db.hp_e2e_inspect.items",
		cols:  []string{"id:int64:bigint:false:1", "k2:int32:integer:false:2", "name:utf8:text:false:0", "amount:decimal(10, 2):numeric(10,2):true:0"},
		check: "PostgreSQL ", missing: "db.hp_e2e_inspect.nope", rows: 2}
}

func inspectMariaDB(t *testing.T) inspectCase {
	mysqlOut(t, `DROP DATABASE IF EXISTS hp_e2e_inspect; CREATE DATABASE hp_e2e_inspect;
		CREATE TABLE hp_e2e_inspect.items (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL, amount DECIMAL(10,2));
		CREATE VIEW hp_e2e_inspect.items_v AS SELECT id, name FROM hp_e2e_inspect.items;
		INSERT INTO hp_e2e_inspect.items VALUES (1, 'a', 1.5), (2, 'b', NULL), (3, 'c', 2)`)
	t.Cleanup(func() { _ = mysqlOutQuiet("DROP DATABASE IF EXISTS hp_e2e_inspect") })
	return inspectCase{name: "mariadb", env: []string{"HP_DB_DSN=" + myDSN}, ls: "db.hp_e2e_inspect",
		objs:  []string{"hp_e2e_inspect.items:table", "hp_e2e_inspect.items_v:view"},
		desc:  "db.hp_e2e_inspect.items",
		cols:  []string{"id:int64:bigint(20):false:1", "name:utf8:varchar(20):false:0", "amount:decimal(10, 2):decimal(10,2):true:0"},
		check: "MariaDB", missing: "db.hp_e2e_inspect.nope", rows: 3}
}

func inspectSQLite(t *testing.T) inspectCase {
	path := filepath.Join(t.TempDir(), "inspect.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, amount REAL)`,
		`CREATE VIEW items_v AS SELECT id, name FROM items`,
		`INSERT INTO items VALUES (1, 'a', 1.5)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return inspectCase{name: "sqlite", env: []string{"HP_DB_DSN=sqlite://" + path}, ls: "db",
		objs: []string{".items:table", ".items_v:view"}, desc: "db.items",
		cols:  []string{"id:int64:INTEGER:false:1", "name:utf8:TEXT:false:0", "amount:float64:REAL:true:0"},
		check: "SQLite", missing: "db.nope", rows: 1}
}

func inspectSQLServer(t *testing.T) inspectCase {
	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	db.Handle("SELECT @@VERSION", tds.Response{Columns: []tds.Column{{Type: tds.NVarChar, Length: 300}},
		Rows: [][]any{{"Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (TDS test server)"}}})
	name := tds.Column{Type: tds.NVarChar, Length: 128}
	db.HandleArgs(mssqlObjectsQuery, []any{"dbo"}, tds.Response{Columns: []tds.Column{name, name, {Type: tds.NVarChar, Length: 60}},
		Rows: [][]any{{"dbo", "items", "USER_TABLE"}, {"dbo", "items_v", "VIEW"}}})
	mssqlTable(db, "[dbo].[items]", [][]any{{"id", "int", false, 4, 10, 0}, {"name", "nvarchar", false, 40, 0, 0},
		{"amount", "decimal", true, 9, 10, 2}}, "id")
	mssqlTable(db, "[dbo].[nope]", nil)
	return inspectCase{name: "sqlserver", env: []string{"HP_DB_DSN=" + db.DSN("etl", "pw", "Sales")}, ls: "db.dbo",
		objs: []string{"dbo.items:table", "dbo.items_v:view"}, desc: "db.dbo.items",
		cols:  []string{"id:int32:int:false:1", "name:utf8:nvarchar(20):false:0", "amount:decimal(10, 2):decimal(10,2):true:0"},
		check: "Microsoft SQL Server 2022", missing: "db.dbo.nope", rows: -1}
}

func inspectGen(*testing.T) inspectCase {
	return inspectCase{name: "gen", env: []string{"HP_DB_DSN=gen://"}, ls: "db",
		objs: []string{".narrow:table", ".all_types:table", ".empty:table", ".large_values:table"}, desc: "db.narrow",
		cols:  []string{"id:int64:int64:false:1", "value:float64:float64:true:0", "label:utf8:utf8:true:0", "ts:timestamp[us, tz=UTC]:timestamp[us, tz=UTC]:true:0"},
		check: "gen 0.1.0", missing: "db.nope", rows: 1000}
}

// TestInspectCommands: hp ls, hp describe and hp check on every
// connector: PostgreSQL, MariaDB, SQLite, SQL Server (the TDS test
// server) and gen, as JSON and as text; an unknown object or connection
// exits 2 with a message naming it.
func TestInspectCommands(t *testing.T) {
	t.Parallel() // its own schema, database and servers
	bin := testkit.Build(t)
	for _, setup := range []func(*testing.T) inspectCase{inspectPostgres, inspectMariaDB, inspectSQLite, inspectSQLServer, inspectGen} {
		c := setup(t)
		t.Run(c.name, func(t *testing.T) {
			res := bin.Run(t, c.env, "ls", c.ls, "--json")
			if res.Code != 0 {
				t.Fatalf("ls: exit %d: %s", res.Code, res.Stderr)
			}
			var objs []struct{ Schema, Name, Kind string }
			if err := json.Unmarshal([]byte(res.Stdout), &objs); err != nil {
				t.Fatalf("ls --json: %v\n%s", err, res.Stdout)
			}
			got := map[string]bool{}
			for _, o := range objs {
				got[o.Schema+"."+o.Name+":"+o.Kind] = true
			}
			for _, want := range c.objs {
				if !got[want] {
					t.Errorf("ls lists %v, not %s", got, want)
				}
			}
			res = bin.Run(t, c.env, "ls", c.ls)
			ref, kind, _ := strings.Cut(c.objs[0], ":")
			schema, name, _ := strings.Cut(ref, ".")
			testkit.Contains(t, "ls", res.Stdout, "SCHEMA", "KIND", schema, name, kind)

			res = bin.Run(t, c.env, "describe", c.desc, "--output", "json")
			if res.Code != 0 {
				t.Fatalf("describe: exit %d: %s", res.Code, res.Stderr)
			}
			var d struct {
				Columns []struct {
					Name        string `json:"name"`
					ArrowType   string `json:"arrow_type"`
					NativeType  string `json:"native_type"`
					Nullable    bool   `json:"nullable"`
					KeyPosition int    `json:"key_position"`
				} `json:"columns"`
				Rows *int64 `json:"rows"`
			}
			if err := json.Unmarshal([]byte(res.Stdout), &d); err != nil {
				t.Fatalf("describe --json: %v\n%s", err, res.Stdout)
			}
			var cols []string
			for _, col := range d.Columns {
				cols = append(cols, fmt.Sprintf("%s:%s:%s:%v:%d", col.Name, col.ArrowType, col.NativeType, col.Nullable, col.KeyPosition))
			}
			if fmt.Sprint(cols) != fmt.Sprint(c.cols) {
				t.Errorf("describe columns\n got %q\nwant %q", cols, c.cols)
			}
			switch {
			case c.rows < 0 && d.Rows != nil:
				t.Errorf("describe counted %d rows where the connector cannot count", *d.Rows)
			case c.rows >= 0 && (d.Rows == nil || *d.Rows != c.rows):
				t.Errorf("describe rows %v, want %d", d.Rows, c.rows)
			}
			res = bin.Run(t, c.env, "describe", c.desc)
			testkit.Contains(t, "describe", res.Stdout, "ARROW TYPE", "NATIVE TYPE", "pk 1")
			if c.rows >= 0 {
				testkit.Contains(t, "describe", res.Stdout, fmt.Sprintf("rows: %d\n", c.rows))
				if res := bin.Run(t, c.env, "describe", c.desc, "--count=false"); strings.Contains(res.Stdout, "rows:") {
					t.Errorf("describe --count=false counted: %s", res.Stdout)
				}
			}

			res = bin.Run(t, c.env, "check", "db")
			if res.Code != 0 || !strings.HasPrefix(res.Stdout, "db: ok, ") {
				t.Fatalf("check: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
			}
			testkit.Contains(t, "check", res.Stdout, c.check)
			res = bin.Run(t, c.env, "check", "db", "--json")
			var chk struct {
				OK            bool   `json:"ok"`
				ServerVersion string `json:"server_version"`
			}
			if err := json.Unmarshal([]byte(res.Stdout), &chk); err != nil || !chk.OK || !strings.Contains(chk.ServerVersion, c.check) {
				t.Fatalf("check --json: %v\n%s", err, res.Stdout)
			}

			res = bin.Run(t, c.env, "describe", c.missing)
			if res.Code != 2 || !strings.Contains(res.Stderr, "nope") || !strings.Contains(res.Stderr, "does not exist") && !strings.Contains(res.Stderr, "has no table") {
				t.Fatalf("describe of a missing object: exit %d: %s", res.Code, res.Stderr)
			}
		})
	}
	for _, cmd := range [][]string{{"ls", "nope"}, {"describe", "nope.t"}, {"check", "nope"}} {
		res := bin.Run(t, nil, cmd...)
		if res.Code != 2 || !strings.Contains(res.Stderr, `unknown connection "nope"`) {
			t.Errorf("%v: exit %d: %s", cmd, res.Code, res.Stderr)
		}
	}
}

// TestCheckFailures: a connection that fails its check exits non-zero
// with the reason and the DSN masked: 1 when the server cannot be
// reached, 2 when the credentials are refused; a store is not checked.
func TestCheckFailures(t *testing.T) {
	t.Parallel() // nothing shared
	bin := testkit.Build(t)
	const canary = "Zq7canary"
	res := bin.Run(t, []string{"HP_DB_DSN=postgres://postgres:" + canary + "@127.0.0.1:1/test?sslmode=disable"}, "check", "db")
	if res.Code != 1 || strings.Contains(res.Stdout+res.Stderr, canary) {
		t.Fatalf("unreachable: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, `connection "db"`, "does not work", "postgres://postgres:xxxxx@127.0.0.1:1/test")

	db := tds.Start(t, tds.WithLogin("etl", "pw"))
	res = bin.Run(t, []string{"HP_DB_DSN=" + db.DSN("etl", canary, "Sales")}, "check", "db")
	if res.Code != 2 || strings.Contains(res.Stdout+res.Stderr, canary) {
		t.Fatalf("refused login: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	testkit.Contains(t, "stderr", res.Stderr, `connection "db"`, "does not work")

	res = bin.Run(t, []string{"HP_OUT_DSN=" + t.TempDir()}, "check", "out")
	if res.Code != 2 || !strings.Contains(res.Stderr, "store, not a database") {
		t.Fatalf("check of a store: exit %d: %s", res.Code, res.Stderr)
	}
}
