package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/postgres/postgres"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
)

// TestChecksumRanges: PostgreSQL's checksums pass the SDK's checksum
// suite (the Go reference of the canonical row text), a timestamptz
// entered at +05:30 taken in UTC; float and char(n) columns are refused by
// name. Maintained checksums of the same table pass the suite too.
func TestChecksumRanges(t *testing.T) {
	db, sc := schemaFor(t)
	if _, err := db.Exec(`CREATE TABLE ` + sc + `.h (id bigint PRIMARY KEY, amount numeric(12,3), name varchar(20),
		at timestamptz, day date, n bigint, bin bytea, ratio float8, pad char(3));
		INSERT INTO ` + sc + `.h VALUES
		(1, 1.500, 'héllo', '2024-01-02 08:34:05.123456+05:30', '2024-02-29', 7, '\x00ff', 0.1, 'a'),
		(2, -0.250, 'a,b:c', '1999-12-31 23:59:59+00', NULL, -3, NULL, NULL, NULL),
		(3, 100.000, NULL, NULL, '2000-01-01', NULL, '', NULL, NULL),
		(4, 0.000, '', '2024-06-01 00:00:00.000001+00', '2024-06-01', 0, 'abc', NULL, NULL),
		(5, NULL, 'N', '2024-06-01 00:00:00+00', NULL, -9223372036854775808, NULL, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	c := postgres.New()
	req := sdk.ChecksumRangesRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: sdk.ObjectRef{Schema: sc, Name: "h"},
		Columns: []string{"id", "amount", "name", "at", "day", "n", "bin"}, Key: "id"}
	conformance.RunChecksumSuite(t, c, req, "n <> 0")
	// The maintained hashes are the same canonical text's.
	maintain(t, c, req.Table, sdk.ChecksumsInstall, req.Columns[1:]...)
	conformance.RunChecksumSuite(t, c, req, "n <> 0")
	req.Lower, req.Upper, req.Width = 1, 5, 2
	conformance.CheckMaintained(t, c, req)
	for _, col := range []string{"ratio", "pad"} {
		req.Columns = []string{"id", col}
		_, err := c.ChecksumRanges(context.Background(), req)
		if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `column "`+col+`"`) {
			t.Fatalf("checksum of column %s: %v, want an unsupported type naming it", col, err)
		}
	}
}
