package snowflake

// ParseDSN is parseDSN for the tests.
var ParseDSN = parseDSN
