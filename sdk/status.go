package sdk

import (
	"context"
	"errors"

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

// statusWithReason marks a status with a reason prefix that the host
// recognises (sdk/host's fromStatus); it avoids depending on the error-details protos.
func statusWithReason(c codes.Code, msg, reason string) error {
	return status.Error(c, "["+reason+"] "+msg)
}
