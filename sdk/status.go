package sdk

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var kindCodes = []struct {
	kind error
	code codes.Code
}{
	{ErrInvalidArgument, codes.InvalidArgument},
	{ErrNotFound, codes.NotFound},
	{ErrUnauthenticated, codes.Unauthenticated},
	{ErrPermissionDenied, codes.PermissionDenied},
	{ErrUnavailable, codes.Unavailable},
	{ErrUnimplemented, codes.Unimplemented},
	{ErrAlreadyExists, codes.AlreadyExists},
	{ErrFailedPrecondition, codes.FailedPrecondition},
	// Unsupported types are a kind of bad request; the detail string keeps
	// them apart on the way back.
	{ErrUnsupportedType, codes.InvalidArgument},
}

const unsupportedTypeDetail = "unsupported_type"

// toStatus turns a connector error into a gRPC status error at the plugin
// edge.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, ErrUnsupportedType):
		return statusWithReason(codes.InvalidArgument, err.Error(), unsupportedTypeDetail)
	}
	for _, kc := range kindCodes {
		if errors.Is(err, kc.kind) {
			return status.Error(kc.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}

// statusWithReason marks a status with a reason prefix that fromStatus
// recognises; it avoids depending on the error-details protos.
func statusWithReason(c codes.Code, msg, reason string) error {
	return status.Error(c, "["+reason+"] "+msg)
}

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
	if rest, found := strings.CutPrefix(msg, "["+unsupportedTypeDetail+"] "); found {
		return &kindError{kind: ErrUnsupportedType, msg: rest}
	}
	switch st.Code() {
	case codes.Canceled:
		return &kindError{kind: context.Canceled, msg: msg}
	case codes.DeadlineExceeded:
		return &kindError{kind: context.DeadlineExceeded, msg: msg}
	}
	for _, kc := range kindCodes {
		if kc.code == st.Code() {
			return &kindError{kind: kc.kind, msg: msg}
		}
	}
	return &remoteError{code: st.Code(), msg: msg}
}

// remoteError is an error without a more precise kind.
type remoteError struct {
	code codes.Code
	msg  string
}

func (e *remoteError) Error() string { return e.msg }
