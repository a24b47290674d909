package mssql_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/plugins/mssql/mssql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit/tds"
)

// TestKerberosAuthenticator: authenticator=krb5 selects go-mssqldb's
// Kerberos authenticator, its krb5-* parameters reach it, and it fails on
// what Kerberos lacks before any SQL login is tried (without the import
// the driver answers "provider krb5 not found"). Missing or broken files
// and parameters are configuration errors naming the file; an unreachable
// KDC is not.
func TestKerberosAuthenticator(t *testing.T) {
	s := tds.Start(t, tds.WithLogin("loader", "S3cret!pw"))
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A realm whose KDC listens nowhere: 127.0.0.1:1 refuses at once.
	conf := write("krb5.conf", "[libdefaults]\n default_realm = EXAMPLE.COM\n dns_lookup_kdc = false\n udp_preference_limit = 1\n"+
		"[realms]\n EXAMPLE.COM = {\n  kdc = 127.0.0.1:1\n }\n")
	noRealm := write("norealm.conf", "[libdefaults]\n dns_lookup_kdc = false\n")
	broken := write("broken.conf", "[libdefaults]\n ticket_lifetime = forever\n")
	missingKeytab := filepath.Join(dir, "missing.keytab")
	missingConf := filepath.Join(dir, "missing.conf")
	ctx := context.Background()
	for _, c := range []struct {
		name, user, password string
		params               url.Values
		invalid              bool   // a configuration error (hp exits 2)
		want                 string // in the message
	}{
		{"missing keytab", "etl", "", url.Values{"krb5-keytabfile": {missingKeytab}}, true, "keytab " + missingKeytab + " (krb5-keytabfile) does not exist"},
		{"missing config", "etl", "", url.Values{"krb5-configfile": {missingConf}}, true, "configuration file " + missingConf + " (krb5-configfile) does not exist"},
		{"broken config", "etl", "Kerb3ros!pw", url.Values{"krb5-configfile": {broken}}, true, "configuration file " + broken + " (krb5-configfile): "},
		{"no realm", "etl", "Kerb3ros!pw", url.Values{"krb5-configfile": {noRealm}}, true, "krb5-realm is required"},
		{"bad option", "etl", "Kerb3ros!pw", url.Values{"krb5-dnslookupkdc": {"maybe"}}, true, "krb5-dnslookupkdc"},
		{"KDC down", "etl", "Kerb3ros!pw", url.Values{"krb5-realm": {"EXAMPLE.COM"}}, false, "KDC"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{"authenticator": {"krb5"}, "krb5-configfile": {conf}}
			for k, v := range c.params {
				q[k] = v
			}
			dsn := s.DSN(c.user, c.password, "warehouse") + "&" + q.Encode()
			_, err := mssql.New().Check(ctx, sdk.Connection{DSN: dsn})
			if err == nil {
				t.Fatal("check passed")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "provider krb5 not found") {
				t.Errorf("error %q does not come from the Kerberos authenticator (want %q)", err, c.want)
			}
			if got := errors.Is(err, sdk.ErrInvalidArgument); got != c.invalid {
				t.Errorf("invalid argument = %v, want %v: %v", got, c.invalid, err)
			}
			if c.invalid && errors.Is(err, sdk.ErrUnavailable) {
				t.Errorf("a configuration error reads as unavailable: %v", err)
			}
			if c.password != "" && strings.Contains(err.Error(), c.password) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
	// Writes classify the same way.
	q := url.Values{"authenticator": {"krb5"}, "krb5-configfile": {conf}, "krb5-keytabfile": {missingKeytab}}
	schema := arrow.NewSchema([]arrow.Field{f("id", arrow.PrimitiveTypes.Int64, false)}, nil)
	_, err := mssql.New().Write(ctx, sdk.WriteRequest{Conn: sdk.Connection{DSN: s.DSN("etl", "", "warehouse") + "&" + q.Encode()},
		Table: dbo("t"), Mode: sdk.Append, CreateTable: true}, readerOf(t, schema, [][]any{{int64(1)}}))
	if !errors.Is(err, sdk.ErrInvalidArgument) || !strings.Contains(err.Error(), missingKeytab) {
		t.Errorf("write with a missing keytab: %v", err)
	}
	if n := s.Stats(); n.Logins+n.FailedLogins != 0 {
		t.Errorf("SQL logins were tried: %+v", n)
	}
}
