package format

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestParseSchema(t *testing.T) {
	s, err := ParseSchema(" id:int64, name:utf8,amount:decimal(18,2),ts:timestamp[us,UTC],local:timestamp[ms],ny:timestamp[ns, tz=America/New_York]," +
		"off:timestamp[s,+05:30],d:date,t:time64[us],ok:bool,big:decimal(40,0),raw:binary,f:double,small:uint8")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id: int64", "name: utf8", "amount: decimal(18, 2)", "ts: timestamp[us, tz=UTC]", "local: timestamp[ms]",
		"ny: timestamp[ns, tz=America/New_York]", "off: timestamp[s, tz=+05:30]", "d: date32", "t: time64[us]", "ok: bool",
		"big: decimal256(40, 0)", "raw: binary", "f: float64", "small: uint8"}
	if s.NumFields() != len(want) {
		t.Fatalf("%d fields: %s", s.NumFields(), s)
	}
	for i, f := range s.Fields() {
		if got := f.Name + ": " + f.Type.String(); got != want[i] || !f.Nullable {
			t.Errorf("field %d: %s (nullable %v), want %s", i, got, f.Nullable, want[i])
		}
	}
	for in, msg := range map[string]string{
		"":                       "empty schema",
		"id":                     `"id" is not name:type`,
		"id:int64,id:utf8":       `names column "id" twice`,
		"x:int":                  `unknown type "int"`,
		"x:decimal(90,2)":        "precision is 1 to 76",
		"x:decimal(5,6)":         "scale is at most",
		"x:timestamp":            "needs its parameters",
		"x:timestamp[us,Mars/X]": `unknown time zone "Mars/X"`,
		"x:time64[s]":            "time64 takes us or ns",
		"a:int64,:utf8":          `":utf8" is not name:type`,
		"a:timestamp[xs]":        "unknown type",
		"a:int64,b:decimal(18,2": `column "b": "decimal(18,2"`,
	} {
		if _, err := ParseSchema(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseSchema(%q) = %v, want an error containing %q", in, err, msg)
		}
	}
}

// TestCSVHeaderDecoderAndQuote: columns named by the header, all text;
// another quote character, or none; errors name the line.
func TestCSVHeaderDecoderAndQuote(t *testing.T) {
	d, err := NewCSVHeaderDecoder(strings.NewReader("id;name\n1;'a;b'\n2;\n3;''\n"), CSVReadOptions{Header: true, Delimiter: ';', Quote: '\''})
	if err != nil {
		t.Fatal(err)
	}
	if schema := d.Schema(); schema.String() != "schema:\n  fields: 2\n    - id: type=utf8, nullable\n    - name: type=utf8, nullable" {
		t.Fatalf("schema %s", schema)
	}
	rec := decodeAll(t, d)
	defer rec.Release()
	names := rec.Column(1).(*array.String)
	if rec.NumRows() != 3 || names.Value(0) != "a;b" || !names.IsNull(1) || names.IsNull(2) || names.Value(2) != "" {
		t.Fatalf("rows %v", rec)
	}

	d, err = NewCSVDecoder(strings.NewReader(`"x",1`+"\n"), arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String}, {Name: "b", Type: arrow.PrimitiveTypes.Int64}}, nil),
		CSVReadOptions{NoQuote: true})
	if err != nil {
		t.Fatal(err)
	}
	rec = decodeAll(t, d)
	defer rec.Release()
	if v := rec.Column(0).(*array.String).Value(0); v != `"x"` {
		t.Fatalf("unquoted field read as %q", v)
	}

	for in, msg := range map[string]string{
		"":               "no header",
		"a,,b\n":         "line 1: header field 2 is empty",
		"a,b,a\n1,2,3\n": `header fields 1 and 3 are both "a"`,
	} {
		if _, err := NewCSVHeaderDecoder(strings.NewReader(in), CSVReadOptions{Header: true}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("header %q: %v, want %q", in, err, msg)
		}
	}
	d, err = NewCSVHeaderDecoder(strings.NewReader("a,b\n1,2\n3\n"), CSVReadOptions{Header: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if _, err := d.Read(); err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "line 3: 1 fields, the schema has 2 columns") {
		t.Fatalf("ragged row: %v", err)
	}
	if _, err := NewCSVDecoder(strings.NewReader(""), arrow.NewSchema(nil, nil), CSVReadOptions{Quote: ','}); err == nil {
		t.Fatal("a quote equal to the delimiter was accepted")
	}
}

// TestInferJSONL: simple flat objects give a schema, keys in the order
// they appear; the reader returned still holds every line.
func TestInferJSONL(t *testing.T) {
	in := `{"id": 1, "name": "a", "ok": true, "n": null}` + "\n\n" + `{"id": 2, "x": 1.5, "n": null, "name": null}` + "\n" + `{"id": 3, "x": 2}`
	schema, r, err := InferJSONL(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range schema.Fields() {
		got = append(got, f.Name+":"+f.Type.String())
	}
	if strings.Join(got, ",") != "id:int64,name:utf8,ok:bool,n:utf8,x:float64" {
		t.Fatalf("schema %v", got)
	}
	d, err := NewJSONLDecoder(r, schema)
	if err != nil {
		t.Fatal(err)
	}
	rec := decodeAll(t, d)
	defer rec.Release()
	if rec.NumRows() != 3 || rec.Column(4).ValueStr(2) != "2" || rec.Column(0).ValueStr(2) != "3" {
		t.Fatalf("rows %v", rec)
	}
	for in, msg := range map[string]string{
		`{"a": 1}` + "\n" + `{"a": "x"}`:  `line 2: "a" holds a utf8 after a int64; give --schema`,
		`{"a": {"b": 1}}`:                 `line 1: "a" holds a nested value`,
		`{"a": [1]}`:                      `line 1: "a" holds a nested value`,
		`[1, 2]`:                          "line 1: not a JSON object",
		"\n\n":                            "no object in the first lines",
		`{"a": true}` + "\n" + `{"a": 1}`: `line 2: "a" holds a int64 after a bool`,
	} {
		if _, _, err := InferJSONL(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
}
