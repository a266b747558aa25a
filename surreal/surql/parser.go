package surql

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sp00ky/ssp/surreal/value"
)

// maxDepth bounds the nesting of expressions and subqueries so hostile input cannot exhaust
// the stack.
const maxDepth = 128

// Binding powers, weakest first, as in SurrealDB's parser: prefix operators (`!`, `-`) bind
// tighter than every binary operator, and comparisons split into an equality level (`=`, `!=`,
// `IS`) below a relation level (`<`, `CONTAINS`, `IN`, …).
const (
	bpBase = iota
	bpOr
	bpAnd
	bpEq
	bpRel
	bpAdd
	bpMul
	bpPrefix
	bpPrime
)

// opIsPending and opNotPending mark two-word operators whose second word is read after the first.
const (
	opIsPending  Op = -1
	opNotPending Op = -2
)

// parser is a recursive-descent parser with one token of lookahead. The lexer always stands
// right after the lookahead token, which lets the parser lex record keys from the raw text.
type parser struct {
	lx    *lexer
	tok   token // lookahead
	prev  token // last consumed token
	depth int
	input string // "query" or "value", used in messages about the end of the text
}

func newParser(src, input string) (*parser, *Error) {
	p := &parser{lx: newLexer(src), input: input}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parser) advance() *Error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.prev, p.tok = p.tok, t
	return nil
}

func isKw(t token, kw string) bool { return t.kind == tWord && strings.EqualFold(t.text, kw) }

func (p *parser) is(kw string) bool { return isKw(p.tok, kw) }

func (p *parser) isP(s string) bool { return p.tok.kind == tPunct && p.tok.text == s }

// describe renders a token for messages: `"ORDER"`, or "the end of the query".
func (p *parser) describe(t token) string {
	if t.kind == tEOF {
		return "the end of the " + p.input
	}
	s := t.text
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "…"
	}
	return strconv.Quote(s)
}

func (p *parser) expected(what string) *Error {
	return errAt(p.tok.pos, "expected %s but found %s", what, p.describe(p.tok))
}

func (p *parser) expect(punct, context string) *Error {
	if !p.isP(punct) {
		return p.expected(strconv.Quote(punct) + context)
	}
	return p.advance()
}

// followedByColon reports whether the lookahead token is directly followed by a single `:`
// (making it the table of a record id such as `user:1`).
func (p *parser) followedByColon() bool {
	return p.lx.byteAt(p.tok.end) == ':' && p.lx.byteAt(p.tok.end+1) != ':'
}

// peek lexes the token after the lookahead without consuming anything (ok is false when that
// text does not lex; the error is reported once the parser gets there).
func (p *parser) peek() (t token, ok bool) {
	cp := *p.lx
	t, err := cp.next()
	return t, err == nil
}

func (p *parser) peekIs(punct string) bool {
	t, ok := p.peek()
	return ok && t.kind == tPunct && t.text == punct
}

// Words after which a keyword in operand position is read as a field name (`in = 1`,
// `start DESC`, `order FROM`).
var nameFollowers = wordSet(
	"AND", "OR", "IS", "IN", "NOT", "CONTAINS", "CONTAINSNOT", "CONTAINSALL", "CONTAINSANY", "CONTAINSNONE",
	"INSIDE", "NOTINSIDE", "ALLINSIDE", "ANYINSIDE", "NONEINSIDE", "OUTSIDE", "INTERSECTS",
	"AS", "FROM", "WHERE", "ORDER", "LIMIT", "START", "GROUP", "SPLIT", "FETCH", "TIMEOUT", "PARALLEL",
	"EXPLAIN", "WITH", "OMIT", "VERSION", "TEMPFILES", "ASC", "DESC", "ASCENDING", "DESCENDING",
	"COLLATE", "NUMERIC",
)

// nameContext reports whether the keyword in the lookahead is used as a name, judging by the
// token after it: the end, a closing or separating punctuation, an operator or a clause keyword.
// SurrealDB reads keywords in operand position as field names (edge tables have an `in` field);
// keeping other uses as errors gives precise messages such as
// `expected an expression after "=" but found "ORDER"`.
func (p *parser) nameContext() bool {
	t, ok := p.peek()
	if !ok {
		return false
	}
	switch t.kind {
	case tEOF:
		return true
	case tWord:
		return nameFollowers[upper(t.text)]
	case tPunct:
		if _, op := punctOps[t.text]; op {
			return true
		}
		if _, op := unsupportedPuncts[t.text]; op {
			return true
		}
		switch t.text {
		case ".", "[", ",", ")", "]", "}", ";":
			return true
		}
	}
	return false
}

// digitFollows reports whether the lookahead token is directly followed by a digit.
func (p *parser) digitFollows() bool { return isDigit(p.lx.byteAt(p.tok.end)) }

// Words that can never start an expression (operators and clause keywords).
var reservedWords = wordSet(
	"AND", "OR", "IS", "IN", "CONTAINS", "CONTAINSNOT", "CONTAINSALL", "CONTAINSANY", "CONTAINSNONE",
	"INSIDE", "NOTINSIDE", "ALLINSIDE", "ANYINSIDE", "NONEINSIDE", "OUTSIDE", "INTERSECTS",
	"FROM", "WHERE", "ORDER", "LIMIT", "START", "GROUP", "SPLIT", "FETCH", "TIMEOUT", "PARALLEL",
	"EXPLAIN", "WITH", "AS", "OMIT", "VERSION", "TEMPFILES",
)

// Words printed inside backticks when they name a field, table or alias, so that printed
// queries never read them as keywords.
var escapedWords = wordSet(
	"AND", "OR", "IS", "IN", "CONTAINS", "CONTAINSNOT", "CONTAINSALL", "CONTAINSANY", "CONTAINSNONE",
	"INSIDE", "NOTINSIDE", "ALLINSIDE", "ANYINSIDE", "NONEINSIDE", "OUTSIDE", "INTERSECTS",
	"FROM", "WHERE", "ORDER", "LIMIT", "START", "GROUP", "SPLIT", "FETCH", "TIMEOUT", "PARALLEL",
	"EXPLAIN", "WITH", "AS", "OMIT", "VERSION", "TEMPFILES", "SELECT", "VALUE", "ONLY",
	"TRUE", "FALSE", "NULL", "NONE", "NOT", "RAND", "NAN", "INFINITY",
	"IF", "CREATE", "UPDATE", "UPSERT", "DELETE", "RELATE", "INSERT", "DEFINE", "REMOVE", "REBUILD", "ALTER",
	"INFO", "FOR", "LET", "SLEEP", "RETURN", "THROW", "CONTINUE", "BREAK", "FUNCTION",
)

// Statement keywords that SurrealDB parses as a statement wherever an operand may start, so
// they cannot name a field without backticks.
var primeStatementWords = wordSet(
	"IF", "SELECT", "CREATE", "EXPLAIN", "UPDATE", "UPSERT", "DELETE", "RELATE", "INSERT", "DEFINE", "REMOVE",
	"REBUILD", "ALTER", "INFO", "FOR", "LET", "SLEEP", "RETURN", "THROW", "CONTINUE", "BREAK", "FUNCTION",
)

// Statement keywords other than SELECT, for a precise message.
var statementWords = wordSet(
	"CREATE", "UPDATE", "UPSERT", "DELETE", "RELATE", "INSERT", "DEFINE", "REMOVE", "LET", "BEGIN",
	"COMMIT", "CANCEL", "IF", "FOR", "RETURN", "USE", "INFO", "LIVE", "KILL", "SHOW", "SLEEP", "THROW",
	"BREAK", "CONTINUE", "OPTION", "ALTER", "REBUILD", "ACCESS", "EXPLAIN",
)

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

func upper(s string) string { return strings.ToUpper(s) }

// ---- statements ----

// parseStatement parses the whole query: one SELECT, an optional `;`, then the end.
func (p *parser) parseStatement() (*Select, *Error) {
	switch {
	case p.is("SELECT"):
	case p.tok.kind == tWord && statementWords[upper(p.tok.text)]:
		return nil, unsupportedAt(p.tok.pos, "%s statement (a view must be a single SELECT)", upper(p.tok.text))
	default:
		return nil, p.expected("a SELECT statement")
	}
	s, err := p.selectStmt()
	if err != nil {
		return nil, err
	}
	if p.isP(";") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tEOF && !p.isP(";") {
			return nil, unsupportedAt(p.tok.pos, "several statements (a view must be a single SELECT)")
		}
	}
	if p.tok.kind != tEOF {
		if err := p.misplacedClause(s); err != nil {
			return nil, err
		}
		return nil, errAt(p.tok.pos, "unexpected %s after the statement", p.describe(p.tok))
	}
	return s, nil
}

// selectStmt parses `SELECT … FROM table [WHERE …] [ORDER BY …] [LIMIT …] [START …]`.
func (p *parser) selectStmt() (*Select, *Error) {
	s := &Select{Pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.is("VALUE") && !p.nameContext() {
		if err := p.valueField(s); err != nil {
			return nil, err
		}
	} else if err := p.fields(s); err != nil {
		return nil, err
	}
	if p.is("OMIT") {
		return nil, unsupportedAt(p.tok.pos, "OMIT")
	}
	if !p.is("FROM") {
		return nil, p.expected(`"," or FROM after the selected fields`)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.fromTarget(s); err != nil {
		return nil, err
	}
	if err := p.unsupportedClause(); err != nil {
		return nil, err
	}
	if p.is("WHERE") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		w, err := p.expr(bpBase)
		if err != nil {
			return nil, err
		}
		s.Where = w
		if err := p.unsupportedClause(); err != nil {
			return nil, err
		}
	}
	if p.is("ORDER") {
		if err := p.orderBy(s); err != nil {
			return nil, err
		}
		if err := p.unsupportedClause(); err != nil {
			return nil, err
		}
	}
	for {
		switch {
		case p.is("LIMIT") && s.Limit == nil:
			e, err := p.limitClause("LIMIT", "BY")
			if err != nil {
				return nil, err
			}
			s.Limit = e
			continue
		case p.is("START") && s.Start == nil:
			e, err := p.limitClause("START", "AT")
			if err != nil {
				return nil, err
			}
			s.Start = e
			continue
		}
		break
	}
	if err := p.unsupportedClause(); err != nil {
		return nil, err
	}
	if err := p.misplacedClause(s); err != nil {
		return nil, err
	}
	if err := checkOrderFields(s); err != nil {
		return nil, err
	}
	return s, nil
}

// valueField parses `VALUE expr` (the lookahead is VALUE): one expression, without alias.
func (p *parser) valueField(s *Select) *Error {
	if err := p.advance(); err != nil {
		return err
	}
	f := Field{Pos: p.tok.pos}
	e, err := p.expr(bpBase)
	if err != nil {
		return err
	}
	f.Expr = e
	switch {
	case p.is("AS"):
		return errAt(p.tok.pos, "SELECT VALUE takes one expression without an alias")
	case p.isP(","):
		return errAt(p.tok.pos, "SELECT VALUE takes one expression; select fields without VALUE")
	}
	s.Value, s.Fields = true, []Field{f}
	return nil
}

// fields parses the projection list: `*` and/or `expr [AS alias]`, comma separated.
func (p *parser) fields(s *Select) *Error {
	for {
		if p.isP("*") {
			if s.Star {
				return errAt(p.tok.pos, "\"*\" appears twice in the selected fields")
			}
			s.Star, s.StarAt = true, int32(len(s.Fields))
			if err := p.advance(); err != nil {
				return err
			}
		} else {
			f := Field{Pos: p.tok.pos}
			e, err := p.expr(bpBase)
			if err != nil {
				return err
			}
			f.Expr = e
			if p.is("AS") {
				if err := p.advance(); err != nil {
					return err
				}
				switch p.tok.kind {
				case tWord:
					f.Alias = p.tok.text
				case tQuoted:
					f.Alias = p.tok.val
				default:
					return p.expected("an alias name after AS")
				}
				if f.Alias == "" {
					return errAt(p.tok.pos, "an alias cannot be empty")
				}
				if err := p.advance(); err != nil {
					return err
				}
				if p.isP(".") || p.isP("[") {
					return unsupportedAt(p.tok.pos, "a field path as an alias (AS %s…); use a plain name", f.Alias)
				}
			}
			s.Fields = append(s.Fields, f)
		}
		if !p.isP(",") {
			return nil
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
}

// fromTarget parses the single FROM table.
func (p *parser) fromTarget(s *Select) *Error {
	t := p.tok
	switch {
	case p.is("ONLY"):
		return unsupportedAt(t.pos, "FROM ONLY")
	case t.kind == tWord && reservedWords[upper(t.text)] && !p.nameContext():
		return p.expected("a table name after FROM")
	case t.kind == tWord || t.kind == tQuoted:
		name := t.text
		if t.kind == tQuoted {
			name = t.val
		}
		if name == "" {
			return errAt(t.pos, "a table name cannot be empty")
		}
		if p.followedByColon() {
			lit, err := p.recordLit(name, t.pos)
			if err != nil {
				return err
			}
			rid := lit.(*Literal).Val
			s.From, s.FromPos, s.FromID = name, t.pos, &rid
			return p.afterFrom(s, t)
		}
		s.From, s.FromPos = name, t.pos
	case t.kind == tString && t.pfx == 'r':
		lit, err := p.stringLit()
		if err != nil {
			return err
		}
		rid := lit.Val
		s.From, s.FromPos, s.FromID = rid.Table(), t.pos, &rid
		return p.afterFrom(s, t)
	case t.kind == tParam:
		return unsupportedAt(t.pos, "FROM a parameter (%s)", t.text)
	case p.isP("("):
		return unsupportedAt(t.pos, "FROM a subquery or expression")
	case p.isP("["):
		return unsupportedAt(t.pos, "FROM an array")
	case p.isP("->") || p.isP("<"):
		return unsupportedAt(t.pos, "graph traversal in FROM")
	default:
		return p.expected("a table name after FROM")
	}
	if err := p.advance(); err != nil {
		return err
	}
	return p.afterFrom(s, t)
}

// afterFrom rejects what may follow the FROM target t that the SSP does not support.
func (p *parser) afterFrom(s *Select, t token) *Error {
	switch {
	case p.isP(","):
		return unsupportedAt(p.tok.pos, "several FROM targets (FROM %s, …)", s.From)
	case p.isP("(") || p.isP("::"):
		return unsupportedAt(t.pos, "FROM a function call")
	case p.isP(".") || p.isP("[") || p.isP("->") || (p.isP("<") && p.lx.byteAt(p.tok.end) == '-'):
		return unsupportedAt(p.tok.pos, "FROM a path or graph traversal")
	}
	return nil
}

// unsupportedClause rejects a clause the SSP does not support when one starts here.
func (p *parser) unsupportedClause() *Error {
	if p.tok.kind != tWord {
		return nil
	}
	t := p.tok
	switch kw := upper(t.text); kw {
	case "SPLIT", "FETCH", "TIMEOUT", "PARALLEL", "EXPLAIN", "VERSION", "TEMPFILES", "OMIT":
		return unsupportedAt(t.pos, "%s", kw)
	case "GROUP", "WITH":
		if err := p.advance(); err != nil {
			return err
		}
		next := upper(p.tok.text)
		switch {
		case kw == "GROUP" && next == "ALL":
			return unsupportedAt(t.pos, "GROUP ALL (views support neither GROUP BY nor aggregate functions)")
		case kw == "GROUP":
			return unsupportedAt(t.pos, "GROUP BY (views support neither GROUP BY nor aggregate functions)")
		case next == "NOINDEX" || next == "NO":
			return unsupportedAt(t.pos, "WITH NOINDEX")
		default:
			return unsupportedAt(t.pos, "WITH INDEX")
		}
	}
	return nil
}

// misplacedClause explains a supported clause that appears out of order or twice.
func (p *parser) misplacedClause(s *Select) *Error {
	t := p.tok
	if t.kind != tWord {
		return nil
	}
	kw := upper(t.text)
	switch kw {
	case "WHERE", "ORDER", "LIMIT", "START":
	default:
		return nil
	}
	dup := (kw == "WHERE" && s.Where != nil) || (kw == "ORDER" && len(s.Order) > 0) ||
		(kw == "LIMIT" && s.Limit != nil) || (kw == "START" && s.Start != nil)
	if dup {
		return errAt(t.pos, "%s appears twice in the statement", kw)
	}
	return errAt(t.pos, "misplaced %s: clauses must come in the order WHERE, ORDER BY, LIMIT/START", kw)
}

// orderBy parses `ORDER [BY] path [COLLATE] [NUMERIC] [ASC|DESC], …`.
func (p *parser) orderBy(s *Select) *Error {
	if err := p.advance(); err != nil {
		return err
	}
	if p.is("BY") {
		if err := p.advance(); err != nil {
			return err
		}
	}
	for {
		term := OrderTerm{Pos: p.tok.pos}
		if p.is("RAND") {
			if p.peekIs("(") {
				return unsupportedAt(term.Pos, "ORDER BY RAND() (not deterministic)")
			}
			return errAt(term.Pos, "ORDER BY RAND needs \"()\"; write `%s` for a field of that name", p.tok.text)
		}
		e, err := p.expr(bpBase)
		if err != nil {
			return err
		}
		id, ok := e.(*Idiom)
		if !ok {
			return unsupportedAt(term.Pos, "ORDER BY an expression (%s); order by a field path or an alias", ExprString(e))
		}
		term.Path = id
		dirSet := false
	mods:
		for p.tok.kind == tWord {
			kw := upper(p.tok.text)
			switch {
			case kw == "COLLATE" && !term.Collate:
				term.Collate = true
			case kw == "NUMERIC" && !term.Numeric:
				term.Numeric = true
			case (kw == "ASC" || kw == "ASCENDING") && !dirSet:
				dirSet = true
			case (kw == "DESC" || kw == "DESCENDING") && !dirSet:
				dirSet, term.Desc = true, true
			case kw == "COLLATE" || kw == "NUMERIC" || kw == "ASC" || kw == "ASCENDING" || kw == "DESC" || kw == "DESCENDING":
				return errAt(p.tok.pos, "%s repeats an ORDER BY modifier of %s", kw, id)
			default:
				break mods
			}
			if err := p.advance(); err != nil {
				return err
			}
		}
		s.Order = append(s.Order, term)
		if !p.isP(",") {
			return nil
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
}

// checkOrderFields mirrors SurrealDB: without `*`, every ORDER BY path must be a selected field
// path or alias.
func checkOrderFields(s *Select) *Error {
	if s.Star {
		return nil
	}
	for _, t := range s.Order {
		found := false
		for _, f := range s.Fields {
			if f.Alias != "" && len(t.Path.Parts) == 1 && !t.Path.Parts[0].IsIndex && t.Path.Parts[0].Name == f.Alias {
				found = true
			}
			if id, ok := f.Expr.(*Idiom); ok && samePath(id, t.Path) {
				found = true
			}
		}
		if !found {
			return errAt(t.Pos, "ORDER BY %s: the field is not selected (add it to the SELECT list or select *)", t.Path)
		}
	}
	return nil
}

func samePath(a, b *Idiom) bool {
	if len(a.Parts) != len(b.Parts) {
		return false
	}
	for i, p := range a.Parts {
		q := b.Parts[i]
		if p.IsIndex != q.IsIndex || p.Index != q.Index || p.Name != q.Name {
			return false
		}
	}
	return true
}

// limitClause parses `LIMIT [BY] n` / `START [AT] n` where n is a non-negative integer or a param.
func (p *parser) limitClause(kw, filler string) (Expr, *Error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.is(filler) {
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	at := p.tok.pos
	e, err := p.expr(bpBase)
	if err != nil {
		return nil, err
	}
	switch x := e.(type) {
	case *Param:
		return x, nil
	case *Literal:
		if x.Val.Kind() == value.KindInt && x.Val.AsInt() >= 0 {
			return x, nil
		}
	}
	return nil, errAt(at, "%s must be a non-negative integer or a $parameter but found %s", kw, ExprString(e))
}

// ---- expressions ----

// expr parses an expression whose operators bind tighter than minBP (Pratt parsing).
func (p *parser) expr(minBP int) (Expr, *Error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, errAt(p.tok.pos, "the %s is nested too deeply", p.input)
	}
	lhs, prime, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op, bp, err := p.peekInfix()
		if err != nil {
			return nil, err
		}
		if bp == 0 || bp <= minBP {
			return lhs, nil
		}
		opTok := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		switch op {
		case opIsPending:
			op = OpIs
			if p.is("NOT") {
				op = OpIsNot
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
		case opNotPending:
			if !p.is("IN") {
				return nil, p.expected("IN after NOT")
			}
			op = OpNotInside
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if !prime && (bp == bpEq || bp == bpRel) && exprBP(lhs) == bp {
			return nil, errAt(opTok.pos, "chained comparison %s has no defined associativity; add parentheses", p.describe(opTok))
		}
		rhs, err := p.expr(bp)
		if err != nil {
			return nil, err
		}
		lhs, prime = &Binary{Pos: opTok.pos, Op: op, L: lhs, R: rhs, Double: opTok.kind == tPunct && opTok.text == "=="}, false
	}
}

// exprBP is the binding power of the operator at the root of e (bpPrime for operands).
func exprBP(e Expr) int {
	switch x := e.(type) {
	case *Binary:
		return opBP(x.Op)
	case *Unary:
		return bpPrefix
	}
	return bpPrime
}

func opBP(op Op) int {
	switch op {
	case OpOr:
		return bpOr
	case OpAnd:
		return bpAnd
	case OpEq, OpNe, OpIs, OpIsNot:
		return bpEq
	case OpAdd, OpSub:
		return bpAdd
	case OpMul, OpDiv:
		return bpMul
	case OpNot, OpNeg:
		return bpPrefix
	}
	return bpRel
}

var wordOps = map[string]Op{
	"OR": OpOr, "AND": OpAnd, "IS": opIsPending, "NOT": opNotPending,
	"CONTAINS": OpContains, "CONTAINSNOT": OpContainsNot, "CONTAINSALL": OpContainsAll,
	"CONTAINSANY": OpContainsAny, "CONTAINSNONE": OpContainsNone, "INSIDE": OpInside, "IN": OpInside,
	"NOTINSIDE": OpNotInside, "ALLINSIDE": OpAllInside, "ANYINSIDE": OpAnyInside, "NONEINSIDE": OpNoneInside,
}

var punctOps = map[string]Op{
	"||": OpOr, "&&": OpAnd, "=": OpEq, "==": OpEq, "!=": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe,
	"∋": OpContains, "∌": OpContainsNot, "⊇": OpContainsAll, "⊃": OpContainsAny, "⊅": OpContainsNone,
	"∈": OpInside, "∉": OpNotInside, "⊆": OpAllInside, "⊂": OpAnyInside, "⊄": OpNoneInside,
	"+": OpAdd, "-": OpSub, "*": OpMul, "×": OpMul, "/": OpDiv, "÷": OpDiv,
}

var unsupportedPuncts = map[string]string{
	"~": "the fuzzy match operator ~", "!~": "the fuzzy match operator !~", "?~": "the fuzzy match operator ?~",
	"*~": "the fuzzy match operator *~", "*=": "the operator *=", "?=": "the operator ?=",
	"@": "the full-text MATCHES operator @@", "@@": "the full-text MATCHES operator @@",
	"??": "the operator ??", "?:": "the operator ?:", "?": "the operator ?", "%": "the operator %",
	"**": "the operator **", "..": "ranges (..)", "<|": "the nearest-neighbour operator <|…|>",
	"->": "graph traversal (->)",
}

// peekInfix classifies the lookahead as a binary operator: its Op and binding power, or bp 0.
func (p *parser) peekInfix() (Op, int, *Error) {
	t := p.tok
	switch t.kind {
	case tWord:
		kw := upper(t.text)
		if kw == "OUTSIDE" || kw == "INTERSECTS" {
			return 0, 0, unsupportedAt(t.pos, "the geometry operator %s", kw)
		}
		op, ok := wordOps[kw]
		if !ok {
			return 0, 0, nil
		}
		switch op {
		case opIsPending:
			return op, bpEq, nil
		case opNotPending:
			return op, bpRel, nil
		}
		return op, opBP(op), nil
	case tPunct:
		if msg, ok := unsupportedPuncts[t.text]; ok {
			return 0, 0, unsupportedAt(t.pos, "%s", msg)
		}
		if t.text == "<" {
			if c := p.lx.byteAt(t.end); c == '-' || c == '~' {
				return 0, 0, unsupportedAt(t.pos, "graph traversal (<-)")
			}
		}
		op, ok := punctOps[t.text]
		if !ok {
			return 0, 0, nil
		}
		return op, opBP(op), nil
	}
	return 0, 0, nil
}

// unary parses prefix operators and then a primary. prime reports a primary (or parenthesised)
// expression, which may start a chain of comparisons.
func (p *parser) unary() (Expr, bool, *Error) {
	t := p.tok
	if t.kind != tPunct {
		e, err := p.primary()
		return e, true, err
	}
	switch t.text {
	case "!":
		if err := p.advance(); err != nil {
			return nil, false, err
		}
		x, err := p.expr(bpPrefix)
		if err != nil {
			return nil, false, err
		}
		return &Unary{Pos: t.pos, Op: OpNot, X: x}, false, nil
	case "-", "+":
		if p.digitFollows() {
			if err := p.advance(); err != nil {
				return nil, false, err
			}
			lit, err := p.number(t.pos, t.text == "-")
			if err != nil {
				return nil, false, err
			}
			if lit.Val.Kind() == value.KindDuration && t.text == "-" {
				return &Unary{Pos: t.pos, Op: OpNeg, X: lit}, false, p.noPostfix(lit)
			}
			return lit, true, p.noPostfix(lit)
		}
		if t.text == "+" {
			return nil, false, unsupportedAt(t.pos, "unary +")
		}
		if err := p.advance(); err != nil {
			return nil, false, err
		}
		x, err := p.expr(bpPrefix)
		if err != nil {
			return nil, false, err
		}
		return &Unary{Pos: t.pos, Op: OpNeg, X: x}, false, nil
	}
	e, err := p.primary()
	return e, true, err
}

// number converts the lookahead number or duration token (after an optional sign) to a literal.
func (p *parser) number(at Pos, neg bool) (*Literal, *Error) {
	t := p.tok
	var v value.Value
	switch t.kind {
	case tDuration:
		v = value.Duration(t.dur)
	case tNumber:
		if t.float {
			text := strings.TrimSuffix(strings.TrimSuffix(t.text, "dec"), "f")
			f, err := strconv.ParseFloat(text, 64)
			if err != nil || math.IsInf(f, 0) {
				return nil, errAt(at, "number %s is out of range", t.text)
			}
			if neg {
				f = -f
			}
			v = value.Float(f)
		} else {
			u, err := strconv.ParseUint(t.text, 10, 64)
			switch {
			case err != nil || u > 1<<63 || (!neg && u > math.MaxInt64):
				sign := ""
				if neg {
					sign = "-"
				}
				return nil, errAt(at, "integer %s%s is out of range (64-bit)", sign, t.text)
			case neg:
				v = value.Int(int64(-u)) // u <= 1<<63: two's complement gives -u, MinInt64 for 1<<63
			default:
				v = value.Int(int64(u))
			}
		}
	default:
		return nil, p.expected("a number")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return &Literal{Pos: at, Val: v}, nil
}

// noPostfix rejects a field access or index applied to something that is not a field path.
func (p *parser) noPostfix(e Expr) *Error {
	switch {
	case p.isP("."):
		return unsupportedAt(p.tok.pos, "a field access on %s", ExprString(e))
	case p.isP("["):
		return unsupportedAt(p.tok.pos, "indexing %s", ExprString(e))
	}
	return nil
}

// primary parses an operand: literal, parameter, field path, call, array, object, subquery or
// parenthesised expression.
func (p *parser) primary() (Expr, *Error) {
	t := p.tok
	switch t.kind {
	case tEOF:
		return nil, p.expectedExpr()
	case tNumber, tDuration:
		lit, err := p.number(t.pos, false)
		if err != nil {
			return nil, err
		}
		return lit, p.noPostfix(lit)
	case tString:
		lit, err := p.stringLit()
		if err != nil {
			return nil, err
		}
		return lit, p.noPostfix(lit)
	case tParam:
		return p.param()
	case tQuoted:
		if p.followedByColon() {
			return p.recordLit(t.val, t.pos)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return p.idiomRest(&Idiom{Pos: t.pos, Parts: []Part{{Name: t.val}}})
	case tWord:
		return p.wordPrimary()
	}
	switch t.text {
	case "(":
		return p.paren()
	case "[":
		return p.array()
	case "{":
		return p.object()
	case "->":
		return nil, unsupportedAt(t.pos, "graph traversal (->)")
	case "<":
		if c := p.lx.byteAt(t.end); c == '-' || c == '~' {
			return nil, unsupportedAt(t.pos, "graph traversal (<-)")
		}
		return nil, unsupportedAt(t.pos, "type casts (<type> value)")
	case "|", "||":
		return nil, unsupportedAt(t.pos, "closures and mock ranges (|…|)")
	case "/":
		return nil, unsupportedAt(t.pos, "regex literals (/…/)")
	case "..":
		return nil, unsupportedAt(t.pos, "ranges (..)")
	case "@":
		return nil, unsupportedAt(t.pos, "the document reference @")
	}
	return nil, p.expectedExpr()
}

func (p *parser) expectedExpr() *Error {
	if p.prev.text == "" {
		return p.expected("an expression")
	}
	return errAt(p.tok.pos, "expected an expression after %s but found %s", p.describe(p.prev), p.describe(p.tok))
}

// wordPrimary parses an operand starting with a word: keyword literal, NOT(…), record id,
// function call or field path.
func (p *parser) wordPrimary() (Expr, *Error) {
	t := p.tok
	kw := upper(t.text)
	var lit value.Value
	isLit := true
	switch kw {
	case "TRUE":
		lit = value.Bool(true)
	case "FALSE":
		lit = value.Bool(false)
	case "NULL":
		lit = value.Null()
	case "NONE":
		lit = value.None()
	default:
		isLit = false
	}
	// NaN and Infinity are float tokens in SurrealQL (case-sensitive).
	switch t.text {
	case "NaN":
		lit, isLit = value.Float(math.NaN()), true
	case "Infinity":
		lit, isLit = value.Float(math.Inf(1)), true
	}
	if isLit {
		if err := p.advance(); err != nil {
			return nil, err
		}
		e := &Literal{Pos: t.pos, Val: lit}
		return e, p.noPostfix(e)
	}
	switch {
	case kw == "NOT" && p.peekIs("("):
		return p.notCall()
	case p.followedByColon():
		return p.recordLit(t.text, t.pos)
	case kw == "SELECT":
		return nil, unsupportedAt(t.pos, "a subquery without parentheses; write (SELECT …)")
	case primeStatementWords[kw] && !(kw == "SLEEP" && p.peekIs("(")):
		return nil, errAt(t.pos, "%s starts a statement here; write `%s` for a field of that name", kw, t.text)
	case (kw == "NOT" || reservedWords[kw]) && !p.nameContext():
		if kw == "NOT" {
			return p.notCall()
		}
		return nil, p.expectedExpr()
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.isP("::") || p.isP("(") {
		return p.call(t)
	}
	return p.idiomRest(&Idiom{Pos: t.pos, Parts: []Part{{Name: t.text}}})
}

// notCall parses `NOT(expr)`, SurrealDB's not() function, as a unary `!`.
func (p *parser) notCall() (Expr, *Error) {
	t := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.isP("(") {
		return nil, errAt(p.tok.pos, "expected \"(\" after NOT but found %s (SurrealQL negates with !expr or NOT(expr))", p.describe(p.tok))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.expr(bpBase)
	if err != nil {
		return nil, err
	}
	if err := p.expect(")", " to close NOT("); err != nil {
		return nil, err
	}
	u := &Unary{Pos: t.pos, Op: OpNot, X: x, Call: true}
	return u, p.noPostfix(u)
}

// recordLit parses a record id whose table token is the lookahead and is directly followed by `:`.
func (p *parser) recordLit(table string, at Pos) (Expr, *Error) {
	if table == "" {
		return nil, errAt(at, "a record id needs a table name")
	}
	p.lx.advance() // the ':'
	key, err := p.lx.lexRecordKey(table, at)
	if err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	lit := &Literal{Pos: at, Val: value.Record(table, key)}
	return lit, p.noPostfix(lit)
}

// stringLit converts the lookahead string token (with its prefix) to a literal.
func (p *parser) stringLit() (*Literal, *Error) {
	t := p.tok
	var v value.Value
	switch t.pfx {
	case 0, 's':
		v = value.String(t.val)
	case 'd':
		d, err := parseDatetime(t.val)
		if err != nil {
			return nil, errAt(t.pos, "invalid datetime %s: %s", t.text, err.Error())
		}
		v = d
	case 'r':
		r, ok := value.ParseRecord(t.val)
		if !ok {
			return nil, errAt(t.pos, "invalid record id %s (expected table:key)", t.text)
		}
		v = r
	case 'u':
		return nil, unsupportedAt(t.pos, "uuid literals (u'…')")
	case 'b':
		return nil, unsupportedAt(t.pos, "bytes literals (b'…')")
	default:
		return nil, unsupportedAt(t.pos, "file literals (f'…')")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return &Literal{Pos: t.pos, Val: v}, nil
}

// parseDatetime accepts SurrealDB's datetime forms: a date, or a date and time with a zone
// (`T`, `t` or a space between them).
func parseDatetime(s string) (value.Value, error) {
	norm := s
	if len(norm) == 10 {
		norm += "T00:00:00Z"
	}
	if len(norm) > 10 && (norm[10] == ' ' || norm[10] == 't') {
		norm = norm[:10] + "T" + norm[11:]
	}
	if strings.HasSuffix(norm, "z") {
		norm = norm[:len(norm)-1] + "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, norm)
	if err != nil {
		return value.Value{}, errString("expected YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)")
	}
	if y := t.UTC().Year(); y < 1678 || y > 2261 {
		return value.Value{}, errString("years must be between 1678 and 2261")
	}
	return value.Datetime(t), nil
}

type errString string

func (e errString) Error() string { return string(e) }

// param parses `$name` and an optional `.field` path.
func (p *parser) param() (Expr, *Error) {
	t := p.tok
	e := &Param{Pos: t.pos, Name: t.val}
	if err := p.advance(); err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isP("."):
			dot := p.tok
			if err := p.advance(); err != nil {
				return nil, err
			}
			name, err := p.pathName(dot)
			if err != nil {
				return nil, err
			}
			e.Path = append(e.Path, name)
		case p.isP("["):
			return nil, unsupportedAt(p.tok.pos, "indexing a parameter (%s[…])", t.text)
		default:
			return e, nil
		}
	}
}

// pathName reads the field name after a `.` (the dot token is given for messages).
func (p *parser) pathName(dot token) (string, *Error) {
	t := p.tok
	var name string
	switch {
	case t.kind == tWord:
		name = t.text
	case t.kind == tQuoted:
		name = t.val
	case p.isP("*"):
		return "", unsupportedAt(dot.pos, "all-fields paths (.*)")
	case p.isP("{"):
		return "", unsupportedAt(dot.pos, "destructuring (.{…})")
	case p.isP("."):
		return "", unsupportedAt(dot.pos, "flattening (…)")
	default:
		return "", p.expected(`a field name after "."`)
	}
	if err := p.advance(); err != nil {
		return "", err
	}
	if p.isP("(") {
		return "", unsupportedAt(dot.pos, "method calls (.%s())", name)
	}
	return name, nil
}

// idiomRest parses the rest of a field path: `.field`, `[n]`, `["field"]`.
func (p *parser) idiomRest(id *Idiom) (Expr, *Error) {
	for {
		switch {
		case p.isP("."):
			dot := p.tok
			if err := p.advance(); err != nil {
				return nil, err
			}
			name, err := p.pathName(dot)
			if err != nil {
				return nil, err
			}
			id.Parts = append(id.Parts, Part{Name: name})
		case p.isP("["):
			part, err := p.indexPart(id)
			if err != nil {
				return nil, err
			}
			id.Parts = append(id.Parts, part)
		case p.isP("…"):
			return nil, unsupportedAt(p.tok.pos, "flattening (…)")
		default:
			return id, nil
		}
	}
}

// indexPart parses `[n]` or `["name"]` after a field path.
func (p *parser) indexPart(id *Idiom) (Part, *Error) {
	open := p.tok
	if err := p.advance(); err != nil {
		return Part{}, err
	}
	t := p.tok
	var part Part
	switch {
	case t.kind == tNumber && !t.float:
		n, err := strconv.ParseInt(t.text, 10, 0)
		if err != nil || n > math.MaxInt32 {
			return Part{}, errAt(t.pos, "index %s is out of range", t.text)
		}
		part = Part{Index: int(n), IsIndex: true}
	case t.kind == tString && (t.pfx == 0 || t.pfx == 's'):
		part = Part{Name: t.val, Quoted: true}
	case p.isP("*"):
		return Part{}, unsupportedAt(open.pos, "all-elements paths (%s[*])", id)
	case p.isP("-"):
		return Part{}, unsupportedAt(open.pos, "negative indexes (%s[-…])", id)
	case p.isP("?") || p.is("WHERE"):
		return Part{}, unsupportedAt(open.pos, "filters in paths (%s[WHERE …])", id)
	case t.kind == tParam:
		return Part{}, unsupportedAt(open.pos, "computed indexes (%s[$…])", id)
	default:
		return Part{}, p.expected(`an array index or a quoted field name after "["`)
	}
	if err := p.advance(); err != nil {
		return Part{}, err
	}
	if err := p.expect("]", " to close the index"); err != nil {
		return Part{}, err
	}
	return part, nil
}

// Pure functions the SSP evaluates, with their argument counts.
var pureFuncs = map[string]int{
	"string::lowercase": 1, "string::uppercase": 1, "string::len": 1, "string::starts_with": 2,
	"string::ends_with": 2, "string::contains": 2, "string::trim": 1,
	"array::len": 1, "array::first": 1, "array::last": 1, "math::abs": 1,
}

// IsSupportedFunction reports whether name (lower-case, fully qualified) is a function views may
// call, and how many arguments it takes.
func IsSupportedFunction(name string) (arity int, ok bool) {
	arity, ok = pureFuncs[name]
	return arity, ok
}

// call parses a function call; the first word of the name was consumed (token first).
func (p *parser) call(first token) (Expr, *Error) {
	name := strings.ToLower(first.text)
	for p.isP("::") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tWord {
			return nil, p.expected(`a function name after "::"`)
		}
		name += "::" + strings.ToLower(p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if err := checkFunction(name, first.pos); err != nil {
		return nil, err
	}
	open := p.tok
	if err := p.expect("(", " after the function name "+name); err != nil {
		return nil, err
	}
	c := &Call{Pos: first.pos, Name: name}
	for !p.isP(")") {
		a, err := p.expr(bpBase)
		if err != nil {
			return nil, err
		}
		c.Args = append(c.Args, a)
		if !p.isP(",") {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if err := p.expect(")", " to close the call of "+name+" opened at "+open.pos.String()); err != nil {
		return nil, err
	}
	if want := pureFuncs[name]; len(c.Args) != want {
		return nil, errAt(first.pos, "%s takes %d argument(s) but got %d", name, want, len(c.Args))
	}
	return c, p.noPostfix(c)
}

func checkFunction(name string, at Pos) *Error {
	if _, ok := pureFuncs[name]; ok {
		return nil
	}
	switch {
	case name == "time::now":
		return unsupportedAt(at, "time::now() (not deterministic; a view cannot depend on the clock)")
	case name == "rand" || strings.HasPrefix(name, "rand::"):
		return unsupportedAt(at, "%s() (not deterministic; a view cannot depend on randomness)", name)
	case name == "count":
		return unsupportedAt(at, "count() (views support neither aggregate functions nor GROUP BY)")
	case name == "math::sum" || name == "math::mean" || name == "math::max" || name == "math::min":
		return unsupportedAt(at, "function %s (views support neither aggregate functions nor GROUP BY)", name)
	}
	return unsupportedAt(at, "function %s", name)
}

// paren parses `( … )`: a subquery `(SELECT …)` with an optional `[n]`, or a grouped expression.
func (p *parser) paren() (Expr, *Error) {
	open := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.is("SELECT") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, errAt(p.tok.pos, "the %s is nested too deeply", p.input)
		}
		sel, err := p.selectStmt()
		if err != nil {
			return nil, err
		}
		if err := p.closeParen(open, sel); err != nil {
			return nil, err
		}
		sq := &Subquery{Pos: open.pos, Select: sel}
		if p.isP("[") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tNumber || p.tok.float {
				if p.isP("-") || p.isP("*") || p.isP("$") || p.tok.kind == tParam || p.is("WHERE") || p.isP("?") {
					return nil, unsupportedAt(p.tok.pos, "this index on a subquery (only a non-negative integer such as [0])")
				}
				return nil, p.expected(`an index after "["`)
			}
			n, err := strconv.ParseInt(p.tok.text, 10, 0)
			if err != nil || n > math.MaxInt32 {
				return nil, errAt(p.tok.pos, "index %s is out of range", p.tok.text)
			}
			idx := int(n)
			sq.Index = &idx
			if err := p.advance(); err != nil {
				return nil, err
			}
			if err := p.expect("]", " to close the index"); err != nil {
				return nil, err
			}
		}
		return sq, p.noPostfix(sq)
	}
	if p.tok.kind == tWord && statementWords[upper(p.tok.text)] && !p.followedByColon() {
		return nil, unsupportedAt(p.tok.pos, "%s statement in a subquery (subqueries must be SELECT)", upper(p.tok.text))
	}
	e, err := p.expr(bpBase)
	if err != nil {
		return nil, err
	}
	if p.isP(",") {
		return nil, unsupportedAt(open.pos, "geometry points and tuples ((a, b))")
	}
	if err := p.closeParen(open, nil); err != nil {
		return nil, err
	}
	return e, p.noPostfix(e)
}

func (p *parser) closeParen(open token, sel *Select) *Error {
	if p.isP(")") {
		return p.advance()
	}
	if sel != nil {
		if err := p.misplacedClause(sel); err != nil {
			return err
		}
	}
	return errAt(p.tok.pos, "expected \")\" to close the \"(\" at %s but found %s", open.pos, p.describe(p.tok))
}

// array parses `[a, b, …]`; constant elements fold into one Literal.
func (p *parser) array() (Expr, *Error) {
	open := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	var elems []Expr
	for !p.isP("]") {
		e, err := p.expr(bpBase)
		if err != nil {
			return nil, err
		}
		elems = append(elems, e)
		if !p.isP(",") {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if !p.isP("]") {
		return nil, errAt(p.tok.pos, "expected \",\" or \"]\" to close the array at %s but found %s", open.pos, p.describe(p.tok))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var out Expr = &ArrayExpr{Pos: open.pos, Elems: elems}
	if vals, ok := constants(elems); ok {
		out = &Literal{Pos: open.pos, Val: value.Array(vals)}
	}
	return out, p.noPostfix(out)
}

// object parses `{ key: value, … }`; keys are names, quoted names, strings or integers.
func (p *parser) object() (Expr, *Error) {
	open := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	obj := &ObjectExpr{Pos: open.pos}
	for !p.isP("}") {
		t := p.tok
		var key string
		switch {
		case t.kind == tWord:
			key = t.text
		case t.kind == tQuoted:
			key = t.val
		case t.kind == tString && (t.pfx == 0 || t.pfx == 's'):
			key = t.val
		case t.kind == tNumber && !t.float:
			key = t.text
		default:
			return nil, p.expected("an object key")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expect(":", " after the object key "+strconv.Quote(key)); err != nil {
			return nil, err
		}
		v, err := p.expr(bpBase)
		if err != nil {
			return nil, err
		}
		obj.Keys = append(obj.Keys, key)
		obj.Values = append(obj.Values, v)
		if !p.isP(",") {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if !p.isP("}") {
		return nil, errAt(p.tok.pos, "expected \",\" or \"}\" to close the object at %s but found %s", open.pos, p.describe(p.tok))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var out Expr = obj
	if vals, ok := constants(obj.Values); ok && sortedKeys(obj.Keys) {
		fs := make([]value.Field, len(vals))
		for i, v := range vals {
			fs[i] = value.Field{Key: obj.Keys[i], Val: v}
		}
		out = &Literal{Pos: open.pos, Val: value.ObjectOf(fs)}
	}
	return out, p.noPostfix(out)
}

// sortedKeys reports whether keys are unique and in bytewise order: an object literal folds into
// a constant only then, since a constant prints its keys sorted and SurrealDB prints them as
// written.
func sortedKeys(keys []string) bool {
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			return false
		}
	}
	return true
}

// constants returns the values of exprs when all of them are literals.
func constants(exprs []Expr) ([]value.Value, bool) {
	vals := make([]value.Value, len(exprs))
	for i, e := range exprs {
		l, ok := e.(*Literal)
		if !ok {
			return nil, false
		}
		vals[i] = l.Val
	}
	return vals, true
}
