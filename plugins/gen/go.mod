module github.com/halfpipe-io/halfpipe/plugins/gen

go 1.25.0

require (
	github.com/apache/arrow-go/v18 v18.8.0 // indirect
	github.com/halfpipe-io/halfpipe/sdk v0.0.0
)

replace github.com/halfpipe-io/halfpipe/sdk => ../../sdk
