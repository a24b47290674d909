package host

import (
	"slices"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk/profile"
)

// Plugins get HP_CPUPROFILE, so one variable profiles hp and its plugins,
// and still no other HP_ variable they did not declare.
func TestPluginEnvPassesProfile(t *testing.T) {
	got := pluginEnv([]string{profile.Env + "=/tmp/p", "HP_PG_DSN=postgres://secret", "PATH=/bin"}, nil)
	if !slices.Equal(got, []string{profile.Env + "=/tmp/p", "PATH=/bin"}) {
		t.Errorf("plugin environment %q", got)
	}
}
