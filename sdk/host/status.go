package host

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// codeKinds maps a plugin's status codes back to the sdk error kinds; it
// is the inverse of package sdk's toStatus (docs/protocol.md, "Errors").
var codeKinds = map[codes.Code]error{
	codes.InvalidArgument:    sdk.ErrInvalidArgument,
	codes.NotFound:           sdk.ErrNotFound,
	codes.Unauthenticated:    sdk.ErrUnauthenticated,
	codes.PermissionDenied:   sdk.ErrPermissionDenied,
	codes.Unavailable:        sdk.ErrUnavailable,
	codes.Unimplemented:      sdk.ErrUnimplemented,
	codes.AlreadyExists:      sdk.ErrAlreadyExists,
	codes.FailedPrecondition: sdk.ErrFailedPrecondition,
	codes.Canceled:           context.Canceled,
	codes.DeadlineExceeded:   context.DeadlineExceeded,
}

// unsupportedTypePrefix marks an INVALID_ARGUMENT that is an
// sdk.ErrUnsupportedType.
const unsupportedTypePrefix = "[unsupported_type] "

// fromStatus turns a gRPC status error from a plugin back into an error
// that errors.Is matches against the sdk kinds.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	if rest, found := strings.CutPrefix(msg, unsupportedTypePrefix); found {
		return sdk.Errorf(sdk.ErrUnsupportedType, "%s", rest)
	}
	if kind, ok := codeKinds[st.Code()]; ok {
		return sdk.Errorf(kind, "%s", msg)
	}
	return &remoteError{code: st.Code(), msg: msg}
}

// remoteError is an error without a more precise kind.
type remoteError struct {
	code codes.Code
	msg  string
}

func (e *remoteError) Error() string { return e.msg }
