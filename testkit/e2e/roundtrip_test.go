package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// Round trips of every PostgreSQL and MariaDB type through hp's CSV, JSONL and
// Parquet files. The expectation of each cell is the database's own text
// for it (read back with psql or mysql, hex-wrapped so no client escaping
// is involved); the database's text and hp's output are brought to one
// canonical form by the value kind's functions in rtKinds, the only place
// that knows how either side spells a value.

// rtNull is the canonical form of NULL.
const rtNull = "\x00NULL"

// rtKind turns each side's spelling of a value into the canonical form.
type rtKind struct {
	db  func(string) (string, error)                     // the database's text
	csv func(string) (string, error)                     // hp's CSV field (never NULL)
	pq  func(v pq.Value, logical string) (string, error) // a non-NULL Parquet leaf
}

// rtColumn is one column of a round-trip table: its SQL type, one SQL
// literal per row (missing rows are NULL), its value kind (of the elements
// for a list), the expression that makes the database render the expected
// value ("%[1]s" is the column; default: the column itself) and the
// Parquet logical type of its leaf ("" = none).
type rtColumn struct {
	name, sqlType string
	values        []string
	kind          string
	expr          string
	logical       string
	list          bool
}

var rtKinds = map[string]rtKind{
	// exact: the text is the value (integers, decimals, text, uuid, json,
	// network addresses, enums, ...). Parquet integers are printed by their
	// signedness, decimals by their scale, byte arrays as UTF-8.
	"exact": {db: same, csv: same, pq: pqText},
	// float32/float64: the number, whatever its spelling (PostgreSQL's
	// "Infinity", MariaDB's DOUBLE text of a FLOAT); NaN is NaN, -0 keeps
	// its sign. Parquet must hold FLOAT or DOUBLE to match.
	"float32": {db: floatCanon(32), csv: floatCanon(32), pq: pqFloat(pq.Float, 32)},
	"float64": {db: floatCanon(64), csv: floatCanon(64), pq: pqFloat(pq.Double, 64)},
	// bool: PostgreSQL's t/f, MariaDB's 1/0 (BIT(1)+0); hp writes true/false.
	"bool": {db: dbBool, csv: csvBool, pq: viaText(csvBool)},
	// bytes: lower-case hex up to 1 KiB, else "sha256:<hex>" (the database
	// computes the same with its own functions); hp writes base64 in CSV.
	"bytes": {
		db: func(s string) (string, error) { return strings.ToLower(s), nil },
		csv: func(s string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			return bytesCanon(b), err
		},
		pq: func(v pq.Value, _ string) (string, error) { return bytesCanon(v.ByteArray()), nil },
	},
	// date: proleptic Gregorian year (astronomical: 1 BC is 0), month, day;
	// Parquet DATE is days since 1970-01-01.
	"date": {db: dateCanon, csv: dateCanon, pq: pqDate},
	// zerodate, zeroinstant: MariaDB's zero date and datetime are read as
	// NULL, as the connector documents.
	"zerodate": {db: zeroAsNull(dateCanon), csv: dateCanon, pq: pqDate},
	// timestamp: wall time without a zone, compared as if it were UTC; hp
	// writes no zone. instant: the instant, whatever the offset the
	// database printed it with; hp writes UTC with Z.
	"timestamp":   {db: stampCanon, csv: csvStamp(false), pq: pqStamp},
	"instant":     {db: stampCanon, csv: csvStamp(true), pq: pqStamp},
	"zeroinstant": {db: zeroAsNull(stampCanon), csv: csvStamp(true), pq: pqStamp},
	// time: microseconds since midnight (24:00:00 included).
	"time": {db: timeCanon, csv: timeCanon, pq: func(v pq.Value, _ string) (string, error) {
		return fmtMicrosOfDay(v.Int64()), nil
	}},
	// interval: "months days microseconds"; the database computes the three
	// with extract(), hp writes P<m>M<d>DT<s.nnnnnnnnn>S (Parquet: the same text).
	"interval": {db: same, csv: intervalCanon, pq: viaText(intervalCanon)},
}

func same(s string) (string, error) { return s, nil }

func zeroAsNull(f func(string) (string, error)) func(string) (string, error) {
	return func(s string) (string, error) {
		if strings.HasPrefix(s, "0000-00-00") {
			return rtNull, nil
		}
		return f(s)
	}
}

func pqDate(v pq.Value, _ string) (string, error) {
	return fmtDate(time.Unix(int64(v.Int32())*86400, 0).UTC()), nil
}

func viaText(f func(string) (string, error)) func(pq.Value, string) (string, error) {
	return func(v pq.Value, logical string) (string, error) {
		s, err := pqText(v, logical)
		if err != nil {
			return "", err
		}
		return f(s)
	}
}

// pqText prints a Parquet leaf by its physical and logical type.
func pqText(v pq.Value, logical string) (string, error) {
	switch {
	case strings.HasPrefix(logical, "DECIMAL"):
		return parquetText(nil, v, logical), nil
	case strings.HasPrefix(logical, "INT(") && strings.HasSuffix(logical, ",false)"):
		if v.Kind() == pq.Int32 {
			return strconv.FormatUint(uint64(uint32(v.Int32())), 10), nil
		}
		return strconv.FormatUint(v.Uint64(), 10), nil
	}
	switch v.Kind() {
	case pq.Boolean:
		return strconv.FormatBool(v.Boolean()), nil
	case pq.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10), nil
	case pq.Int64:
		return strconv.FormatInt(v.Int64(), 10), nil
	case pq.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32), nil
	case pq.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64), nil
	case pq.ByteArray, pq.FixedLenByteArray:
		return string(v.ByteArray()), nil
	}
	return "", fmt.Errorf("no text for a %s value", v.Kind())
}

func floatCanon(bits int) func(string) (string, error) {
	return func(s string) (string, error) {
		f, err := strconv.ParseFloat(s, bits)
		if err != nil {
			return "", err
		}
		if math.IsNaN(f) {
			return "NaN", nil
		}
		return strconv.FormatFloat(f, 'g', -1, bits), nil
	}
}

func pqFloat(physical pq.Kind, bits int) func(pq.Value, string) (string, error) {
	return func(v pq.Value, logical string) (string, error) {
		if v.Kind() != physical {
			return "", fmt.Errorf("Parquet %s, want %s", v.Kind(), physical)
		}
		return viaText(floatCanon(bits))(v, logical)
	}
}

func dbBool(s string) (string, error) {
	switch s {
	case "t", "1":
		return "true", nil
	case "f", "0":
		return "false", nil
	}
	return "", fmt.Errorf("%q is not a boolean", s)
}

func csvBool(s string) (string, error) {
	if s != "true" && s != "false" {
		return "", fmt.Errorf("%q is not true or false", s)
	}
	return s, nil
}

func bytesCanon(b []byte) string {
	if len(b) <= 1024 {
		return hex.EncodeToString(b)
	}
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// civilStamp parses [-]Y-MM-DD[( |T)HH:MM:SS[.f]][Z|±HH[:MM[:SS]]][ BC].
func civilStamp(s string) (time.Time, error) {
	orig := s
	bc := strings.HasSuffix(s, " BC")
	s = strings.TrimSuffix(s, " BC")
	sign := 1
	if strings.HasPrefix(s, "-") {
		sign, s = -1, s[1:]
	}
	var y, mo, d, h, mi, sec, us int
	n, _ := fmt.Sscanf(s, "%d-%d-%d", &y, &mo, &d)
	if n != 3 {
		return time.Time{}, fmt.Errorf("%q is not a date", orig)
	}
	y *= sign
	if bc {
		y = 1 - y
	}
	rest := s[strings.Index(s, "-")+6:]
	loc := time.UTC
	if rest != "" {
		if rest[0] != ' ' && rest[0] != 'T' {
			return time.Time{}, fmt.Errorf("%q: unexpected %q", orig, rest)
		}
		rest = rest[1:]
		if _, err := fmt.Sscanf(rest[:8], "%d:%d:%d", &h, &mi, &sec); err != nil {
			return time.Time{}, fmt.Errorf("%q is not a timestamp", orig)
		}
		rest = rest[8:]
		if strings.HasPrefix(rest, ".") {
			end := 1
			for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
				end++
			}
			frac := (rest[1:end] + "000000")[:6]
			if strings.Trim(rest[min(end, 7):end], "0") != "" {
				return time.Time{}, fmt.Errorf("%q has more than microseconds", orig)
			}
			us, _ = strconv.Atoi(frac)
			rest = rest[end:]
		}
		switch {
		case rest == "Z":
		case rest == "":
		case rest[0] == '+' || rest[0] == '-':
			var oh, om, os int
			parts := strings.Split(rest[1:], ":")
			oh, _ = strconv.Atoi(parts[0])
			if len(parts) > 1 {
				om, _ = strconv.Atoi(parts[1])
			}
			if len(parts) > 2 {
				os, _ = strconv.Atoi(parts[2])
			}
			off := oh*3600 + om*60 + os
			if rest[0] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
		default:
			return time.Time{}, fmt.Errorf("%q: bad zone %q", orig, rest)
		}
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, us*1000, loc), nil
}

func fmtDate(t time.Time) string {
	return fmt.Sprintf("%d-%02d-%02d", t.Year(), t.Month(), t.Day())
}

func dateCanon(s string) (string, error) {
	t, err := civilStamp(s)
	if err != nil {
		return "", err
	}
	return fmtDate(t), nil
}

func fmtStamp(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%s %02d:%02d:%02d.%06d UTC", fmtDate(t), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1000)
}

func stampCanon(s string) (string, error) {
	t, err := civilStamp(s)
	if err != nil {
		return "", err
	}
	return fmtStamp(t), nil
}

// csvStamp also checks that hp writes a zone exactly for instants.
func csvStamp(zoned bool) func(string) (string, error) {
	return func(s string) (string, error) {
		if strings.HasSuffix(s, "Z") != zoned {
			return "", fmt.Errorf("%q: zone written %v, want %v", s, !zoned, zoned)
		}
		return stampCanon(s)
	}
}

func pqStamp(v pq.Value, _ string) (string, error) {
	return fmtStamp(time.UnixMicro(v.Int64())), nil
}

func fmtMicrosOfDay(us int64) string {
	return fmt.Sprintf("%02d:%02d:%02d.%06d", us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
}

func timeCanon(s string) (string, error) {
	t, err := civilStamp("1970-01-01 " + s)
	if err != nil {
		return "", err
	}
	return fmtMicrosOfDay(t.UnixMicro()), nil
}

// intervalCanon reads hp's P<m>M<d>DT<s.nnnnnnnnn>S.
func intervalCanon(s string) (string, error) {
	var m, d int64
	var secs string
	if n, _ := fmt.Sscanf(s, "P%dM%dDT%s", &m, &d, &secs); n != 3 || !strings.HasSuffix(secs, "S") {
		return "", fmt.Errorf("%q is not P<m>M<d>DT<s>S", s)
	}
	secs = strings.TrimSuffix(secs, "S")
	neg := strings.HasPrefix(secs, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(secs, "-"), ".")
	w, err1 := strconv.ParseInt(whole, 10, 64)
	ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if err1 != nil || err2 != nil || len(frac) != 9 || ns%1000 != 0 {
		return "", fmt.Errorf("%q: seconds %q", s, secs)
	}
	us := w*1e6 + ns/1000
	if neg {
		us = -us
	}
	return fmt.Sprintf("%d %d %d", m, d, us), nil
}

// listDB reads the database's JSON array of element texts (or nulls).
func listDB(elem rtKind, s string) (string, error) {
	var items []*string
	if err := json.Unmarshal([]byte(s), &items); err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = rtNull
		if it != nil {
			c, err := elem.db(*it)
			if err != nil {
				return "", err
			}
			out[i] = c
		}
	}
	return fmt.Sprintf("%q", out), nil
}

// listCSV reads hp's JSON array; numbers and booleans keep their spelling.
func listCSV(elem rtKind, s string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var items []any
	if err := dec.Decode(&items); err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = rtNull
		if it != nil {
			c, err := elem.csv(fmt.Sprint(it))
			if err != nil {
				return "", err
			}
			out[i] = c
		}
	}
	return fmt.Sprintf("%q", out), nil
}

// csvField is one field of a CSV record; quoted tells "" from NULL.
type csvField struct {
	text   string
	quoted bool
}

// readCSVExact parses RFC 4180 CSV keeping every byte of quoted fields
// (encoding/csv folds CRLF) and whether each field was quoted.
func readCSVExact(data []byte) ([][]csvField, error) {
	var recs [][]csvField
	var rec []csvField
	i := 0
	for i < len(data) {
		var f csvField
		if data[i] == '"' {
			f.quoted = true
			var b strings.Builder
			i++
			for {
				j := bytes.IndexByte(data[i:], '"')
				if j < 0 {
					return nil, fmt.Errorf("unterminated quote in record %d", len(recs)+1)
				}
				b.Write(data[i : i+j])
				i += j + 1
				if i < len(data) && data[i] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			f.text = b.String()
		} else {
			j := i
			for j < len(data) && data[j] != ',' && data[j] != '\n' {
				j++
			}
			f.text = string(data[i:j])
			if strings.ContainsAny(f.text, "\"\r") {
				return nil, fmt.Errorf("record %d: unquoted field %q", len(recs)+1, f.text)
			}
			i = j
		}
		rec = append(rec, f)
		switch {
		case i >= len(data):
			recs = append(recs, rec)
			return recs, nil
		case data[i] == ',':
			i++
		case data[i] == '\n':
			recs = append(recs, rec)
			rec = nil
			i++
		default:
			return nil, fmt.Errorf("record %d: %q after a quoted field", len(recs)+1, data[i])
		}
	}
	return recs, nil
}

// rtSide is a table read back: canonical cells by id, then column.
type rtSide map[string]map[string]string

// fromDB and fromCSV canonicalise a non-NULL value of the column.
func (c rtColumn) fromDB(s string) (string, error) {
	if c.list {
		return listDB(rtKinds[c.kind], s)
	}
	return rtKinds[c.kind].db(s)
}

func (c rtColumn) fromCSV(s string) (string, error) {
	if c.list {
		return listCSV(rtKinds[c.kind], s)
	}
	return rtKinds[c.kind].csv(s)
}

// dbSide runs the query (one id column, then one hex-wrapped cell per
// column: N for NULL, V<hex of the text>) with a client and canonicalises.
func dbSide(t *testing.T, out string, cols []rtColumn) rtSide {
	t.Helper()
	side := rtSide{}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		cells := strings.Split(line, "\t")
		if len(cells) != len(cols)+1 {
			t.Fatalf("database row %q has %d cells, want %d", line, len(cells), len(cols)+1)
		}
		row := map[string]string{}
		for i, c := range cols {
			cell := cells[i+1]
			if cell == "N" {
				row[c.name] = rtNull
				continue
			}
			text, err := hex.DecodeString(strings.TrimPrefix(cell, "V"))
			if err != nil {
				t.Fatalf("database cell %q: %v", cell, err)
			}
			v, err := c.fromDB(string(text))
			if err != nil {
				t.Fatalf("database value of %s: %v", c.name, err)
			}
			row[c.name] = v
		}
		side[cells[0]] = row
	}
	return side
}

// snapSide runs hp cp snap of src in format f and reads every file back.
func snapSide(t *testing.T, bin *testkit.Binaries, env []string, src, f string, cols []rtColumn) rtSide {
	t.Helper()
	out := t.TempDir()
	res := bin.Run(t, append(env, "HP_OUT_DSN="+out), "cp", "snap", src, "out.rt", "--format", f)
	if res.Code != 0 {
		t.Fatalf("hp cp snap %s --format %s: exit %d\n%s", src, f, res.Code, res.Stderr)
	}
	m, _ := readManifest(t, out)
	side := rtSide{}
	for _, file := range m.Files {
		path := filepath.Join(out, file.Path)
		switch f {
		case "csv":
			readCSVSide(t, decompressed(t, path), cols, side)
		case "jsonl":
			readJSONLSide(t, decompressed(t, path), cols, side)
		default:
			readParquetSide(t, path, cols, side)
		}
	}
	if int64(len(side)) != m.TotalRows {
		t.Fatalf("%d distinct ids in %d rows", len(side), m.TotalRows)
	}
	return side
}

func readCSVSide(t *testing.T, data []byte, cols []rtColumn, side rtSide) {
	t.Helper()
	recs, err := readCSVExact(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id"}
	for _, c := range cols {
		want = append(want, c.name)
	}
	var header []string
	for _, h := range recs[0] {
		header = append(header, h.text)
	}
	if fmt.Sprint(header) != fmt.Sprint(want) {
		t.Fatalf("CSV header %q, want %q", header, want)
	}
	for _, rec := range recs[1:] {
		if len(rec) != len(cols)+1 {
			t.Fatalf("CSV record of %d fields, want %d", len(rec), len(cols)+1)
		}
		row := map[string]string{}
		for i, c := range cols {
			fld := rec[i+1]
			if fld.text == "" && !fld.quoted {
				row[c.name] = rtNull
				continue
			}
			v, err := c.fromCSV(fld.text)
			if err != nil {
				t.Errorf("CSV id %s %s: %v", rec[0].text, c.name, err)
			}
			row[c.name] = v
		}
		side[rec[0].text] = row
	}
}

// readJSONLSide reads JSON Lines: a value's text is the JSON string's
// content or the literal's spelling, as in CSV; lists are JSON arrays.
func readJSONLSide(t *testing.T, data []byte, cols []rtColumn, side rtSide) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for dec.More() {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		if len(obj) != len(cols)+1 {
			t.Fatalf("JSON object of %d members, want %d", len(obj), len(cols)+1)
		}
		id := fmt.Sprint(obj["id"])
		row := map[string]string{}
		for _, c := range cols {
			var text string
			switch v := obj[c.name].(type) {
			case nil:
				row[c.name] = rtNull
				continue
			case []any:
				raw, _ := json.Marshal(v)
				text = string(raw)
			default:
				text = fmt.Sprint(v)
			}
			v, err := c.fromCSV(text)
			if err != nil {
				t.Errorf("JSONL id %s %s: %v", id, c.name, err)
			}
			row[c.name] = v
		}
		side[id] = row
	}
}

func readParquetSide(t *testing.T, path string, cols []rtColumn, side rtSide) {
	t.Helper()
	pf := openParquet(t, path)
	schema := pf.Schema()
	type leafInfo struct {
		col     rtColumn
		logical string
		maxDef  int
	}
	leaves := map[int]leafInfo{}
	idLeaf := -1
	for _, f := range schema.Fields() {
		name := f.Name()
		path := []string{name}
		node := pq.Node(f)
		if name == "id" {
			l, _ := schema.Lookup(path...)
			idLeaf = l.ColumnIndex
			continue
		}
		var c *rtColumn
		for i := range cols {
			if cols[i].name == name {
				c = &cols[i]
			}
		}
		if c == nil {
			t.Fatalf("Parquet column %q is not in the table", name)
		}
		top := ""
		if lt := f.Type().LogicalType(); lt != nil {
			top = lt.String()
		}
		if c.list {
			if top != "LIST" || len(f.Fields()) != 1 || len(f.Fields()[0].Fields()) != 1 {
				t.Fatalf("Parquet column %s: logical type %q, want a LIST of one element", name, top)
			}
			elem := f.Fields()[0]
			leaf := elem.Fields()[0]
			node = leaf
			path = append(path, elem.Name(), leaf.Name())
		}
		logical := ""
		if lt := node.Type().LogicalType(); lt != nil {
			logical = lt.String()
		}
		if logical != c.logical {
			t.Errorf("Parquet column %s: logical type %q, want %q", name, logical, c.logical)
		}
		l, ok := schema.Lookup(path...)
		if !ok {
			t.Fatalf("Parquet column %v not found", path)
		}
		leaves[l.ColumnIndex] = leafInfo{col: *c, logical: logical, maxDef: l.MaxDefinitionLevel}
	}
	r := pq.NewReader(pf)
	buf := make([]pq.Row, 4)
	for {
		n, err := r.ReadRows(buf)
		for _, prow := range buf[:n] {
			byLeaf := map[int][]pq.Value{}
			for _, v := range prow {
				byLeaf[v.Column()] = append(byLeaf[v.Column()], v)
			}
			id := fmt.Sprint(byLeaf[idLeaf][0].Int64())
			row := map[string]string{}
			for leaf, info := range leaves {
				vals := byLeaf[leaf]
				k := rtKinds[info.col.kind]
				if !info.col.list {
					if vals[0].IsNull() {
						row[info.col.name] = rtNull
						continue
					}
					v, err := k.pq(vals[0], info.logical)
					if err != nil {
						t.Errorf("Parquet id %s %s: %v", id, info.col.name, err)
					}
					row[info.col.name] = v
					continue
				}
				// Levels of an optional list of optional elements: below
				// max-2 the list is NULL, max-2 empty, max-1 a NULL element.
				if d := vals[0].DefinitionLevel(); d < info.maxDef-2 {
					row[info.col.name] = rtNull
					continue
				}
				items := []string{}
				for _, v := range vals {
					switch d := v.DefinitionLevel(); {
					case d == info.maxDef:
						c, err := k.pq(v, info.logical)
						if err != nil {
							t.Errorf("Parquet id %s %s: %v", id, info.col.name, err)
						}
						items = append(items, c)
					case d == info.maxDef-1:
						items = append(items, rtNull)
					}
				}
				row[info.col.name] = fmt.Sprintf("%q", items)
			}
			side[id] = row
		}
		if err != nil {
			break
		}
	}
}

// compareSides checks every cell of every row, value for value.
func compareSides(t *testing.T, what string, want, got rtSide, cols []rtColumn) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
	show := func(s string) string {
		if len(s) > 200 {
			return s[:200] + "..."
		}
		return s
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("%s: row id %s missing", what, id)
			continue
		}
		for _, c := range cols {
			if g[c.name] != w[c.name] {
				t.Errorf("%s: id %s, %s (%s): got %q, want %q", what, id, c.name, c.sqlType, show(g[c.name]), show(w[c.name]))
			}
		}
	}
}

func rtCreate(table string, cols []rtColumn) string {
	defs := []string{"id int PRIMARY KEY"}
	rows := 0
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.sqlType)
		rows = max(rows, len(c.values))
	}
	var inserts []string
	for r := 0; r < rows; r++ {
		vals := []string{strconv.Itoa(r + 1)}
		for _, c := range cols {
			v := "NULL"
			if r < len(c.values) {
				v = c.values[r]
			}
			vals = append(vals, v)
		}
		inserts = append(inserts, "("+strings.Join(vals, ", ")+")")
	}
	return fmt.Sprintf("CREATE TABLE %s (%s); INSERT INTO %s VALUES %s;", table, strings.Join(defs, ", "), table, strings.Join(inserts, ",\n"))
}

func rtSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pgColumns are the PostgreSQL columns; %[1]s in a value or expression is
// the test schema (enums, domains).
func pgColumns(schema string, citext bool) []rtColumn {
	bytea := `CASE WHEN length(%[1]s) <= 1024 THEN encode(%[1]s, 'hex') ELSE 'sha256:' || encode(sha256(%[1]s), 'hex') END`
	interval := `CASE WHEN %[1]s IS NOT NULL THEN format('%%s %%s %%s', (extract(year FROM %[1]s) * 12 + extract(month FROM %[1]s))::bigint, extract(day FROM %[1]s)::bigint,
		(extract(hour FROM %[1]s) * 3600000000 + extract(minute FROM %[1]s) * 60000000 + extract(microseconds FROM %[1]s))::bigint) END`
	// listOf renders an array as a JSON array of its elements rendered by
	// elem (NULL elements as null).
	listOf := func(elem string) string {
		e := strings.ReplaceAll(fmt.Sprintf(elem, "e"), "%", "%%")
		return `CASE WHEN %[1]s IS NULL THEN NULL ELSE coalesce((SELECT json_agg(CASE WHEN e IS NULL THEN NULL ELSE ` + e + ` END ORDER BY i)
			FROM unnest(%[1]s) WITH ORDINALITY u(e, i)), '[]') END`
	}
	list := listOf(`format('%%s', %[1]s)`)
	big60 := "123456789012345678901234567890123456789012345678901234567890.123456789"
	cols := []rtColumn{
		{name: "i2", sqlType: "smallint", kind: "exact", logical: "INT(16,true)", values: []string{"-32768", "32767", "0"}},
		{name: "i4", sqlType: "integer", kind: "exact", logical: "INT(32,true)", values: []string{"-2147483648", "2147483647", "0"}},
		{name: "i8", sqlType: "bigint", kind: "exact", logical: "INT(64,true)", values: []string{"-9223372036854775808", "9223372036854775807", "0"}},
		{name: "f4", sqlType: "real", kind: "float32", values: []string{"'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "'1.4e-45'", "'3.4028235e38'", "0.1", "'1.17549435e-38'"}},
		{name: "f8", sqlType: "double precision", kind: "float64", values: []string{"'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "'5e-324'", "'1.7976931348623157e308'", "0.1", "'2.2250738585072014e-308'"}},
		{name: "n38", sqlType: "numeric(38,10)", kind: "exact", logical: "DECIMAL(38,10)", values: []string{"'9999999999999999999999999999.9999999999'", "'-9999999999999999999999999999.9999999999'", "0", "'0.0000000001'", "'-0.0000000001'"}},
		{name: "n39", sqlType: "numeric(39,0)", kind: "exact", logical: "DECIMAL(39,0)", values: []string{"'999999999999999999999999999999999999999'", "'-999999999999999999999999999999999999999'", "0"}},
		{name: "n76", sqlType: "numeric(76,38)", kind: "exact", logical: "DECIMAL(76,38)", values: []string{"'99999999999999999999999999999999999999.99999999999999999999999999999999999999'", "'-0.00000000000000000000000000000000000001'"}},
		{name: "nfree", sqlType: "numeric", kind: "exact", logical: "STRING", values: []string{"'" + big60 + "'", "'-" + big60 + "'", "'NaN'", "'Infinity'", "'-Infinity'", "'0.000000000000000000000000000000000000000000000000000000000001'", "0", "'1e100'"}},
		{name: "t", sqlType: "text", kind: "exact", logical: "STRING", values: []string{"''", `E'line1\nline2\r\nline3'`, `'say "hi", then ''bye'''`, `'日本語 Ελληνικά 🎉 é'`, `E'tab\there, comma, back\\slash'`, `' lead and trail '`, `'\N'`, `'NULL'`}},
		{name: "vc", sqlType: "varchar(20)", kind: "exact", logical: "STRING", values: []string{"''", "'🎉🎉🎉'", `'a,b'`}},
		{name: "ch", sqlType: "char(5)", kind: "exact", logical: "STRING", values: []string{"'ab'", "''", "'héllo'"}},
		{name: "nm", sqlType: "name", kind: "exact", logical: "STRING", values: []string{"'pg_catalog'", "''"}},
		{name: "bt", sqlType: "bytea", kind: "bytes", expr: bytea, values: []string{`'\x00ff00'`, `''`, `'\x0a0d22272c5c00'`, "NULL", "NULL", "NULL", "NULL", "NULL",
			// 50 MiB of distinct bytes in one value (row 9).
			`(SELECT string_agg(sha256(int4send(g)), ''::bytea) FROM generate_series(1, 1638400) g)`}},
		{name: "b", sqlType: "boolean", kind: "bool", values: []string{"true", "false"}},
		{name: "d", sqlType: "date", kind: "date", logical: "DATE", values: []string{"'0001-01-01'", "'9999-12-31'", "'1969-12-31'", "'2000-02-29'", "'0001-01-01 BC'", "'4713-01-01 BC'", "'1970-01-01'"}},
		{name: "tm", sqlType: "time", kind: "time", logical: "TIME(isAdjustedToUTC=false,unit=MICROS)", values: []string{"'00:00:00'", "'23:59:59.999999'", "'24:00:00'", "'12:34:56.5'"}},
		{name: "ttz", sqlType: "timetz", kind: "exact", logical: "STRING", values: []string{"'12:34:56.789+05:30'", "'00:00:00-12'", "'23:59:59.999999+14'"}},
		{name: "ts", sqlType: "timestamp", kind: "timestamp", logical: "TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)", values: []string{"'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'1969-12-31 23:59:59.999999'", "'1900-01-01 00:00:00.000001'", "'2024-02-29 12:00:00.5'", "'0044-03-15 12:00:00 BC'"}},
		{name: "tstz", sqlType: "timestamptz", kind: "instant", logical: "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", values: []string{"'0001-01-01 00:00:00+00'", "'9999-12-31 23:59:59.999999+00'", "'1969-12-31 23:59:59.999999+00'", "'2024-03-31 01:59:59.123456-07:00'", "'1600-06-30 12:00:00.000001+05:45'"}},
		{name: "iv", sqlType: "interval", kind: "interval", expr: interval, logical: "STRING", values: []string{"'1 year 2 months 3 days 04:05:06.789012'", "'-1 mon -2 days -00:00:00.000001'", "'0'", "'2562047 hours'", "'-178000000 years'", "'1 mon -1 day 1 second'"}},
		{name: "u", sqlType: "uuid", kind: "exact", logical: "STRING", values: []string{"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}},
		{name: "js", sqlType: "json", kind: "exact", logical: "STRING", values: []string{`'{"b": 1,  "a": [1, 2.50, null], "s": "é\n"}'`, `'null'`, `'"x"'`, `'[]'`}},
		{name: "jsb", sqlType: "jsonb", kind: "exact", logical: "STRING", values: []string{`'{"b": 1,  "a": [1, 2.50, null], "s": "é\n"}'`, `'null'`, `'1e400'`, `'{}'`}},
		{name: "ip", sqlType: "inet", kind: "exact", logical: "STRING", values: []string{"'192.168.0.1'", "'10.0.0.1/8'", "'::1'", "'2001:db8::ff00:42:8329/64'", "'0.0.0.0/0'"}},
		{name: "net", sqlType: "cidr", kind: "exact", logical: "STRING", values: []string{"'10.0.0.0/8'", "'2001:db8::/32'", "'192.168.1.1/32'"}},
		{name: "mac", sqlType: "macaddr", kind: "exact", logical: "STRING", values: []string{"'08:00:2b:01:02:03'", "'ff-ff-ff-ff-ff-ff'"}},
		{name: "en", sqlType: "%[1]s.mood", kind: "exact", logical: "STRING", values: []string{"'happy'", "'sad, \"really\"'", "'😀'"}},
		{name: "dom", sqlType: "%[1]s.posint", kind: "exact", logical: "INT(32,true)", values: []string{"1", "2147483647"}},
		{name: "domt", sqlType: "%[1]s.label", kind: "exact", logical: "STRING", values: []string{"'x'", "''", "E'multi\nline'"}},
		{name: "xm", sqlType: "xml", kind: "exact", logical: "STRING", values: []string{"'<a x=\"1\">é &amp; 🎉</a>'", "''"}},
		{name: "mo", sqlType: "money", kind: "exact", logical: "STRING", values: []string{"'-92233720368547758.08'", "'92233720368547758.07'", "0"}},
		{name: "vb", sqlType: "bit varying(70)", kind: "exact", logical: "STRING", values: []string{"B'" + strings.Repeat("10", 35) + "'", "B''"}},
		{name: "rg", sqlType: "int4range", kind: "exact", logical: "STRING", values: []string{"'[1,10)'", "'empty'", "'(,5]'"}},
		{name: "pt", sqlType: "point", kind: "exact", logical: "STRING", values: []string{"'(1.5,-2)'", "'(1e300,NaN)'"}},
		{name: "a2", sqlType: "integer[][]", kind: "exact", logical: "STRING", values: []string{"'{{1,2},{3,NULL}}'", "'{}'"}},
		{name: "t3", sqlType: "timestamp(3)", kind: "timestamp", logical: "TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)", values: []string{"'2024-01-01 00:00:00.1236'", "'1960-01-01 00:00:00.001'"}},
		{name: "ai", sqlType: "integer[]", kind: "exact", expr: list, list: true, logical: "INT(32,true)", values: []string{"'{1,NULL,-2147483648}'", "'{}'", "'{NULL}'", "'[0:1]={7,8}'"}},
		{name: "at", sqlType: "text[]", kind: "exact", expr: list, list: true, logical: "STRING", values: []string{`'{"a,b","","q\"uote",NULL,"NULL","é🎉"}'`, "'{}'", `ARRAY[E'new\nline']`}},
		{name: "an", sqlType: "numeric(20,5)[]", kind: "exact", expr: list, list: true, logical: "DECIMAL(20,5)", values: []string{"'{1.5,-99999999999999.99999,NULL}'", "'{}'"}},
		{name: "atz", sqlType: "timestamptz[]", kind: "instant", expr: list, list: true, logical: "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", values: []string{"'{\"2024-01-01 00:00:00.000001+00\",NULL,\"0001-01-01 00:00:00+00\"}'", "'{}'"}},
		{name: "au", sqlType: "uuid[]", kind: "exact", expr: list, list: true, logical: "STRING", values: []string{"'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'"}},
		{name: "ab", sqlType: "boolean[]", kind: "bool", expr: list, list: true, values: []string{"'{t,f,NULL}'"}},
		{name: "af8", sqlType: "double precision[]", kind: "float64", expr: list, list: true, values: []string{"'{NaN,Infinity,-0,5e-324}'"}},
		{name: "af4", sqlType: "real[]", kind: "float32", expr: list, list: true, values: []string{"'{NaN,-Infinity,1e-45}'"}},
		{name: "ai8", sqlType: "bigint[]", kind: "exact", expr: list, list: true, logical: "INT(64,true)", values: []string{"'{9223372036854775807,-9223372036854775808}'"}},
		{name: "aiv", sqlType: "interval[]", kind: "interval", expr: listOf(interval), list: true, logical: "STRING", values: []string{`'{"1 day",NULL,"-1 mon -00:00:00.000001"}'`, "'{}'"}},
		{name: "aba", sqlType: "bytea[]", kind: "bytes", expr: listOf(bytea), list: true, values: []string{`'{"\\x00ff",NULL,""}'`}},
		{name: "ad", sqlType: "date[]", kind: "date", expr: list, list: true, logical: "DATE", values: []string{"'{2024-01-01,0001-01-01 BC,NULL}'"}},
		{name: "atm", sqlType: "time[]", kind: "time", expr: list, list: true, logical: "TIME(isAdjustedToUTC=false,unit=MICROS)", values: []string{"'{24:00:00,00:00:00.000001}'"}},
		{name: "anf", sqlType: "numeric[]", kind: "exact", expr: list, list: true, logical: "STRING", values: []string{"'{NaN,1e-100,-Infinity,NULL}'"}},
		{name: "ach", sqlType: "char(3)[]", kind: "exact", expr: list, list: true, logical: "STRING", values: []string{`'{a,NULL,"  "}'`}},
		{name: "ajb", sqlType: "jsonb[]", kind: "exact", expr: list, list: true, logical: "STRING", values: []string{`ARRAY['{"a": 1}'::jsonb, 'null', NULL]`}},
		{name: "attz", sqlType: "timetz[]", kind: "exact", expr: list, list: true, logical: "STRING", values: []string{"'{12:00+01,23:59:59.999999-14}'"}},
	}
	if citext {
		cols = append(cols, rtColumn{name: "ci", sqlType: "citext", kind: "exact", logical: "STRING", values: []string{"'MiXeD Case'", "''", "'ÄÖÜ'"}})
	}
	for i := range cols {
		if strings.Contains(cols[i].sqlType, "%") {
			cols[i].sqlType = fmt.Sprintf(cols[i].sqlType, schema)
		}
	}
	return cols
}

func TestRoundTripPostgresTypes(t *testing.T) {
	t.Parallel() // its own schema
	pgTabbed(t, "SELECT 1")
	bin := testkit.Build(t, "postgres", "mysql")
	schema := "hp_rt_" + rtSuffix()
	pgTabbed(t, fmt.Sprintf(`CREATE SCHEMA %[1]s; CREATE TYPE %[1]s.mood AS ENUM ('happy', 'sad, "really"', '😀');
		CREATE DOMAIN %[1]s.posint AS integer CHECK (VALUE > 0); CREATE DOMAIN %[1]s.label AS text`, schema))
	pgCleanup(t, "DROP SCHEMA "+schema+" CASCADE")
	_, err := pgRun(context.Background(), "CREATE EXTENSION IF NOT EXISTS citext", "|")
	citext := err == nil
	if !citext {
		t.Log("citext: the extension cannot be created here; not covered")
	}
	cols := pgColumns(schema, citext)
	table := schema + ".types"
	pgTabbed(t, rtCreate(table, cols))

	// The expectation, in a session whose zone is not UTC, so instants
	// are compared by instant.
	sel := []string{"id"}
	for _, c := range cols {
		e := c.name
		if c.expr != "" {
			e = fmt.Sprintf(c.expr, c.name)
		}
		sel = append(sel, fmt.Sprintf(`CASE WHEN (%[1]s) IS NULL THEN 'N' ELSE 'V' || encode(convert_to(format('%%s', %[1]s), 'UTF8'), 'hex') END`, e))
	}
	want := dbSide(t, pgTabbed(t, fmt.Sprintf("SET TimeZone = 'Asia/Kathmandu'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1; SELECT %s FROM %s ORDER BY id",
		strings.Join(sel, ", "), table)), cols)
	if len(want) != 9 {
		t.Fatalf("the database returned %d rows, want 9", len(want))
	}

	env := []string{"HP_PG_DSN=" + pgDSN}
	for _, f := range []string{"csv", "parquet", "jsonl"} {
		t.Run(f, func(t *testing.T) {
			compareSides(t, "PostgreSQL → "+f, want, snapSide(t, bin, env, "pg."+table, f, cols), cols)
		})
	}

	// Infinite dates and instants, and NaN in a numeric(p,s), fail the read
	// (Arrow has no such values): exit 2, the column named, nothing
	// published.
	pgTabbed(t, fmt.Sprintf(`CREATE TABLE %[1]s.inf (id int PRIMARY KEY, ok text, happened timestamptz, amount numeric(10,2));
		INSERT INTO %[1]s.inf VALUES (1, 'fine', '2024-01-01 00:00:00+00', 1), (2, 'far', 'infinity', 2), (3, 'odd', NULL, 'NaN')`, schema))
	for _, c := range []struct{ where, column, value string }{{"id < 3", `"happened"`, "infinity"}, {"id <> 2", `"amount"`, "NaN"}} {
		for _, f := range []string{"csv", "parquet"} {
			out := t.TempDir()
			res := bin.Run(t, append(env, "HP_OUT_DSN="+out), "cp", "snap", "pg."+schema+".inf", "out.inf", "--format", f, "--where", c.where)
			if res.Code != 2 {
				t.Errorf("%s: %s: exit %d\n%s", f, c.value, res.Code, res.Stderr)
			}
			testkit.Contains(t, "hp's error for "+c.value, res.Stderr, c.column, c.value)
			assertNothingPublished(t, out)
		}
	}
}

const myDSN = "mysql://root@127.0.0.1:3306/test"

func mysqlOut(t *testing.T, sql string) string {
	t.Helper()
	cmd := exec.Command("mysql", "-h127.0.0.1", "-P3306", "-uroot", "--batch", "--skip-column-names", "--default-character-set=utf8mb4", "test", "-e", sql)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		testkit.ClientFailed(t, "MariaDB (mysql client)", err, errOut.String())
	}
	return out.String()
}

// myColumns are the MariaDB columns. FLOAT is rendered through DOUBLE:
// MariaDB prints a FLOAT with 6 digits, not the stored value.
func myColumns() []rtColumn {
	blob := `IF(LENGTH(%[1]s) <= 1024, HEX(%[1]s), CONCAT('sha256:', SHA2(%[1]s, 256)))`
	return []rtColumn{
		{name: "ti", sqlType: "TINYINT", kind: "exact", logical: "INT(8,true)", values: []string{"-128", "127", "0"}},
		{name: "tiu", sqlType: "TINYINT UNSIGNED", kind: "exact", logical: "INT(8,false)", values: []string{"255", "0"}},
		{name: "si", sqlType: "SMALLINT", kind: "exact", logical: "INT(16,true)", values: []string{"-32768", "32767"}},
		{name: "siu", sqlType: "SMALLINT UNSIGNED", kind: "exact", logical: "INT(16,false)", values: []string{"65535", "0"}},
		{name: "mi", sqlType: "MEDIUMINT", kind: "exact", logical: "INT(32,true)", values: []string{"-8388608", "8388607"}},
		{name: "miu", sqlType: "MEDIUMINT UNSIGNED", kind: "exact", logical: "INT(32,false)", values: []string{"16777215", "0"}},
		{name: "i", sqlType: "INT", kind: "exact", logical: "INT(32,true)", values: []string{"-2147483648", "2147483647"}},
		{name: "iu", sqlType: "INT UNSIGNED", kind: "exact", logical: "INT(32,false)", values: []string{"4294967295", "0"}},
		{name: "bi", sqlType: "BIGINT", kind: "exact", logical: "INT(64,true)", values: []string{"-9223372036854775808", "9223372036854775807"}},
		{name: "biu", sqlType: "BIGINT UNSIGNED", kind: "exact", logical: "INT(64,false)", values: []string{"18446744073709551615", "9223372036854775808", "0"}},
		{name: "d65", sqlType: "DECIMAL(65,30)", kind: "exact", logical: "DECIMAL(65,30)", values: []string{
			"99999999999999999999999999999999999.999999999999999999999999999999", "-99999999999999999999999999999999999.999999999999999999999999999999",
			"0.000000000000000000000000000001", "0"}},
		{name: "d38", sqlType: "DECIMAL(38,10)", kind: "exact", logical: "DECIMAL(38,10)", values: []string{"9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999", "-0.0000000001"}},
		{name: "d380", sqlType: "DECIMAL(38,0)", kind: "exact", logical: "DECIMAL(38,0)", values: []string{"99999999999999999999999999999999999999", "-99999999999999999999999999999999999999", "0"}},
		{name: "fl", sqlType: "FLOAT", kind: "float32", expr: "CAST(%[1]s AS DOUBLE)", values: []string{"3.4028234e38", "-3.4028234e38", "0.1", "1.17549435e-38", "1.4e-45", "-0e0", "16777217"}},
		{name: "db", sqlType: "DOUBLE", kind: "float64", values: []string{"1.7976931348623157e308", "-1.7976931348623157e308", "0.1", "2.2250738585072014e-308", "5e-324", "-0e0"}},
		{name: "dt", sqlType: "DATE", kind: "zerodate", logical: "DATE", values: []string{"'1000-01-01'", "'9999-12-31'", "'0000-00-00'", "'1969-12-31'", "'0001-01-01'", "'0000-01-01'"}},
		{name: "dtm", sqlType: "DATETIME(6)", kind: "zeroinstant", logical: "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", values: []string{
			"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'0000-00-00 00:00:00'", "'1969-12-31 23:59:59.999999'", "'0001-01-01 00:00:00.000001'", "'0000-01-01 00:00:00.000001'"}},
		{name: "tsp", sqlType: "TIMESTAMP(6) NULL", kind: "zeroinstant", logical: "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)", values: []string{
			"'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'", "'0000-00-00 00:00:00'", "'2024-02-29 12:00:00.5'"}},
		{name: "tm", sqlType: "TIME(6)", kind: "exact", logical: "STRING", values: []string{"'-838:59:59'", "'838:59:59'", "'00:00:00'", "'-00:00:00.000001'", "'100:00:00.5'", "'23:59:59.999999'"}},
		{name: "yr", sqlType: "YEAR", kind: "exact", expr: "%[1]s + 0", logical: "INT(16,true)", values: []string{"1901", "2155", "0"}},
		{name: "b1", sqlType: "BIT(1)", kind: "bool", expr: "%[1]s + 0", values: []string{"b'1'", "b'0'"}},
		{name: "b64", sqlType: "BIT(64)", kind: "exact", expr: "%[1]s + 0", logical: "INT(64,false)", values: []string{"b'" + strings.Repeat("1", 64) + "'", "b'0'", "b'1" + strings.Repeat("0", 63) + "'"}},
		{name: "en", sqlType: "ENUM('a','b,c','😀','')", kind: "exact", logical: "STRING", values: []string{"'a'", "'b,c'", "'😀'", "''"}},
		{name: "st", sqlType: "SET('x','y','z')", kind: "exact", logical: "STRING", values: []string{"'x,z'", "''", "'x,y,z'"}},
		{name: "js", sqlType: "JSON", kind: "exact", logical: "STRING", values: []string{`'{"a": [1, 2.50, null], "s": "é\\n"}'`, "'null'", "'[]'"}},
		{name: "ch", sqlType: "CHAR(10) CHARACTER SET utf8mb4", kind: "exact", logical: "STRING", values: []string{"'ab'", "''", "'🎉'"}},
		{name: "vc", sqlType: "VARCHAR(100) CHARACTER SET utf8mb4", kind: "exact", logical: "STRING", values: []string{
			"''", "'nul\\0byte'", `'say "hi", ''bye'''`, "'日本語 🎉 é'", "'line1\\nline2\\r\\n'", "'\\\\N'", "'NULL'", "' lead and trail '"}},
		{name: "tx", sqlType: "TEXT CHARACTER SET utf8mb4", kind: "exact", logical: "STRING", values: []string{"'tab\\there, back\\\\slash'", "''", "'🎉🎉'"}},
		{name: "mt", sqlType: "MEDIUMTEXT CHARACTER SET utf8mb4", kind: "exact", logical: "STRING", values: []string{`'\\0 is not NUL, but this is: \0'`, "''"}},
		{name: "uu", sqlType: "UUID", kind: "exact", logical: "STRING", values: []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"}},
		{name: "ip6", sqlType: "INET6", kind: "exact", logical: "STRING", values: []string{"'2001:db8::ff00:42:8329'", "'::ffff:10.0.0.1'", "'::'"}},
		{name: "geo", sqlType: "GEOMETRY", kind: "bytes", expr: blob, values: []string{"POINT(1, 2)", "ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4326)"}},
		{name: "bn", sqlType: "BINARY(4)", kind: "bytes", expr: blob, values: []string{"X'00FF0000'", "'ab'", "X''"}},
		{name: "vb", sqlType: "VARBINARY(100)", kind: "bytes", expr: blob, values: []string{"X''", "X'000A0D222C5C'", "X'FF'"}},
		{name: "bl", sqlType: "BLOB", kind: "bytes", expr: blob, values: []string{"X'00'", "X''"}},
		{name: "lb", sqlType: "LONGBLOB", kind: "bytes", expr: blob, values: []string{"X'0102'", "X''", "NULL", "NULL", "NULL", "NULL", "NULL",
			// 50 MiB of distinct bytes in one value (row 8).
			"(SELECT GROUP_CONCAT(UNHEX(SHA2(seq, 256)) ORDER BY seq SEPARATOR '') FROM seq_1_to_1638400)"}},
	}
}

func TestRoundTripMariaDBTypes(t *testing.T) {
	mysqlOut(t, "SELECT 1")
	bin := testkit.Build(t, "postgres", "mysql")
	// Building the 50 MiB value on the server needs a packet larger than
	// MariaDB's default 16 MiB; reading it does not, so the setting is
	// back to what it was before hp runs.
	old := strings.TrimSpace(mysqlOut(t, "SELECT @@GLOBAL.max_allowed_packet"))
	restore := func() { mysqlOut(t, "SET GLOBAL max_allowed_packet = "+old) }
	mysqlOut(t, "SET GLOBAL max_allowed_packet = 128 * 1024 * 1024")
	t.Cleanup(restore)
	table := "hp_rt_" + rtSuffix()
	cols := myColumns()
	t.Cleanup(func() { mysqlOut(t, "DROP TABLE IF EXISTS "+table+", "+table+"_zero") })
	mysqlOut(t, "SET SESSION sql_mode = 'STRICT_ALL_TABLES'; SET SESSION group_concat_max_len = 64 * 1024 * 1024; "+
		strings.Replace(rtCreate(table, cols), ");", ") CHARACTER SET utf8mb4;", 1))
	restore()

	sel := []string{"id"}
	for _, c := range cols {
		e := c.name
		if c.expr != "" {
			e = fmt.Sprintf(c.expr, c.name)
		}
		sel = append(sel, fmt.Sprintf(`IF((%[1]s) IS NULL, 'N', CONCAT('V', HEX(CONVERT(%[1]s USING utf8mb4))))`, e))
	}
	want := dbSide(t, mysqlOut(t, fmt.Sprintf("SET time_zone = '+00:00'; SELECT %s FROM %s ORDER BY id", strings.Join(sel, ", "), table)), cols)
	if len(want) != 8 {
		t.Fatalf("the database returned %d rows, want 8", len(want))
	}
	env := []string{"HP_MY_DSN=" + myDSN}
	for _, f := range []string{"csv", "parquet", "jsonl"} {
		t.Run(f, func(t *testing.T) {
			compareSides(t, "MariaDB → "+f, want, snapSide(t, bin, env, "my.test."+table, f, cols), cols)
		})
	}

	// A date with a zero month or day (no NO_ZERO_IN_DATE) has no value:
	// exit 2, the column and value named, nothing published.
	mysqlOut(t, fmt.Sprintf(`SET SESSION sql_mode = 'STRICT_ALL_TABLES'; CREATE TABLE %[1]s_zero (id int PRIMARY KEY, ok text, happened date);
		INSERT INTO %[1]s_zero VALUES (1, 'fine', '2024-01-01'), (2, 'partial', '2024-00-15')`, table))
	for _, f := range []string{"csv", "parquet"} {
		out := t.TempDir()
		res := bin.Run(t, append(env, "HP_OUT_DSN="+out), "cp", "snap", "my.test."+table+"_zero", "out.zero", "--format", f)
		if res.Code != 2 {
			t.Errorf("%s: zero month: exit %d, want 2\n%s", f, res.Code, res.Stderr)
		}
		testkit.Contains(t, "hp's error for a zero month", res.Stderr, `"happened"`, "2024-00-15")
		assertNothingPublished(t, out)
	}
}
