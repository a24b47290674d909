package pipe

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/pipe.schema.json")

// TestSchemaIsCurrent: docs/pipe.schema.json is what Schema builds from
// the flags now (go test ./core/internal/pipe -run TestSchema -update
// rewrites it), and it describes every option a file may hold.
func TestSchemaIsCurrent(t *testing.T) {
	want, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "docs", "pipe.schema.json")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("%s is stale: run go test ./core/internal/pipe -run TestSchemaIsCurrent -update and commit it", path)
	}
	var doc struct {
		Properties struct {
			Defaults struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"defaults"`
			Jobs struct {
				Items struct {
					Properties map[string]map[string]any `json:"properties"`
				} `json:"items"`
			} `json:"jobs"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(have, &doc); err != nil {
		t.Fatal(err)
	}
	job, defaults := doc.Properties.Jobs.Items.Properties, doc.Properties.Defaults.Properties
	for _, k := range append(optionNames(), jobKeys...) {
		if job[k]["description"] == nil {
			t.Errorf("the schema's job has no %s", k)
		}
		if _, ok := defaults[k]; ok != (k != "name") {
			t.Errorf("defaults: %s in the schema is %v", k, ok)
		}
	}
	if len(job) != len(allOptions)+len(jobKeys) {
		t.Errorf("the schema's job has %d keys, a file %d", len(job), len(allOptions)+len(jobKeys))
	}
	if job["csv-header"]["default"] != true || job["delta-driver"]["description"] == nil || job["kind"]["enum"] == nil {
		t.Errorf("options: %v %v", job["csv-header"], job["kind"])
	}
}
