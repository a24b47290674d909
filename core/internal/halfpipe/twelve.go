package halfpipe

import (
	"strings"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TwelveFactorVars are the variables of 12-factor mode that are not
// flags (every flag --x-y is HP_X_Y), with what they do.
var TwelveFactorVars = [][2]string{
	{"HP_12FACTOR_MODE", "Any non-empty value: run one job from the environment alone (no arguments)"},
	{"HP_COMMAND", "The command: cp, sync, query, runs, verify, gc, state"},
	{"HP_SUBCOMMAND", "The subcommand: snap or delta for cp; batch for sync; show for state"},
	{"HP_SOURCE_DSN", "DSN of the source connection, named \"source\""},
	{"HP_SOURCE_OBJECT", "Source table ([schema.]table), or the SQL of hp query"},
	{"HP_SOURCE_TYPE", "Expected source type (optional: inferred from the DSN, checked when given)"},
	{"HP_TARGET_DSN", "DSN of the target connection, named \"target\" (s3://bucket/prefix, a directory, a database)"},
	{"HP_TARGET_OBJECT", "Target object (a name or path under the target; a table for databases)"},
	{"HP_TARGET_TYPE", "Expected target type (optional, checked when given)"},
	{"HP_TARGET_S3_REGION", "Region of an S3 target (also ?region= or HP_S3_REGION)"},
	{"HP_<NAME>_DSN", "Any other connection, by name"},
	{"HP_AUTH_KEY", "Accepted and ignored: halfpipe needs no licence key"},
}

// IsConnectionVar matches HP_<NAME>_DSN, _TYPE and _S3_REGION.
func IsConnectionVar(k string) bool {
	for _, s := range []string{"_DSN", "_TYPE", "_S3_REGION"} {
		if strings.HasSuffix(k, s) && len(k) > len("HP_")+len(s) {
			return true
		}
	}
	return false
}

// TwelveFactorArgs builds the command line of a 12-factor job from the
// environment: HP_COMMAND, HP_SUBCOMMAND and the source and target
// objects (the connections named source and target); every flag then
// comes from its HP_<FLAG> variable.
func TwelveFactorArgs(lookup func(string) (string, bool)) ([]string, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	command, sub := get("HP_COMMAND"), get("HP_SUBCOMMAND")
	if command == "" {
		return nil, sdk.InvalidArgumentf("HP_12FACTOR_MODE is set but HP_COMMAND is not: set HP_COMMAND (cp, query, runs, verify, state) and HP_SUBCOMMAND (snap, delta, ...); hp 12f lists every variable")
	}
	args := []string{command}
	if sub != "" {
		args = append(args, sub)
	}
	target := "target"
	if obj := get("HP_TARGET_OBJECT"); obj != "" {
		target += "." + obj
	}
	switch command {
	case "cp", "sync", "diff":
		src := get("HP_SOURCE_OBJECT")
		if src == "" {
			return nil, sdk.InvalidArgumentf("HP_SOURCE_OBJECT is not set: name the source table")
		}
		args = append(args, "source."+src, target)
	case "query":
		q := get("HP_SOURCE_OBJECT")
		if q == "" {
			return nil, sdk.InvalidArgumentf("HP_SOURCE_OBJECT is not set: give the SQL of hp query")
		}
		args = append(args, "source", q)
	case "runs", "verify", "state", "gc":
		args = append(args, target)
	}
	return args, nil
}
