package sdk

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces every secret in text with "xxxxx".
const Mask = "xxxxx"

// keyValue finds key=value parameters in URL query strings, libpq key=value
// strings and ADO/ODBC connection strings.
var keyValue = regexp.MustCompile(`(^|[\s?&;{])([A-Za-z0-9_.\-]+)\s*=\s*`)

// notSecretKeys name parameters that look secret by the rule of IsSecretKey
// but hold identifiers or paths, not secrets (normalised form).
var notSecretKeys = map[string]bool{
	"kmskeyid":       true, // S3: id of the KMS key, not the key
	"accesskeyid":    true, // S3: public half of a key pair
	"awsaccesskeyid": true,
	"primarykey":     true,
	"sortkey":        true,
	"partitionkey":   true,
	"foreignkey":     true,
}

// IsSecretKey reports whether a DSN parameter of this name holds a secret:
// passwords (password, passwd, pwd, pass, sslpassword, ...), secrets,
// tokens, keys (key, sslkey, private_key, api_key, ...), keytabs,
// credentials and SAS signatures. Names ending in file, path or dir
// (krb5-keytabfile, passfile) hold paths and are not secret. Case, '_', '-'
// and '.' are ignored. It errs on the side of masking.
func IsSecretKey(name string) bool {
	k := strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(name))
	if k == "" || notSecretKeys[k] {
		return false
	}
	// Paths say where a secret is kept (krb5-keytabfile, passfile); errors
	// about a missing file must be able to name it.
	if strings.HasSuffix(k, "file") || strings.HasSuffix(k, "path") || strings.HasSuffix(k, "dir") {
		return false
	}
	for _, s := range []string{"password", "passwd", "pwd", "passphrase", "secret", "token", "keytab", "credential", "privatekey"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return k == "auth" || strings.HasSuffix(k, "pass") || strings.HasSuffix(k, "key") || strings.HasSuffix(k, "sas") || k == "sig"
}

// MaskDSN returns the DSN with its password and every secret parameter (see
// IsSecretKey) replaced by "xxxxx". It works on the text, not on a parsed
// URL, so it also masks DSNs that do not parse: libpq key=value strings,
// ADO/ODBC strings, go-sql-driver strings and passwords holding reserved
// characters such as '?', '#', '/', '@' or '%'. Use it whenever a DSN could
// reach a log, error, manifest or listing.
func MaskDSN(dsn string) string {
	spans := secretSpans(dsn)
	var b strings.Builder
	last := 0
	for _, s := range spans {
		if s[0] < last { // overlapping spans mask their union
			last = max(last, s[1])
			continue
		}
		b.WriteString(dsn[last:s[0]])
		b.WriteString(Mask)
		last = s[1]
	}
	b.WriteString(dsn[last:])
	return b.String()
}

// ParseURL parses a URL-form DSN. A DSN that does not parse, or whose
// password the parser would read differently from the conservative text
// rule of MaskDSN, is refused with an error that asks to percent-encode
// reserved characters in the password; the error never holds the DSN.
func ParseURL(dsn string) (*url.URL, error) {
	u, err := url.Parse(dsn)
	if err == nil {
		if i, j, ok := userPassword(dsn); ok {
			p, set := u.User.Password()
			if raw, uerr := url.PathUnescape(dsn[i:j]); !set || uerr != nil || raw != p {
				err = fmt.Errorf("the password holds a reserved character")
			}
		}
	}
	if err != nil {
		return nil, InvalidArgumentf("DSN %s is not a valid URL: percent-encode reserved characters in the password (? as %%3F, # as %%23, / as %%2F, @ as %%40, %% as %%25)", MaskDSN(schemeOnly(dsn)))
	}
	return u, nil
}

// schemeOnly keeps "scheme://..." of a DSN so that errors name its kind
// without repeating any of it.
func schemeOnly(dsn string) string {
	if i := strings.Index(dsn, "://"); i > 0 && i < 32 {
		return dsn[:i] + "://..."
	}
	return "(not a URL)"
}

// secretSpans returns the [start, end) ranges of dsn that hold secrets, in
// order.
func secretSpans(dsn string) [][2]int {
	var spans [][2]int
	if i, j, ok := userPassword(dsn); ok {
		spans = append(spans, [2]int{i, j})
	} else if i, j, ok := slashPassword(dsn); ok {
		spans = append(spans, [2]int{i, j})
	}
	ado := strings.Contains(dsn, ";")
	for _, m := range keyValue.FindAllStringSubmatchIndex(dsn, -1) {
		if !IsSecretKey(dsn[m[4]:m[5]]) {
			continue
		}
		v := m[1]
		spans = append(spans, [2]int{v, valueEnd(dsn, v, ado)})
	}
	// keep order by start
	for a := 1; a < len(spans); a++ {
		for b := a; b > 0 && spans[b][0] < spans[b-1][0]; b-- {
			spans[b], spans[b-1] = spans[b-1], spans[b]
		}
	}
	return spans
}

// valueEnd finds where the value starting at dsn[v] ends: quoted ('...',
// "..." with backslash escapes) or braced ({...} with '}}' escapes) values
// end after their closer; others at ';' in ADO/ODBC strings, else at
// whitespace, '&', ';' or '#'.
func valueEnd(dsn string, v int, ado bool) int {
	if v >= len(dsn) {
		return v
	}
	switch c := dsn[v]; c {
	case '\'', '"':
		for k := v + 1; k < len(dsn); k++ {
			if dsn[k] == '\\' {
				k++
			} else if dsn[k] == c {
				return k + 1
			}
		}
		return len(dsn)
	case '{':
		for k := v + 1; k < len(dsn); k++ {
			if dsn[k] == '}' {
				if k+1 < len(dsn) && dsn[k+1] == '}' {
					k++
					continue
				}
				return k + 1
			}
		}
		return len(dsn)
	}
	stop := " \t\r\n&;#"
	if ado {
		stop = ";"
	}
	if k := strings.IndexAny(dsn[v:], stop); k >= 0 {
		return v + k
	}
	return len(dsn)
}

// userPassword locates the password of scheme://user:password@host (or of
// go-sql-driver's user:password@tcp(host)/db) as dsn[i:j]. It runs from
// the first ':' after the user to the last '@' of the DSN, so passwords
// holding '?', '#', '/', '@' or '%' are covered; when a query value holds
// an '@' this masks more than the password, never less.
func userPassword(dsn string) (i, j int, ok bool) {
	start := 0
	if k := strings.Index(dsn, "://"); k >= 0 {
		start = k + 3
	} else if strings.ContainsAny(dsn, "= \t") {
		return 0, 0, false
	}
	rest := dsn[start:]
	colon := strings.IndexByte(rest, ':')
	if colon < 0 || strings.ContainsAny(rest[:colon], "/?#@; \t\n") {
		return 0, 0, false
	}
	at := strings.LastIndexByte(rest, '@')
	if at < colon {
		return 0, 0, false
	}
	return start + colon + 1, start + at, true
}

// slashPassword locates the password of Oracle's scheme://user/password@...
// form (the connect string after the '@' may be //host:port/service, an
// Easy Connect string or a TNS alias) as dsn[i:j], up to the last '@' like
// userPassword. A URL whose first path segment is followed by an '@' reads
// the same way, so this masks more than a password there, never less.
func slashPassword(dsn string) (i, j int, ok bool) {
	k := strings.Index(dsn, "://")
	if k < 0 {
		return 0, 0, false
	}
	rest := dsn[k+3:]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 || strings.ContainsAny(rest[:slash], ":?#@; \t\n") {
		return 0, 0, false
	}
	at := strings.LastIndexByte(rest, '@')
	if at < slash {
		return 0, 0, false
	}
	return k + 3 + slash + 1, k + 3 + at, true
}

// MaskIn masks every occurrence of the DSN's secrets inside text, for
// messages from drivers that may echo them.
func MaskIn(text, dsn string) string {
	text = strings.ReplaceAll(text, dsn, MaskDSN(dsn))
	for _, s := range secretsOf(dsn) {
		if len(s) >= 3 {
			text = strings.ReplaceAll(text, s, Mask)
		}
	}
	return text
}

// MaskErr returns err with every occurrence of the DSN's secrets masked in
// its message, still wrapping err so that errors.Is and errors.As see its
// kind; err itself when its message holds none (and nil for nil).
func MaskErr(err error, dsn string) error {
	if err == nil {
		return nil
	}
	if msg := MaskIn(err.Error(), dsn); msg != err.Error() {
		return &maskedError{msg: msg, err: err}
	}
	return err
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

// secretsOf lists the secret values of a DSN as they may be echoed: raw,
// unquoted and percent-decoded, longest first.
func secretsOf(dsn string) []string {
	var out []string
	add := func(s string) {
		out = append(out, s)
		if u, err := url.QueryUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
	}
	for _, sp := range secretSpans(dsn) {
		s := dsn[sp[0]:sp[1]]
		add(s)
		if t := strings.Trim(s, `'"{}`); t != s {
			add(t)
		}
	}
	i, j, ok := userPassword(dsn)
	if !ok {
		i, j, ok = slashPassword(dsn)
	}
	if ok {
		// the password may end at an earlier '@' than the last one
		for k := i; k < j; k++ {
			if dsn[k] == '@' {
				add(dsn[i:k])
			}
		}
	}
	for a := 1; a < len(out); a++ {
		for b := a; b > 0 && len(out[b]) > len(out[b-1]); b-- {
			out[b], out[b-1] = out[b-1], out[b]
		}
	}
	return out
}
