package host

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/halfpipe-io/halfpipe/sdk"
	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
	"github.com/halfpipe-io/halfpipe/sdk/internal/wire"
	"github.com/halfpipe-io/halfpipe/sdk/profile"
)

// ErrNoPlugin means no installed plugin serves what was asked for.
var ErrNoPlugin = errors.New("no plugin")

// ErrPluginExited marks a call that failed because the plugin process died.
var ErrPluginExited = errors.New("plugin exited")

// ExitError reports a plugin process that exited while in use.
type ExitError struct {
	Plugin string
	Pid    int
	// Status is the process's exit status, e.g. "signal: killed".
	Status string
	// Stderr holds the last lines the plugin wrote to stderr.
	Stderr []string
	// Err is the error the call saw.
	Err error
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("plugin %q (pid %d) exited unexpectedly: %s", e.Plugin, e.Pid, e.Status)
	if len(e.Stderr) > 0 {
		msg += "; its last output: " + strings.Join(e.Stderr, " | ")
	}
	return msg
}

func (e *ExitError) Unwrap() []error { return []error{ErrPluginExited, e.Err} }

// Host discovers and runs plugins. It is safe for concurrent use. Close
// stops every plugin it started.
type Host struct {
	dirs   []Dir
	opts   DiscoverOptions
	logger *slog.Logger

	mu      sync.Mutex
	plugins []Plugin
	scanned bool
	hashed  bool // every plugin's digest checked, not only at launch
	running map[string]*Instance
	// launching holds a channel per plugin being started, closed when
	// its launch ends.
	launching map[string]chan struct{}
	infoSeen  map[string]sdk.Info
	cache     *infoCache
	starts    int // plugin processes started, for tests
}

// New returns a Host that looks for plugins in dirs. It removes the
// plugin socket directories that hp processes of this user left when they
// were killed.
func New(dirs []Dir, opts DiscoverOptions, logger *slog.Logger) *Host {
	if logger == nil {
		logger = slog.Default()
	}
	// A killed hp could not remove its plugins' socket directories.
	if err := sweepSocketDirs(os.TempDir()); err != nil {
		logger.Debug("removing stale plugin socket directories", "error", err)
	}
	cache, err := loadCache(opts.CacheDir)
	if err != nil {
		logger.Warn(err.Error())
	}
	return &Host{dirs: dirs, opts: opts, logger: logger, running: map[string]*Instance{}, launching: map[string]chan struct{}{}, infoSeen: map[string]sdk.Info{}, cache: cache}
}

// withDigest fills in the sha256 of a plugin that has no checksum entry,
// so that it keys the cache and go-plugin checks the binary it runs is
// the one hashed: from the record of verified binaries while the file is
// unchanged, else by hashing it.
func (h *Host) withDigest(p Plugin) (Plugin, error) {
	if p.SHA256 != "" {
		return p, nil
	}
	h.mu.Lock()
	d, ok := h.cache.verifiedDigest(p.Path)
	h.mu.Unlock()
	if ok {
		p.SHA256 = d
		return p, nil
	}
	id, idOK := identity(p.Path)
	d, err := fileSHA256(p.Path)
	if err != nil {
		return p, fmt.Errorf("%w: %s: %v", ErrRefused, p.Path, err)
	}
	p.SHA256 = d
	if idOK {
		h.recordVerified(p.Path, id, d)
	}
	return p, nil
}

// recordVerified notes that the binary at path had digest while it had
// identity id; a cache that cannot be written is only warned about.
func (h *Host) recordVerified(path string, id fileIdentity, digest string) {
	h.mu.Lock()
	err := h.cache.putVerified(path, id, digest)
	h.mu.Unlock()
	if err != nil {
		h.logger.Warn("plugin cache not written", "error", err)
	}
}

// known returns the plugin's info without starting it: from this host's
// earlier launches, its directory's info files or the cache.
func (h *Host) known(p Plugin) (sdk.Info, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i, ok := h.infoSeen[p.Path]; ok {
		return i, true
	}
	if i, ok := p.dirInfo[p.SHA256]; ok && p.SHA256 != "" {
		return i.info(), true
	}
	return h.cache.get(p.SHA256)
}

// Info returns the plugin's info, from the cache when its binary is known,
// else by starting it once. A refused plugin is never started.
func (h *Host) Info(ctx context.Context, p Plugin) (sdk.Info, error) {
	if p.Refused != nil {
		return sdk.Info{}, p.Refused
	}
	p, err := h.withDigest(p)
	if err != nil {
		return sdk.Info{}, err
	}
	if i, ok := h.known(p); ok {
		return i, nil
	}
	h.mu.Lock()
	inst, running := h.running[p.Path]
	h.mu.Unlock()
	if running {
		return inst.Info, nil
	}
	// A private instance: one that Launch handed out must not be closed
	// under its user.
	if inst, err = h.launch(ctx, p); err != nil {
		return sdk.Info{}, err
	}
	inst.Close()
	return inst.Info, nil
}

func (h *Host) Dirs() []Dir { return h.dirs }

// Plugins returns the discovered plugins, every digest checked (scanning
// once).
func (h *Host) Plugins() ([]Plugin, error) { return h.scan(true) }

// scan discovers the plugins once, or again to hash them all when the
// first scan left digests to launch: a job hashes only the plugins it
// starts, not every binary in the directory.
func (h *Host) scan(hash bool) ([]Plugin, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.scanned && (h.hashed || !hash) {
		return h.plugins, nil
	}
	ps, notes, err := discover(h.dirs, h.opts, hash)
	if err != nil {
		return nil, err
	}
	if !h.scanned {
		for _, n := range notes {
			h.logger.Warn(n.Error())
		}
	}
	h.plugins, h.scanned, h.hashed = ps, true, hash
	return ps, nil
}

// usable returns the plugins that may run, the first of each name. The
// digests of listed plugins are checked when one is launched.
func (h *Host) usable() ([]Plugin, error) {
	ps, err := h.scan(false)
	if err != nil {
		return nil, err
	}
	var out []Plugin
	for _, p := range ps {
		if !p.Shadowed {
			out = append(out, p)
		}
	}
	return out, nil
}

// ByName starts (or returns the running) plugin with the given name.
func (h *Host) ByName(ctx context.Context, name string) (*Instance, error) {
	ps, err := h.usable()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Name == name {
			return h.Launch(ctx, p)
		}
	}
	return nil, fmt.Errorf("%w named %q is installed (looked in %s)", ErrNoPlugin, name, h.describeDirs())
}

// ForScheme starts the first plugin, in discovery order, that serves DSNs
// with the scheme. A plugin's name plays no part: a plugin named after a
// scheme in a later directory must not take a DSN (and its password) from
// the one installed earlier. Plugins that do not serve it are stopped again.
func (h *Host) ForScheme(ctx context.Context, scheme string) (*Instance, error) {
	ps, err := h.usable()
	if err != nil {
		return nil, err
	}
	scheme = strings.ToLower(scheme)
	var refused []string
	for _, p := range ps {
		if p.Refused == nil {
			if p, err = h.withDigest(p); err != nil {
				p.Refused = err
			}
		}
		if info, known := h.known(p); known && p.Refused == nil && !slices.Contains(info.Schemes, scheme) {
			continue
		}
		// Refused at discovery or, its digest checked only now, at launch.
		inst, err := h.Launch(ctx, p)
		if errors.Is(err, ErrRefused) {
			if likeness(p.Name, scheme) > 0 {
				refused = append(refused, err.Error())
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(inst.Info.Schemes, scheme) {
			return inst, nil
		}
		inst.Close()
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w for DSN scheme %q: %s", ErrNoPlugin, scheme, strings.Join(refused, "; "))
	}
	return nil, fmt.Errorf("%w serves DSN scheme %q (looked in %s; see 'hp plugins list')", ErrNoPlugin, scheme, h.describeDirs())
}

// likeness says how much a plugin name resembles a scheme; it only picks
// which refusals are worth naming when no plugin serves the scheme.
func likeness(name, scheme string) int {
	switch {
	case name == scheme:
		return 2
	case strings.HasPrefix(scheme, name) || strings.HasPrefix(name, scheme):
		return 1
	}
	return 0
}

func (h *Host) describeDirs() string {
	parts := make([]string, len(h.dirs))
	for i, d := range h.dirs {
		parts[i] = d.Path
	}
	return strings.Join(parts, ", ")
}

// Launch starts the plugin (or returns its running instance). Concurrent
// launches of one plugin start one process and share it.
func (h *Host) Launch(ctx context.Context, p Plugin) (*Instance, error) {
	if p.Refused != nil {
		return nil, p.Refused
	}
	for {
		h.mu.Lock()
		if inst, ok := h.running[p.Path]; ok {
			h.mu.Unlock()
			return inst, nil
		}
		wait, busy := h.launching[p.Path]
		if !busy {
			done := make(chan struct{})
			h.launching[p.Path] = done
			h.mu.Unlock()
			inst, err := h.launch(ctx, p)
			h.mu.Lock()
			if err == nil {
				inst.onClose = func() {
					h.mu.Lock()
					if h.running[p.Path] == inst {
						delete(h.running, p.Path)
					}
					h.mu.Unlock()
				}
				h.running[p.Path] = inst
			}
			delete(h.launching, p.Path)
			h.mu.Unlock()
			close(done)
			return inst, err
		}
		h.mu.Unlock()
		// The other launch may fail for its own context; then try ours.
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// launch starts the plugin and records its info.
func (h *Host) launch(ctx context.Context, p Plugin) (*Instance, error) {
	p, err := h.withDigest(p)
	if err != nil {
		return nil, err
	}
	known, seen := h.known(p)
	inst, err := h.start(ctx, p, known.Env)
	if err != nil {
		return nil, err
	}
	// A plugin's Info names the variables it reads; a plugin started
	// before its Info was known, without them, is started again with them.
	if !seen && len(pluginEnv(os.Environ(), inst.Info.Env)) > len(pluginEnv(os.Environ(), nil)) {
		inst.Close()
		if inst, err = h.start(ctx, p, inst.Info.Env); err != nil {
			return nil, err
		}
	}
	h.mu.Lock()
	h.infoSeen[p.Path] = inst.Info
	err = h.cache.put(p.SHA256, inst.Info)
	h.mu.Unlock()
	if err != nil {
		h.logger.Warn("plugin cache not written", "error", err)
	}
	return inst, nil
}

// Close stops every running plugin.
func (h *Host) Close() {
	h.mu.Lock()
	insts := make([]*Instance, 0, len(h.running))
	for _, i := range h.running {
		insts = append(insts, i)
	}
	h.mu.Unlock()
	for _, i := range insts {
		i.Close()
	}
}

// Instance is a running plugin. Its embedded Remote makes the calls.
type Instance struct {
	*Remote
	Plugin Plugin
	Info   sdk.Info

	client  *plugin.Client
	cmd     *exec.Cmd
	sockDir string
	stderr  *tail
	closing sync.Once
	onClose func()
	stopped bool
	mu      sync.Mutex
}

// Pid is the plugin's process id.
func (i *Instance) Pid() int {
	if i.cmd.Process == nil {
		return 0
	}
	return i.cmd.Process.Pid
}

// Close stops the plugin process (gracefully, then by force).
func (i *Instance) Close() {
	i.closing.Do(func() {
		i.mu.Lock()
		i.stopped = true
		i.mu.Unlock()
		i.client.Kill()
		// A plugin that was killed could not remove its socket file.
		_ = os.RemoveAll(i.sockDir)
		if i.onClose != nil {
			i.onClose()
		}
	})
}

var versionMismatch = regexp.MustCompile(`Plugin version: (\d+)`)

// baseEnv are the variables every plugin gets, besides LC_* and those its
// Info declares: a plugin is not handed hp's credentials (AWS_*, HP_*
// DSNs) unless it says it reads them.
var baseEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", profile.Env}

// pluginEnv picks from environ what a plugin declaring declared may see.
// A declared name ending in '*' is a prefix.
func pluginEnv(environ, declared []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		keep := slices.Contains(baseEnv, k) || strings.HasPrefix(k, "LC_")
		for _, d := range declared {
			if keep {
				break
			}
			if prefix, ok := strings.CutSuffix(d, "*"); ok {
				keep = prefix != "" && strings.HasPrefix(k, prefix)
			} else {
				keep = k == d
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// start starts the plugin. go-plugin hashes the binary just before
// running it, unless the record of verified binaries has its digest with
// the file's identity unchanged since; a binary it verifies unchanged by
// the launch is recorded.
func (h *Host) start(ctx context.Context, p Plugin, declared []string) (*Instance, error) {
	h.mu.Lock()
	h.starts++
	d, verified := h.cache.verifiedDigest(p.Path)
	h.mu.Unlock()
	if p.SHA256 == "" || verified && d == p.SHA256 {
		return start(ctx, p, h.logger, declared, false)
	}
	id, idOK := identity(p.Path)
	inst, err := start(ctx, p, h.logger, declared, true)
	if err == nil && idOK {
		h.recordVerified(p.Path, id, p.SHA256)
	}
	return inst, err
}

func start(ctx context.Context, p Plugin, logger *slog.Logger, declared []string, verify bool) (*Instance, error) {
	cmd := exec.Command(p.Path)
	setParentDeathSignal(cmd)
	tl := &tail{max: 8}
	var secure *plugin.SecureConfig
	if verify {
		sum, _ := hex.DecodeString(p.SHA256)
		// go-plugin hashes the file just before running it: the only check
		// of a plugin left to launch (ChecksumAtLaunch), and for one hashed
		// at discovery it closes the gap between discovery and launch.
		secure = &plugin.SecureConfig{Checksum: sum, Hash: newHash()}
	}
	// The plugin's socket lives in a directory of this launch that only
	// this user can enter (MkdirTemp: 0700), so no other user can connect
	// to it whatever the umask. That is the isolation TLS on the socket
	// gave, and the same user could read either process's memory anyway;
	// without TLS the plugin boundary costs a tenth less CPU.
	// Named after this pid, so that a later hp can tell it is stale.
	sockDir, err := os.MkdirTemp(os.TempDir(), fmt.Sprintf("hp-plugin-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("starting plugin %q: %w", p.Name, err)
	}
	// go-plugin passes the directory on only with a custom runner; the
	// plugin's side reads it from this variable.
	cmd.Env = append(pluginEnv(os.Environ(), declared), plugin.EnvUnixSocketDir+"="+sockDir)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake(sdk.ProtocolVersion),
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {wire.PluginKey: &wire.Plugin{}}},
		Cmd:              cmd,
		SecureConfig:     secure,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     20 * time.Second,
		Stderr:           tl.writer(nil),
		// After the handshake a plugin's os.Stdout is piped over gRPC
		// (the SDK points its os.Stderr back at fd 2, but a plugin not
		// built with it may not). Stdout carries nothing after the
		// handshake: what a plugin prints there is a mistake worth a
		// warning, and is kept for error messages too.
		SyncStdout: tl.writer(func(line string) {
			logger.Warn("plugin wrote to stdout, which is not read: a plugin should log to stderr (log/slog)", "plugin", p.Name, "output", line)
		}),
		SyncStderr:      tl.writer(nil),
		Logger:          newPluginLogger(logger, p.Name),
		GRPCDialOptions: wire.DialOptions(),
	})
	fail := func(err error) (*Instance, error) {
		client.Kill()
		_ = os.RemoveAll(sockDir)
		if line, ok := strings.CutPrefix(err.Error(), "Unrecognized remote plugin message: "); ok {
			// go-plugin goes on to guess at a wrong architecture. The
			// cause is output that took the place of the handshake line,
			// or, with none, an exit before the handshake.
			line, _, _ = strings.Cut(line, "\n")
			if line != "" {
				return nil, fmt.Errorf("starting plugin %q (%s): it wrote to stdout before the handshake (%q), where hp expects the handshake line: a plugin must not write to stdout, log to stderr instead", p.Name, p.Path, line)
			}
			err = errors.New("it exited before the handshake")
		}
		if m := versionMismatch.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("plugin %q (%s) speaks connector protocol %s but this hp speaks %d: install a plugin built for protocol %d", p.Name, p.Path, m[1], sdk.ProtocolVersion, sdk.ProtocolVersion)
		}
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			if p.Checksum == ChecksumAtLaunch {
				have, herr := fileSHA256(p.Path)
				if herr != nil {
					have = herr.Error()
				}
				return nil, errMismatch(p.Path, p.entry, have)
			}
			return nil, fmt.Errorf("%w: %s changed since it was verified", ErrRefused, p.Path)
		}
		if lines := tl.Lines(); len(lines) > 0 {
			return nil, fmt.Errorf("starting plugin %q (%s): %w; its output: %s", p.Name, p.Path, err, strings.Join(lines, " | "))
		}
		return nil, fmt.Errorf("starting plugin %q (%s): %w", p.Name, p.Path, err)
	}
	rpc, err := client.Client()
	if err != nil {
		return fail(err)
	}
	raw, err := rpc.Dispense(wire.PluginKey)
	if err != nil {
		return fail(err)
	}
	inst := &Instance{Plugin: p, client: client, cmd: cmd, stderr: tl, sockDir: sockDir}
	inst.Remote, err = newRemote(ctx, pb.NewConnectorServiceClient(raw.(*grpc.ClientConn)), inst.explain)
	if err != nil {
		return fail(err)
	}
	info := inst.Remote.Info()
	if info.ProtocolVersion != sdk.ProtocolVersion {
		return fail(fmt.Errorf("it reports protocol version %d in GetInfo, expected %d", info.ProtocolVersion, sdk.ProtocolVersion))
	}
	inst.Info = info
	logger.Debug("plugin started", "plugin", p.Name, "path", p.Path, "pid", inst.Pid(), "version", info.Version)
	return inst, nil
}

// explain replaces a transport error caused by the plugin dying with an
// ExitError naming the plugin, its exit status and its last output.
func (i *Instance) explain(err error) error {
	if !errors.Is(err, sdk.ErrUnavailable) && !errors.Is(err, context.Canceled) && !transportFailure(err) {
		return err
	}
	deadline := time.Now().Add(time.Second)
	for !i.client.Exited() {
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	i.mu.Lock()
	stopped := i.stopped
	i.mu.Unlock()
	if stopped {
		return err
	}
	// The exit can be seen before the last stderr lines are read.
	time.Sleep(50 * time.Millisecond)
	st := "exited"
	if ps := i.cmd.ProcessState; ps != nil {
		st = ps.String()
	}
	return &ExitError{Plugin: i.Plugin.Name, Pid: i.Pid(), Status: st, Stderr: i.stderr.Lines(), Err: err}
}

// transportFailure reports a broken connection that carries no sdk kind.
func transportFailure(err error) bool {
	return strings.Contains(err.Error(), "error reading from server") || strings.Contains(err.Error(), "connection refused")
}
