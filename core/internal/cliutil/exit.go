package cliutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/host"
)

// Exit codes, as in the original Halfpipe.
const (
	ExitOK     = 0
	ExitFailed = 1 // the job failed
	ExitUsage  = 2 // bad usage or configuration
)

// ErrUsage marks errors in how hp was called or configured.
var ErrUsage = errors.New("usage")

// UsageErrorf returns an error that exits with ExitUsage.
func UsageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return ErrUsage }

// configKinds are error kinds that mean the configuration is wrong rather
// than that the job failed: rerunning will not help.
var configKinds = []error{
	ErrUsage, sdk.ErrInvalidArgument, sdk.ErrNotFound, sdk.ErrUnsupportedType,
	sdk.ErrUnauthenticated, sdk.ErrPermissionDenied, sdk.ErrUnimplemented,
	host.ErrNoPlugin, host.ErrRefused,
}

// ExitCoder is an error that says which exit code it ends hp with, for
// commands whose codes mean more than failed and misused (hp diff exits
// 1 when tables differ and 2 on any error).
type ExitCoder interface {
	error
	ExitCode() int
}

// ExitWith returns err as an ExitCoder that ends hp with code.
func ExitWith(code int, err error) error { return &exitError{code: code, err: err} }

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// ExitCode maps an error to hp's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ec ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	if errors.Is(err, host.ErrPluginExited) || errors.Is(err, context.Canceled) {
		return ExitFailed
	}
	for _, k := range configKinds {
		if errors.Is(err, k) {
			return ExitUsage
		}
	}
	return ExitFailed
}

// ExactArgs requires n positional arguments, described by what (e.g. "one
// <conn>.<prefix>"), failing with a usage error that says what was given.
func ExactArgs(n int, what string) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return UsageErrorf("%s takes %s, got %d argument(s)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
