package mssql

import (
	"context"
	"database/sql/driver"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/microsoft/go-mssqldb/integratedauth/krb5"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Kerberos: go-mssqldb's pure-Go krb5 authenticator (gokrb5), chosen by
// authenticator=krb5 in the DSN; its krb5-* parameters pass through.

// kerberosConnector turns the authenticator's setup errors into
// configuration errors naming the file: the driver says only
// "krb5-keytabfile does not exist", and a missing krb5.conf surfaces as
// an errno, which would pass for a network error.
type kerberosConnector struct {
	driver.Connector
	params map[string]string
}

// withKerberos wraps c when the DSN selects the krb5 authenticator.
func withKerberos(c driver.Connector, dsn string) driver.Connector {
	cfg, err := msdsn.Parse(dsn)
	if err != nil || !strings.EqualFold(cfg.Parameters["authenticator"], "krb5") {
		return c
	}
	return kerberosConnector{Connector: c, params: cfg.Parameters}
}

func (k kerberosConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := k.Connector.Connect(ctx)
	if err != nil {
		return nil, kerberosError(err, k.params)
	}
	return conn, nil
}

// kerberosError classifies the krb5 authenticator's errors about its
// parameters and files; others are returned unchanged.
func kerberosError(err error, params map[string]string) error {
	// file is the path the authenticator used: the parameter, else the
	// environment variable it falls back to.
	file := func(param, env, def string) string {
		if v := params[param]; v != "" {
			return v
		}
		if v := os.Getenv(env); v != "" {
			return v
		}
		return def
	}
	conf := file("krb5-configfile", "KRB5_CONFIG", "/etc/krb5.conf")
	loadConf := strings.HasPrefix(err.Error(), "Unable to load krb5 config")
	switch {
	case errors.Is(err, krb5.ErrKeytabFileDoesNotExist):
		return sdk.InvalidArgumentf("Kerberos keytab %s (krb5-keytabfile) does not exist", file("krb5-keytabfile", "KRB5_KTNAME", ""))
	case errors.Is(err, krb5.ErrCredCacheFileDoesNotExist):
		return sdk.InvalidArgumentf("Kerberos credential cache %s (krb5-credcachefile) does not exist", file("krb5-credcachefile", "KRB5CCNAME", ""))
	case errors.Is(err, krb5.ErrKrb5ConfigFileDoesNotExist), loadConf && errors.Is(err, fs.ErrNotExist):
		return sdk.InvalidArgumentf("Kerberos configuration file %s (krb5-configfile) does not exist", conf)
	case loadConf:
		// Unreadable or malformed.
		return sdk.InvalidArgumentf("Kerberos configuration file %s (krb5-configfile): %v", conf, errors.Unwrap(err))
	case strings.HasPrefix(err.Error(), "invalid 'krb5-"):
		return sdk.InvalidArgumentf("Kerberos: %v", err)
	}
	for _, e := range []error{krb5.ErrRequiredParametersMissing, krb5.ErrRealmRequiredWithUsernameAndPassword,
		krb5.ErrKrb5ConfigFileRequiredWithUsernameAndPassword, krb5.ErrUsernameRequiredWithKeytab,
		krb5.ErrRealmRequiredWithKeytab, krb5.ErrKrb5ConfigFileRequiredWithKeytab, krb5.ErrKrb5ConfigFileRequiredWithCredCache} {
		if errors.Is(err, e) {
			return sdk.InvalidArgumentf("Kerberos: %v (give user and password with krb5-realm, or a user with krb5-keytabfile, or krb5-credcachefile)", err)
		}
	}
	return err
}
