package cliutil

import (
	"encoding/json"
	"io"
)

// CheckOutput validates an --output value: text or json.
func CheckOutput(output string) error {
	if output != "text" && output != "json" {
		return UsageErrorf("--output %q: use text or json", output)
	}
	return nil
}

// WriteJSON writes v as indented JSON, the form every --output json takes.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
