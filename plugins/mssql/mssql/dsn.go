package mssql

import (
	"database/sql"
	"database/sql/driver"
	"net/url"
	"strings"

	mssqldb "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/azuread"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// driverDSN turns a halfpipe DSN into go-mssqldb's URL form.
//
// Accepted forms:
//
//	sqlserver://user:pass@host:port?database=db&...        go-mssqldb's form
//	sqlserver://user:pass@host/instance?database=db&...    go-mssqldb's form with an instance
//	sqlserver://user:pass@host:port/db?...                 halfpipe's form: the path is the database
//	sqlserver://user:pass@host/instance/db?...             instance and database
//
// A single path segment is the database unless the query also names the
// database, in which case it is the instance (as go-mssqldb reads it).
// "guid conversion" is removed: the connector decodes uniqueidentifier
// bytes itself.
func driverDSN(dsn string) (string, error) {
	bad := func(why string) error {
		return sdk.InvalidArgumentf("SQL Server DSN %s: %s; it must look like sqlserver://user:password@host:port/database[?encrypt=true&...]", sdk.MaskDSN(dsn), why)
	}
	u, err := sdk.ParseURL(dsn)
	if err != nil {
		return "", err
	}
	if u.Scheme != "sqlserver" {
		return "", bad("the scheme is not sqlserver")
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", bad("no host")
	}
	q := u.Query()
	var instance, database string
	if p := strings.Trim(u.Path, "/"); p != "" {
		segs := strings.Split(p, "/")
		switch {
		case len(segs) == 1 && q.Get("database") != "":
			instance = segs[0]
		case len(segs) == 1:
			database = segs[0]
		case len(segs) == 2:
			instance, database = segs[0], segs[1]
			if d := q.Get("database"); d != "" && d != database {
				return "", bad("the database is named twice, in the path and in ?database=")
			}
		default:
			return "", bad("the path has more than instance/database")
		}
	}
	if instance != "" && u.Port() != "" {
		return "", bad("give either a port or an instance name, not both")
	}
	if database != "" {
		q.Set("database", database)
	}
	for k := range q {
		if strings.EqualFold(k, "guid conversion") {
			q.Del(k)
		}
	}
	if q.Get("app name") == "" {
		q.Set("app name", "halfpipe")
	}
	out := url.URL{Scheme: "sqlserver", User: u.User, Host: u.Host, RawQuery: q.Encode()}
	if instance != "" {
		out.Path = "/" + instance
	}
	return out.String(), nil
}

// open connects through go-mssqldb; a fedauth parameter selects Azure AD
// (Microsoft Entra ID) authentication through the driver's azuread package.
func open(conn sdk.Connection) (*sql.DB, error) {
	dsn, err := driverDSN(conn.DSN)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(dsn)
	var c driver.Connector
	if u.Query().Get("fedauth") != "" {
		c, err = azuread.NewConnector(dsn)
	} else {
		c, err = mssqldb.NewConnector(dsn)
	}
	if err != nil {
		return nil, sdk.InvalidArgumentf("SQL Server DSN %s: %s", sdk.MaskDSN(conn.DSN), sdk.MaskIn(sdk.MaskIn(err.Error(), conn.DSN), dsn))
	}
	return sql.OpenDB(withKerberos(c, dsn)), nil
}
