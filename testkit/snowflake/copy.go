package snowflake

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/klauspost/compress/zstd"
)

// fileRows is the content of one stage file: column names (from the
// Parquet schema or the CSV header) and rows.
type fileRows struct {
	names []string
	rows  [][]*string
}

// copyInto loads stage files into a table. With ON_ERROR=ABORT_STATEMENT
// (the only mode the server runs) any bad file fails the statement and
// loads nothing. Files in the table's load history are skipped unless
// FORCE=TRUE, and files loaded are added to it: both belong to the
// transaction, as in Snowflake.
func (x *exec) copyInto(st copyStmt) (*result, *Error) {
	t, k, e := x.lookup(st.into)
	if e != nil {
		return nil, e
	}
	src, e := x.stageFiles(st)
	if e != nil {
		return nil, e
	}
	names := st.files
	if names == nil {
		if names, e = src.list(); e != nil {
			return nil, e
		}
	}
	typ := st.format["TYPE"]
	if typ != "PARQUET" && typ != "CSV" {
		return nil, syntaxErr("FILE_FORMAT TYPE %q is not supported by the test server", typ)
	}
	if st.items != nil && (typ != "PARQUET" || st.match != "" || st.includeMeta != nil) {
		return nil, errorf("002019", "0A000", "SQL compilation error:\nthe test server transforms Parquet files only, without MATCH_BY_COLUMN_NAME or INCLUDE_METADATA (Snowflake refuses those with a transformation)")
	}
	if typ == "PARQUET" && st.match == "" && st.items == nil {
		return nil, errorf("002019", "0A000", "SQL compilation error:\nPARQUET file format can produce one and only one column of type variant, object, or array. Load data into separate columns using the MATCH_BY_COLUMN_NAME copy option or copy with transformation.")
	}
	history := x.view().history
	if _, ok := x.sess.temps[k]; ok {
		history = map[string]map[string]bool{} // temporary tables keep no load history across statements
	}
	c := t.clone()
	loaded := map[string]bool{}
	var out [][]*string
	for _, name := range names {
		full := src.base + name
		if history[k][full] && !st.force {
			continue
		}
		fr, e := x.readFile(src, name, typ, st)
		if e != nil {
			return nil, e
		}
		mapper := mapRows
		if st.items != nil {
			mapper = transformRows
		}
		rows, e := mapper(c, fr, st, path.Join(st.path, name))
		if e != nil {
			return nil, e
		}
		c.rows = append(c.rows, rows...)
		loaded[full] = true
		n := str(strconv.Itoa(len(rows)))
		out = append(out, []*string{str(full), str("LOADED"), n, n, str("1"), str("0"), nil, nil, nil, nil})
	}
	if len(out) == 0 {
		return &result{cols: []rowCol{{name: "status", typ: "text"}}, rows: [][]*string{{str("Copy executed with 0 files processed.")}}, stmtType: typeSelect}, nil
	}
	x.replaceTable(k, c)
	if _, temp := x.sess.temps[k]; !temp {
		if history[k] == nil {
			history[k] = map[string]bool{}
		}
		for f := range loaded {
			history[k][f] = true
		}
	}
	cols := []rowCol{{name: "file", typ: "text"}, {name: "status", typ: "text"}, {name: "rows_parsed", typ: "fixed"}, {name: "rows_loaded", typ: "fixed"}, {name: "error_limit", typ: "fixed"},
		{name: "errors_seen", typ: "fixed"}, {name: "first_error", typ: "text"}, {name: "first_error_line", typ: "fixed"}, {name: "first_error_character", typ: "fixed"}, {name: "first_error_column_name", typ: "text"}}
	return &result{cols: cols, rows: out, stmtType: typeSelect}, nil
}

// stageSource reads the files below a stage path: an external stage in
// S3, or a table stage in the server's directory.
type stageSource struct {
	base string // names the files in errors and the load history
	list func() ([]string, *Error)
	get  func(name string) ([]byte, error)
}

func (x *exec) stageFiles(st copyStmt) (*stageSource, *Error) {
	if strings.Contains(st.stage, "%") {
		dir, e := x.tableStageDir(st.stage, st.path)
		if e != nil {
			return nil, e
		}
		return &stageSource{
			base: "@" + st.stage + "/" + strings.TrimSuffix(st.path, "/") + "/",
			list: func() ([]string, *Error) {
				ents, err := os.ReadDir(dir)
				if err != nil && !os.IsNotExist(err) {
					return nil, errorf("091016", "22000", "listing the stage: %v", err)
				}
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				return names, nil
			},
			get: func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name))) },
		}, nil
	}
	stage := strings.ToUpper(strings.Trim(st.stage, `"`))
	loc, ok := x.srv.stages[stage]
	if i := strings.LastIndex(stage, "."); !ok && i >= 0 {
		loc, ok = x.srv.stages[stage[i+1:]]
	}
	if !ok {
		return nil, notFound("Stage '" + stage + "'")
	}
	base := strings.TrimSuffix(loc, "/") + "/"
	if st.path != "" {
		base += strings.TrimSuffix(st.path, "/") + "/"
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "s3" {
		return nil, errorf("091016", "22000", "stage %s location %q is not an s3:// URL", stage, loc)
	}
	if x.srv.cfg.S3 == nil {
		return nil, errorf("091016", "22000", "the test server has no S3 client for stage %s", stage)
	}
	bucket, prefix := u.Host, strings.TrimPrefix(u.Path, "/")
	return &stageSource{
		base: base,
		list: func() ([]string, *Error) {
			var names []string
			p := s3.NewListObjectsV2Paginator(x.srv.cfg.S3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
			for p.HasMorePages() {
				page, err := p.NextPage(x.ctx)
				if err != nil {
					return nil, errorf("091016", "22000", "listing %s: %v", base, err)
				}
				for _, o := range page.Contents {
					names = append(names, strings.TrimPrefix(aws.ToString(o.Key), prefix))
				}
			}
			return names, nil
		},
		get: func(name string) ([]byte, error) {
			obj, err := x.srv.cfg.S3.GetObject(x.ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + name)})
			if err != nil {
				var nf *types.NoSuchKey
				if errors.As(err, &nf) {
					return nil, os.ErrNotExist
				}
				return nil, err
			}
			defer obj.Body.Close()
			return io.ReadAll(obj.Body)
		},
	}, nil
}

func (x *exec) readFile(src *stageSource, name, typ string, st copyStmt) (*fileRows, *Error) {
	data, err := src.get(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errorf("091016", "22000", "Remote file '%s%s' was not found.", src.base, name)
	}
	if err != nil {
		return nil, errorf("091016", "22000", "reading %s%s: %v", src.base, name, err)
	}
	var fr *fileRows
	if typ == "PARQUET" {
		fr, err = readParquet(data)
	} else {
		fr, err = readCSV(data, name, st)
	}
	if err != nil {
		return nil, errorf("100069", "22000", "Error parsing file '%s%s': %v", src.base, name, err)
	}
	return fr, nil
}

func readParquet(data []byte) (*fileRows, error) {
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	out := &fileRows{}
	for _, f := range rr.Schema().Fields() {
		out.names = append(out.names, f.Name)
	}
	// Parquet's JSON logical type is text, which pqarrow reads back as
	// binary.
	isJSON := map[string]bool{}
	for i := 0; i < pf.MetaData().Schema.NumColumns(); i++ {
		c := pf.MetaData().Schema.Column(i)
		if _, ok := c.LogicalType().(schema.JSONLogicalType); ok {
			isJSON[c.Path()] = true
		}
	}
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]*string, rec.NumCols())
			for j, col := range rec.Columns() {
				switch b, ok := col.(*array.Binary); {
				case col.IsNull(i):
				case ok && isJSON[out.names[j]]:
					row[j] = str(string(b.Value(i)))
				default:
					row[j] = str(valueText(col, i))
				}
			}
			out.rows = append(out.rows, row)
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return nil, err
	}
	return out, nil
}

// valueText is the text the server keeps for a Parquet value.
func valueText(col interface{ ValueStr(int) string }, i int) string {
	if x, ok := col.(array.ExtensionArray); ok {
		return valueText(x.Storage(), i)
	}
	if b, ok := col.(*array.Binary); ok {
		return strings.ToUpper(fmt.Sprintf("%x", b.Value(i)))
	}
	return col.ValueStr(i)
}

// readCSV reads RFC 4180 CSV keeping track of quoting: an unquoted empty
// field is NULL (EMPTY_FIELD_AS_NULL), a quoted one the empty string, and
// an unquoted field in NULL_IF is NULL.
func readCSV(data []byte, key string, st copyStmt) (*fileRows, error) {
	var r io.Reader = bytes.NewReader(data)
	switch comp := st.format["COMPRESSION"]; {
	case comp == "GZIP" || (comp == "" || comp == "AUTO") && strings.HasSuffix(key, ".gz"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = zr
	case comp == "ZSTD" || (comp == "" || comp == "AUTO") && strings.HasSuffix(key, ".zst"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	delim := byte(',')
	if d := st.format["FIELD_DELIMITER"]; d != "" {
		delim = d[0]
	}
	br := bufio.NewReader(r)
	out := &fileRows{}
	header := st.format["PARSE_HEADER"] == "TRUE"
	skip, _ := strconv.Atoi(st.format["SKIP_HEADER"])
	for line := 0; ; line++ {
		rec, quoted, err := readRecord(br, delim)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line+1, err)
		}
		if header && line == 0 {
			out.names = rec
			continue
		}
		if line < skip {
			continue
		}
		row := make([]*string, len(rec))
		for i, v := range rec {
			if !quoted[i] && (v == "" || contains(st.nullIf, v)) {
				continue
			}
			row[i] = str(v)
		}
		out.rows = append(out.rows, row)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func readRecord(r *bufio.Reader, delim byte) ([]string, []bool, error) {
	var fields []string
	var quoted []bool
	var b strings.Builder
	q, inQuotes, any := false, false, false
	for {
		c, err := r.ReadByte()
		if err == io.EOF {
			if !any {
				return nil, nil, io.EOF
			}
			if inQuotes {
				return nil, nil, errors.New("unterminated quoted field")
			}
			return append(fields, b.String()), append(quoted, q), nil
		}
		if err != nil {
			return nil, nil, err
		}
		any = true
		switch {
		case inQuotes && c == '"':
			if n, _ := r.Peek(1); len(n) == 1 && n[0] == '"' {
				_, _ = r.ReadByte()
				b.WriteByte('"')
			} else {
				inQuotes = false
			}
		case inQuotes:
			b.WriteByte(c)
		case c == '"' && b.Len() == 0:
			inQuotes, q = true, true
		case c == delim:
			fields, quoted = append(fields, b.String()), append(quoted, q)
			b.Reset()
			q = false
		case c == '\r':
		case c == '\n':
			return append(fields, b.String()), append(quoted, q), nil
		default:
			b.WriteByte(c)
		}
	}
}

// transformRows turns a file's rows into rows of t through a COPY
// transformation: each listed column gets its item, a field by exact
// name (NULL when the file lacks it, as a missing key is in Snowflake),
// cast to a type (the value must read as that type; the text is kept)
// or parsed as JSON (kept compact, as Snowflake prints a VARIANT), or
// the file's name or the row's number in it.
func transformRows(t *table, fr *fileRows, st copyStmt, relName string) ([][]*string, *Error) {
	idx, e := t.indexes(st.cols)
	if e != nil {
		return nil, e
	}
	src := make([]int, len(st.items))
	for i, it := range st.items {
		src[i] = -1
		for j, n := range fr.names {
			if n == it.field {
				src[i] = j
			}
		}
	}
	out := make([][]*string, 0, len(fr.rows))
	for n, r := range fr.rows {
		row := make([]*string, len(t.cols))
		for i, it := range st.items {
			var v *string
			switch {
			case it.meta == "METADATA$FILENAME":
				v = str(relName)
			case it.meta == "METADATA$FILE_ROW_NUMBER":
				v = str(strconv.Itoa(n + 1))
			case src[i] >= 0 && src[i] < len(r):
				v = r[src[i]]
			}
			if v != nil && it.parseJSON {
				var b bytes.Buffer
				if err := json.Compact(&b, []byte(*v)); err != nil {
					return nil, errorf("100069", "22P02", "Error parsing JSON %q: %v\n  File '%s', line %d, column %s", *v, err, relName, n+1, it.field)
				}
				v = str(b.String())
			}
			if v != nil && it.cast != "" {
				if _, e := wire(typeOf(it.cast), *v); e != nil {
					e.Message += fmt.Sprintf("\n  File '%s', line %d, column %s", relName, n+1, it.field)
					return nil, e
				}
			}
			row[idx[i]] = v
		}
		for i, c := range t.cols {
			if e := checkValue(c, row[i]); e != nil {
				e.Message += fmt.Sprintf("\n  File '%s', line %d, column %s", relName, n+1, c.name)
				return nil, e
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// mapRows turns a file's rows into rows of t: by column name
// (MATCH_BY_COLUMN_NAME) or by position, plus INCLUDE_METADATA columns.
func mapRows(t *table, fr *fileRows, st copyStmt, relName string) ([][]*string, *Error) {
	src := make([]int, len(t.cols)) // file column for each table column, -1 for none
	meta := map[int]string{}
	for _, m := range st.includeMeta {
		i := t.col(m.name)
		if i < 0 {
			return nil, errorf("000904", "42000", "invalid identifier '%s' in INCLUDE_METADATA", m.name)
		}
		meta[i] = m.typ
	}
	matched, pos := 0, 0
	for i, c := range t.cols {
		src[i] = -1
		if _, ok := meta[i]; ok {
			continue
		}
		switch st.match {
		case "CASE_INSENSITIVE", "CASE_SENSITIVE":
			for j, n := range fr.names {
				if n == c.name || st.match == "CASE_INSENSITIVE" && strings.EqualFold(n, c.name) {
					src[i] = j
					matched++
				}
			}
		default:
			src[i] = pos
			pos++
			matched++
		}
	}
	if matched == 0 && len(fr.rows) > 0 {
		return nil, errorf("100183", "22000", "no column of file %s matches a column of the table", relName)
	}
	out := make([][]*string, 0, len(fr.rows))
	for n, r := range fr.rows {
		if st.match == "" && len(r) != len(t.cols)-len(meta) {
			return nil, errorf("100080", "22000", "Number of columns in file (%d) does not match that of the corresponding table (%d), file %s, row %d", len(r), len(t.cols)-len(meta), relName, n+1)
		}
		row := make([]*string, len(t.cols))
		for i, j := range src {
			if j >= 0 && j < len(r) {
				row[i] = r[j]
			}
		}
		for i, c := range t.cols {
			if row[i] != nil && typeOf(c.typ).base == "BINARY" && st.format["BINARY_FORMAT"] == "BASE64" && st.format["TYPE"] == "CSV" {
				b, err := base64.StdEncoding.DecodeString(*row[i])
				if err != nil {
					return nil, errorf("100115", "22000", "The following string is not a legal base64-encoded value: '%s'\n  File '%s', line %d, column %s", *row[i], relName, n+1, c.name)
				}
				row[i] = str(strings.ToUpper(hex.EncodeToString(b)))
			}
		}
		for i, m := range meta {
			switch m {
			case "METADATA$FILENAME":
				row[i] = str(relName)
			case "METADATA$FILE_ROW_NUMBER":
				row[i] = str(strconv.Itoa(n + 1))
			default:
				return nil, syntaxErr("unknown metadata column %s", m)
			}
		}
		for i, c := range t.cols {
			if e := checkValue(c, row[i]); e != nil {
				e.Message += fmt.Sprintf("\n  File '%s', line %d, column %s", relName, n+1, c.name)
				return nil, e
			}
		}
		out = append(out, row)
	}
	return out, nil
}
