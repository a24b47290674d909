package sqlguard

import (
	"errors"
	"strings"
	"testing"
)

func TestPredicate(t *testing.T) {
	ok := []struct {
		d Dialect
		s string
	}{
		{Generic, "id > 10"},
		{Postgres, "a IS DISTINCT FROM b AND extract(year FROM ts) = 2024"},
		{Generic, "a = 1 AND (b = 2 OR c IN (SELECT x FROM y UNION SELECT z FROM w))"},
		{Generic, "name = 'it''s ); DROP TABLE x; --'"},
		{Generic, `"weird)name" = 1`},
		{Postgres, "body = $tag$ ) union select $tag$"},
		{Postgres, "body = E'\\' ) union'"},
		{Postgres, "a = 1 /* nested /* ) */ still comment ; */"},
		{Postgres, "a = 1 -- trailing note\n"},
		{MySQL, "s = 'a\\' ) UNION SELECT 1 -- '"},
		{MySQL, "`order` = 1"},
		{MySQL, "a = 1 # note\n"},
		{SQLServer, "[union] = 1 AND [x)] = 2"},
		{SQLServer, "name = N'a''b'"},
		{SQLite, "[order] = 1 OR `limit` = 2"},
	}
	for _, c := range ok {
		if err := Predicate(c.d, c.s); err != nil {
			t.Errorf("Predicate(%d, %q) = %v, want nil", c.d, c.s, err)
		}
	}
	bad := []struct {
		d Dialect
		s string
	}{
		{Generic, "1=1) UNION ALL (SELECT secret FROM users"},
		{Generic, "1=1) OR (1=1"},
		{Generic, "1=1; DELETE FROM victim"},
		{Generic, "1=1 UNION SELECT 1"},
		{Generic, "1=1 ORDER BY 1"},
		{Generic, "(1=1"},
		{Generic, "1=1 -- swallow the rest"},
		{Generic, "name = 'unterminated"},
		{Generic, "a = 1 /* open"},
		{Generic, ""},
		{Generic, "   "},
		{Postgres, "a = $q$ open"},
		{Postgres, "a = 1 /* nested /* */ ) union select 1"},
		{Postgres, "s = 'a\\') UNION SELECT 1 -- '"},
		{MySQL, "1=1 /*!50000 ) UNION SELECT 1 */"},
		{MySQL, "1=1 # swallow"},
		{Generic, "1=1 INTO OUTFILE '/tmp/x'"},
		{SQLServer, "1=1) UNION (SELECT 1"},
	}
	for _, c := range bad {
		err := Predicate(c.d, c.s)
		if err == nil {
			t.Errorf("Predicate(%d, %q) = nil, want an error", c.d, c.s)
		} else if !errors.Is(err, ErrRefused) {
			t.Errorf("Predicate(%d, %q) = %v, does not wrap ErrRefused", c.d, c.s, err)
		}
	}
}

func TestRead(t *testing.T) {
	ok := []struct {
		d Dialect
		s string
	}{
		{Generic, "select * from t"},
		{Generic, "  (SELECT 1) UNION (SELECT 2);"},
		{Postgres, "WITH x AS (SELECT 1) SELECT * FROM x"},
		{Postgres, "select 'delete from victim'"},
		{Postgres, `select "update" from t`},
		{MySQL, "SHOW TABLES"},
		{MySQL, "select `delete` from t"},
		{SQLServer, "SELECT TOP 10 [insert] FROM dbo.t"},
		{SQLite, "values (1), (2)"},
		{Postgres, "select updated_at, deleted from t"},
	}
	for _, c := range ok {
		if err := Read(c.d, c.s); err != nil {
			t.Errorf("Read(%d, %q) = %v, want nil", c.d, c.s, err)
		}
	}
	bad := []struct {
		d Dialect
		s string
	}{
		{Generic, "delete from victim"},
		{Generic, "insert into t values (1)"},
		{Generic, "select 1; delete from victim"},
		{Postgres, "with d as (delete from victim returning *) select * from d"},
		{Postgres, "select * into newtable from t"},
		{Postgres, "/* hi */ update t set a = 1"},
		{Generic, "select * from t for update"},
		{Generic, ""},
		{SQLServer, "SELECT 1 DELETE FROM victim"},
		{SQLServer, "SELECT 1 EXEC sp_who"},
		{SQLServer, "SELECT * FROM OPENROWSET('x', 'y', 'z')"},
		{SQLServer, "SELECT 1 USE master"},
		{MySQL, "select 1 into outfile '/tmp/x'"},
		{MySQL, "/*!50000 delete from victim */ select 1"},
		{Generic, "select 'unterminated"},
	}
	for _, c := range bad {
		err := Read(c.d, c.s)
		if err == nil {
			t.Errorf("Read(%d, %q) = nil, want an error", c.d, c.s)
		} else if !errors.Is(err, ErrRefused) {
			t.Errorf("Read(%d, %q) = %v, does not wrap ErrRefused", c.d, c.s, err)
		}
	}
}

func TestForConnector(t *testing.T) {
	for name, want := range map[string]Dialect{"postgres": Postgres, "mysql": MySQL, "sqlite": SQLite, "mssql": SQLServer, "oracle": Oracle, "db2": Generic} {
		if got := ForConnector(name); got != want {
			t.Errorf("ForConnector(%q) = %d, want %d", name, got, want)
		}
	}
}

// Oracle's alternative quoting: whatever sits between the delimiters is
// text, a ';', a comment marker or a parenthesis included; the other
// dialects do not know it.
func TestOracleQQuotes(t *testing.T) {
	ok := []string{
		"name = q'[it's]'",
		"note = q'{a; b -- c /* d ) }'",
		"note = Q'<1 > 0; it's>' AND id > 2",
		"note = q'(f(x) = 'y')' OR note = q'!don't -- here!'",
		"note = nq'[ü's]'",
		"note = q'|'|'",
		"q = 'plain' AND nq = 1",
	}
	for _, s := range ok {
		if err := Predicate(Oracle, s); err != nil {
			t.Errorf("Predicate(Oracle, %q) = %v, want nil", s, err)
		}
	}
	if err := Read(Oracle, "SELECT q'[a; DELETE FROM t]' FROM dual"); err != nil {
		t.Errorf("Read of a q-quote holding a statement: %v", err)
	}
	bad := []struct{ s, why string }{
		{"name = q'[it's", "unterminated quote q'["},
		{"name = q'[x) ; DELETE FROM t --'", "unterminated quote q'["},
		{"name = q'[x]'; DELETE FROM t", "';' ends a statement"},
		{"name = q'[x]' ) UNION SELECT secret FROM users --", "unbalanced parentheses"},
		{"name = q'[x]' UNION SELECT 1 FROM dual", "UNION outside parentheses"},
		{"name = q' x '", "followed by a delimiter"},
		{"name = q'", "followed by a delimiter"},
	}
	for _, c := range bad {
		err := Predicate(Oracle, c.s)
		if err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("Predicate(Oracle, %q) = %v, want a refusal saying %q", c.s, err, c.why)
		}
	}
	if err := Read(Oracle, "SELECT q'[x]' FROM dual; DELETE FROM t"); err == nil {
		t.Errorf("Read after a q-quote let a second statement through")
	}
	// Unchanged elsewhere: q'[...]' is no literal in the other dialects.
	for _, d := range []Dialect{Generic, Postgres, MySQL, SQLite, SQLServer} {
		if err := Predicate(d, "name = q'[it's]'"); err == nil {
			t.Errorf("Predicate(%d) took an Oracle q-quote", d)
		}
	}
}
