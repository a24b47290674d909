package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// InferLines is how many JSON Lines InferJSONL looks at.
const InferLines = 100

// InferJSONL infers the schema of JSON Lines from their first lines, when
// it is simple: flat objects whose values are strings (utf8), integers
// (int64), other numbers (float64) or booleans, a column's values all of
// one kind (integers and other numbers make float64). The columns are the
// keys in the order they first appear; a column of NULLs only is utf8.
// Anything else is an error asking for a schema. It returns a reader of
// all of r, the lines it looked at included.
func InferJSONL(r io.Reader) (*arrow.Schema, io.Reader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var seen bytes.Buffer
	var names []string
	kinds := map[string]arrow.DataType{}
	for line := 1; line <= InferLines; line++ {
		text, err := br.ReadBytes('\n')
		seen.Write(text)
		if len(bytes.TrimSpace(text)) > 0 {
			if err := inferLine(text, line, &names, kinds); err != nil {
				return nil, nil, fmt.Errorf("%w; give --schema", err)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if len(names) == 0 {
		return nil, nil, errors.New("no object in the first lines to take the columns from; give --schema")
	}
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		t := kinds[n]
		if t == nil {
			t = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: n, Type: t, Nullable: true}
	}
	return arrow.NewSchema(fields, nil), io.MultiReader(&seen, br), nil
}

// inferLine adds the keys and value kinds of one line's object.
func inferLine(text []byte, line int, names *[]string, kinds map[string]arrow.DataType) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("line %d: not a JSON object", line)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		key := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if _, ok := kinds[key]; !ok {
			*names = append(*names, key)
			kinds[key] = nil
		}
		var t arrow.DataType
		switch x := v.(type) {
		case nil:
			continue
		case string:
			t = arrow.BinaryTypes.String
		case bool:
			t = arrow.FixedWidthTypes.Boolean
		case json.Number:
			t = arrow.PrimitiveTypes.Float64
			if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				t = arrow.PrimitiveTypes.Int64
			}
		default:
			return fmt.Errorf("line %d: %q holds a nested value (%T)", line, key, v)
		}
		switch prev := kinds[key]; {
		case prev == nil || arrow.TypeEqual(prev, t):
			kinds[key] = t
		case isNumber(prev) && isNumber(t):
			kinds[key] = arrow.PrimitiveTypes.Float64
		default:
			return fmt.Errorf("line %d: %q holds a %s after a %s", line, key, t, prev)
		}
	}
	return nil
}

func isNumber(t arrow.DataType) bool {
	return t.ID() == arrow.INT64 || t.ID() == arrow.FLOAT64
}
