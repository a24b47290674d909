package run

import (
	"errors"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestWriteMode(t *testing.T) {
	for _, c := range []struct {
		mode    string
		keys    []string
		toStore bool
		want    sdk.WriteMode
		usage   bool
	}{
		{"", nil, false, sdk.Replace, false},
		{"append", nil, false, sdk.Append, false},
		{"replace", nil, false, sdk.Replace, false},
		{"merge", []string{"id"}, false, sdk.Merge, false},
		{"", nil, true, "", false},
		{"merge", nil, false, "", true},
		{"", []string{"id"}, false, "", true},
		{"append", []string{"id"}, false, "", true},
		{"upsert", nil, false, "", true},
		{"append", nil, true, "", true},
		{"", []string{"id"}, true, "", true},
	} {
		got, err := writeMode(c.mode, c.keys, c.toStore)
		if got != c.want || (err != nil) != c.usage || (err != nil && !errors.Is(err, sdk.ErrInvalidArgument)) {
			t.Errorf("writeMode(%q, %v, store=%v) = %q, %v; want %q, usage error %v", c.mode, c.keys, c.toStore, got, err, c.want, c.usage)
		}
	}
}
