package mysql

// TextOnSocket makes table reads of exact columns use the text protocol
// on the socket until the returned function restores the default.
func TextOnSocket() (restore func()) {
	textOnSocket = true
	return func() { textOnSocket = false }
}
