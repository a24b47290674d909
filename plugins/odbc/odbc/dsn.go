package odbc

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/halfpipe-io/halfpipe/plugins/odbc/odbc/odbcdriver"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// conf is a DSN resolved into an ODBC connection string and the protocol
// that chooses the dialect ("" when the server is to tell).
type conf struct {
	connStr  string
	protocol string
	driver   string // the Driver= of the connection string, if any
}

// defaultDrivers are tried, in order, when an odbc+<protocol> URL names no
// driver: the first one registered in odbcinst.ini is used.
var defaultDrivers = map[string][]string{
	"postgres":  {"PostgreSQL Unicode", "PostgreSQL ANSI", "PostgreSQL"},
	"mysql":     {"MariaDB Unicode", "MariaDB", "MySQL ODBC 8.0 Unicode Driver", "MySQL"},
	"sqlserver": {"ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS"},
}

// protocols maps the <protocol> of odbc+<protocol>:// to a dialect.
var protocols = map[string]string{
	"postgres": "postgres", "postgresql": "postgres",
	"mysql": "mysql", "mariadb": "mysql",
	"sqlserver": "sqlserver", "mssql": "sqlserver",
}

const dsnForms = "odbc+<protocol>://user:password@host[:port]/database[?driver=NAME&<attr>=<value>...], odbc://[user:password@]<DSN name>[?<attr>=<value>...], odbc://?connstr=<connection string>, or a connection string such as DSN=name;UID=user;PWD=password or Driver={name};Server=...;"

// parseDSN resolves any of the accepted forms; drivers lists the drivers
// registered in odbcinst.ini, for the error about an unknown one.
func parseDSN(dsn string, drivers func() ([]string, error)) (*conf, error) {
	bad := func(format string, args ...any) error {
		return sdk.InvalidArgumentf("ODBC DSN %s: %s; write it as %s", sdk.MaskDSN(dsn), fmt.Sprintf(format, args...), dsnForms)
	}
	var c *conf
	if !strings.Contains(dsn, "://") {
		if !strings.Contains(dsn, "=") {
			return nil, bad("it is neither a URL nor a connection string")
		}
		c = &conf{connStr: dsn}
	} else {
		u, err := sdk.ParseURL(dsn)
		if err != nil {
			return nil, err
		}
		scheme, proto, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
		if scheme != "odbc" {
			return nil, bad("the scheme is not odbc or odbc+<protocol>")
		}
		if c, err = fromURL(u, proto, drivers, bad); err != nil {
			return nil, err
		}
	}
	if c.driver == "" {
		c.driver = connStrValue(c.connStr, "driver")
	}
	if c.driver != "" && !strings.ContainsAny(c.driver, "/.") {
		names, err := drivers()
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, c.driver) }) {
			return nil, unknownDriver(c.driver, names)
		}
	}
	return c, nil
}

func unknownDriver(name string, registered []string) error {
	list := "none"
	if len(registered) > 0 {
		sort.Strings(registered)
		list = strings.Join(registered, ", ")
	}
	return sdk.InvalidArgumentf("ODBC driver %q is not registered in odbcinst.ini; registered drivers: %s", name, list)
}

func fromURL(u *url.URL, proto string, drivers func() ([]string, error), bad func(string, ...any) error) (*conf, error) {
	if raw, found := strings.CutPrefix(u.RawQuery, "connstr="); found {
		// Taken as written (semicolons and all), so that MaskDSN sees its
		// PWD=; percent-escapes are decoded.
		cs, err := url.PathUnescape(raw)
		if err != nil || cs == "" || u.Host != "" || u.User != nil || strings.Contains(raw, "&") {
			return nil, bad("connstr is the whole connection: give nothing else beside it")
		}
		return &conf{connStr: cs, protocol: protocols[proto]}, nil
	}
	q := u.Query()
	c := &conf{}
	var kv []string
	add := func(k, v string) { kv = append(kv, k+"="+connStrQuote(v)) }
	user, pass := "", ""
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	if proto == "" {
		// A DSN named in odbc.ini.
		if u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return nil, bad("odbc://<DSN name> names a data source in odbc.ini and nothing else")
		}
		add("DSN", u.Host)
	} else {
		p, known := protocols[proto]
		c.protocol = p
		if !known {
			c.protocol = "" // the server says what it is
		}
		if u.Hostname() == "" {
			return nil, bad("no host")
		}
		c.driver = q.Get("driver")
		if c.driver == "" {
			names, err := drivers()
			if err != nil {
				return nil, err
			}
			for _, d := range defaultDrivers[p] {
				if slices.Contains(names, d) {
					c.driver = d
					break
				}
			}
			if c.driver == "" {
				return nil, bad("no ODBC driver for %q is registered (registered: %s): name one with ?driver=", proto, strings.Join(names, ", "))
			}
		}
		add("Driver", c.driver)
		host, port := u.Hostname(), u.Port()
		if p == "sqlserver" && !strings.Contains(strings.ToLower(c.driver), "freetds") {
			// Microsoft's driver takes the port after a comma.
			if port != "" {
				host += "," + port
			}
			port = ""
		}
		add("Server", host)
		if port != "" {
			add("Port", port)
		}
		if db := strings.Trim(u.Path, "/"); db != "" {
			add("Database", db)
		}
	}
	if user != "" {
		add("UID", user)
	}
	if u.User != nil {
		if _, set := u.User.Password(); set {
			add("PWD", pass)
		}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "driver" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(k, q.Get(k))
	}
	if c.protocol == "postgres" {
		// Instants arrive in UTC whatever the server's zone, booleans as
		// SQL_BIT (not as text), numeric without a precision as long text
		// (not as numeric(28,6), which would not hold its values), and
		// results through a cursor, 10,000 rows at a time, rather than
		// whole into the driver's memory.
		defaults(q, add, [][2]string{{"ConnSettings", "SET TIME ZONE 'UTC'"}, {"BoolsAsChar", "0"}, {"NumericAs", "-1"}, {"UseDeclareFetch", "1"}, {"Fetch", "10000"}})
	}
	c.connStr = strings.Join(kv, ";") + ";"
	return c, nil
}

// defaults adds the attributes the URL does not set.
func defaults(q url.Values, add func(k, v string), kvs [][2]string) {
	for _, kv := range kvs {
		if q.Get(kv[0]) == "" {
			add(kv[0], kv[1])
		}
	}
}

// connStrQuote braces a value holding a character the connection-string
// grammar reserves.
func connStrQuote(v string) string {
	if strings.ContainsAny(v, ";{}=") || strings.TrimSpace(v) != v {
		return "{" + strings.ReplaceAll(v, "}", "}}") + "}"
	}
	return v
}

// connStrValue returns the value of key in a connection string, unbraced.
func connStrValue(cs, key string) string {
	for _, part := range splitConnStr(cs) {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(strings.TrimSpace(k), key) {
			v = strings.TrimSpace(v)
			if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
				v = strings.ReplaceAll(v[1:len(v)-1], "}}", "}")
			}
			return v
		}
	}
	return ""
}

// splitConnStr splits at the semicolons outside braces.
func splitConnStr(cs string) []string {
	var parts []string
	depth, start := false, 0
	for i := 0; i < len(cs); i++ {
		switch cs[i] {
		case '{':
			if !depth && strings.HasSuffix(strings.TrimSpace(cs[start:i]), "=") {
				depth = true
			}
		case '}':
			if depth {
				if i+1 < len(cs) && cs[i+1] == '}' {
					i++
				} else {
					depth = false
				}
			}
		case ';':
			if !depth {
				parts = append(parts, cs[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, cs[start:])
}

// registeredDrivers is odbcinst.ini's list.
func registeredDrivers() ([]string, error) { return odbcdriver.DriverNames() }
