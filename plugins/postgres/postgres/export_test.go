package postgres

// The external test package shares the internal tests' server helpers.
var (
	TestDSN    = dsn
	OpenTestDB = openDB
)
