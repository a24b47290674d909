// Package testkit is halfpipe's test-only toolbox: it builds hp and its
// plugins for end-to-end tests, starts real services (S3 server, Lambda
// emulator) on 127.0.0.1, and checks output files with independent readers.
//
// In CI (CI=true) a service that cannot be started is a test failure, never
// a skip.
package testkit
