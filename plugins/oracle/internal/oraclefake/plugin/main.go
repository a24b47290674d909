// Command plugin serves the Oracle connector on oraclefake, as
// hp-plugin-oracle, for hp's end-to-end tests (testkit/e2e/oracle_test.go):
// HP.T_ALL holds a row of edge values of every mapped type and a row of
// NULLs; HP.EVENTS and HP.EVENTS_TZ hold rows 1..n of delta drivers, n
// given by the DSN's service name (oracle://u/p@//h/EVENTS5), so that runs
// can see them grow. The current SCN is 4242. HP.NOKEY holds the same n
// rows without a primary key as of that SCN, and n/10 more committed
// after it (a read AS OF SCN 4242 sees n rows, a read now n+n/10), in
// extents of relative files 4 and 7 (oraclefake.NoKeyHeap); it is the
// only table whose extents the user may read (DBA_EXTENTS), so that it
// alone is split by ROWID ranges. A service name STORE<n> is instead oraclefake's SQLite-backed Store in
// /tmp/hp-oraclefake-STORE<n>.db (created), where hp can create tables,
// write, read and sync.
// It is never installed.
package main

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/halfpipe-io/halfpipe/plugins/oracle/internal/oraclefake"
	"github.com/halfpipe-io/halfpipe/plugins/oracle/oracle"
	"github.com/halfpipe-io/halfpipe/sdk"
)

func main() {
	queries := oraclefake.Queries{
		CurrentSchema: oracle.CurrentSchemaQuery, Resolve: oracle.ResolveQuery, Synonym: oracle.SynonymQuery,
		ObjectType: oracle.ObjectTypeQuery, Columns: oracle.ColumnsQuery, PrimaryKey: oracle.PrimaryKeyQuery,
		Version: oracle.VersionQuery, Objects: oracle.ObjectsQuery,
	}
	var (
		mu     sync.Mutex
		stores = map[string]*oraclefake.Store{}
	)
	all := oraclefake.AllTypes()
	heapQueries := oraclefake.HeapQueries{SCN: oracle.SCNQuery, Extents: oracle.ExtentsQuery, TableKind: oracle.TableKindQuery}
	sdk.Serve(oracle.NewWithDB(func(conn sdk.Connection) (*sql.DB, error) {
		_, service, _ := strings.Cut(strings.TrimPrefix(conn.DSN, "oracle://"), "@//")
		_, service, _ = strings.Cut(service, "/")
		if strings.HasPrefix(service, "STORE") {
			mu.Lock()
			defer mu.Unlock()
			st, ok := stores[service]
			if !ok {
				var err error
				if st, err = oraclefake.NewStore(filepath.Join("/tmp", "hp-oraclefake-"+service+".db"), queries); err != nil {
					return nil, err
				}
				stores[service] = st
			}
			return st.DB().Open(), nil
		}
		events, _ := strconv.Atoi(strings.TrimPrefix(service, "EVENTS"))
		nokey := oraclefake.NoKeyHeap(events, events/10, 7, "4242")
		db := &oraclefake.DB{}
		db.Handle = oraclefake.Catalog(queries, []*oraclefake.Table{all, oraclefake.Events(), oraclefake.EventsTZ(), nokey.Table}, nil, func(q string, args []any) (*oraclefake.Result, error) {
			// A read of every column of T_ALL, as the connector writes it.
			if strings.HasPrefix(q, `SELECT "ID", "AMOUNT", `) && strings.HasSuffix(q, ` FROM "HP"."T_ALL"`) {
				return &oraclefake.Result{Cols: all.Names(), Rows: oraclefake.AllRows()}, nil
			}
			if r, ok, err := nokey.Answer(heapQueries, q, args); ok {
				return r, err
			}
			if q == oracle.ExtentsQuery {
				// The other tables' extents: as to a user without
				// SELECT_CATALOG_ROLE.
				return nil, errors.New("ORA-00942: table or view does not exist")
			}
			if r, ok, err := oraclefake.AnswerEvents(events, q, args); ok {
				return r, err
			}
			return nil, fmt.Errorf("oraclefake: no answer to %s", q)
		})
		return db.Open(), nil
	}))
}
