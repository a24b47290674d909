// Package sqlguard is a small SQL lexer that checks text a user hands to a
// connector: that a filter (--where) is one predicate which cannot close
// the parentheses it is placed in, and whether a statement is a read. It
// understands the quotes, comments and parentheses of each [Dialect]; it
// does not parse SQL, so a statement it calls a read must still run in a
// read-only transaction where the database has one.
package sqlguard

import (
	"errors"
	"fmt"
	"strings"
)

// Dialect is the lexical flavour of a database's SQL.
type Dialect int

// The dialects. Generic is standard SQL: 'strings', "identifiers",
// -- and /* */ comments. Oracle adds alternative quoting: q'[...]',
// q'{...}', q'<...>', q'(...)' and q'c...c' for any other delimiter c
// (nq'...' for national text), inside which nothing is special.
const (
	Generic Dialect = iota
	Postgres
	MySQL
	SQLite
	SQLServer
	Oracle
)

// ForConnector returns the dialect of a connector by its name (as in its
// Info), Generic for names it does not know.
func ForConnector(name string) Dialect {
	switch strings.ToLower(name) {
	case "postgres", "postgresql":
		return Postgres
	case "mysql", "mariadb":
		return MySQL
	case "sqlite", "sqlite3":
		return SQLite
	case "mssql", "sqlserver":
		return SQLServer
	case "oracle":
		return Oracle
	}
	return Generic
}

// ErrRefused is wrapped by every error of this package.
var ErrRefused = errors.New("refused SQL")

// tokenKind is what the lexer reports.
type tokenKind int

const (
	tWord tokenKind = iota
	tQuoted
	tOpen
	tClose
	tSemicolon
	tOther
)

type token struct {
	kind  tokenKind
	text  string // words upper-cased
	depth int    // parenthesis depth the token sits at (an open paren: outside)
}

func refused(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRefused}, a...)...)
}

// lex splits s into tokens, skipping comments and whitespace.
func lex(d Dialect, s string) ([]token, error) {
	var out []token
	depth := 0
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-' && (d != MySQL || i+2 >= len(s) || isSpace(s[i+2])),
			c == '#' && d == MySQL:
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return nil, refused("a line comment runs to the end of the text and would swallow what follows it")
			}
			i += end + 1
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if d == MySQL && i+2 < len(s) && (s[i+2] == '!' || s[i+2] == '+') {
				return nil, refused("MySQL executable comments (/*! ... */) are not allowed")
			}
			n, err := blockComment(d, s[i:])
			if err != nil {
				return nil, err
			}
			i += n
		case c == '\'' || (c == '"' && d == MySQL):
			n, err := quoted(s[i:], c, d == MySQL)
			if err != nil {
				return nil, err
			}
			out = append(out, token{kind: tQuoted, text: s[i : i+n], depth: depth})
			i += n
		case c == '"' || (c == '`' && (d == MySQL || d == SQLite)):
			n, err := quoted(s[i:], c, false)
			if err != nil {
				return nil, err
			}
			out = append(out, token{kind: tQuoted, text: s[i : i+n], depth: depth})
			i += n
		case c == '[' && (d == SQLServer || d == SQLite):
			n, err := quoted(s[i:], ']', false)
			if err != nil {
				return nil, err
			}
			out = append(out, token{kind: tQuoted, text: s[i : i+n], depth: depth})
			i += n
		case c == '$' && d == Postgres && dollarTag(s[i:]) != "":
			tag := dollarTag(s[i:])
			end := strings.Index(s[i+len(tag):], tag)
			if end < 0 {
				return nil, refused("unterminated dollar-quoted string %s", tag)
			}
			n := len(tag) + end + len(tag)
			out = append(out, token{kind: tQuoted, text: s[i : i+n], depth: depth})
			i += n
		case c == '(':
			out = append(out, token{kind: tOpen, text: "(", depth: depth})
			depth++
			i++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, refused("unbalanced parentheses: ')' closes more than was opened")
			}
			out = append(out, token{kind: tClose, text: ")", depth: depth})
			i++
		case c == ';':
			out = append(out, token{kind: tSemicolon, text: ";", depth: depth})
			i++
		case isWordStart(c):
			j := i + 1
			for j < len(s) && isWordPart(s[j]) {
				j++
			}
			// Oracle's q'..' and nq'..' alternative quoting.
			if w := strings.ToLower(s[i:j]); d == Oracle && j < len(s) && s[j] == '\'' && (w == "q" || w == "nq") {
				n, err := qQuoted(s[j:])
				if err != nil {
					return nil, err
				}
				out = append(out, token{kind: tQuoted, text: s[i : j+n], depth: depth})
				i = j + n
				continue
			}
			// E'..' (Postgres escape string) and N'..' (national) prefixes.
			if j < len(s) && s[j] == '\'' && j-i == 1 {
				p := s[i] | 0x20
				if (d == Postgres && (p == 'e' || p == 'b' || p == 'x')) || p == 'n' || p == 'x' {
					n, err := quoted(s[j:], '\'', d == MySQL || (d == Postgres && p == 'e'))
					if err != nil {
						return nil, err
					}
					out = append(out, token{kind: tQuoted, text: s[i : j+n], depth: depth})
					i = j + n
					continue
				}
			}
			out = append(out, token{kind: tWord, text: strings.ToUpper(s[i:j]), depth: depth})
			i = j
		default:
			out = append(out, token{kind: tOther, text: s[i : i+1], depth: depth})
			i++
		}
	}
	if depth != 0 {
		return nil, refused("unbalanced parentheses: %d left open", depth)
	}
	return out, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isWordStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isWordPart(c byte) bool { return isWordStart(c) || c >= '0' && c <= '9' || c == '$' }

// quoted returns the length of the quoted text at s[0] closed by end,
// where a doubled end is the character itself and, with backslash, \
// escapes the next character.
func quoted(s string, end byte, backslash bool) (int, error) {
	for i := 1; i < len(s); i++ {
		switch {
		case backslash && s[i] == '\\':
			i++
		case s[i] == end:
			if i+1 < len(s) && s[i+1] == end {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	return 0, refused("unterminated quote %c", s[0])
}

// qQuoted returns the length of Oracle's alternative quoted text at s
// (after the q): a quote, a delimiter, the text, the closing delimiter
// (], }, >, ) for an opening bracket, else the delimiter itself) and a
// quote.
func qQuoted(s string) (int, error) {
	if len(s) < 2 || s[1] == ' ' || s[1] == '\t' || s[1] == '\n' || s[1] == '\r' {
		return 0, refused("q' must be followed by a delimiter character")
	}
	end := s[1]
	if c := strings.IndexByte("[{<(", end); c >= 0 {
		end = "]}>)"[c]
	}
	if k := strings.Index(s[2:], string(end)+"'"); k >= 0 {
		return 2 + k + 2, nil
	}
	return 0, refused("unterminated quote q'%c", s[1])
}

// blockComment returns the length of the comment at s; PostgreSQL and
// SQL Server nest them.
func blockComment(d Dialect, s string) (int, error) {
	nest := d == Postgres || d == SQLServer
	depth := 0
	for i := 0; i+1 < len(s); i++ {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			if depth > 0 && !nest {
				continue
			}
			depth++
			i++
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i++
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, refused("unterminated /* comment")
}

// dollarTag returns the $tag$ opening a PostgreSQL dollar-quoted string at
// s, or "".
func dollarTag(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == '$' {
			return s[:i+1]
		}
		if !(isWordStart(s[i]) || i > 1 && s[i] >= '0' && s[i] <= '9') {
			return ""
		}
	}
	return ""
}

// clauseWords end a predicate: at the top level of a filter they would
// extend the statement it is placed in.
var clauseWords = map[string]bool{
	"UNION": true, "INTERSECT": true, "EXCEPT": true, "MINUS": true,
	"ORDER": true, "GROUP": true, "HAVING": true, "LIMIT": true, "OFFSET": true,
	"FETCH": true, "FOR": true, "INTO": true, "WINDOW": true, "RETURNING": true,
	"WHERE": true, "SELECT": true, "PROCEDURE": true, "LOCK": true,
	"OPTION": true, "QUALIFY": true,
}

// Predicate checks that where is a single predicate: it lexes completely
// (no unterminated quote or comment), its parentheses balance, it has no
// statement separator, and no clause keyword (UNION, ORDER, LIMIT, INTO,
// ...) outside parentheses. Subqueries inside parentheses are allowed.
func Predicate(d Dialect, where string) error {
	toks, err := lex(d, where)
	if err != nil {
		return fmt.Errorf("filter is not a single predicate: %w", err)
	}
	if len(toks) == 0 {
		return fmt.Errorf("filter is not a single predicate: %w", refused("it is empty"))
	}
	for _, t := range toks {
		switch {
		case t.kind == tSemicolon:
			return fmt.Errorf("filter is not a single predicate: %w", refused("';' ends a statement"))
		case t.kind == tWord && t.depth == 0 && clauseWords[t.text]:
			return fmt.Errorf("filter is not a single predicate: %w", refused("%s outside parentheses", t.text))
		}
	}
	return nil
}

var readWords = map[string]bool{"SELECT": true, "WITH": true, "VALUES": true, "TABLE": true, "SHOW": true, "EXPLAIN": true, "DESCRIBE": true, "DESC": true}

// writeWords are keywords that change data, schema, session or server
// state, or reach outside the database.
var writeWords = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "UPSERT": true,
	"INTO": true, "CREATE": true, "ALTER": true, "DROP": true, "TRUNCATE": true, "RENAME": true,
	"GRANT": true, "REVOKE": true, "DENY": true, "EXEC": true, "EXECUTE": true, "CALL": true, "DO": true,
	"COPY": true, "LOAD": true, "BULK": true, "BACKUP": true, "RESTORE": true, "DBCC": true, "KILL": true,
	"SHUTDOWN": true, "SET": true, "DECLARE": true, "BEGIN": true, "COMMIT": true,
	"ROLLBACK": true, "SAVEPOINT": true, "VACUUM": true, "REINDEX": true,
	"ATTACH": true, "DETACH": true, "PRAGMA": true, "OPENROWSET": true, "OPENQUERY": true,
	"OPENDATASOURCE": true, "WAITFOR": true, "RECONFIGURE": true, "CHECKPOINT": true,
	"NOTIFY": true, "LISTEN": true, "OUTFILE": true, "DUMPFILE": true, "FLUSH": true, "PURGE": true,
}

// sqlServerWords are more statements T-SQL runs one after another in a
// batch without a separator.
var sqlServerWords = map[string]bool{
	"USE": true, "SAVE": true, "UPDATETEXT": true, "WRITETEXT": true, "SEND": true, "RECEIVE": true,
	"MOVE": true, "ENABLE": true, "DISABLE": true, "RAISERROR": true, "THROW": true, "PRINT": true,
	"GOTO": true, "IF": true, "WHILE": true, "RETURN": true, "OPEN": true, "CLOSE": true, "DEALLOCATE": true,
}

// Read checks conservatively that q is one statement that only reads: it
// starts with SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN or DESCRIBE, has at
// most a trailing ';', and holds no keyword that writes or changes state
// (INSERT, UPDATE, DELETE, MERGE, INTO, EXEC, SET, ...) anywhere outside
// quotes and comments. A read that uses such a word unquoted as a name is
// refused too: quote the name.
func Read(d Dialect, q string) error {
	toks, err := lex(d, q)
	if err != nil {
		return fmt.Errorf("statement cannot be checked to be a read: %w", err)
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tSemicolon {
		toks = toks[:len(toks)-1]
	}
	first := -1
	for i, t := range toks {
		if t.kind == tSemicolon {
			return fmt.Errorf("statement is not a single read: %w", refused("';' separates statements"))
		}
		if first < 0 && t.kind != tOpen {
			first = i
		}
	}
	if first < 0 || toks[first].kind != tWord || !readWords[toks[first].text] {
		what := "nothing"
		if first >= 0 {
			what = toks[first].text
		}
		return fmt.Errorf("statement is not a read: %w", refused("it starts with %s, not SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN or DESCRIBE", what))
	}
	for _, t := range toks {
		if t.kind != tWord || !writeWords[t.text] && !(d == SQLServer && sqlServerWords[t.text]) {
			continue
		}
		return fmt.Errorf("statement is not a read: %w", refused("it contains %s", t.text))
	}
	return nil
}
