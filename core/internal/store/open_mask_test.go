package store

import (
	"context"
	"io"
	"strings"
	"testing"
)

// Open's errors about a bad target DSN never repeat its secrets.
func TestOpenErrorsMaskSecrets(t *testing.T) {
	for _, dsn := range []string{"file://%zz?password=Zq7canary", "file://?token=Zq7canary", "ftp://u:Zq7canary@h/x"} {
		_, err := Open(context.Background(), dsn, io.Discard, S3Options{})
		if err == nil || strings.Contains(err.Error(), "Zq7canary") {
			t.Errorf("Open: %v", err)
		}
	}
}
