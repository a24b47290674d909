package snowflake

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/extensions"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// ParseDSN is parseDSN for the tests.
var ParseDSN = parseDSN

// CreateTableSQL is the DDL for a schema of every mapped type.
func CreateTableSQL() (string, error) {
	js, err := extensions.NewJSONType(arrow.BinaryTypes.String)
	if err != nil {
		return "", err
	}
	fields := []arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "i", Type: arrow.PrimitiveTypes.Int32},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 12, Scale: 3}},
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "bin data", Type: arrow.BinaryTypes.Binary},
		{Name: "dt", Type: arrow.FixedWidthTypes.Date32},
		{Name: "tm", Type: arrow.FixedWidthTypes.Time64us},
		{Name: "ntz", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "ltz", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "tz", Type: extensions.NewTimestampWithOffsetType(arrow.Microsecond)},
		{Name: "j", Type: js},
		{Name: "t0", Type: arrow.FixedWidthTypes.Time32s},
		{Name: "ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}},
		{Name: "ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}
	return createTable(sdk.ObjectRef{Schema: "s", Name: "t"}, arrow.NewSchema(fields, nil), false)
}

// SetMaxCopyFiles lowers COPY's file limit for a test.
func SetMaxCopyFiles(n int) (restore func()) {
	old := maxCopyFiles
	maxCopyFiles = n
	return func() { maxCopyFiles = old }
}
