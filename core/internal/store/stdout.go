package store

import (
	"context"
	"fmt"
	"io"
)

// Stdout streams the one data object of a run to a writer. It keeps no
// manifest: small objects are refused, and the caller prints its summary
// instead.
type Stdout struct {
	w    io.Writer
	used bool
}

// NewStdout returns a store writing to w.
func NewStdout(w io.Writer) *Stdout { return &Stdout{w: w} }

// Create implements Store. Only one object may be written.
func (s *Stdout) Create(_ context.Context, key string) (Object, error) {
	if s.used {
		return nil, fmt.Errorf("stdout takes a single file: do not limit file rows or bytes")
	}
	s.used = true
	return &stdoutObject{key: key, w: s.w}, nil
}

type stdoutObject struct {
	key string
	w   io.Writer
}

func (o *stdoutObject) Key() string                    { return o.key }
func (o *stdoutObject) Write(p []byte) (int, error)    { return o.w.Write(p) }
func (o *stdoutObject) Commit(context.Context) error   { return nil }
func (o *stdoutObject) Abort(context.Context) error    { return nil }
func (s *Stdout) URL(key string) string                { return "stdout" }
func (s *Stdout) Delete(context.Context, string) error { return nil }
func (s *Stdout) Get(context.Context, string) ([]byte, error) {
	return nil, fmt.Errorf("stdout cannot be read: %w", ErrNotExist)
}
func (s *Stdout) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, fmt.Errorf("stdout cannot be read: %w", ErrNotExist)
}
func (s *Stdout) List(context.Context, string) ([]ObjectInfo, error) { return nil, nil }
func (s *Stdout) PutIfAbsent(context.Context, string, []byte) error {
	return fmt.Errorf("stdout keeps no manifests")
}
func (s *Stdout) Put(context.Context, string, []byte) error {
	return fmt.Errorf("stdout keeps no state")
}
