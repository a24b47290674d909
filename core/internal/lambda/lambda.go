// Package lambda serves AWS Lambda invocations: each one runs the cp snap,
// cp delta or sync batch configured by the function's HP_* environment (12-factor
// mode), with the invocation's event able to override any HP_ variable,
// through the run layer, and answers with the JSON run summary. A failed
// job is a function error.
package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/spf13/pflag"

	clisync "github.com/halfpipe-io/halfpipe/core/internal/cli/sync"
	"github.com/halfpipe-io/halfpipe/core/internal/cliutil"
	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/core/internal/engine"
	"github.com/halfpipe-io/halfpipe/core/internal/halfpipe"
	"github.com/halfpipe-io/halfpipe/core/internal/pipe"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/core/internal/shard"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// Active reports whether the process runs inside Lambda's runtime.
func Active(lookup func(string) (string, bool)) bool {
	_, ok := lookup("AWS_LAMBDA_RUNTIME_API")
	return ok
}

// Serve answers invocations until the runtime stops the process.
func Serve(ctx context.Context, version string) {
	exe, _ := os.Executable()
	h := &Handler{Version: version, LookupEnv: os.LookupEnv, Environ: os.Environ, Stderr: os.Stderr, Executable: exe}
	awslambda.StartWithOptions(h.Invoke, awslambda.WithContext(ctx))
}

// Handler runs one job per invocation.
type Handler struct {
	Version   string
	LookupEnv func(string) (string, bool)
	Environ   func() []string
	// Stderr receives the job's logs (JSON lines, to CloudWatch).
	Stderr io.Writer
	// Executable is the hp binary, for plugin discovery beside it.
	Executable string
}

// margin is kept from the invocation's deadline so that a delta stops
// cleanly, state committed, before Lambda kills the process.
func margin(left time.Duration) time.Duration { return max(5*time.Second, left/10) }

// eventMayNotSet are the variables that choose which binaries run and
// what vouches for them: anyone allowed to invoke the function could
// otherwise run code of their choosing as the function's role.
var eventMayNotSet = []string{"HP_PLUGIN_DIR", "HP_REQUIRE_CHECKSUMS", "HP_CACHE_DIR"}

// Invoke runs the job. The event is a JSON object whose HP_ keys override
// the environment, except eventMayNotSet; anything else (the console's
// test payload, a schedule event) is ignored. Plugins must have a
// SHA256SUMS entry unless the function's own configuration sets
// HP_REQUIRE_CHECKSUMS=false.
func (h *Handler) Invoke(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	overrides, err := parseEvent(event)
	if err != nil {
		return nil, err
	}
	for _, k := range eventMayNotSet {
		if _, ok := overrides[k]; ok {
			return nil, fmt.Errorf("the event sets %s, which only the function's configuration may set: it decides which plugin binaries run", k)
		}
	}
	if _, ok := h.LookupEnv("HP_REQUIRE_CHECKSUMS"); !ok {
		overrides["HP_REQUIRE_CHECKSUMS"] = "true"
	}
	lookup := func(k string) (string, bool) {
		if v, ok := overrides[k]; ok {
			return v, true
		}
		return h.LookupEnv(k)
	}
	if _, ok := lookup("HP_12FACTOR_MODE"); !ok {
		overrides["HP_12FACTOR_MODE"] = "1"
	}
	if deadline, ok := ctx.Deadline(); ok {
		budget := time.Until(deadline)
		budget -= margin(budget)
		cur, _ := lookup("HP_MAX_DURATION")
		if d, err := time.ParseDuration(cur); err != nil || d <= 0 || d > budget {
			overrides["HP_MAX_DURATION"] = budget.Round(time.Second).String()
		}
	}
	cmd, _ := lookup("HP_COMMAND")
	sub, _ := lookup("HP_SUBCOMMAND")
	if c := strings.TrimSpace(cmd); c == "plan" || c == "shard" || c == "commit" {
		sub = "" // the function's cp subcommand is not theirs
	}
	if sub != "delta" {
		delete(overrides, "HP_MAX_DURATION") // only delta stops between chunks
	}
	environ := func() []string {
		out := h.Environ()
		for k, v := range overrides {
			out = append(out, k+"="+v)
		}
		return out
	}
	f := &cliutil.Factory{IO: &cliutil.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: h.Stderr},
		Version: h.Version, LookupEnv: lookup, Environ: environ, Executable: h.Executable, Logger: slog.New(slog.DiscardHandler)}
	defer f.Close()
	out, args, err := h.run(ctx, f, strings.TrimSpace(cmd), strings.TrimSpace(sub))
	if err != nil {
		err = cliutil.MaskRunSecrets(f, args, err)
		return nil, &JobError{Command: strings.TrimSpace(cmd + " " + sub), Code: cliutil.ExitCode(err), Message: sdk.MaskDSN(err.Error())}
	}
	return out, nil
}

// run carries out the job of the environment through the run layer and
// returns its summary as JSON, and the job's arguments (for masking).
func (h *Handler) run(ctx context.Context, f *cliutil.Factory, cmd, sub string) (json.RawMessage, []string, error) {
	if cmd == "pipe" && (sub == "" || sub == "run") {
		out, err := h.runPipe(ctx, f)
		return out, nil, err
	}
	if cmd == "plan" || cmd == "shard" || cmd == "commit" {
		return h.runShard(ctx, f, cmd)
	}
	kind := run.Kind(sub)
	isSync := cmd == "sync" && sub == "batch"
	if !isSync && (cmd != "cp" || (kind != run.KindSnap && kind != run.KindDelta)) {
		return nil, nil, sdk.InvalidArgumentf("HP_COMMAND=%q HP_SUBCOMMAND=%q: in AWS Lambda hp runs cp snap, cp delta, sync batch, pipe, plan, shard and commit", cmd, sub)
	}
	args, err := halfpipe.TwelveFactorArgs(f.LookupEnv)
	if err != nil {
		return nil, nil, err
	}
	if isSync {
		out, err := h.runSync(ctx, f, args)
		return out, args, err
	}
	var spec run.Spec
	var stats int
	fl := pflag.NewFlagSet("hp cp "+sub, pflag.ContinueOnError)
	run.BindFlags(fl, &spec, kind)
	fl.IntVar(&stats, "stats", 0, "")
	logger, conns, err := h.configure(f, fl)
	if err != nil {
		return nil, args, err
	}
	spec.Source, spec.Target = args[2], args[3]
	p, err := run.NewPlan(kind, spec, conns, time.Now())
	if err != nil {
		return nil, args, err
	}
	if p.Tgt.Scheme == "stdout" {
		return nil, args, sdk.InvalidArgumentf("HP_TARGET_DSN=stdout: in AWS Lambda the target is S3 or a database")
	}
	env := run.Env{Host: f.Host, Out: io.Discard, Logger: logger, Version: h.Version, Now: time.Now,
		Progress: func(ctx context.Context, st *engine.Stats, total *atomic.Int64) func() {
			return cliutil.StartProgress(ctx, f.IO, logger, st, stats, total)
		}}
	var sum any
	if kind == run.KindSnap {
		sum, err = run.Snapshot(ctx, env, p)
	} else {
		sum, err = run.Delta(ctx, env, p)
	}
	if err != nil {
		return nil, args, err
	}
	out, err := json.MarshalIndent(sum, "", "  ")
	return out, args, err
}

// runSync runs hp sync batch between the tables of args (HP_SOURCE_* and
// HP_TARGET_*), flags as HP_ variables. It stops before the invocation's
// deadline, so that a sync too slow for it fails and rolls back (or, with
// HP_CHUNK_ROWS, keeps its committed chunks) rather than being killed.
func (h *Handler) runSync(ctx context.Context, f *cliutil.Factory, args []string) (json.RawMessage, error) {
	o := &clisync.Options{IO: f.IO, Host: f.Host, Source: args[2], Target: args[3], Output: "json"}
	fl := pflag.NewFlagSet("hp sync batch", pflag.ContinueOnError)
	clisync.BindFlags(fl, o)
	_, conns, err := h.configure(f, fl)
	if err != nil {
		return nil, err
	}
	o.Conns = conns
	var m time.Duration
	if deadline, ok := ctx.Deadline(); ok {
		m = margin(time.Until(deadline))
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-m))
		defer cancel()
	}
	res, err := clisync.Batch(ctx, o)
	// A plugin's side of the deadline (gRPC carries it) may end a stream
	// just before ours fires.
	if dl, ok := ctx.Deadline(); err != nil && ok && (ctx.Err() != nil || time.Until(dl) < 250*time.Millisecond) {
		if o.ChunkRows > 0 {
			// The error names the chunks committed: the target stands at
			// a chunk boundary.
			return nil, fmt.Errorf("%w: stopped at a chunk boundary %s before the invocation's deadline", err, m.Round(time.Second))
		}
		return nil, fmt.Errorf("%w: stopped %s before the invocation's deadline; give the function more time, or set HP_CHUNK_ROWS to commit in chunks", err, m.Round(time.Second))
	}
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(res, "", "  ")
}

// runShard runs hp plan, shard or commit (a Step Functions Distributed
// Map's steps). plan snapshots the table of the environment as cp snap
// would, in HP_SHARDS slices, and answers with where the plan's items are
// for the map's ItemReader.
func (h *Handler) runShard(ctx context.Context, f *cliutil.Factory, cmd string) (json.RawMessage, []string, error) {
	var spec run.Spec
	var planURL, by string
	var shards, index int
	fl := pflag.NewFlagSet("hp "+cmd, pflag.ContinueOnError)
	fl.StringVar(&planURL, "plan", "", "")
	// The function's cp snap variables are the plan step's; the shard and
	// commit steps take the plan's copy, so they are not warned about.
	run.BindFlags(fl, &spec, run.KindSnap)
	// A delta's variables plan a sharded delta (--delta-size and
	// --max-duration are then refused: it reads one range).
	run.BindDeltaFlags(fl, &spec.Delta, true)
	switch cmd {
	case "plan":
		fl.IntVar(&shards, "shards", 0, "")
		fl.StringVar(&by, "shard-by", "", "")
	case "shard":
		fl.IntVar(&index, "index", -1, "")
	}
	logger, conns, err := h.configure(f, fl)
	if err != nil {
		return nil, nil, err
	}
	if planURL == "" {
		return nil, nil, sdk.InvalidArgumentf("hp %s needs the plan's URL: the event's \"plan\" or HP_PLAN", cmd)
	}
	env := run.Env{Host: f.Host, Out: io.Discard, Logger: logger, Version: h.Version, Now: time.Now}
	var out any
	var args []string
	switch cmd {
	case "plan":
		// The source and target are cp snap's, from HP_SOURCE_OBJECT and
		// HP_TARGET_OBJECT.
		args, err = halfpipe.TwelveFactorArgs(func(k string) (string, bool) {
			switch k {
			case "HP_COMMAND":
				return "cp", true
			case "HP_SUBCOMMAND":
				return "snap", true
			}
			return f.LookupEnv(k)
		})
		if err != nil {
			return nil, nil, err
		}
		spec.Source, spec.Target = args[2], args[3]
		p, err := shard.Make(ctx, env, conns, spec, shards, by, time.Now())
		if err != nil {
			return nil, args, err
		}
		if err := shard.Write(ctx, planURL, p); err != nil {
			return nil, args, err
		}
		out = shard.Answer(planURL, p)
	case "shard":
		out, err = shard.Run(ctx, env, conns, planURL, index)
	case "commit":
		out, err = shard.Commit(ctx, env, conns, planURL)
	}
	if err != nil {
		return nil, args, err
	}
	data, err := json.MarshalIndent(out, "", "  ")
	return data, args, err
}

// defaultCacheDir is the plugin info cache of a function that sets no
// HP_CACHE_DIR: Lambda sets no HOME, so there is no user cache directory,
// and without a cache every invocation would start each plugin before the
// one serving its scheme. /tmp lasts as long as the execution environment.
// "" when there is a user cache directory (the Factory's default).
func defaultCacheDir() string {
	if _, err := os.UserCacheDir(); err == nil {
		return ""
	}
	return filepath.Join(os.TempDir(), "halfpipe")
}

// configure adds the flags every job takes to fl, sets fl from the
// environment, and returns the job's logger and connections, having
// warned of the HP_ variables that name nothing.
func (h *Handler) configure(f *cliutil.Factory, fl *pflag.FlagSet) (*slog.Logger, *config.Store, error) {
	var logLevel, logFormat string
	fl.StringVar(&logLevel, "log-level", "info", "")
	fl.StringVar(&logFormat, "log-format", "auto", "")
	fl.BoolVar(&f.RequireChecksums, "require-checksums", false, "")
	fl.StringVar(&f.CacheDir, "cache-dir", "", "")
	fl.StringVar(&f.PluginDir, "plugin-dir", "", "")
	known := map[string]bool{"HP_OUTPUT": true} // the answer is always JSON
	fl.VisitAll(func(fl *pflag.Flag) { known[cliutil.EnvName(fl.Name)] = true })
	if err := cliutil.ApplyEnvFlags(f.LookupEnv, fl); err != nil {
		return nil, nil, err
	}
	if f.CacheDir == "" {
		f.CacheDir = defaultCacheDir()
	}
	_, inLambda := f.LookupEnv("AWS_LAMBDA_FUNCTION_NAME")
	logger, err := cliutil.NewLogger(h.Stderr, logLevel, logFormat, inLambda)
	if err != nil {
		return nil, nil, err
	}
	f.Logger = logger
	conns := f.Conns()
	cliutil.CheckEnv(logger, known, f.Environ(), f.LookupEnv, conns)
	return logger, conns, nil
}

// runPipe runs the pipeline of HP_PIPE (the YAML itself, or its file's
// S3 URL) and answers with its summary; a job that failed or did not run
// (the invocation's time was up) makes it a function error, which names
// them. Jobs stop starting, and deltas stop between ranges, before the
// invocation's deadline.
func (h *Handler) runPipe(ctx context.Context, f *cliutil.Factory) (json.RawMessage, error) {
	o := pipe.Options{}
	fl := pflag.NewFlagSet("hp pipe run", pflag.ContinueOnError)
	pipe.BindFlags(fl, &o)
	logger, conns, err := h.configure(f, fl)
	if err != nil {
		return nil, err
	}
	tasks, err := pipe.Prepare(ctx, &o, pipe.HostLister(f.Host, conns), conns, time.Now())
	if err != nil {
		return nil, err
	}
	r := &pipe.Runner{Env: run.Env{Host: f.Host, Out: io.Discard, Logger: logger, Version: h.Version, Now: time.Now},
		Conns: conns, Jobs: o.Jobs,
		Mask: func(err error) error { return cliutil.MaskRunSecrets(f, nil, err) },
		Done: func(r pipe.Result) {
			logger.Info("pipe job done", "job", r.Name, "status", r.Status, "rows", r.Rows, "run_id", r.RunID, "error", r.Error)
		}}
	if deadline, ok := ctx.Deadline(); ok {
		r.Deadline = deadline.Add(-margin(time.Until(deadline)))
	}
	s := r.Run(ctx, tasks)
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	if o.Summary != "" {
		if err := pipe.WriteSummary(context.WithoutCancel(ctx), o.Summary, s); err != nil {
			return nil, fmt.Errorf("writing the summary: %w", err)
		}
	}
	if s.Failed+s.NotRun == 0 {
		return out, nil
	}
	var failed []string
	for _, j := range s.Jobs {
		if j.Status != pipe.StatusOK {
			failed = append(failed, fmt.Sprintf("%s (%s): %s", j.Name, j.Status, j.Error))
		}
	}
	return nil, fmt.Errorf("%d of %d jobs failed, %d did not run: %s", s.Failed, len(s.Jobs), s.NotRun, strings.Join(failed, "; "))
}

// JobError is a failed job, returned as the function error: its type and
// message show in the console and in the invoke response.
type JobError struct {
	Command string
	Code    int
	Message string
}

func (e *JobError) Error() string {
	return fmt.Sprintf("hp %s failed (exit %d): %s", e.Command, e.Code, e.Message)
}

func parseEvent(event json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	trimmed := bytes.TrimSpace(event)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return out, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		var anything any
		if json.Unmarshal(trimmed, &anything) == nil {
			return out, nil // not an object: nothing to override
		}
		return nil, fmt.Errorf("the event is not JSON: %w", err)
	}
	for k, val := range obj {
		if v, ok := shardKeys[k]; ok {
			k = v
		}
		if !strings.HasPrefix(k, "HP_") {
			continue
		}
		switch v := val.(type) {
		case string:
			out[k] = v
		case float64, bool:
			out[k] = fmt.Sprint(v)
		case nil:
		default:
			return nil, errors.New("event key " + k + " must be a string, number or boolean")
		}
	}
	if _, ok := out["HP_INDEX"]; ok && out["HP_COMMAND"] == "" {
		out["HP_COMMAND"] = "shard"
	}
	return out, nil
}

// shardKeys are the event keys of a Step Functions state machine's
// steps ({"command": "shard", "plan": URL, "index": 3}), as the HP_
// variables they set.
var shardKeys = map[string]string{"command": "HP_COMMAND", "plan": "HP_PLAN", "index": "HP_INDEX", "shards": "HP_SHARDS", "shard_by": "HP_SHARD_BY"}
