package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestSchemeOf(t *testing.T) {
	cases := map[string]string{
		"postgres://u:p@h/db": "postgres", "postgresql://h/db": "postgresql", "sqlserver://sa:x@h/db": "sqlserver",
		"odbc+mssql://?DSN=x": "odbc", "s3://b/p": "s3", "file:///tmp/x": "file", "./out": "file", "/abs/dir": "file",
		"stdout": "stdout", "sqlite:///tmp/x.db": "sqlite",
		"DSN=warehouse;UID=u;PWD=secret": "odbc", "driver={PostgreSQL Unicode};Server=h": "odbc", "Server=h;Driver=FreeTDS": "odbc", "DSN=x": "odbc",
	}
	for dsn, want := range cases {
		if got, err := SchemeOf(dsn); err != nil || got != want {
			t.Errorf("SchemeOf(%q) = %q, %v; want %q", dsn, got, err, want)
		}
	}
	for _, bad := range []string{"", "Server=db;Password=secret", "foo=1 password=secret", "post gres://x"} {
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
	if _, err := s.Add("My-DB", "postgres://u:pw@file/db", "", nil, false); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(s.Path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if _, err := s.Add("my-db", "postgres://x/y", "", nil, false); err == nil {
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

// libpq key=value DSNs are PostgreSQL's; unencoded reserved characters in
// a URL password are refused with a percent-encode hint, the password
// never shown.
func TestSchemeOfLibpqAndUnencodedPasswords(t *testing.T) {
	for _, dsn := range []string{"host=db user=bob password=Zq7canary dbname=app", " dbname=app sslmode=disable", "user=bob host=/var/run/postgresql"} {
		if got, err := SchemeOf(dsn); err != nil || got != "postgres" {
			t.Errorf("SchemeOf(%q) = %q, %v; want postgres", dsn, got, err)
		}
	}
	for _, dsn := range []string{"postgres://bob:Zq7canary?x@db/app", "mysql://root:Zq7canary%zz@db/test", "sqlserver://sa:a/Zq7canary@h:1433", "postgres://bob:12#Zq7canary@db/app"} {
		_, err := SchemeOf(dsn)
		if err == nil || strings.Contains(err.Error(), "Zq7canary") || !strings.Contains(err.Error(), "percent-encode") {
			t.Errorf("SchemeOf(%q): %v", sdk.MaskDSN(dsn), err)
		}
	}
}

// connections list masks a canary in every DSN form, whether it came from
// the file or the environment.
func TestListMasksCanary(t *testing.T) {
	const c = "Zq7canary"
	s := &Store{Path: filepath.Join(t.TempDir(), "connections.yaml"), LookupEnv: func(string) (string, bool) { return "", false }}
	for name, dsn := range map[string]string{
		"pg":    "postgres://bob@db/app?sslpassword=" + c,
		"pgkv":  "host=db user=bob password=" + c + " dbname=app",
		"my":    "mysql://root:" + c + "@127.0.0.1:3306/test?tls=true",
		"ms":    "sqlserver://sa@h?database=x&password=" + c,
		"odbc":  "odbc+mssql://?Server=x;UID=u;PWD={" + c + "};",
		"lite":  "sqlite:///tmp/x.db?_auth_pass=" + c,
		"s3out": "s3://bucket/p?aws_secret_access_key=" + c,
	} {
		if _, err := s.Add(name, dsn, "", nil, false); err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
	}
	list, err := s.List([]string{"HP_ENV_DSN=sqlserver://sa:" + c + "@h/db", "HP_KV_DSN=host=h password='" + c + " x'"})
	if err != nil || len(list) != 9 {
		t.Fatalf("list: %v %+v", err, list)
	}
	for _, l := range list {
		if strings.Contains(l.DSN, c) || !strings.Contains(l.DSN, "xxxxx") {
			t.Errorf("listed %s as %q", l.Name, l.DSN)
		}
	}
}

// A relative file DSN is stored absolute, so it does not follow the working
// directory of later runs.
func TestAddStoresFileDSNAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := &Store{Path: filepath.Join(dir, "cfg", "connections.yaml"), LookupEnv: func(string) (string, bool) { return "", false }}
	for name, in := range map[string]string{"out": "./out", "rel": "file://exports/x", "abs": "/srv/out"} {
		stored, err := s.Add(name, in, "", nil, false)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Resolve(name)
		if err != nil || c.DSN != stored || c.Scheme != "file" {
			t.Fatalf("%s: %+v %v", name, c, err)
		}
		p := strings.TrimPrefix(stored, "file://")
		if !filepath.IsAbs(p) {
			t.Errorf("%s stored as %q, not absolute", in, stored)
		}
	}
	if c, _ := s.Resolve("out"); c.DSN != filepath.Join(dir, "out") {
		t.Errorf("./out stored as %q, want %q", c.DSN, filepath.Join(dir, "out"))
	}
	if c, _ := s.Resolve("rel"); c.DSN != "file://"+filepath.Join(dir, "exports/x") {
		t.Errorf("file://exports/x stored as %q", c.DSN)
	}
	if stored, _ := s.Add("pg", "postgres://h/db", "", nil, false); stored != "postgres://h/db" {
		t.Errorf("a database DSN changed: %q", stored)
	}
}
