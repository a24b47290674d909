package oracle

import (
	"database/sql"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// The tests run the connector on oraclefake, a driver that answers with
// the Go values godror returns.

var queries = oraclefake.Queries{
	CurrentSchema: CurrentSchemaQuery, Resolve: ResolveQuery, Synonym: SynonymQuery,
	ObjectType: ObjectTypeQuery, Columns: ColumnsQuery, PrimaryKey: PrimaryKeyQuery,
	Version: VersionQuery, Objects: ObjectsQuery,
}

// catalog answers the dialect's catalog queries for the tables and passes
// anything else to next.
func catalog(tables []*oraclefake.Table, synonyms map[[2]string][2]string, next func(q string, args []any) (*oraclefake.Result, error)) func(q string, args []any) (*oraclefake.Result, error) {
	return oraclefake.Catalog(queries, tables, synonyms, next)
}

// open is a Connector.open on the fake.
func open(f *oraclefake.DB) func(sdk.Connection) (*sql.DB, error) {
	return func(sdk.Connection) (*sql.DB, error) { return f.Open(), nil }
}

var memPool = memory.DefaultAllocator

var session = oraclefake.Session

func colMeta(typ string, p, s int64, known bool) sqlsource.ColumnMeta {
	return sqlsource.ColumnMeta{Name: "C", NativeType: typ, Nullable: true, Precision: p, Scale: s, HasPrecision: known}
}
