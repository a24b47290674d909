module github.com/halfpipe-io/halfpipe/testkit

go 1.25.0

require github.com/halfpipe-io/halfpipe/sdk v0.0.0

replace github.com/halfpipe-io/halfpipe/sdk => ../sdk
