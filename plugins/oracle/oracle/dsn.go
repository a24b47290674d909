package oracle

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/godror/godror/dsn"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Defaults of the fetch options: Halfpipe prefetched 500 rows.
const (
	defaultPrefetchRows = 500
	defaultArraySize    = 1000
)

// params is a parsed Oracle DSN.
type params struct {
	user, password string
	// connect is what follows the '@': an Easy Connect string
	// (//host:port/service, host:port/service, tcps://...) or a TNS alias.
	connect string
	// configDir holds tnsnames.ora and sqlnet.ora (tns_admin=, else the
	// wallet for an alias, else TNS_ADMIN).
	configDir string
	wallet    string
}

const dsnHelp = "it must look like oracle://user/password@//host:port/service (Halfpipe's form), " +
	"oracle://user:password@host:port/service (URL form), or oracle://user/password@ALIAS with tns_admin= or TNS_ADMIN for a TNS alias"

// parseDSN reads the DSN forms the connector accepts. Errors never hold
// the password.
func parseDSN(s string) (*params, error) {
	bad := func(why string) error {
		return sdk.InvalidArgumentf("Oracle DSN %s: %s; %s", sdk.MaskDSN(s), why, dsnHelp)
	}
	rest, ok := strings.CutPrefix(s, "oracle://")
	if !ok {
		return nil, bad("the scheme is not oracle://")
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return nil, bad("no user and password before an '@'")
	}
	cred, target := rest[:at], rest[at+1:]
	p := &params{}
	slash, colon := strings.IndexByte(cred, '/'), strings.IndexByte(cred, ':')
	switch {
	case slash >= 0 && (colon < 0 || slash < colon):
		// Halfpipe's user/password, taken as written.
		p.user, p.password = cred[:slash], cred[slash+1:]
	case colon >= 0:
		u, uerr := url.PathUnescape(cred[:colon])
		pw, perr := url.PathUnescape(cred[colon+1:])
		if uerr != nil || perr != nil {
			return nil, bad("the user or password is not validly percent-encoded")
		}
		p.user, p.password = u, pw
	default:
		return nil, bad("no password (external authentication is not supported)")
	}
	if p.user == "" {
		return nil, bad("no user")
	}
	if err := refuseRole(p.user); err != nil {
		return nil, err
	}
	connect, rawQuery, _ := strings.Cut(target, "?")
	if err := refuseRole(connect); err != nil {
		return nil, err
	}
	if connect == "" || connect == "//" {
		return nil, bad("no connect string after the '@'")
	}
	p.connect = connect
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, bad("the parameters after '?' do not parse")
	}
	for k, v := range q {
		val := v[len(v)-1]
		switch strings.ToLower(k) {
		case "tns_admin":
			p.configDir = val
		case "wallet_location":
			p.wallet = val
		case "as", "sysdba", "sysoper", "adminrole":
			return nil, roleError(k + "=" + val)
		default:
			return nil, bad("unknown parameter " + strconv.Quote(k) + " (tns_admin and wallet_location are the DSN's parameters; prefetch_rows and array_size are options)")
		}
	}
	if p.wallet != "" {
		if isAlias(p.connect) {
			// A cloud wallet carries tnsnames.ora and sqlnet.ora.
			if p.configDir == "" {
				p.configDir = p.wallet
			}
		} else {
			sep := "?"
			if strings.Contains(p.connect, "?") {
				sep = "&"
			}
			p.connect += sep + "wallet_location=" + p.wallet
		}
	}
	if isAlias(p.connect) {
		if p.configDir == "" {
			p.configDir = os.Getenv("TNS_ADMIN")
		}
		if p.configDir == "" {
			return nil, bad("the TNS alias " + strconv.Quote(p.connect) + " needs tnsnames.ora: give its directory with tns_admin= or TNS_ADMIN")
		}
		if _, err := os.Stat(filepath.Join(p.configDir, "tnsnames.ora")); err != nil {
			return nil, bad("the TNS alias " + strconv.Quote(p.connect) + " needs " + filepath.Join(p.configDir, "tnsnames.ora") + ", which cannot be read")
		}
	}
	return p, nil
}

// isAlias reports whether a connect string is a TNS alias: one name, no
// host, port, service or protocol.
func isAlias(connect string) bool {
	return !strings.ContainsAny(connect, "/:()?=")
}

// refuseRole refuses "user as sysdba" and the like anywhere in the DSN.
func refuseRole(s string) error {
	l := strings.ToLower(s)
	for _, r := range []string{"sysdba", "sysoper", "sysasm", "sysbackup", "sysdg", "syskm", "sysrac"} {
		if strings.Contains(l, " as "+r) || strings.HasSuffix(l, " "+r) {
			return roleError("AS " + strings.ToUpper(r))
		}
	}
	return nil
}

func roleError(what string) error {
	return sdk.InvalidArgumentf("Oracle DSN asks for an administrative role (%s): hp connects as an ordinary user only; grant that user SELECT (and INSERT, DELETE for writes) on the tables instead", what)
}

// connectionParams are godror's parameters for p, with the password
// passed as a value, never through a DSN string.
func (p *params) connectionParams() dsn.ConnectionParams {
	var cp dsn.ConnectionParams
	cp.Username = p.user
	cp.Password = dsn.NewPassword(p.password)
	cp.ConnectString = p.connect
	cp.ConfigDir = p.configDir
	cp.StandaloneConnection = dsn.Bool(true)
	// Times are decoded from their fields, whatever the session's zone.
	cp.NoTZCheck = true
	return cp
}

// fetchOptions reads prefetch_rows and array_size.
func fetchOptions(conn sdk.Connection) (prefetch, arraySize int, err error) {
	get := func(name string, def int) (int, error) {
		v := conn.Option(name, "")
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, sdk.InvalidArgumentf("option %s=%q: want a whole number of rows, at least 1", name, v)
		}
		return n, nil
	}
	if prefetch, err = get("prefetch_rows", defaultPrefetchRows); err != nil {
		return 0, 0, err
	}
	arraySize, err = get("array_size", defaultArraySize)
	return prefetch, arraySize, err
}
