package cliutil

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Factory builds the dependencies commands share, lazily, so that a command
// that needs no plugin starts none.
type Factory struct {
	IO      *IOStreams
	Version string
	// LookupEnv reads the environment (os.LookupEnv in production).
	LookupEnv func(string) (string, bool)
	// Environ lists the environment as KEY=value (os.Environ in
	// production); nil means none.
	Environ func() []string
	// Executable is the path of the hp binary, for plugin discovery.
	Executable string

	// Set by the root command from global flags before any command runs.
	Logger           *slog.Logger
	RequireChecksums bool
	// PluginDir is --plugin-dir (HP_PLUGIN_DIR when the flag is not given).
	PluginDir string
	// CacheDir is --cache-dir (HP_CACHE_DIR); empty means the user cache
	// directory's halfpipe subdirectory.
	CacheDir string

	hostOnce sync.Once
	host     *host.Host

	connsOnce sync.Once
	conns     *config.Store
}

// Conns returns the connections store, created on first use. Commands
// share it, so that errors can be masked of the secret options of every
// connection a command resolved.
func (f *Factory) Conns() *config.Store {
	f.connsOnce.Do(func() {
		f.conns = &config.Store{Path: config.DefaultPath(f.Getenv), LookupEnv: f.LookupEnv, Environ: f.Environ,
			Logger: func() *slog.Logger { return f.Logger }}
	})
	return f.conns
}

// Getenv reads one variable ("" when unset).
func (f *Factory) Getenv(k string) string {
	v, _ := f.LookupEnv(k)
	return v
}

// Host returns the plugin host, creating it on first use.
func (f *Factory) Host() *host.Host {
	f.hostOnce.Do(func() {
		getenv := f.Getenv
		if f.PluginDir != "" {
			getenv = func(k string) string {
				if k == "HP_PLUGIN_DIR" {
					return f.PluginDir
				}
				return f.Getenv(k)
			}
		}
		cache := f.CacheDir
		if cache == "" {
			if d, err := os.UserCacheDir(); err == nil {
				cache = filepath.Join(d, "halfpipe")
			}
		}
		f.host = host.New(host.DefaultDirs(getenv, f.Executable), host.DiscoverOptions{RequireChecksums: f.RequireChecksums, CacheDir: cache}, f.Logger)
	})
	return f.host
}

// Close stops every plugin the factory's host started.
func (f *Factory) Close() {
	if f.host != nil {
		f.host.Close()
	}
}

// NewLogger builds hp's logger: text on a terminal, JSON when asked or in
// AWS Lambda. level is debug, info, warn or error.
func NewLogger(w io.Writer, level, format string, inLambda bool) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, UsageErrorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "", "auto":
		if inLambda {
			return slog.New(slog.NewJSONHandler(w, opts)), nil
		}
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, UsageErrorf("--log-format %q: use text or json", format)
}

// NewSystemFactory returns the production factory.
func NewSystemFactory(version string) *Factory {
	exe, _ := os.Executable()
	return &Factory{IO: System(), Version: version, LookupEnv: os.LookupEnv, Environ: os.Environ, Executable: exe, Logger: slog.Default()}
}

// MaskRunSecrets masks in err's message the secrets of every DSN and
// secret option the run could have used (arguments, HP_* variables, the
// connections file): a driver may echo a password that no DSN-shaped rule
// would recognise.
func MaskRunSecrets(f *Factory, args []string, err error) error {
	var environ []string
	if f.Environ != nil {
		environ = f.Environ()
	}
	for _, dsn := range args {
		err = sdk.MaskErr(err, dsn)
	}
	return f.Conns().MaskErr(err, environ)
}
