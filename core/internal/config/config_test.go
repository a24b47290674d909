package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSchemeOf(t *testing.T) {
	cases := map[string]string{
		"postgres://u:p@h/db": "postgres", "postgresql://h/db": "postgresql", "sqlserver://sa:x@h/db": "sqlserver",
		"odbc+mssql://?DSN=x": "odbc", "s3://b/p": "s3", "file:///tmp/x": "file", "./out": "file", "/abs/dir": "file",
		"stdout": "stdout", "sqlite:///tmp/x.db": "sqlite",
	}
	for dsn, want := range cases {
		if got, err := SchemeOf(dsn); err != nil || got != want {
			t.Errorf("SchemeOf(%q) = %q, %v; want %q", dsn, got, err, want)
		}
	}
	for _, bad := range []string{"", "host=db password=secret", "post gres://x"} {
		_, err := SchemeOf(bad)
		if err == nil {
			t.Errorf("SchemeOf(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks a password: %v", err)
		}
	}
}

func TestSplitAndParseTable(t *testing.T) {
	c, o, err := SplitConnObject("pg.public.orders")
	if err != nil || c != "pg" || o != "public.orders" {
		t.Fatalf("split = %q %q %v", c, o, err)
	}
	if _, _, err := SplitConnObject("nodot"); err == nil {
		t.Fatal("accepted an argument without a dot")
	}
	ref, err := ParseTable(`"sales"."order.items"`)
	if err != nil || ref.Schema != "sales" || ref.Name != "order.items" {
		t.Fatalf("quoted: %+v %v", ref, err)
	}
	ref, err = ParseTable(`orders`)
	if err != nil || ref.Schema != "" || ref.Name != "orders" {
		t.Fatalf("plain: %+v %v", ref, err)
	}
	for _, bad := range []string{"a.b.c", `"open`, "a.", ""} {
		if _, err := ParseTable(bad); err == nil {
			t.Errorf("ParseTable(%q) accepted", bad)
		}
	}
}

func TestResolveEnvFirstThenFile(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	s := &Store{Path: filepath.Join(dir, "halfpipe", "connections.yaml"), LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	if err := s.Add("My-DB", "postgres://u:pw@file/db", "", false); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(s.Path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if err := s.Add("my-db", "postgres://x/y", "", false); err == nil {
		t.Fatal("overwrote without force")
	}
	c, err := s.Resolve("my-db")
	if err != nil || c.DSN != "postgres://u:pw@file/db" || c.Scheme != "postgres" {
		t.Fatalf("from file: %+v %v", c, err)
	}
	env["HP_MY_DB_DSN"] = "mysql://u:pw@env/db"
	env["HP_MY_DB_TYPE"] = "mariadb"
	c, err = s.Resolve("MY-DB")
	if err != nil || c.DSN != "mysql://u:pw@env/db" || c.Type != "mariadb" || !strings.Contains(c.From, "HP_MY_DB_DSN") {
		t.Fatalf("from env: %+v %v", c, err)
	}
	list, _ := s.List([]string{"HP_OTHER_DSN=sqlserver://sa:topsecret@h/db"})
	for _, l := range list {
		if strings.Contains(l.DSN, "pw@") || strings.Contains(l.DSN, "topsecret") {
			t.Fatalf("list shows a password: %+v", l)
		}
	}
	if len(list) != 2 {
		t.Fatalf("list = %+v", list)
	}
	if err := s.Remove("my-db"); err != nil {
		t.Fatal(err)
	}
	delete(env, "HP_MY_DB_DSN")
	if _, err := s.Resolve("my-db"); err == nil || !strings.Contains(err.Error(), "HP_MY_DB_DSN") {
		t.Fatalf("after remove: %v", err)
	}
}
