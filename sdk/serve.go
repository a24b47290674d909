package sdk

// Serve runs the connector as a halfpipe plugin until the host stops it.
// It never returns normally; call it as the whole body of main.
//
// Unless GOGC is set, Serve sets the collector's target to 50%: a
// streaming connector's live heap is a few batches, and the default (the
// heap may grow to twice that between collections) made up a fifth of a
// plugin's peak memory for no measurable speed.
func Serve(c Connector) {
	serve(c)
}
