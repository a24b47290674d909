package oracle

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// oraErr has the shape of godror's *OraErr: a code and "ORA-nnnnn: text".
type oraErr struct {
	code int
	msg  string
}

func (e *oraErr) Code() int     { return e.code }
func (e *oraErr) Error() string { return fmt.Sprintf("ORA-%05d: %s", e.code, e.msg) }

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		kind error
	}{
		{&oraErr{1017, "invalid username/password; logon denied"}, sdk.ErrUnauthenticated},
		{&oraErr{28000, "The account is locked."}, sdk.ErrUnauthenticated},
		{&oraErr{942, "table or view does not exist"}, sdk.ErrNotFound},
		{&oraErr{12541, "Cannot connect. No listener at host db port 1521."}, sdk.ErrUnavailable},
		{&oraErr{12514, "Cannot connect to database. Service FREEPDB9 is not registered with the listener"}, sdk.ErrUnavailable},
		{&oraErr{1031, "insufficient privileges"}, sdk.ErrPermissionDenied},
		// wrapped, and known only by its text
		{fmt.Errorf("connect: %w", errors.New("ORA-12541: TNS:no listener")), sdk.ErrUnavailable},
	}
	for _, c := range cases {
		got := classify(c.err)
		if !errors.Is(got, c.kind) {
			t.Errorf("classify(%v) = %v, want kind %v", c.err, got, c.kind)
		}
		if !strings.Contains(got.Error(), c.err.Error()) {
			t.Errorf("classify(%v) lost the driver's text: %v", c.err, got)
		}
	}
	other := &oraErr{1, "unique constraint (X.PK) violated"}
	if got := classify(other); got != other {
		t.Errorf("an unclassified error changed: %v", got)
	}
}

// ODPI-C's message when libclntsh cannot be loaded (code 0, as godror
// returns it) becomes an invalid configuration naming what to install.
func TestClassifyClientMissing(t *testing.T) {
	err := classify(&oraErr{0, ""})
	if err == nil || errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("an empty error was classified: %v", err)
	}
	dpi := errors.New(`DPI-1047: Cannot locate a 64-bit Oracle Client library: "libclntsh.so: cannot open shared object file: No such file or directory". See https://oracle.github.io/odpi/doc/installation.html#linux for help`)
	got := classify(fmt.Errorf("connect: %w", dpi))
	if !errors.Is(got, sdk.ErrInvalidArgument) {
		t.Fatalf("DPI-1047 is %v, want invalid argument", got)
	}
	for _, want := range []string{"Instant Client", "Basic Light", "LD_LIBRARY_PATH", "/opt/lib", "DPI-1047", "libclntsh.so"} {
		if !strings.Contains(got.Error(), want) {
			t.Errorf("the message lacks %q: %s", want, got)
		}
	}
}
