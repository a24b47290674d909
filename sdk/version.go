package sdk

// Version is the version of this SDK module, github.com/halfpipe-io/halfpipe/sdk.
// A release of the SDK is the repository tag "sdk/v" + Version; Go
// resolves "require github.com/halfpipe-io/halfpipe/sdk v0.1.0" to that tag.
//
// While the major version is 0, a minor release (v0.N → v0.N+1) may change
// the Go API of the SDK's packages; a patch release (v0.N.M → v0.N.M+1)
// does not. The wire protocol is versioned apart, by [ProtocolVersion],
// and only ever grows: a connector built with any v0 release of the SDK
// works with every hp that speaks its protocol version. See
// docs/writing-a-connector.md, "Versions and compatibility".
const Version = "0.1.0"
