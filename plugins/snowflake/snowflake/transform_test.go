package snowflake_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/halfpipe-io/halfpipe/plugins/snowflake/snowflake"
	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

func jsonType(t *testing.T) arrow.DataType {
	t.Helper()
	js, err := extensions.NewJSONType(arrow.BinaryTypes.String)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// docs is a batch of (id, doc JSON, tz timestamp with offset) rows.
func docs(t *testing.T, schema *arrow.Schema) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	js := b.Field(1).(*array.ExtensionBuilder).StorageBuilder().(*array.StringBuilder)
	js.Append(`{"a": [1, 2], "b": {"c": "x"}}`)
	js.Append(`"just a string"`)
	b.Field(1).AppendNull()
	if schema.NumFields() > 2 {
		tz := b.Field(2).(*extensions.TimestampWithOffsetBuilder)
		tz.Append(time.Date(2024, 5, 1, 12, 34, 56, 123456000, time.FixedZone("", 5*3600+30*60)))
		tz.Append(time.Date(2024, 12, 31, 23, 59, 59, 500000000, time.FixedZone("", -8*3600)))
		tz.AppendNull()
	}
	return b.NewRecordBatch()
}

// TestLoadTransformsJSON: a Parquet run with a JSON column loads through
// a COPY transformation that parses it into VARIANT (by column name it
// would load as a JSON string), in each write mode.
func TestLoadTransformsJSON(t *testing.T) {
	e := newEnv(t, true)
	c := snowflake.New()
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "doc", Type: jsonType(t), Nullable: true},
	}, nil)
	rec := docs(t, schema)
	defer rec.Release()
	var buf bytes.Buffer
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	if err := pqarrow.WriteTable(tbl, &buf, 1024, nil, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	uri := put(t, e, "runs/docs/r1/part-00001.parquet", buf.Bytes())
	req := sdk.LoadRequest{
		Conn: sdk.Connection{DSN: e.dsn("etl", password, "")}, Table: sdk.ObjectRef{Schema: "PUBLIC", Name: "DOCS"},
		Mode: sdk.Replace, URIs: []string{uri}, Format: "parquet", Schema: schema, CreateTable: true,
		FormatOptions: map[string]string{snowflake.OptStage: "LAKE", snowflake.OptRows: "3"},
	}
	res, err := c.Load(ctx, req)
	if err != nil || res.RowsLoaded != 3 {
		t.Fatalf("Load: %+v, %v", res, err)
	}
	const wantRows = `1|{"a":[1,2],"b":{"c":"x"}} 2|"just a string" 3|NULL`
	if got := contents(t, e, "PUBLIC.DOCS"); got != wantRows {
		t.Errorf("rows: %s\nwant %s", got, wantRows)
	}
	var copies []string
	for _, st := range e.srv.Statements() {
		if strings.HasPrefix(st.SQL, "COPY") {
			copies = append(copies, st.SQL)
		}
	}
	want := `COPY INTO "PUBLIC"."DOCS" ("ID", "DOC") FROM (SELECT $1:"id"::NUMBER(19,0), PARSE_JSON($1:"doc") FROM @LAKE/docs/r1/) ` +
		`FILES=('part-00001.parquet') FILE_FORMAT=(TYPE=PARQUET) ON_ERROR=ABORT_STATEMENT FORCE=TRUE`
	if len(copies) != 1 || copies[0] != want {
		t.Errorf("COPY:\n%s\nwant\n%s", strings.Join(copies, "\n"), want)
	}
	// A merge selects the file and row each row came from as well.
	e.srv.ResetStatements()
	req.Mode, req.Keys = sdk.Merge, []string{"id"}
	if res, err := c.Load(ctx, req); err != nil || res.RowsLoaded != 3 {
		t.Fatalf("merge: %+v, %v", res, err)
	}
	if got := contents(t, e, "PUBLIC.DOCS"); got != wantRows {
		t.Errorf("rows after the merge: %s", got)
	}
	for _, st := range e.srv.Statements() {
		if strings.HasPrefix(st.SQL, "COPY") && !strings.Contains(st.SQL, `("ID", "DOC", "HP_FILE", "HP_ROW") FROM (SELECT $1:"id"::NUMBER(19,0), PARSE_JSON($1:"doc"), METADATA$FILENAME, METADATA$FILE_ROW_NUMBER FROM @LAKE/docs/r1/)`) {
			t.Errorf("merge COPY: %s", st.SQL)
		}
	}
	// Text that is not JSON fails the load naming the file; nothing changes.
	bad := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "doc", Type: arrow.BinaryTypes.String}}, nil)
	bb := array.NewRecordBuilder(memory.DefaultAllocator, bad)
	bb.Field(0).(*array.Int64Builder).Append(9)
	bb.Field(1).(*array.StringBuilder).Append("{not json")
	brec := bb.NewRecordBatch()
	bb.Release()
	buf.Reset()
	btbl := array.NewTableFromRecords(bad, []arrow.RecordBatch{brec})
	if err := pqarrow.WriteTable(btbl, &buf, 1024, nil, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	btbl.Release()
	brec.Release()
	req.URIs = []string{put(t, e, "runs/docs/r2/part-00001.parquet", buf.Bytes())}
	req.Mode, req.FormatOptions[snowflake.OptRows] = sdk.Append, "1"
	if _, err := c.Load(ctx, req); err == nil || !strings.Contains(err.Error(), "part-00001.parquet") || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("bad JSON: %v", err)
	}
	if got := contents(t, e, "PUBLIC.DOCS"); got != wantRows {
		t.Errorf("rows after a failed load: %s", got)
	}
}

// TestLoadRefusesParquetOffsetStruct: a published Parquet run holds a
// timestamp with its offset as a struct COPY cannot load into
// TIMESTAMP_TZ: refused before Snowflake is touched, naming the way out.
func TestLoadRefusesParquetOffsetStruct(t *testing.T) {
	e := newEnv(t, true)
	schema := arrow.NewSchema([]arrow.Field{{Name: "tz", Type: extensions.NewTimestampWithOffsetType(arrow.Microsecond)}}, nil)
	_, err := snowflake.New().Load(context.Background(), sdk.LoadRequest{
		Conn: sdk.Connection{DSN: e.dsn("etl", password, "")}, Table: sdk.ObjectRef{Schema: "PUBLIC", Name: "TZ"},
		Mode: sdk.Append, URIs: []string{"s3://sf-lake/runs/tz/r/part-00001.parquet"}, Format: "parquet", Schema: schema, CreateTable: true,
		FormatOptions: map[string]string{snowflake.OptStage: "LAKE", snowflake.OptRows: "1"},
	})
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `"tz"`) || !strings.Contains(err.Error(), "--format csv") {
		t.Errorf("Load: %v", err)
	}
	if n := len(e.srv.Statements()); n != 0 {
		t.Errorf("%d statements sent", n)
	}
}

// TestCheckLoadRefusesParquetOffsetStruct: asked before hp publishes a
// run (CheckLoad, over the plugin's gRPC), the connector refuses a
// Parquet run with a timestamp and its offset as Load would, without a
// statement to Snowflake; the same run in CSV, and a Parquet run of
// plain columns, pass. It is declared as a capability.
func TestCheckLoadRefusesParquetOffsetStruct(t *testing.T) {
	e := newEnv(t, false) // nothing is loaded: no S3
	r := plugintest.Serve(t, snowflake.New())
	if !r.Info().Has(sdk.CapCheckLoad) {
		t.Fatalf("capabilities %v lack %s", r.Info().Capabilities, sdk.CapCheckLoad)
	}
	tz := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "tz", Type: extensions.NewTimestampWithOffsetType(arrow.Microsecond)}}, nil)
	req := sdk.LoadRequest{
		Conn: sdk.Connection{DSN: e.dsn("etl", password, "")}, Table: sdk.ObjectRef{Schema: "PUBLIC", Name: "TZ"},
		Mode: sdk.Append, Format: "parquet", Schema: tz, CreateTable: true, FormatOptions: map[string]string{snowflake.OptStage: "LAKE"},
	}
	err := r.CheckLoad(context.Background(), req)
	if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), `"tz"`) || !strings.Contains(err.Error(), "--format csv") {
		t.Errorf("CheckLoad of Parquet with an offset: %v", err)
	}
	req.Format = "csv"
	if err := r.CheckLoad(context.Background(), req); err != nil {
		t.Errorf("CheckLoad of CSV: %v", err)
	}
	req.Format, req.Schema = "parquet", arrow.NewSchema(tz.Fields()[:1], nil)
	if err := r.CheckLoad(context.Background(), req); err != nil {
		t.Errorf("CheckLoad of plain Parquet: %v", err)
	}
	req.Mode = sdk.Merge
	if err := r.CheckLoad(context.Background(), req); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Errorf("CheckLoad of a merge without keys: %v", err)
	}
	if n := len(e.srv.Statements()); n != 0 {
		t.Errorf("%d statements sent", n)
	}
}

// TestWriteKeepsOffsetsAndJSON: Write renders a timestamp with its offset
// as text in its Parquet files and copies it with a cast to TIMESTAMP_TZ,
// JSON through PARSE_JSON; reading the table back gives the same instants
// with their own offsets and the JSON values.
func TestWriteKeepsOffsetsAndJSON(t *testing.T) {
	e := newEnv(t, false)
	c := snowflake.New()
	ctx := context.Background()
	conn := sdk.Connection{DSN: e.dsn("etl", password, "")}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "doc", Type: jsonType(t), Nullable: true},
		{Name: "tz", Type: extensions.NewTimestampWithOffsetType(arrow.Microsecond), Nullable: true},
	}, nil)
	rec := docs(t, schema)
	rr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	ref := sdk.ObjectRef{Schema: "PUBLIC", Name: "WDOCS"}
	res, err := c.Write(ctx, sdk.WriteRequest{Conn: conn, Table: ref, Mode: sdk.Replace, CreateTable: true}, rr)
	if err != nil || res.RowsWritten != 3 {
		t.Fatalf("Write: %+v, %v", res, err)
	}
	var copies []string
	for _, st := range e.srv.Statements() {
		if strings.HasPrefix(st.SQL, "COPY") {
			copies = append(copies, subDir.ReplaceAllString(st.SQL, "hp_*/"))
		}
	}
	want := `COPY INTO "PUBLIC"."WDOCS" ("ID", "DOC", "TZ") FROM (SELECT $1:"id"::NUMBER(19,0), PARSE_JSON($1:"doc"), $1:"tz"::TIMESTAMP_TZ(6) ` +
		`FROM @"PUBLIC".%"WDOCS"/hp_*/) FILES=('part-00001.parquet') FILE_FORMAT=(TYPE=PARQUET) ON_ERROR=ABORT_STATEMENT FORCE=TRUE`
	if len(copies) != 1 || copies[0] != want {
		t.Errorf("COPY:\n%s\nwant\n%s", strings.Join(copies, "\n"), want)
	}
	// Read back through the source: TIMESTAMP_TZ is the instant and its
	// own offset, VARIANT the JSON text.
	_, rows := readAll(t, c, sdk.ReadRequest{Conn: conn, Source: sdk.Source{Object: &ref}, OrderBy: []sdk.OrderBy{{Column: "ID"}}})
	wantRows := []string{
		`ID=1 DOC={"a":[1,2],"b":{"c":"x"}} TZ=2024-05-01 12:34:56.123456 +0530 UTC+05:30`,
		`ID=2 DOC="just a string" TZ=2024-12-31 23:59:59.5 -0800 UTC-08:00`,
		`ID=3 DOC=(null) TZ=(null)`,
	}
	if strings.Join(rows, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("read back:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(wantRows, "\n"))
	}
}
