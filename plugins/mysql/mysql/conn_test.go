package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestConnectionFailures: a server that is down, and TLS that the server
// does not offer, give errors that say so, without the password.
func TestConnectionFailures(t *testing.T) {
	c := mysql.New()
	ctx := context.Background()
	for _, tc := range []struct {
		name, dsn string
		kind      error
		says      string
	}{
		{"server down", "mysql://root:Wr0ngPassw0rd@127.0.0.1:1/test?timeout=2s", sdk.ErrUnavailable, "127.0.0.1:1"},
		{"TLS required", "mysql://root:Wr0ngPassw0rd@127.0.0.1:3306/test?tls=true", sdk.ErrInvalidArgument, "TLS"},
	} {
		_, err := c.Check(ctx, sdk.Connection{DSN: tc.dsn})
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "Wr0ngPassw0rd") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
