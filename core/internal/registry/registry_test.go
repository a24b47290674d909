package registry

import (
	"errors"
	"testing"

	"github.com/halfpipe-io/halfpipe/core/internal/config"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// A declared type names the serving plugin or one of its schemes; nothing
// else, and no name known to core alone.
func TestCheckTypeUsesWhatThePluginDeclares(t *testing.T) {
	c := config.Connection{Name: "db", DSN: "sqlserver://sa:Secret9@h/db", Scheme: "sqlserver"}
	for _, declared := range []string{"", "mssql", "MSSQL", "sqlserver"} {
		if err := CheckType(c, declared, "mssql", []string{"sqlserver"}); err != nil {
			t.Errorf("declared %q: %v", declared, err)
		}
	}
	err := CheckType(c, "postgres", "mssql", []string{"sqlserver"})
	if !errors.Is(err, sdk.ErrInvalidArgument) || err.Error() != `connection "db" is declared as type "postgres" but its DSN (sqlserver://sa:xxxxx@h/db) is served by "mssql"` {
		t.Errorf("mismatch: %v", err)
	}
	c.Type = "oracle"
	if err := CheckType(c, "", "mssql", []string{"sqlserver"}); err == nil {
		t.Error("the connection's own declared type was not checked")
	}
}

func TestIsStore(t *testing.T) {
	for scheme, want := range map[string]bool{"file": true, "s3": true, "stdout": true, "postgres": false, "gen": false} {
		if got := IsStore(config.Connection{Scheme: scheme}); got != want {
			t.Errorf("IsStore(%s) = %v", scheme, got)
		}
	}
}
