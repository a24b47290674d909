// Command plugin serves the Oracle connector on oraclefake, as
// hp-plugin-oracle, for hp's end-to-end tests (testkit/e2e/oracle_test.go):
// HP.T_ALL holds a row of edge values of every mapped type and a row of
// NULLs. It is never installed.
package main

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/plugins/oracle/oracle"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() {
	queries := oraclefake.Queries{
		CurrentSchema: oracle.CurrentSchemaQuery, Resolve: oracle.ResolveQuery, Synonym: oracle.SynonymQuery,
		ObjectType: oracle.ObjectTypeQuery, Columns: oracle.ColumnsQuery, PrimaryKey: oracle.PrimaryKeyQuery,
	}
	all := oraclefake.AllTypes()
	db := &oraclefake.DB{}
	db.Handle = oraclefake.Catalog(queries, []*oraclefake.Table{all}, nil, func(q string, _ []any) (*oraclefake.Result, error) {
		// A read of every column of T_ALL, as the connector writes it.
		if strings.HasPrefix(q, `SELECT "ID", "AMOUNT", `) && strings.HasSuffix(q, ` FROM "HP"."T_ALL"`) {
			return &oraclefake.Result{Cols: all.Names(), Rows: oraclefake.AllRows()}, nil
		}
		return nil, fmt.Errorf("oraclefake: no answer to %s", q)
	})
	sdk.Serve(oracle.NewWithDB(func(sdk.Connection) (*sql.DB, error) { return db.Open(), nil }))
}
