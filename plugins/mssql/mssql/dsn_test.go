package mssql

import (
	"errors"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
)

func TestDriverDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sqlserver://u:p@db.example.com/Sales", "sqlserver://u:p@db.example.com?app+name=halfpipe&database=Sales"},
		{"sqlserver://u:p@db.example.com:1433/Sales?encrypt=true", "sqlserver://u:p@db.example.com:1433?app+name=halfpipe&database=Sales&encrypt=true"},
		{"sqlserver://u:p@db.example.com:1433?database=Sales&encrypt=disable", "sqlserver://u:p@db.example.com:1433?app+name=halfpipe&database=Sales&encrypt=disable"},
		{"sqlserver://u:p@db.example.com/SQLEXPRESS?database=Sales", "sqlserver://u:p@db.example.com/SQLEXPRESS?app+name=halfpipe&database=Sales"},
		{"sqlserver://u:p@db.example.com/SQLEXPRESS/Sales", "sqlserver://u:p@db.example.com/SQLEXPRESS?app+name=halfpipe&database=Sales"},
		{"sqlserver://CORP%5Cetl:p@db/Sales?guid+conversion=true&app+name=x", "sqlserver://CORP%5Cetl:p@db?app+name=x&database=Sales"},
	} {
		got, err := driverDSN(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %s, %v\nwant %s", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"postgres://u:s3cretpw@h/db", "sqlserver://u:s3cretpw@/db", "sqlserver://u:s3cretpw@h/a/b/c",
		"sqlserver://u:s3cretpw@h:1433/INST/db", "sqlserver://u:s3cretpw@h/INST/db?database=other",
	} {
		_, err := driverDSN(in)
		if !errors.Is(err, sdk.ErrInvalidArgument) || strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestMapRejectsUnknownTypes(t *testing.T) {
	for _, typ := range []string{"LatLong", "vector(3)"} {
		if _, err := mapType(columnOf("c", typ)); !errors.Is(err, sdk.ErrUnsupportedType) {
			t.Errorf("%s: %v", typ, err)
		}
	}
	// Types read through a server-side expression.
	for typ, want := range map[string]string{"geography": "binary [g].AsBinaryZM()", "geometry": "binary [g].AsBinaryZM()", "hierarchyid": "utf8 [g].ToString()"} {
		mp, err := mapType(columnOf("g", typ))
		if err != nil || mp.Select == nil || mp.Type.String()+" "+mp.Select("[g]") != want {
			t.Errorf("%s: %v, %v; want %s", typ, mp.Type, err, want)
		}
	}
	// Query columns carry go-mssqldb's names.
	for typ, want := range map[string]string{"DECIMAL": "decimal(18, 0)", "NVARCHAR": "utf8", "DATETIME2": "timestamp[ns]", "UNIQUEIDENTIFIER": "utf8", "MONEY": "decimal(19, 4)", "float(24)": "float32"} {
		mp, err := mapType(columnOf("c", typ))
		if err != nil || mp.Type.String() != want {
			t.Errorf("%s = %v, %v; want %s", typ, mp.Type, err, want)
		}
	}
}
