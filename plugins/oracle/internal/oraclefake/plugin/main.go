// Command plugin serves the Oracle connector on oraclefake, as
// hp-plugin-oracle, for hp's end-to-end tests (testkit/e2e/oracle_test.go):
// HP.T_ALL holds a row of edge values of every mapped type and a row of
// NULLs; HP.EVENTS and HP.EVENTS_TZ hold rows 1..n of delta drivers, n
// given by the DSN's service name (oracle://u/p@//h/EVENTS5), so that runs
// can see them grow. The current SCN is 4242.
// It is never installed.
package main

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/godror/godror"

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
	sdk.Serve(oracle.NewWithDB(func(conn sdk.Connection) (*sql.DB, error) {
		_, service, _ := strings.Cut(strings.TrimPrefix(conn.DSN, "oracle://"), "@//")
		_, service, _ = strings.Cut(service, "/")
		events, _ := strconv.Atoi(strings.TrimPrefix(service, "EVENTS"))
		db := &oraclefake.DB{}
		db.Handle = oraclefake.Catalog(queries, []*oraclefake.Table{all, oraclefake.Events(), oraclefake.EventsTZ()}, nil, func(q string, args []any) (*oraclefake.Result, error) {
			// A read of every column of T_ALL, as the connector writes it.
			if strings.HasPrefix(q, `SELECT "ID", "AMOUNT", `) && strings.HasSuffix(q, ` FROM "HP"."T_ALL"`) {
				return &oraclefake.Result{Cols: all.Names(), Rows: oraclefake.AllRows()}, nil
			}
			if q == oracle.SCNQuery {
				return &oraclefake.Result{Cols: []string{"CURRENT_SCN"}, Rows: [][]driver.Value{{godror.Number("4242")}}}, nil
			}
			if r, ok, err := oraclefake.AnswerEvents(events, q, args); ok {
				return r, err
			}
			return nil, fmt.Errorf("oraclefake: no answer to %s", q)
		})
		return db.Open(), nil
	}))
}
