package mysql_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/plugins/mysql/mysql"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/conformance"
)

// TestChecksumRanges: MariaDB's checksums pass the SDK's checksum suite
// (the Go reference of the canonical row text), with a latin1 text column
// and for TIMESTAMP and DATETIME alike, maintained checksums too; a float
// column is refused by name.
func TestChecksumRanges(t *testing.T) {
	db, name := database(t)
	execAll(t, db, `CREATE TABLE `+name+`.h (id bigint PRIMARY KEY, amount decimal(12,3), name varchar(20) CHARACTER SET latin1,
		at datetime(6), ts timestamp(6) NULL, day date, n bigint, bin varbinary(10), ratio double)`,
		`INSERT INTO `+name+`.h VALUES
		(1, 1.500, 'héllo', '2024-01-02 03:04:05.123456', NULL, '2024-02-29', 7, X'00ff', 0.1),
		(2, -0.250, 'a,b:c', '1999-12-31 23:59:59', NULL, NULL, -3, NULL, NULL),
		(3, 100.000, NULL, NULL, NULL, '2000-01-01', NULL, '', NULL),
		(4, 0.000, '', '2024-06-01 00:00:00.000001', NULL, '2024-06-01', 0, 'abc', NULL),
		(5, NULL, 'N', '2024-06-01 00:00:00', NULL, NULL, -9223372036854775808, NULL, NULL)`,
		`UPDATE `+name+`.h SET ts = at`)
	c := mysql.New()
	req := sdk.ChecksumRangesRequest{Conn: sdk.Connection{DSN: testDSN()}, Table: sdk.ObjectRef{Schema: name, Name: "h"},
		Columns: []string{"id", "amount", "name", "at", "day", "n", "bin"}, Key: "id"}
	for _, at := range []string{"at", "ts"} {
		req.Columns = slices.Clone(req.Columns)
		req.Columns[3] = at
		t.Run(at, func(t *testing.T) { conformance.RunChecksumSuite(t, c, req, "n <> 0") })
		// The maintained hashes are the same canonical text's.
		t.Run(at+"_maintained", func(t *testing.T) {
			maintain(t, c, req.Table, sdk.ChecksumsInstall, req.Columns[1:]...)
			conformance.RunChecksumSuite(t, c, req, "n <> 0")
			r := req
			r.Lower, r.Upper, r.Width = 1, 5, 2
			conformance.CheckMaintained(t, c, r)
		})
	}
	req.Columns, req.Lower, req.Upper, req.Width = []string{"id", "ratio"}, 1, 5, 2
	if _, err := c.ChecksumRanges(context.Background(), req); !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `column "ratio"`) {
		t.Fatalf("checksum of a double: %v, want an unsupported type naming it", err)
	}
}
