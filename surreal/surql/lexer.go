package surql

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sp00ky/ssp/surreal/value"
)

// tokKind classifies a token.
type tokKind int

const (
	tEOF      tokKind = iota
	tWord             // identifier or keyword (keywords are matched case-insensitively)
	tQuoted           // `…` or ⟨…⟩ quoted identifier; val holds the unescaped name
	tNumber           // integer or float literal (no sign); text holds the source
	tDuration         // duration literal such as 1h30m
	tString           // string literal; val holds the content, pfx the prefix letter (0 if none)
	tParam            // $name; val holds the name without `$`
	tPunct            // operator or punctuation; text holds it
)

// token is one lexical token.
type token struct {
	kind  tokKind
	text  string        // source text of the token
	val   string        // unescaped content (strings, quoted identifiers, parameter names)
	pfx   byte          // string prefix: 's', 'r', 'd', 'u', 'b', 'f' or 0
	float bool          // tNumber: the literal is a float (fraction, exponent, `f` or `dec` suffix)
	dur   time.Duration // tDuration: the parsed duration
	pos   Pos
	end   int // byte offset just after the token
}

// lexer turns SurrealQL text into tokens on demand. It only moves forward.
type lexer struct {
	src  string
	off  int
	line int
	col  int
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (l *lexer) pos() Pos { return Pos{Line: l.line, Col: l.col, Offset: l.off} }

// peekRune returns the rune at byte offset i (and its size), or (-1, 0) at the end.
func (l *lexer) runeAt(i int) (rune, int) {
	if i >= len(l.src) {
		return -1, 0
	}
	c := l.src[i]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(l.src[i:])
}

// byteAt returns the byte at offset i, or 0 at the end.
func (l *lexer) byteAt(i int) byte {
	if i >= len(l.src) || i < 0 {
		return 0
	}
	return l.src[i]
}

// advance consumes one rune, keeping line and column up to date.
func (l *lexer) advance() {
	r, n := l.runeAt(l.off)
	if n == 0 {
		return
	}
	l.off += n
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
}

// advanceTo consumes runes until the byte offset end is reached.
func (l *lexer) advanceTo(end int) {
	for l.off < end {
		l.advance()
	}
}

func errAt(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

func unsupportedAt(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: "unsupported: " + fmt.Sprintf(format, args...), Unsupported: true}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipSpace skips whitespace and comments (`--`, `//`, `#` to the end of the line, `/* … */`).
func (l *lexer) skipSpace() *Error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.advance()
		case c == '#' || (c == '-' && l.byteAt(l.off+1) == '-') || (c == '/' && l.byteAt(l.off+1) == '/'):
			end := strings.IndexByte(l.src[l.off:], '\n')
			if end < 0 {
				l.advanceTo(len(l.src))
			} else {
				l.advanceTo(l.off + end)
			}
		case c == '/' && l.byteAt(l.off+1) == '*':
			start := l.pos()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				return errAt(start, "unterminated comment: missing \"*/\"")
			}
			l.advanceTo(l.off + 2 + end + 2)
		default:
			r, n := l.runeAt(l.off)
			if r == utf8.RuneError && n == 1 {
				return errAt(l.pos(), "invalid UTF-8 in the query")
			}
			if r == '\u00a0' || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
				l.advance()
				continue
			}
			return nil
		}
	}
	return nil
}

// multi-character punctuation, longest first.
var puncts = []string{
	"::", "==", "!=", "<=", ">=", "&&", "||", "->", "!~", "?~", "*~", "*=", "?=", "??", "?:", "**", "..", "<|", "@@",
	"∋", "∌", "⊇", "⊃", "⊅", "∈", "∉", "⊆", "⊂", "⊄", "×", "÷", "…",
	"(", ")", "[", "]", "{", "}", ",", ";", ".", ":", "*", "/", "+", "-", "=", "<", ">", "!", "~", "?", "@", "%", "|", "&", "^",
}

// next lexes the next token.
func (l *lexer) next() (token, *Error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	start := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: start, end: l.off}, nil
	}
	c := l.src[l.off]
	switch {
	case isIdentStart(c):
		// A one-letter prefix directly followed by a quote is a prefixed string: s'…', d'…', r'…', u'…', b'…', f'…'.
		if q := l.byteAt(l.off + 1); (q == '\'' || q == '"') && strings.IndexByte("srdubf", c) >= 0 {
			l.advance()
			return l.lexString(start, c)
		}
		i := l.off
		for i < len(l.src) && isIdentChar(l.src[i]) {
			i++
		}
		l.advanceTo(i)
		return l.tok(tWord, start), nil
	case isDigit(c):
		return l.lexNumber(start)
	case c == '\'' || c == '"':
		return l.lexString(start, 0)
	case c == '`':
		return l.lexQuotedIdent(start, "`", "`")
	case c == '$':
		i := l.off + 1
		for i < len(l.src) && isIdentChar(l.src[i]) {
			i++
		}
		if i == l.off+1 {
			return token{}, errAt(start, "expected a parameter name after \"$\"")
		}
		l.advanceTo(i)
		t := l.tok(tParam, start)
		t.val = t.text[1:]
		return t, nil
	}
	if strings.HasPrefix(l.src[l.off:], "⟨") {
		return l.lexQuotedIdent(start, "⟨", "⟩")
	}
	for _, p := range puncts {
		if strings.HasPrefix(l.src[l.off:], p) {
			l.advanceTo(l.off + len(p))
			return l.tok(tPunct, start), nil
		}
	}
	r, _ := l.runeAt(l.off)
	return token{}, errAt(start, "unexpected character %q", r)
}

func (l *lexer) tok(k tokKind, start Pos) token {
	return token{kind: k, text: l.src[start.Offset:l.off], pos: start, end: l.off}
}

// lexNumber lexes an unsigned number or duration starting at a digit: `12`, `1.5`, `1e3`, `1.5f`,
// `2dec`, `30s`, `1h30m`.
func (l *lexer) lexNumber(start Pos) (token, *Error) {
	i := l.off
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	float := false
	if l.byteAt(i) == '.' && isDigit(l.byteAt(i+1)) {
		float = true
		i++
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	}
	if c := l.byteAt(i); c == 'e' || c == 'E' {
		j := i + 1
		if s := l.byteAt(j); s == '+' || s == '-' {
			j++
		}
		if isDigit(l.byteAt(j)) {
			float = true
			i = j
			for i < len(l.src) && isDigit(l.src[i]) {
				i++
			}
		}
	}
	// Suffixes: `f` (float), `dec` (decimal, kept as a float).
	end := i
	for end < len(l.src) && (isIdentChar(l.src[end]) || strings.HasPrefix(l.src[end:], "µ")) {
		if l.src[end] < utf8.RuneSelf {
			end++
		} else {
			end += len("µ")
		}
	}
	suffix := l.src[i:end]
	switch {
	case suffix == "":
	case suffix == "f" || suffix == "dec":
		float = true
		i = end
	case !float:
		// A duration: digits and units, e.g. 1h30m.
		text := l.src[l.off:end]
		d, err := value.ParseDuration(text)
		if err != nil {
			return token{}, errAt(start, "invalid number or duration %q", text)
		}
		l.advanceTo(end)
		t := l.tok(tDuration, start)
		t.dur = d
		return t, nil
	default:
		return token{}, errAt(start, "invalid number %q", l.src[l.off:end])
	}
	l.advanceTo(i)
	t := l.tok(tNumber, start)
	t.float = float
	return t, nil
}

// lexString lexes a quoted string at the current offset (the prefix letter, if any, is already
// consumed) and unescapes it.
func (l *lexer) lexString(start Pos, pfx byte) (token, *Error) {
	quote := l.src[l.off]
	l.advance()
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, errAt(start, "unterminated string: missing closing %c", quote)
		}
		c := l.src[l.off]
		if c == quote {
			l.advance()
			break
		}
		if c == '\\' {
			if err := l.lexEscape(&b, "a string"); err != nil {
				return token{}, err
			}
			continue
		}
		r, n := l.runeAt(l.off)
		if r == utf8.RuneError && n == 1 {
			return token{}, errAt(l.pos(), "invalid UTF-8 in a string")
		}
		b.WriteString(l.src[l.off : l.off+n])
		l.advance()
	}
	t := l.tok(tString, start)
	t.val = b.String()
	t.pfx = pfx
	return t, nil
}

// lexEscape consumes one escape sequence (the backslash is at the current offset).
func (l *lexer) lexEscape(b *strings.Builder, in string) *Error {
	at := l.pos()
	l.advance()
	if l.off >= len(l.src) {
		return errAt(at, "unterminated escape sequence in %s", in)
	}
	c := l.src[l.off]
	simple := map[byte]byte{'n': '\n', 'r': '\r', 't': '\t', '0': 0, '\\': '\\', 'b': '\b', 'f': '\f', '\'': '\'', '"': '"', '`': '`'}
	if r, ok := simple[c]; ok {
		b.WriteByte(r)
		l.advance()
		return nil
	}
	if c != 'u' {
		r, _ := l.runeAt(l.off)
		return errAt(at, "invalid escape sequence \"\\%c\" in %s", r, in)
	}
	l.advance()
	var code rune
	if l.byteAt(l.off) == '{' {
		l.advance()
		n := 0
		for l.byteAt(l.off) != '}' {
			d, ok := hexVal(l.byteAt(l.off))
			if !ok || n == 6 {
				return errAt(at, "invalid unicode escape: expected 1 to 6 hex digits in \"\\u{…}\"")
			}
			code = code<<4 | d
			n++
			l.advance()
		}
		if n == 0 {
			return errAt(at, "invalid unicode escape: expected 1 to 6 hex digits in \"\\u{…}\"")
		}
		l.advance()
	} else {
		for n := 0; n < 4; n++ {
			d, ok := hexVal(l.byteAt(l.off))
			if !ok {
				return errAt(at, "invalid unicode escape: expected 4 hex digits after \"\\u\"")
			}
			code = code<<4 | d
			l.advance()
		}
	}
	if !utf8.ValidRune(code) {
		return errAt(at, "invalid unicode escape: U+%X is not a valid character", code)
	}
	b.WriteRune(code)
	return nil
}

func hexVal(c byte) (rune, bool) {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0'), true
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10, true
	}
	return 0, false
}

// lexQuotedIdent lexes `name` or ⟨name⟩. Escapes are those of strings; `\⟩` is also accepted
// inside ⟨…⟩ (the form record ids are sometimes printed in).
func (l *lexer) lexQuotedIdent(start Pos, open, close string) (token, *Error) {
	l.advanceTo(l.off + len(open))
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, errAt(start, "unterminated quoted identifier: missing closing %s", close)
		}
		if strings.HasPrefix(l.src[l.off:], close) {
			l.advanceTo(l.off + len(close))
			break
		}
		if l.src[l.off] == '\\' {
			if strings.HasPrefix(l.src[l.off+1:], close) {
				b.WriteString(close)
				l.advanceTo(l.off + 1 + len(close))
				continue
			}
			if err := l.lexEscape(&b, "a quoted identifier"); err != nil {
				return token{}, err
			}
			continue
		}
		r, n := l.runeAt(l.off)
		if r == utf8.RuneError && n == 1 {
			return token{}, errAt(l.pos(), "invalid UTF-8 in a quoted identifier")
		}
		b.WriteString(l.src[l.off : l.off+n])
		l.advance()
	}
	t := l.tok(tQuoted, start)
	t.val = b.String()
	return t, nil
}

// lexRecordKey lexes the key of a record id right after its `:` (the lexer must be positioned
// there): an integer, an identifier-like word, or ⟨…⟩/backtick-quoted text.
func (l *lexer) lexRecordKey(table string, tablePos Pos) (value.Value, *Error) {
	start := l.pos()
	rest := l.src[l.off:]
	switch {
	case strings.HasPrefix(rest, "⟨") || strings.HasPrefix(rest, "`"):
		open, close := "⟨", "⟩"
		if rest[0] == '`' {
			open, close = "`", "`"
		}
		t, err := l.lexQuotedIdent(start, open, close)
		if err != nil {
			return value.Value{}, err
		}
		return value.String(t.val), nil
	case strings.HasPrefix(rest, "["):
		return value.Value{}, unsupportedAt(tablePos, "record id with an array key (%s:[…])", table)
	case strings.HasPrefix(rest, "{"):
		return value.Value{}, unsupportedAt(tablePos, "record id with an object key (%s:{…})", table)
	case strings.HasPrefix(rest, ".."):
		return value.Value{}, unsupportedAt(tablePos, "record id range (%s:..)", table)
	}
	i := l.off
	if l.byteAt(i) == '-' && isDigit(l.byteAt(i+1)) {
		i++
	}
	for i < len(l.src) && isIdentChar(l.src[i]) {
		i++
	}
	text := l.src[l.off:i]
	if text == "" {
		return value.Value{}, errAt(start, "expected a record key after \"%s:\"", table)
	}
	switch c := l.byteAt(i); {
	case c == '\'' || c == '"':
		return value.Value{}, unsupportedAt(tablePos, "record id with a %s'…' key", text)
	case c == '(':
		return value.Value{}, unsupportedAt(tablePos, "generated record id %s:%s()", table, text)
	case c == '.' && l.byteAt(i+1) == '.':
		return value.Value{}, unsupportedAt(tablePos, "record id range (%s:%s..)", table, text)
	}
	l.advanceTo(i)
	r, ok := value.ParseRecord("t:" + text)
	if !ok {
		return value.Value{}, errAt(start, "invalid record key %q", text)
	}
	return r.Key(), nil
}
