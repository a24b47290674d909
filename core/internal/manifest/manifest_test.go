package manifest

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestMarshalMasksAndRoundTrips(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "l", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	s, err := SchemaOf(schema)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Version: Version, RunID: "r", Mode: "snap", StartedAt: time.Now(), Schema: s,
		Source: Source{DSN: "postgres://bob:hunter22@db/app"}, Target: Target{URL: "s3://b/p?token=abc123"},
		Files:     []File{{Path: "x/part-1.csv", Rows: 3, Bytes: 10, SHA256: strings.Repeat("a", 64)}},
		TotalRows: 3, TotalBytes: 10}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter22") || strings.Contains(string(data), "abc123") {
		t.Fatalf("secret in manifest:\n%s", data)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Schema.Arrow()
	if err != nil || !got.Equal(schema) {
		t.Fatalf("schema round trip: %v %v", got, err)
	}
	back.TotalRows = 4
	if err := back.Validate(); err == nil {
		t.Fatal("inconsistent totals accepted")
	}
	if _, err := Parse([]byte(`{"manifest_version": 9}`)); err == nil {
		t.Fatal("future version accepted")
	}
}
