package sdk

// Serve runs the connector as a halfpipe plugin until the host stops it.
// It never returns normally; call it as the whole body of main.
func Serve(c Connector) {
	serve(c)
}
