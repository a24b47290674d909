package sdk

import (
	"errors"
	"fmt"
)

// Error kinds. Connectors wrap them (fmt.Errorf("table %s: %w", t,
// sdk.ErrNotFound)) or use the helpers below; the SDK turns them into gRPC
// status codes at the plugin edge and back into these errors on the host
// side, so errors.Is works across the process boundary.
var (
	// ErrInvalidArgument: a malformed DSN, option or request.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: an unknown table, schema or column.
	ErrNotFound = errors.New("not found")
	// ErrUnauthenticated: the credentials were refused.
	ErrUnauthenticated = errors.New("authentication failed")
	// ErrPermissionDenied: the credentials lack a privilege.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable: the database could not be reached.
	ErrUnavailable = errors.New("unavailable")
	// ErrUnimplemented: the connector lacks the capability.
	ErrUnimplemented = errors.New("not supported by this connector")
	// ErrUnsupportedType: a column type the connector cannot map.
	ErrUnsupportedType = errors.New("unsupported type")
	// ErrAlreadyExists: the object exists and may not be overwritten.
	ErrAlreadyExists = errors.New("already exists")
	// ErrFailedPrecondition: the target is not in the state required.
	ErrFailedPrecondition = errors.New("failed precondition")
)

// Errorf returns an error of the given kind with a formatted message. The
// message is shown to users as is: never include a password.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// NotFoundf is Errorf(ErrNotFound, ...).
func NotFoundf(format string, args ...any) error { return Errorf(ErrNotFound, format, args...) }

// InvalidArgumentf is Errorf(ErrInvalidArgument, ...).
func InvalidArgumentf(format string, args ...any) error {
	return Errorf(ErrInvalidArgument, format, args...)
}

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
