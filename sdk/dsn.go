package sdk

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces every password in text with "xxxxx".
const Mask = "xxxxx"

// secretKeys are the parameter names whose values are secrets in URL query
// strings, libpq key=value strings and ODBC connection strings.
var secretKeyValue = regexp.MustCompile(`(?i)\b(password|pwd|passwd|pass|secret|token|access_token|private_key|private_key_passphrase|aws_secret_access_key|sas)\s*=\s*('[^']*'|"[^"]*"|\{[^}]*\}|[^\s;&]*)`)

// MaskDSN returns the DSN with its password and any secret parameters
// replaced by "xxxxx". It works on the text, so it also masks DSNs that are
// not valid URLs (libpq key=value strings, ODBC strings, passwords holding
// '@' or '/'). Use it whenever a DSN could reach a log, error or manifest.
func MaskDSN(dsn string) string {
	if i, j, ok := userPassword(dsn); ok {
		dsn = dsn[:i] + Mask + dsn[j:]
	}
	return secretKeyValue.ReplaceAllString(dsn, "${1}="+Mask)
}

// userPassword locates the password of scheme://user:password@host as
// dsn[i:j]. The authority ends at the last '@' before any '?', so
// passwords containing '@' or '/' are covered.
func userPassword(dsn string) (i, j int, ok bool) {
	k := strings.Index(dsn, "://")
	if k < 0 {
		return 0, 0, false
	}
	rest := dsn[k+3:]
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return 0, 0, false
	}
	return k + 3 + colon + 1, k + 3 + at, true
}

// MaskIn masks every occurrence of the DSN's secrets inside text, for
// messages from drivers that may echo them.
func MaskIn(text, dsn string) string {
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

func secretsOf(dsn string) []string {
	var out []string
	if i, j, ok := userPassword(dsn); ok {
		p := dsn[i:j]
		out = append(out, p)
		if u, err := url.PathUnescape(p); err == nil {
			out = append(out, u)
		}
	}
	for _, m := range secretKeyValue.FindAllStringSubmatch(dsn, -1) {
		out = append(out, strings.Trim(m[2], `'"{}`))
	}
	return out
}
