package oracle

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// clientHelp says what to install when the Oracle client libraries are
// missing (ODPI-C's DPI-1047).
const clientHelp = "the Oracle client libraries are not installed: install Oracle Instant Client " +
	"(the Basic or Basic Light package, https://www.oracle.com/database/technologies/instant-client/downloads.html, with libaio) " +
	"and put its directory on LD_LIBRARY_PATH (or register it with ldconfig); in AWS Lambda add the Instant Client layer, " +
	"whose libraries Lambda finds in /opt/lib"

// oraCode finds the ORA-nnnnn code of an error message.
var oraCode = regexp.MustCompile(`ORA-(\d{5})`)

// kinds maps ORA- codes to the SDK's error kinds.
var kinds = map[int]error{
	1017:  sdk.ErrUnauthenticated, // invalid username/password
	1005:  sdk.ErrUnauthenticated, // null password given
	28000: sdk.ErrUnauthenticated, // the account is locked
	28001: sdk.ErrUnauthenticated, // the password has expired
	1045:  sdk.ErrPermissionDenied,
	1031:  sdk.ErrPermissionDenied, // insufficient privileges
	942:   sdk.ErrNotFound,         // table or view does not exist
	4043:  sdk.ErrNotFound,         // object does not exist
	904:   sdk.ErrNotFound,         // invalid identifier (a column)
	1918:  sdk.ErrNotFound,         // user (schema) does not exist
	12154: sdk.ErrInvalidArgument,  // could not resolve the connect identifier
	12514: sdk.ErrUnavailable,      // listener does not know the service
	12541: sdk.ErrUnavailable,      // no listener
	12543: sdk.ErrUnavailable,      // destination host unreachable
	12545: sdk.ErrUnavailable,      // host or object does not exist
	12170: sdk.ErrUnavailable,      // connect timeout
	12537: sdk.ErrUnavailable,      // connection closed
	3113:  sdk.ErrUnavailable,      // end-of-file on communication channel
	3114:  sdk.ErrUnavailable,      // not connected
	3135:  sdk.ErrUnavailable,      // connection lost contact
}

// code returns the ORA- code of err: from the driver's error (godror's
// *OraErr has Code) or else from its text; 0 when there is none.
func code(err error) int {
	var c interface{ Code() int }
	if errors.As(err, &c) && c.Code() != 0 {
		return c.Code()
	}
	if m := oraCode.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// classify gives a driver error its SDK kind, keeping the driver's text
// (the caller masks it). A missing client library becomes an invalid
// configuration (hp exits 2) that says what to install.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if i := strings.Index(err.Error(), "DPI-1047"); i >= 0 {
		// From ODPI-C's text on: godror prefixes it with ORA-00000.
		return fmt.Errorf("%w: %s (%s)", sdk.ErrInvalidArgument, clientHelp, err.Error()[i:])
	}
	if kind, ok := kinds[code(err)]; ok && !errors.Is(err, kind) {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return err
}

// errorsIsConn reports errors about the connection itself.
func errorsIsConn(err error) bool {
	return errors.Is(err, sdk.ErrUnauthenticated) || errors.Is(err, sdk.ErrUnavailable)
}
