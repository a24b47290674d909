package tds

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bulk is one bulk load ([MS-TDS] 2.2.6.1): the INSERT BULK statement that
// announced it and the BULKLOAD message that followed.
type Bulk struct {
	// SQL is the INSERT BULK statement; Table the object name it names,
	// as written there (e.g. "[dbo].[t]").
	SQL, Table string
	// Columns are the client's COLMETADATA.
	Columns []Column
	// Rows hold the values decoded as RPC parameters are (see [Param]).
	Rows [][]any
	// Session is the connection's, as in [Query].
	Session uint64
	// Declared are the table's columns as its CREATE TABLE declared
	// them (collations resolved), nil for a table the server does not
	// know: a #temporary table's are the connection's.
	Declared []Column
}

// HandleBulk makes f see every bulk load before it is acknowledged; a
// non-nil Error fails the load. Without it every load succeeds.
func (s *Server) HandleBulk(f func(Bulk) *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bulkFn = f
}

// Bulks returns the bulk loads received so far, in order.
func (s *Server) Bulks() []Bulk {
	var out []Bulk
	for _, q := range s.Queries() {
		if q.Bulk != nil {
			out = append(out, *q.Bulk)
		}
	}
	return out
}

// CreateTable declares a table as a CREATE TABLE batch would, so that bulk
// loads into it find its columns. name is a (possibly bracket-quoted)
// one- or two-part name; no schema means dbo.
func (s *Server) CreateTable(name string, cols []Column) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tableKey(name)
	s.tables[k] = s.collate(cols, false)
	if parts, _ := splitName(strings.TrimSpace(name)); len(parts) > 0 {
		schema, _, _ := strings.Cut(k, ".")
		if len(parts) > 1 && parts[len(parts)-2] != "" {
			schema = parts[len(parts)-2]
		}
		s.tableNames[k] = [2]string{schema, parts[len(parts)-1]}
	}
}

// TempTable returns the columns of a session's #temporary table, for a
// handler of a query of that session.
func (s *Server) TempTable(session uint64, name string) ([]Column, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.temps[session][tableKey(name)]
	return c, ok
}

// Table returns the columns of a table created by CREATE TABLE or
// CreateTable (not of #temporary tables, which belong to a connection).
func (s *Server) Table(name string) ([]Column, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.tables[tableKey(name)]
	return c, ok
}

// bulkLoad answers a BULKLOAD message.
func (cn *conn) bulkLoad(data []byte) error {
	stmt := cn.bulkStmt
	cn.bulkStmt = ""
	if stmt == "" {
		return cn.sendError(&Error{Number: 4819, State: 1, Class: 16, Message: "Cannot bulk load. The bulk data stream was incorrectly specified as sorted or the data violates a uniqueness constraint imposed by the target table. (tds test server: no INSERT BULK statement came first)"}, false)
	}
	b, err := parseBulk(data)
	if err != nil {
		return cn.sendError(&Error{Number: 50000, State: 1, Class: 16, Message: "tds test server: cannot decode BULKLOAD: " + err.Error()}, false)
	}
	b.SQL = stmt
	b.Table = bulkTarget(stmt)
	b.Session = cn.id
	b.Declared, _ = cn.table(b.Table)
	cn.s.logf("tds: bulk load of %d rows into %s", len(b.Rows), b.Table)
	cn.s.mu.Lock()
	cn.s.queries = append(cn.s.queries, Query{Bulk: &b})
	f := cn.s.bulkFn
	cn.s.mu.Unlock()
	if f != nil {
		if e := f(b); e != nil {
			return cn.sendError(e, false)
		}
	}
	return cn.sendDone(tokDone, doneCount, 0, uint64(len(b.Rows)))
}

// parseBulk decodes COLMETADATA, ROW/NBCROW tokens and the final DONE.
func parseBulk(d []byte) (Bulk, error) {
	var b Bulk
	r := &rd{b: d}
	if r.u8() != tokColMetadata {
		return b, errors.New("BULKLOAD does not start with COLMETADATA")
	}
	n := int(r.u16())
	tis := make([]typeInfo, n)
	for i := 0; i < n && r.err == nil; i++ {
		r.u32() // user type
		flags := r.u16()
		ti, err := readTypeInfo(r)
		if err != nil {
			return b, fmt.Errorf("column %d: %w", i+1, err)
		}
		if ti.lob() {
			r.take(int(r.u16()) * 2) // table name
		}
		name := decodeUCS2(r.take(int(r.u8()) * 2))
		col, err := columnOf(ti)
		if err != nil {
			return b, fmt.Errorf("column %q: %w", name, err)
		}
		col.Name, col.Nullable = name, flags&1 != 0
		tis[i] = ti
		b.Columns = append(b.Columns, col)
	}
	for r.err == nil {
		switch tok := r.u8(); tok {
		case tokRow, tokNBCRow:
			var nulls []byte
			if tok == tokNBCRow {
				nulls = r.take((n + 7) / 8)
			}
			row := make([]any, n)
			for i, ti := range tis {
				if nulls != nil && nulls[i/8]&(1<<(i%8)) != 0 {
					continue
				}
				v, err := readValue(r, ti)
				if err != nil {
					return b, fmt.Errorf("row %d, column %q: %w", len(b.Rows)+1, b.Columns[i].Name, err)
				}
				row[i] = v
			}
			b.Rows = append(b.Rows, row)
		case tokDone:
			r.take(12)
			if r.err == nil && len(r.b) != 0 {
				return b, fmt.Errorf("%d bytes after DONE", len(r.b))
			}
			return b, r.err
		default:
			if r.err == nil {
				return b, fmt.Errorf("unexpected token 0x%02X", tok)
			}
		}
	}
	return b, r.err
}

// columnOf describes a TYPE_INFO as a Column.
func columnOf(ti typeInfo) (Column, error) {
	var c Column
	sized := func(four, eight Type) Type {
		if ti.size == 4 {
			return four
		}
		return eight
	}
	switch ti.typ {
	case 0x30:
		c.Type = TinyInt
	case 0x34:
		c.Type = SmallInt
	case 0x38:
		c.Type = Int
	case 0x7F:
		c.Type = BigInt
	case 0x26:
		c.Type = map[int]Type{1: TinyInt, 2: SmallInt, 4: Int, 8: BigInt}[ti.size]
	case 0x32, 0x68:
		c.Type = Bit
	case 0x3B, 0x3E, 0x6D:
		c.Type = sized(Real, Float)
	case 0x3C, 0x7A, 0x6E:
		c.Type = sized(SmallMoney, Money)
	case 0x3D, 0x3A, 0x6F:
		c.Type = sized(SmallDateTime, DateTime)
	case 0x37, 0x6A:
		c.Type, c.Precision, c.Scale = Decimal, ti.prec, ti.scale
	case 0x3F, 0x6C:
		c.Type, c.Precision, c.Scale = Numeric, ti.prec, ti.scale
	case 0x24:
		c.Type = UniqueIdentifier
	case 0x28:
		c.Type = Date
	case 0x29:
		c.Type, c.Scale = Time, ti.scale
	case 0x2A:
		c.Type, c.Scale = DateTime2, ti.scale
	case 0x2B:
		c.Type, c.Scale = DateTimeOffset, ti.scale
	case 0xA5, 0xAD, 0x22:
		c.Type, c.Length = VarBinary, ti.size
	case 0xA7, 0xAF, 0x23:
		c.Type, c.Length = VarChar, ti.size
	case 0xE7, 0xEF, 0x63:
		c.Type, c.Length = NVarChar, ti.size/2
	case 0xF1:
		c.Type = XML
	}
	if c.Type == 0 {
		return c, fmt.Errorf("no column type for TDS type 0x%02X size %d", ti.typ, ti.size)
	}
	if ti.plp() || ti.lob() {
		c.Length = Max
	}
	return c, nil
}

// bulkTarget extracts the object name of an INSERT BULK statement.
func bulkTarget(stmt string) string {
	rest := strings.TrimSpace(stmt)
	if len(rest) >= len("INSERT BULK") && strings.EqualFold(rest[:len("INSERT BULK")], "INSERT BULK") {
		rest = strings.TrimSpace(rest[len("INSERT BULK"):])
	}
	parts, n := splitName(rest)
	if parts == nil {
		return ""
	}
	return strings.TrimSpace(rest[:n])
}

// splitName reads a multi-part identifier ([a].[b], a.b, "a".b, #t) from
// the start of s: its unquoted parts and the bytes it spans.
func splitName(s string) ([]string, int) {
	var parts []string
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return parts, i
		}
		var part strings.Builder
		switch s[i] {
		case '[', '"':
			end := byte(']')
			if s[i] == '"' {
				end = '"'
			}
			i++
			for {
				if i >= len(s) {
					return nil, 0
				}
				if s[i] == end {
					if i+1 < len(s) && s[i+1] == end {
						part.WriteByte(end)
						i += 2
						continue
					}
					i++
					break
				}
				part.WriteByte(s[i])
				i++
			}
		default:
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] == '#') {
				j++
			}
			if j == i {
				return parts, i
			}
			part.WriteString(s[i:j])
			i = j
		}
		parts = append(parts, part.String())
		if i >= len(s) || s[i] != '.' {
			return parts, i
		}
		i++
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c == '@' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// tableKey normalises a table name: lower case (SQL Server's default
// collation is case-insensitive), schema dbo when none is given, and
// #temporary names alone.
func tableKey(name string) string {
	parts, _ := splitName(strings.TrimSpace(name))
	if len(parts) == 0 {
		return ""
	}
	last := strings.ToLower(parts[len(parts)-1])
	if strings.HasPrefix(last, "#") {
		return last
	}
	schema := "dbo"
	if len(parts) > 1 && parts[len(parts)-2] != "" {
		schema = strings.ToLower(parts[len(parts)-2])
	}
	return schema + "." + last
}

// parseCreateTable reads "[IF OBJECT_ID(...) IS NULL] CREATE TABLE name
// (column type [NULL|NOT NULL] ..., [table constraints])". ifMissing
// reports the IF prefix.
func parseCreateTable(sql string) (name string, cols []Column, ifMissing, ok bool, err error) {
	s := strings.TrimSpace(sql)
	up := strings.ToUpper(s)
	if strings.HasPrefix(up, "IF ") {
		i := strings.Index(up, "CREATE TABLE ")
		if i < 0 || !strings.Contains(up[:i], "IS NULL") {
			return "", nil, false, false, nil
		}
		s, up, ifMissing = s[i:], up[i:], true
	}
	if !strings.HasPrefix(up, "CREATE TABLE ") {
		return "", nil, false, false, nil
	}
	s = strings.TrimSpace(s[len("CREATE TABLE "):])
	parts, n := splitName(s)
	if len(parts) == 0 {
		return "", nil, false, true, errors.New("CREATE TABLE without a table name")
	}
	name = strings.TrimSpace(s[:n])
	body := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s[n:]), ";"))
	if !strings.HasPrefix(body, "(") || !strings.HasSuffix(body, ")") {
		return name, nil, ifMissing, true, errors.New("CREATE TABLE without a column list")
	}
	var pk []string
	for _, def := range splitTopLevel(body[1 : len(body)-1]) {
		def = strings.TrimSpace(def)
		if def == "" {
			continue
		}
		switch strings.ToUpper(strings.Fields(def + " ")[0]) {
		case "CONSTRAINT", "PRIMARY", "UNIQUE", "INDEX", "CHECK", "FOREIGN":
			if i := strings.Index(strings.ToUpper(def), "PRIMARY KEY"); i >= 0 {
				list := strings.TrimSpace(def[i+len("PRIMARY KEY"):])
				for _, w := range []string{"NONCLUSTERED", "CLUSTERED"} {
					if strings.HasPrefix(strings.ToUpper(list), w) {
						list = strings.TrimSpace(list[len(w):])
						break
					}
				}
				if !strings.HasPrefix(list, "(") || !strings.HasSuffix(list, ")") {
					return name, nil, ifMissing, true, fmt.Errorf("bad PRIMARY KEY constraint %q", def)
				}
				for _, k := range splitTopLevel(list[1 : len(list)-1]) {
					parts, _ := splitName(strings.TrimSpace(k))
					if len(parts) != 1 {
						return name, nil, ifMissing, true, fmt.Errorf("bad PRIMARY KEY column %q", k)
					}
					pk = append(pk, parts[0])
				}
			}
			continue
		}
		c, err := parseColumnDef(def)
		if err != nil {
			return name, nil, ifMissing, true, err
		}
		cols = append(cols, c)
	}
	// As SQL Server does, a key column must exist, be NOT NULL and not be
	// of a (max) type.
	for _, k := range pk {
		i := slices.IndexFunc(cols, func(c Column) bool { return c.Name == k })
		switch {
		case i < 0:
			return name, nil, ifMissing, true, fmt.Errorf("column name %q does not exist in the target table", k)
		case cols[i].Nullable:
			return name, nil, ifMissing, true, fmt.Errorf("cannot define PRIMARY KEY constraint on nullable column %q", k)
		case cols[i].Length == Max:
			return name, nil, ifMissing, true, fmt.Errorf("column %q is of a type that is invalid for use as a key column in an index", k)
		}
		cols[i].PrimaryKey = true
	}
	return name, cols, ifMissing, true, nil
}

// splitTopLevel splits at commas outside parentheses and brackets.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	inBracket := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inBracket:
			if c == ']' {
				if i+1 < len(s) && s[i+1] == ']' {
					i++
				} else {
					inBracket = false
				}
			}
		case c == '[':
			inBracket = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseColumnDef reads "name type[(args)] [NULL|NOT NULL] [...]".
func parseColumnDef(def string) (Column, error) {
	parts, n := splitName(def)
	if len(parts) != 1 {
		return Column{}, fmt.Errorf("bad column definition %q", def)
	}
	c := Column{Name: parts[0], Nullable: true}
	rest := strings.TrimSpace(def[n:])
	j := 0
	for j < len(rest) && isWordByte(rest[j]) {
		j++
	}
	typ := strings.ToLower(rest[:j])
	rest = strings.TrimSpace(rest[j:])
	var args []string
	if strings.HasPrefix(rest, "(") {
		k := strings.Index(rest, ")")
		if k < 0 {
			return c, fmt.Errorf("column %q: unclosed type arguments", c.Name)
		}
		for _, a := range strings.Split(rest[1:k], ",") {
			args = append(args, strings.ToLower(strings.TrimSpace(a)))
		}
		rest = rest[k+1:]
	}
	if strings.Contains(strings.ToUpper(rest), "NOT NULL") {
		c.Nullable = false
	}
	if f := strings.Fields(rest); len(f) > 1 && strings.EqualFold(f[0], "COLLATE") {
		c.Collation = f[1]
	}
	num := func(i, def int) (int, error) {
		if i >= len(args) {
			return def, nil
		}
		if args[i] == "max" {
			return Max, nil
		}
		return strconv.Atoi(args[i])
	}
	var err error
	simple := map[string]Type{
		"bigint": BigInt, "int": Int, "smallint": SmallInt, "tinyint": TinyInt, "bit": Bit, "real": Real,
		"money": Money, "smallmoney": SmallMoney, "date": Date, "datetime": DateTime, "smalldatetime": SmallDateTime,
		"uniqueidentifier": UniqueIdentifier, "xml": XML,
	}
	switch {
	case simple[typ] != 0:
		c.Type = simple[typ]
	case typ == "float":
		p, e := num(0, 53)
		c.Type, err = Float, e
		if p <= 24 {
			c.Type = Real
		}
	case typ == "decimal" || typ == "numeric":
		c.Type = Decimal
		if typ == "numeric" {
			c.Type = Numeric
		}
		p, e1 := num(0, 18)
		s, e2 := num(1, 0)
		c.Precision, c.Scale, err = uint8(p), uint8(s), errors.Join(e1, e2)
	case typ == "time" || typ == "datetime2" || typ == "datetimeoffset":
		c.Type = map[string]Type{"time": Time, "datetime2": DateTime2, "datetimeoffset": DateTimeOffset}[typ]
		s, e := num(0, 7)
		c.Scale, err = uint8(s), e
	case typ == "nvarchar" || typ == "nchar" || typ == "ntext":
		c.Type = NVarChar
		c.Length, err = num(0, 1)
		if typ == "ntext" {
			c.Length = Max
		}
	case typ == "varchar" || typ == "char" || typ == "text":
		c.Type = VarChar
		c.Length, err = num(0, 1)
		if typ == "text" {
			c.Length = Max
		}
	case typ == "varbinary" || typ == "binary" || typ == "image":
		c.Type = VarBinary
		c.Length, err = num(0, 1)
		if typ == "image" {
			c.Length = Max
		}
	default:
		return c, fmt.Errorf("column %q: type %q is not supported by the tds test server", c.Name, typ)
	}
	if err != nil {
		return c, fmt.Errorf("column %q: bad type arguments %v", c.Name, args)
	}
	return c, nil
}
