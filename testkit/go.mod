module github.com/halfpipe-io/halfpipe/testkit

go 1.25.0
