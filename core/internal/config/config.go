// Package config resolves named connections. A name resolves from the
// environment variable HP_<NAME>_DSN first, then from the connections file
// ($XDG_CONFIG_HOME/halfpipe/connections.yaml, mode 0600, or the
// directory in HP_CONFIG_DIR). Connector options come from the file's
// options map and from HP_<NAME>_<OPTION> variables, which win.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// ErrUnknownConnection means a name is defined nowhere.
var ErrUnknownConnection = errors.New("unknown connection")

// Connection is a resolved name.
type Connection struct {
	Name   string
	DSN    string
	Scheme string
	// Type is HP_<NAME>_TYPE or the file's type, when given: checked
	// against the scheme's plugin by the caller.
	Type string
	// From says where the DSN came from, for messages.
	From string
	// S3Region is HP_<NAME>_S3_REGION (Halfpipe's variable), when set.
	S3Region string
	// Options are the connector options set, by lower-case name: the
	// file's (when the DSN comes from the file), then HP_<NAME>_<OPTION>.
	// They may hold secrets: show them with MaskedOptions.
	Options map[string]string
	// OptionFrom says where each option was set, for messages.
	OptionFrom map[string]string

	opts *optionState
}

// Entry is one connection in the file.
type Entry struct {
	DSN     string            `yaml:"dsn"`
	Type    string            `yaml:"type,omitempty"`
	Options map[string]string `yaml:"options,omitempty"`
}

type fileData struct {
	Connections map[string]Entry `yaml:"connections"`
}

// Store is the connections file.
type Store struct {
	Path string
	// LookupEnv reads the environment.
	LookupEnv func(string) (string, bool)
	// Environ lists the environment as KEY=value, to find the
	// HP_<NAME>_<OPTION> variables the connector does not know (to warn
	// of them); nil finds only those its spec names.
	Environ func() []string
	// Logger receives warnings about options; nil is slog.Default().
	Logger func() *slog.Logger
	// OptionSpecs returns the option specs of the connector serving a
	// scheme, so that List masks options its spec marks secret. Nil, or
	// an error, hides every option value of connections of that scheme.
	OptionSpecs func(scheme string) ([]sdk.OptionSpec, error)
	// NotOptions, when set, names hp's own variables (its flags', the
	// 12-factor ones): never a connection's option, even where a
	// connection's name prefixes one (a connection "log" and
	// HP_LOG_LEVEL).
	NotOptions func(variable string) bool

	mu       sync.Mutex
	resolved []Connection
}

// DefaultPath is where the connections file lives.
func DefaultPath(getenv func(string) string) string {
	if d := getenv("HP_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "connections.yaml")
	}
	base := getenv("XDG_CONFIG_HOME")
	if base == "" {
		base = filepath.Join(getenv("HOME"), ".config")
	}
	return filepath.Join(base, "halfpipe", "connections.yaml")
}

var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// EnvPrefix is the environment prefix of a name: HP_<NAME>_.
func EnvPrefix(name string) string {
	return "HP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_"
}

func (s *Store) load() (fileData, error) {
	var d fileData
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("reading connections file %s: %w", s.Path, err)
	}
	if err := yaml.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("connections file %s is not valid YAML: %w", s.Path, err)
	}
	return d, nil
}

func (s *Store) save(d fileData) error {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(s.Path), err)
	}
	data, err := yaml.Marshal(d)
	if err != nil {
		return err
	}
	tmp := s.Path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.Path)
}

// Add stores a connection; an existing name needs force. It returns the
// DSN as stored: a relative file DSN is made absolute, so that it does not
// follow the working directory of later runs. options are connector
// options by name (see ParseOption); they are checked when the connector
// is started.
func (s *Store) Add(name, dsn, typ string, options map[string]string, force bool) (string, error) {
	if !validName.MatchString(name) {
		return "", fmt.Errorf("connection name %q: use a letter followed by letters, digits, '-' or '_'", name)
	}
	scheme, err := SchemeOf(dsn)
	if err != nil {
		return "", err
	}
	if scheme == "file" {
		if dsn, err = absFileDSN(dsn); err != nil {
			return "", err
		}
	}
	d, err := s.load()
	if err != nil {
		return "", err
	}
	if d.Connections == nil {
		d.Connections = map[string]Entry{}
	}
	key := strings.ToLower(name)
	if _, ok := d.Connections[key]; ok && !force {
		return "", fmt.Errorf("connection %q already exists (use --force to replace it)", key)
	}
	d.Connections[key] = Entry{DSN: dsn, Type: typ, Options: options}
	return dsn, s.save(d)
}

// absFileDSN makes a path or file://path DSN absolute, keeping its form.
func absFileDSN(dsn string) (string, error) {
	prefix, p := "", dsn
	if rest, ok := strings.CutPrefix(dsn, "file://"); ok {
		prefix, p = "file://", rest
	}
	if p == "" || filepath.IsAbs(p) {
		return dsn, nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("making file DSN %s absolute: %w", sdk.MaskDSN(dsn), err)
	}
	return prefix + abs, nil
}

// Remove deletes a connection.
func (s *Store) Remove(name string) error {
	d, err := s.load()
	if err != nil {
		return err
	}
	key := strings.ToLower(name)
	if _, ok := d.Connections[key]; !ok {
		return fmt.Errorf("%w %q in %s", ErrUnknownConnection, name, s.Path)
	}
	delete(d.Connections, key)
	return s.save(d)
}

// Listed is a connection for display, its DSN and secret options masked.
type Listed struct {
	Name    string            `json:"name"`
	DSN     string            `json:"dsn"`
	Type    string            `json:"type,omitempty"`
	Options map[string]string `json:"options,omitempty"`
	From    string            `json:"from"`
}

// List returns the file's connections and those defined by HP_*_DSN
// variables, DSNs masked, sorted by name.
func (s *Store) List(environ []string) ([]Listed, error) {
	d, err := s.load()
	if err != nil {
		return nil, err
	}
	seen := map[string]Listed{}
	opts := map[string]map[string]string{}
	for name, e := range d.Connections {
		seen[name] = Listed{Name: name, DSN: sdk.MaskDSN(e.DSN), Type: e.Type, From: s.Path}
		opts[name] = copyMap(e.Options)
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "HP_") || !strings.HasSuffix(k, "_DSN") || len(k) <= 7 {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(k, "HP_"), "_DSN"))
		seen[name] = Listed{Name: name, DSN: sdk.MaskDSN(v), From: "env " + k}
		opts[name] = map[string]string{}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	out := make([]Listed, 0, len(seen))
	for _, l := range seen {
		env, _ := envOptions(l.Name, environ, names, s.NotOptions)
		for k, v := range env {
			opts[l.Name][k] = v
		}
		l.Options = s.maskListed(l, opts[l.Name])
		out = append(out, l)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// maskListed masks the secret options of a listed connection: by name,
// and by the spec of its connector when OptionSpecs finds it; when the
// spec is unknown every value is hidden.
func (s *Store) maskListed(l Listed, opts map[string]string) map[string]string {
	if len(opts) == 0 {
		return nil
	}
	secret := map[string]bool{}
	known := false
	if s.OptionSpecs != nil {
		if scheme, err := SchemeOf(l.DSN); err == nil {
			if specs, err := s.OptionSpecs(scheme); err == nil {
				known = true
				for _, o := range specs {
					secret[o.Name] = o.Secret
				}
			}
		}
	}
	out := make(map[string]string, len(opts))
	for k, v := range opts {
		if !known || secret[k] || sdk.IsSecretKey(k) {
			v = sdk.Mask
		}
		out[k] = v
	}
	return out
}

// DSNs returns the raw DSNs of the file's connections and of the HP_*_DSN
// variables, so that messages can be masked of their secrets. A file that
// cannot be read adds none.
func (s *Store) DSNs(environ []string) []string {
	var out []string
	if d, err := s.load(); err == nil {
		for _, e := range d.Connections {
			out = append(out, e.DSN)
		}
	}
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HP_") && strings.HasSuffix(k, "_DSN") && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Resolve finds a connection by name: HP_<NAME>_DSN first, then the file.
func (s *Store) Resolve(name string) (Connection, error) {
	if name == "stdout" {
		return Connection{Name: name, DSN: "stdout", Scheme: "stdout", From: "built in"}, nil
	}
	prefix := EnvPrefix(name)
	c := Connection{Name: strings.ToLower(name), Options: map[string]string{}, OptionFrom: map[string]string{},
		opts: &optionState{lookup: s.LookupEnv, log: s.Logger}}
	d, err := s.load()
	if v, ok := s.LookupEnv(prefix + "DSN"); ok && v != "" {
		c.DSN, c.From = v, "env "+prefix+"DSN"
	} else {
		if err != nil {
			return c, err
		}
		e, ok := d.Connections[strings.ToLower(name)]
		if !ok {
			return c, fmt.Errorf("%w %q: set %sDSN or run 'hp config connections add %s --dsn URL'", ErrUnknownConnection, name, prefix, strings.ToLower(name))
		}
		c.DSN, c.Type, c.From = e.DSN, e.Type, s.Path
		for k, v := range e.Options {
			k = strings.ToLower(k)
			c.Options[k], c.OptionFrom[k] = v, s.Path
		}
	}
	if s.Environ != nil {
		environ := s.Environ()
		var others []string
		for n := range d.Connections {
			others = append(others, n)
		}
		for _, kv := range environ {
			if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HP_") && strings.HasSuffix(k, "_DSN") {
				others = append(others, strings.TrimSuffix(strings.TrimPrefix(k, "HP_"), "_DSN"))
			}
		}
		vals, from := envOptions(name, environ, others, s.NotOptions)
		for k, v := range vals {
			c.Options[k], c.OptionFrom[k] = v, from[k]
		}
	}
	if t, ok := s.LookupEnv(prefix + "TYPE"); ok && t != "" {
		c.Type = t
	}
	if r, ok := s.LookupEnv(prefix + "S3_REGION"); ok {
		c.S3Region = r
	}
	scheme, err := SchemeOf(c.DSN)
	if err != nil {
		return c, fmt.Errorf("connection %q (%s): %w", c.Name, c.From, err)
	}
	c.Scheme = scheme
	s.mu.Lock()
	s.resolved = append(s.resolved, c)
	s.mu.Unlock()
	return c, nil
}

// IsOptionVar reports whether k is HP_<NAME>_<OPTION> of a connection
// defined by HP_<NAME>_DSN in environ or in the connections file.
func (s *Store) IsOptionVar(k string, environ []string) bool {
	if s == nil || !strings.HasPrefix(k, "HP_") {
		return false
	}
	var names []string
	if d, err := s.load(); err == nil {
		for n := range d.Connections {
			names = append(names, n)
		}
	}
	for _, kv := range environ {
		if v, _, _ := strings.Cut(kv, "="); strings.HasPrefix(v, "HP_") && strings.HasSuffix(v, "_DSN") && len(v) > 7 {
			names = append(names, strings.TrimSuffix(strings.TrimPrefix(v, "HP_"), "_DSN"))
		}
	}
	for _, n := range names {
		if rest, ok := strings.CutPrefix(k, EnvPrefix(n)); ok && rest != "" && !IsReservedVar(rest) {
			return true
		}
	}
	return false
}

// MaskErr masks in err's message the secrets of every DSN and secret
// option hp could have used: the file's, the HP_* variables' and those of
// the connections this store resolved (whose connectors may have marked
// more options secret). It keeps err's kind for errors.Is.
func (s *Store) MaskErr(err error, environ []string) error {
	if err == nil {
		return nil
	}
	for _, dsn := range s.DSNs(environ) {
		err = sdk.MaskErr(err, dsn)
	}
	var values []string
	if d, lerr := s.load(); lerr == nil {
		for _, e := range d.Connections {
			for k, v := range e.Options {
				if sdk.IsSecretKey(k) {
					values = append(values, v)
				}
			}
		}
	}
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HP_") && sdk.IsSecretKey(k[strings.LastIndexByte(k, '_')+1:]) {
			values = append(values, v)
		}
	}
	s.mu.Lock()
	for _, c := range s.resolved {
		values = append(values, c.secretValues()...)
	}
	s.mu.Unlock()
	return maskValues(err, values)
}

// odbcConnString matches an ODBC connection string: it names a DSN, a
// file DSN or a driver.
var odbcConnString = regexp.MustCompile(`(?i)^\s*(DSN|FILEDSN|DRIVER)\s*=|;\s*(DSN|FILEDSN|DRIVER)\s*=`)

// SchemeOf infers the connection type's scheme from a DSN: the URL scheme
// ("odbc+mssql://" gives "odbc"), "odbc" for ODBC connection strings
// (DSN=...;UID=..., Driver={...};...), "postgres" for libpq key=value strings,
// "file" for paths, "stdout". A URL whose password holds unencoded
// reserved characters is refused; errors never show the DSN's secrets.
func SchemeOf(dsn string) (string, error) {
	if dsn == "" {
		return "", fmt.Errorf("empty DSN")
	}
	if dsn == "stdout" || dsn == "-" {
		return "stdout", nil
	}
	i := strings.Index(dsn, "://")
	if i < 0 && odbcConnString.MatchString(dsn) {
		return "odbc", nil
	}
	if i < 0 {
		if libpqKeyValue.MatchString(dsn) && !strings.Contains(dsn, ";") {
			return "postgres", nil
		}
		if strings.Contains(dsn, "=") && !strings.ContainsAny(dsn, "/") {
			return "", fmt.Errorf("DSN %q has no scheme: write it as a URL such as postgres://user:pass@host/db (or as libpq key=value pairs for PostgreSQL)", sdk.MaskDSN(dsn))
		}
		return "file", nil
	}
	scheme := strings.ToLower(dsn[:i])
	if base, _, ok := strings.Cut(scheme, "+"); ok {
		scheme = base
	}
	if !regexp.MustCompile(`^[a-z][a-z0-9.-]*$`).MatchString(scheme) {
		return "", fmt.Errorf("DSN %q has a malformed scheme", sdk.MaskDSN(dsn))
	}
	if scheme != "file" && !strings.ContainsAny(dsn, ";") {
		if _, err := sdk.ParseURL(dsn); err != nil {
			return "", err
		}
	}
	return scheme, nil
}

// libpqKeyValue matches a libpq connection string: it starts with one of
// libpq's connection keywords followed by '='.
var libpqKeyValue = regexp.MustCompile(`^\s*(host|hostaddr|port|dbname|user|password|passfile|sslmode|service|connect_timeout|application_name|options|target_session_attrs)\s*=`)

// SplitConnObject splits Halfpipe's <conn>.<object> argument at the first
// dot: "pg.public.orders" is connection pg, object public.orders.
func SplitConnObject(arg string) (conn, object string, err error) {
	conn, object, ok := strings.Cut(arg, ".")
	if !ok || conn == "" || object == "" {
		return "", "", fmt.Errorf("%q is not <connection>.<object> (e.g. pg.public.orders or out.extracts/orders)", arg)
	}
	return conn, object, nil
}

// ParseTable splits "[schema.]table"; quoted parts keep their dots
// ("sales"."order.items").
func ParseTable(object string) (sdk.ObjectRef, error) {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(object); i++ {
		c := object[i]
		switch {
		case c == '"' && quoted && i+1 < len(object) && object[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	if quoted {
		return sdk.ObjectRef{}, fmt.Errorf("table %q has an unclosed quote", object)
	}
	switch {
	case len(parts) == 1 && parts[0] != "":
		return sdk.ObjectRef{Name: parts[0]}, nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return sdk.ObjectRef{Schema: parts[0], Name: parts[1]}, nil
	}
	return sdk.ObjectRef{}, fmt.Errorf("table %q is not [schema.]table (quote names holding dots: \"my.table\")", object)
}
