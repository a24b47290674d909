package postgres_test

import (
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
)

// TestWriteSessionChecksForADeadClient: the write's session has
// client_connection_check_interval set, so that the server notices a
// killed hp or plugin during a long statement and rolls back at once
// instead of when it next writes to the socket. A column default records
// the setting of the session that inserted the row.
func TestWriteSessionChecksForADeadClient(t *testing.T) {
	db, s := schemaFor(t)
	mustExec(t, db, `create table "`+s+`".chk (id bigint, k2 text, v text, seen text default current_setting('client_connection_check_interval', true))`)
	c := postgres.New()
	rec := fromJSON(t, kv, `[{"id": 1, "k2": "a", "v": "one"}]`)
	defer rec.Release()
	if _, err := write(t, c, sdk.WriteRequest{Table: sdk.ObjectRef{Schema: s, Name: "chk"}, Mode: sdk.Append}, rec); err != nil {
		t.Fatal(err)
	}
	got := query(t, db, `select seen from "`+s+`".chk`)
	if len(got) != 1 || got[0] == "0" || got[0] == "" {
		t.Fatalf("client_connection_check_interval of the write's session: %q", got)
	}
}
