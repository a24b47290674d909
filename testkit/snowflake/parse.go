package snowflake

import (
	"fmt"
	"strings"
	"unicode"
)

// The parser reads the statements hp sends, in Snowflake's syntax, and
// rejects everything else with a syntax error: a statement it does not
// know is a bug to see, not one to guess at.

type tokKind int

const (
	tIdent tokKind = iota + 1
	tQuoted
	tString
	tNumber
	tSym
	tStage
	tEOF
)

type token struct {
	kind tokKind
	text string // idents upper-cased when unquoted
}

func lex(src string) ([]token, error) {
	var out []token
	rs := []rune(src)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'':
			text, next, err := quoted(rs, i)
			if err != nil {
				return nil, err
			}
			kind := tString
			if c == '"' {
				kind = tQuoted
			}
			out = append(out, token{kind, text})
			i = next
		case c == '@':
			j := i + 1
			for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != ')' && rs[j] != ',' && rs[j] != ';' {
				j++
			}
			out = append(out, token{tStage, string(rs[i+1 : j])})
			i = j
		case unicode.IsDigit(c):
			j := i
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.') {
				j++
			}
			out = append(out, token{tNumber, string(rs[i:j])})
			i = j
		case c == '$' && i+1 < len(rs) && unicode.IsDigit(rs[i+1]):
			j := i + 1
			for j < len(rs) && unicode.IsDigit(rs[j]) {
				j++
			}
			out = append(out, token{tIdent, string(rs[i:j])})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '$') {
				j++
			}
			out = append(out, token{tIdent, strings.ToUpper(string(rs[i:j]))})
			i = j
		case strings.ContainsRune("(),.=*;?+-<>:!", c):
			out = append(out, token{tSym, string(c)})
			i++
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return append(out, token{kind: tEOF}), nil
}

// quoted reads the identifier or string literal whose opening quote is at
// rs[i]: a doubled quote stands for itself, and in a string a backslash
// escapes the next character. It returns the text and where it ends.
func quoted(rs []rune, i int) (string, int, error) {
	q := rs[i]
	var b strings.Builder
	for i++; ; i++ {
		switch {
		case i >= len(rs):
			return "", i, fmt.Errorf("unterminated %c-quoted text", q)
		case q == '\'' && rs[i] == '\\' && i+1 < len(rs):
			i++
			b.WriteRune(rs[i])
		case rs[i] == q && i+1 < len(rs) && rs[i+1] == q:
			i++
			b.WriteRune(q)
		case rs[i] == q:
			return b.String(), i + 1, nil
		default:
			b.WriteRune(rs[i])
		}
	}
}

type parser struct {
	toks  []token
	pos   int
	binds int // ? read so far
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) isKw(words ...string) bool {
	for i, w := range words {
		if p.pos+i >= len(p.toks) {
			return false
		}
		t := p.toks[p.pos+i]
		if t.kind != tIdent || t.text != w {
			return false
		}
	}
	return true
}

func (p *parser) acceptKw(words ...string) bool {
	if p.isKw(words...) {
		p.pos += len(words)
		return true
	}
	return false
}

func (p *parser) expectKw(words ...string) error {
	if !p.acceptKw(words...) {
		return fmt.Errorf("syntax error: expected %s, found %q", strings.Join(words, " "), p.peek().text)
	}
	return nil
}

func (p *parser) acceptSym(s string) bool {
	if t := p.peek(); t.kind == tSym && t.text == s {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectSym(s string) error {
	if !p.acceptSym(s) {
		return fmt.Errorf("syntax error: expected %q, found %q", s, p.peek().text)
	}
	return nil
}

// expect reads each item in turn: a keyword (upper-case word) or a symbol.
func (p *parser) expect(items ...string) error {
	for _, it := range items {
		var err error
		if it[0] >= 'A' && it[0] <= 'Z' {
			err = p.expectKw(it)
		} else {
			err = p.expectSym(it)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) ident() (string, error) {
	t := p.next()
	if t.kind != tIdent && t.kind != tQuoted {
		return "", fmt.Errorf("syntax error: expected an identifier, found %q", t.text)
	}
	return t.text, nil
}

// qname reads a dotted name of one to three parts.
func (p *parser) qname() ([]string, error) {
	var parts []string
	for {
		id, err := p.ident()
		if err != nil {
			return nil, err
		}
		parts = append(parts, id)
		if !p.acceptSym(".") {
			break
		}
	}
	if len(parts) > 3 {
		return nil, fmt.Errorf("syntax error: name %s has too many parts", strings.Join(parts, "."))
	}
	return parts, nil
}

// identList reads ( a, b, ... ).
func (p *parser) identList() ([]string, error) {
	if err := p.expectSym("("); err != nil {
		return nil, err
	}
	var out []string
	for {
		id, err := p.ident()
		if err != nil {
			return nil, err
		}
		out = append(out, id)
		if p.acceptSym(")") {
			return out, nil
		}
		if err := p.expectSym(","); err != nil {
			return nil, err
		}
	}
}

// expr is a value in INSERT ... VALUES: a literal, a bind or NULL.
type expr struct {
	bind int // 1-based, 0 for a literal
	val  *string
}

func (p *parser) value() (expr, error) {
	t := p.next()
	switch {
	case t.kind == tSym && t.text == "?":
		return expr{}, nil // numbered by the caller
	case t.kind == tString || t.kind == tNumber:
		v := t.text
		return expr{val: &v}, nil
	case t.kind == tSym && t.text == "-" && p.peek().kind == tNumber:
		v := "-" + p.next().text
		return expr{val: &v}, nil
	case t.kind == tIdent && t.text == "NULL":
		return expr{}, nil
	case t.kind == tIdent && (t.text == "TRUE" || t.text == "FALSE"):
		v := strings.ToLower(t.text)
		return expr{val: &v}, nil
	}
	return expr{}, fmt.Errorf("syntax error: unexpected %q in VALUES", t.text)
}

type (
	txStmt      struct{ kind string }
	column      struct{ name, typ string }
	createTable struct {
		name              []string
		temp, ifNotExists bool
		orReplace         bool
		cols              []column
		like              []string
		pk                []string
	}
	dropTable struct {
		name     []string
		ifExists bool
	}
	insertStmt struct {
		name []string
		cols []string
		rows [][]expr
	}
	deleteStmt struct{ name []string }
	copyStmt   struct {
		into        []string
		stage, path string
		files       []string
		format      map[string]string
		nullIf      []string
		match       string
		includeMeta []column // name = column, typ = METADATA$...
		force       bool
		// cols and items are a transformation's columns and the SELECT
		// list that fills them, one item each.
		cols  []string
		items []copyItem
	}
	// copyItem is one item of a COPY transformation's SELECT: $1:"field"
	// (the file's column by exact name) with an optional ::TYPE cast,
	// PARSE_JSON($1:"field"), or METADATA$FILENAME / METADATA$FILE_ROW_NUMBER.
	copyItem struct {
		field, cast, meta string
		parseJSON         bool
	}
	mergeStmt struct {
		target, source []string
		partition      []string
		order          []string
		on             [][2]string // target column, source column
		set            [][2]string
		insertCols     []string
		insertVals     []string
	}
	// alterTable is ALTER TABLE t ADD COLUMN c type, ALTER COLUMN c SET
	// DATA TYPE type, or DROP COLUMN c.
	alterTable struct {
		name   []string
		action string // ADD, SET TYPE, DROP
		col    column
	}
	descStage   struct{ name []string }
	showKeys    struct{ name []string }
	putStmt     struct{ src, stage, path string }
	removeStmt  struct{ stage, path string }
	createStage struct {
		name                   []string
		ifNotExists, orReplace bool
		url, integration       string
	}
)

func parse(sqlText string) (any, error) {
	toks, err := lex(sqlText)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	st, err := p.statement()
	if err != nil {
		return nil, err
	}
	p.acceptSym(";")
	if p.peek().kind != tEOF {
		return nil, fmt.Errorf("syntax error: unexpected %q after the statement", p.peek().text)
	}
	return st, nil
}

func (p *parser) statement() (any, error) {
	switch {
	case p.acceptKw("BEGIN"), p.acceptKw("START", "TRANSACTION"):
		p.acceptKw("TRANSACTION")
		return txStmt{"BEGIN"}, nil
	case p.acceptKw("COMMIT"):
		return txStmt{"COMMIT"}, nil
	case p.acceptKw("ROLLBACK"):
		return txStmt{"ROLLBACK"}, nil
	case p.acceptKw("CREATE"):
		return p.createTable()
	case p.acceptKw("ALTER", "TABLE"):
		return p.alterTable()
	case p.acceptKw("DROP", "TABLE"):
		d := dropTable{ifExists: p.acceptKw("IF", "EXISTS")}
		var err error
		d.name, err = p.qname()
		return d, err
	case p.acceptKw("INSERT", "INTO"):
		return p.insert()
	case p.acceptKw("DELETE", "FROM"):
		n, err := p.qname()
		if p.isKw("WHERE") {
			return nil, fmt.Errorf("the test server runs DELETE without WHERE only")
		}
		return deleteStmt{n}, err
	case p.acceptKw("SELECT"):
		return p.selectStmt()
	case p.acceptKw("SHOW", "PRIMARY", "KEYS", "IN", "TABLE"):
		n, err := p.qname()
		return showKeys{n}, err
	case p.acceptKw("COPY", "INTO"):
		return p.copyInto()
	case p.acceptKw("MERGE", "INTO"):
		return p.merge()
	case p.acceptKw("DESC", "STAGE"), p.acceptKw("DESCRIBE", "STAGE"):
		n, err := p.qname()
		return descStage{n}, err
	case p.acceptKw("PUT"):
		return p.put()
	case p.acceptKw("REMOVE"), p.acceptKw("RM"):
		t := p.next()
		if t.kind != tStage {
			return nil, fmt.Errorf("syntax error: REMOVE takes @stage/path, found %q", t.text)
		}
		r := removeStmt{}
		r.stage, r.path, _ = strings.Cut(t.text, "/")
		return r, nil
	case p.isKw("TRUNCATE"):
		return nil, fmt.Errorf("the test server refuses TRUNCATE: it commits the open transaction")
	}
	return nil, fmt.Errorf("syntax error: statement %q is not supported by the test server", p.peek().text)
}

func (p *parser) createTable() (any, error) {
	c := createTable{orReplace: p.acceptKw("OR", "REPLACE")}
	if p.acceptKw("STAGE") {
		return p.createStage(c.orReplace)
	}
	c.temp = p.acceptKw("TEMPORARY") || p.acceptKw("TEMP")
	if err := p.expectKw("TABLE"); err != nil {
		return nil, err
	}
	c.ifNotExists = p.acceptKw("IF", "NOT", "EXISTS")
	var err error
	if c.name, err = p.qname(); err != nil {
		return nil, err
	}
	if p.acceptKw("LIKE") {
		c.like, err = p.qname()
		return c, err
	}
	if err := p.expectSym("("); err != nil {
		return nil, err
	}
	for {
		if p.acceptKw("CONSTRAINT") {
			if _, err := p.ident(); err != nil {
				return nil, err
			}
		}
		if p.acceptKw("PRIMARY", "KEY") {
			if c.pk, err = p.identList(); err != nil {
				return nil, err
			}
		} else {
			name, err := p.ident()
			if err != nil {
				return nil, err
			}
			typ, err := p.typeName()
			if err != nil {
				return nil, err
			}
			c.cols = append(c.cols, column{name, typ})
			if p.acceptKw("NOT", "NULL") {
				c.cols[len(c.cols)-1].typ += " NOT NULL"
			}
			if p.acceptKw("PRIMARY", "KEY") {
				c.pk = append(c.pk, name)
			}
		}
		if p.acceptSym(")") {
			return c, nil
		}
		if err := p.expectSym(","); err != nil {
			return nil, err
		}
	}
}

func (p *parser) alterTable() (any, error) {
	a := alterTable{}
	var err error
	if a.name, err = p.qname(); err != nil {
		return nil, err
	}
	switch {
	case p.acceptKw("ADD"):
		p.acceptKw("COLUMN")
		a.action = "ADD"
		if a.col.name, err = p.ident(); err != nil {
			return nil, err
		}
		if a.col.typ, err = p.typeName(); err != nil {
			return nil, err
		}
		if p.acceptKw("NOT", "NULL") {
			a.col.typ += " NOT NULL"
		}
	case p.acceptKw("ALTER"), p.acceptKw("MODIFY"):
		p.acceptKw("COLUMN")
		a.action = "SET TYPE"
		if a.col.name, err = p.ident(); err != nil {
			return nil, err
		}
		if err := p.expectKw("SET", "DATA", "TYPE"); err != nil {
			return nil, err
		}
		if a.col.typ, err = p.typeName(); err != nil {
			return nil, err
		}
	case p.acceptKw("DROP"):
		p.acceptKw("COLUMN")
		a.action = "DROP"
		if a.col.name, err = p.ident(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("the test server runs ALTER TABLE ADD COLUMN, ALTER COLUMN ... SET DATA TYPE and DROP COLUMN only")
	}
	return a, nil
}

// typeName reads a type such as NUMBER(38,0) or TIMESTAMP_TZ(9).
func (p *parser) typeName() (string, error) {
	t := p.next()
	if t.kind != tIdent {
		return "", fmt.Errorf("syntax error: expected a type, found %q", t.text)
	}
	typ := t.text
	if p.acceptSym("(") {
		var args []string
		for {
			n := p.next()
			if n.kind != tNumber {
				return "", fmt.Errorf("syntax error: bad type argument %q", n.text)
			}
			args = append(args, n.text)
			if p.acceptSym(")") {
				break
			}
			if err := p.expectSym(","); err != nil {
				return "", err
			}
		}
		typ += "(" + strings.Join(args, ",") + ")"
	}
	return typ, nil
}

func (p *parser) insert() (any, error) {
	var in insertStmt
	var err error
	if in.name, err = p.qname(); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tSym && t.text == "(" {
		if in.cols, err = p.identList(); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("VALUES"); err != nil {
		return nil, err
	}
	bind := 0
	for {
		if err := p.expectSym("("); err != nil {
			return nil, err
		}
		var row []expr
		for {
			isBind := p.peek().kind == tSym && p.peek().text == "?"
			e, err := p.value()
			if err != nil {
				return nil, err
			}
			if isBind {
				bind++
				e.bind = bind
			}
			row = append(row, e)
			if p.acceptSym(")") {
				break
			}
			if err := p.expectSym(","); err != nil {
				return nil, err
			}
		}
		in.rows = append(in.rows, row)
		if !p.acceptSym(",") {
			return in, nil
		}
	}
}

// optionValue reads the value of NAME = value: a string, a number or a
// keyword.
func (p *parser) optionValue() (string, error) {
	t := p.next()
	switch t.kind {
	case tString, tNumber, tIdent:
		return t.text, nil
	}
	return "", fmt.Errorf("syntax error: bad option value %q", t.text)
}

func (p *parser) copyInto() (any, error) {
	c := copyStmt{format: map[string]string{}}
	var err error
	if c.into, err = p.qname(); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tSym && t.text == "(" {
		if c.cols, err = p.identList(); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("FROM"); err != nil {
		return nil, err
	}
	transform := p.acceptSym("(")
	if transform {
		if c.items, err = p.copyItems(); err != nil {
			return nil, err
		}
		if len(c.items) != len(c.cols) {
			return nil, fmt.Errorf("SQL compilation error: Insert value list does not match column list expecting %d but got %d", len(c.cols), len(c.items))
		}
	} else if c.cols != nil {
		return nil, fmt.Errorf("syntax error: a column list needs a transformation (FROM (SELECT ...))")
	}
	t := p.next()
	if t.kind != tStage {
		return nil, fmt.Errorf("syntax error: COPY INTO reads from a stage (@name/path), found %q", t.text)
	}
	if transform {
		if err := p.expectSym(")"); err != nil {
			return nil, err
		}
	}
	c.stage, c.path, _ = strings.Cut(t.text, "/")
	for p.peek().kind != tEOF && !p.acceptSym(";") {
		opt, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectSym("="); err != nil {
			return nil, err
		}
		switch opt {
		case "FILES":
			if err := p.expectSym("("); err != nil {
				return nil, err
			}
			for !p.acceptSym(")") {
				f := p.next()
				if f.kind != tString {
					return nil, fmt.Errorf("syntax error: FILES lists quoted names, found %q", f.text)
				}
				c.files = append(c.files, f.text)
				p.acceptSym(",")
			}
		case "FILE_FORMAT":
			if err := p.expectSym("("); err != nil {
				return nil, err
			}
			for !p.acceptSym(")") {
				k, err := p.ident()
				if err != nil {
					return nil, err
				}
				if err := p.expectSym("="); err != nil {
					return nil, err
				}
				if k == "NULL_IF" {
					if err := p.expectSym("("); err != nil {
						return nil, err
					}
					for !p.acceptSym(")") {
						c.nullIf = append(c.nullIf, p.next().text)
						p.acceptSym(",")
					}
					continue
				}
				v, err := p.optionValue()
				if err != nil {
					return nil, err
				}
				c.format[k] = v
			}
		case "INCLUDE_METADATA":
			if err := p.expectSym("("); err != nil {
				return nil, err
			}
			for !p.acceptSym(")") {
				col, err := p.ident()
				if err != nil {
					return nil, err
				}
				if err := p.expectSym("="); err != nil {
					return nil, err
				}
				m, err := p.ident()
				if err != nil {
					return nil, err
				}
				c.includeMeta = append(c.includeMeta, column{col, m})
				p.acceptSym(",")
			}
		default:
			v, err := p.optionValue()
			if err != nil {
				return nil, err
			}
			switch opt {
			case "MATCH_BY_COLUMN_NAME":
				c.match = v
			case "ON_ERROR":
				if v != "ABORT_STATEMENT" {
					return nil, fmt.Errorf("the test server supports ON_ERROR=ABORT_STATEMENT only")
				}
			case "FORCE":
				c.force = v == "TRUE"
			case "PURGE":
			default:
				return nil, fmt.Errorf("syntax error: unknown COPY option %s", opt)
			}
		}
	}
	return c, nil
}

// copyItems reads SELECT item, ... FROM of a COPY transformation.
func (p *parser) copyItems() ([]copyItem, error) {
	if err := p.expectKw("SELECT"); err != nil {
		return nil, err
	}
	field := func() (string, error) {
		if t := p.next(); t.kind != tIdent || t.text != "$1" {
			return "", fmt.Errorf("syntax error: the test server selects $1:\"field\" only, found %q", t.text)
		}
		if err := p.expectSym(":"); err != nil {
			return "", err
		}
		t := p.next()
		if t.kind != tQuoted {
			return "", fmt.Errorf("syntax error: expected a quoted field name after $1:, found %q", t.text)
		}
		return t.text, nil
	}
	var out []copyItem
	for {
		var it copyItem
		var err error
		switch {
		case p.isKw("METADATA$FILENAME"), p.isKw("METADATA$FILE_ROW_NUMBER"):
			it.meta = p.next().text
		case p.acceptKw("PARSE_JSON"):
			it.parseJSON = true
			if err := p.expectSym("("); err != nil {
				return nil, err
			}
			if it.field, err = field(); err != nil {
				return nil, err
			}
			if err := p.expectSym(")"); err != nil {
				return nil, err
			}
		default:
			if it.field, err = field(); err != nil {
				return nil, err
			}
			if p.acceptSym(":") {
				if err := p.expectSym(":"); err != nil {
					return nil, err
				}
				if it.cast, err = p.typeName(); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, it)
		if p.acceptKw("FROM") {
			return out, nil
		}
		if err := p.expectSym(","); err != nil {
			return nil, err
		}
	}
}

// merge reads the one MERGE shape hp sends:
//
//	MERGE INTO t USING (SELECT * FROM s QUALIFY ROW_NUMBER() OVER
//	  (PARTITION BY k ORDER BY a DESC, b DESC) = 1) AS S
//	ON T.k = S.k [AND ...]
//	WHEN MATCHED THEN UPDATE SET T.c = S.c, ...
//	WHEN NOT MATCHED THEN INSERT (c, ...) VALUES (S.c, ...)
func (p *parser) merge() (any, error) {
	var m mergeStmt
	var err error
	if m.target, err = p.qname(); err != nil {
		return nil, err
	}
	p.acceptKw("AS")
	tAlias, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expect("USING", "(", "SELECT", "*", "FROM"); err != nil {
		return nil, err
	}
	if m.source, err = p.qname(); err != nil {
		return nil, err
	}
	if err := p.expectKw("QUALIFY", "ROW_NUMBER"); err != nil {
		return nil, err
	}
	if err := p.expect("(", ")"); err != nil {
		return nil, err
	}
	if err := p.expect("OVER", "(", "PARTITION", "BY"); err != nil {
		return nil, err
	}
	for {
		c, err := p.ident()
		if err != nil {
			return nil, err
		}
		m.partition = append(m.partition, c)
		if !p.acceptSym(",") {
			break
		}
	}
	if err := p.expectKw("ORDER", "BY"); err != nil {
		return nil, err
	}
	for {
		c, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("DESC"); err != nil {
			return nil, err
		}
		m.order = append(m.order, c)
		if !p.acceptSym(",") {
			break
		}
	}
	for _, s := range []string{")", "=", "1", ")"} {
		if s == "1" {
			if t := p.next(); t.text != "1" {
				return nil, fmt.Errorf("syntax error: expected ROW_NUMBER() = 1")
			}
			continue
		}
		if err := p.expectSym(s); err != nil {
			return nil, err
		}
	}
	p.acceptKw("AS")
	sAlias, err := p.ident()
	if err != nil {
		return nil, err
	}
	col := func(alias string) (string, error) {
		a, err := p.ident()
		if err != nil {
			return "", err
		}
		if a != alias {
			return "", fmt.Errorf("syntax error: expected %s.column, found %s", alias, a)
		}
		if err := p.expectSym("."); err != nil {
			return "", err
		}
		return p.ident()
	}
	// pairs reads T.a = S.b, ... joined by sep.
	pairs := func(sep func() bool) ([][2]string, error) {
		var out [][2]string
		for {
			tc, err := col(tAlias)
			if err != nil {
				return nil, err
			}
			if err := p.expectSym("="); err != nil {
				return nil, err
			}
			sc, err := col(sAlias)
			if err != nil {
				return nil, err
			}
			out = append(out, [2]string{tc, sc})
			if !sep() {
				return out, nil
			}
		}
	}
	if err := p.expectKw("ON"); err != nil {
		return nil, err
	}
	if m.on, err = pairs(func() bool { return p.acceptKw("AND") }); err != nil {
		return nil, err
	}
	if p.acceptKw("WHEN", "MATCHED", "THEN", "UPDATE", "SET") {
		if m.set, err = pairs(func() bool { return p.acceptSym(",") }); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("WHEN", "NOT", "MATCHED", "THEN", "INSERT"); err != nil {
		return nil, err
	}
	if m.insertCols, err = p.identList(); err != nil {
		return nil, err
	}
	if err := p.expect("VALUES", "("); err != nil {
		return nil, err
	}
	for {
		sc, err := col(sAlias)
		if err != nil {
			return nil, err
		}
		m.insertVals = append(m.insertVals, sc)
		if p.acceptSym(")") {
			break
		}
		if err := p.expectSym(","); err != nil {
			return nil, err
		}
	}
	if len(m.insertVals) != len(m.insertCols) {
		return nil, fmt.Errorf("syntax error: INSERT lists %d columns and %d values", len(m.insertCols), len(m.insertVals))
	}
	return m, nil
}

// createStage reads CREATE STAGE name URL = '...' STORAGE_INTEGRATION = x:
// an external stage with an integration, the only kind the server makes.
func (p *parser) createStage(orReplace bool) (any, error) {
	c := createStage{orReplace: orReplace, ifNotExists: p.acceptKw("IF", "NOT", "EXISTS")}
	var err error
	if c.name, err = p.qname(); err != nil {
		return nil, err
	}
	for p.peek().kind != tEOF && !p.acceptSym(";") {
		opt, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectSym("="); err != nil {
			return nil, err
		}
		v, err := p.optionValue()
		if err != nil {
			return nil, err
		}
		switch opt {
		case "URL":
			c.url = v
		case "STORAGE_INTEGRATION":
			c.integration = v
		default:
			return nil, fmt.Errorf("the test server creates stages with URL and STORAGE_INTEGRATION only, not %s", opt)
		}
	}
	if c.url == "" || c.integration == "" {
		return nil, fmt.Errorf("the test server creates stages with URL and STORAGE_INTEGRATION")
	}
	return c, nil
}

// put reads PUT 'file:///path' @stage/path/ [options]; the options hp
// sends (AUTO_COMPRESS=FALSE, SOURCE_COMPRESSION=NONE, OVERWRITE=TRUE)
// are what the server does anyway.
func (p *parser) put() (any, error) {
	src := p.next()
	if src.kind != tString || !strings.HasPrefix(src.text, "file://") {
		return nil, fmt.Errorf("syntax error: PUT takes 'file:///path', found %q", src.text)
	}
	t := p.next()
	if t.kind != tStage {
		return nil, fmt.Errorf("syntax error: PUT takes @stage/path, found %q", t.text)
	}
	st := putStmt{src: strings.TrimPrefix(src.text, "file://")}
	st.stage, st.path, _ = strings.Cut(t.text, "/")
	for p.peek().kind != tEOF && !p.acceptSym(";") {
		opt, err := p.ident()
		if err != nil {
			return nil, err
		}
		if err := p.expectSym("="); err != nil {
			return nil, err
		}
		v, err := p.optionValue()
		if err != nil {
			return nil, err
		}
		switch {
		case opt == "AUTO_COMPRESS" && v == "FALSE", opt == "SOURCE_COMPRESSION" && v == "NONE", opt == "OVERWRITE":
		default:
			return nil, fmt.Errorf("the test server does not support PUT option %s=%s", opt, v)
		}
	}
	return st, nil
}
