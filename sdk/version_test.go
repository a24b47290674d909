package sdk_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestVersionDocumented checks that Version is a v0 semantic version and
// that the connector guide names its tag and the module path authors
// require, so the docs cannot promise a release the code does not claim.
func TestVersionDocumented(t *testing.T) {
	if !regexp.MustCompile(`^0\.\d+\.\d+$`).MatchString(sdk.Version) {
		t.Fatalf("sdk.Version %q is not a v0 semantic version (0.N.M)", sdk.Version)
	}
	doc, err := os.ReadFile("../docs/writing-a-connector.md")
	if err != nil {
		t.Fatalf("reading the connector guide: %v", err)
	}
	for _, want := range []string{
		"sdk/v" + sdk.Version,
		"require github.com/halfpipe-io/halfpipe/sdk v0.0.0",
		"replace github.com/halfpipe-io/halfpipe/sdk => /path/to/halfpipe/sdk",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/writing-a-connector.md does not mention %q", want)
		}
	}
}
