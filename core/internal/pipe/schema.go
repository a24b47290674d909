package pipe

import (
	"encoding/json"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/halfpipe-io/halfpipe/core/internal/run"
)

// jobKeyDocs describe a job's own keys.
var jobKeyDocs = map[string]map[string]any{
	"name":   {"type": "string", "description": "The job's name in the summary, for --only and --failed-from (default: its source as written, or <conn>.<schema>.<table> for each table of a selection); {table} and {schema} are replaced, and a name must be unique"},
	"kind":   {"enum": []string{string(run.KindSnap), string(run.KindDelta)}, "description": "snap: the whole table, as hp cp snap; delta: the rows past the high-water mark, as hp cp delta"},
	"source": {"type": "string", "description": "<conn>.[<schema>.]<table>; or a selection of tables as hp ls lists them: <conn>.[<schema>.]<glob> (* ? [...] in the table name) or <conn>.[<schema>.]/<regex>/ (matched anywhere in the table name), one job per table"},
	"target": {"type": "string", "description": "<conn>.<object> as in hp cp; {table} and {schema} are replaced by the source table's"},
}

// Schema is the JSON Schema of a pipeline file (docs/pipe.schema.json),
// built from the flags of hp cp snap and hp cp delta: an option has its
// flag's name, type, default and help.
func Schema() ([]byte, error) {
	options := map[string]map[string]any{}
	kinds := map[string][]run.Kind{}
	for _, k := range []run.Kind{run.KindSnap, run.KindDelta} {
		flagSet(k, &run.Spec{}).VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			kinds[f.Name] = append(kinds[f.Name], k)
			o := optionSchema(f)
			if prev, ok := options[f.Name]; ok && prev["description"] != f.Usage {
				// The flag means something else for each kind (primary-keys).
				o["description"] = string(run.KindSnap) + ": " + prev["description"].(string) + "; " + string(k) + ": " + f.Usage
			}
			options[f.Name] = o
		})
	}
	for name, ks := range kinds {
		if len(ks) == 1 {
			options[name]["description"] = options[name]["description"].(string) + " (" + string(ks[0]) + " jobs only)"
		}
	}
	props := func(withName bool) map[string]any {
		out := map[string]any{}
		for k, v := range options {
			out[k] = v
		}
		for k, v := range jobKeyDocs {
			if k != "name" || withName {
				out[k] = v
			}
		}
		return out
	}
	s := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://raw.githubusercontent.com/halfpipe-io/halfpipe/main/docs/pipe.schema.json",
		"title":                "hp pipe pipeline file",
		"description":          "Table jobs for hp pipe run (docs/pipe.md). Options are hp cp's flags, by name, without the dashes.",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"jobs"},
		"properties": map[string]any{
			"defaults": map[string]any{"description": "Keys every job takes unless it sets them itself; an option applies to the jobs of the kinds that have it",
				"type": "object", "additionalProperties": false, "properties": props(false)},
			"jobs": map[string]any{"description": "The jobs, run in this order, --jobs at a time", "type": "array", "minItems": 1,
				"items": map[string]any{"type": "object", "additionalProperties": false, "properties": props(true)}},
		},
	}
	b, err := json.MarshalIndent(s, "", "  ")
	return append(b, '\n'), err
}

// optionSchema is the schema of a flag's value in a file.
func optionSchema(f *pflag.Flag) map[string]any {
	o := map[string]any{"description": f.Usage}
	switch f.Value.Type() {
	case "bool":
		o["type"] = "boolean"
		if v, err := strconv.ParseBool(f.DefValue); err == nil {
			o["default"] = v
		}
	case "int", "int64":
		o["type"] = "integer"
		if v, err := strconv.ParseInt(f.DefValue, 10, 64); err == nil && v != 0 {
			o["default"] = v
		}
	default:
		// Numbers read as their text: max-file-bytes: 0, start-sequence: 1000.
		o["type"] = []string{"string", "number"}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" {
			o["default"] = f.DefValue
		}
	}
	return o
}
