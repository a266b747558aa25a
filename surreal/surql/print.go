package surql

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

// ExprString renders an expression back to SurrealQL text that parses to the same tree
// (positions aside). Parentheses are added where SurrealDB's precedence needs them.
func ExprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

// String renders the statement as SurrealQL text that parses back to the same tree
// (positions aside; `*` is printed first).
func (s *Select) String() string {
	var b strings.Builder
	writeSelect(&b, s)
	return b.String()
}

func writeSelect(b *strings.Builder, s *Select) {
	writeSelectAs(b, s, sspStyle())
}

// printStyle is how a statement's and an expression's parts print: the SSP's own spelling
// (String, ExprString) or SurrealDB's (SurrealText). The shapes — a statement's clauses, the
// lists of arrays, objects and calls, a subquery — are the same in both (writeSelectAs,
// writeCompound).
type printStyle struct {
	expr   func(*strings.Builder, Expr)
	name   func(name string, table bool) string
	record func(value.Value) string
	key    func(string) string // an object key
	// valueAlone prints `VALUE expr` only for a single field, as SurrealDB does; otherwise
	// `VALUE` prefixes the field list.
	valueAlone bool
	// emptyBraces prints an object without keys as `{}` (SurrealDB prints `{  }`).
	emptyBraces bool
}

// sspStyle is the SSP's own spelling.
func sspStyle() printStyle {
	return printStyle{expr: writeExpr, name: identString, record: recordString, key: objectKeyString, emptyBraces: true}
}

// writeCompound writes the expressions whose shape both spellings share — arrays, objects,
// calls and subqueries — in st's spelling of their parts; false for any other kind.
func writeCompound(b *strings.Builder, e Expr, st printStyle) bool {
	list := func(es []Expr) {
		for i, el := range es {
			if i > 0 {
				b.WriteString(", ")
			}
			st.expr(b, el)
		}
	}
	switch x := e.(type) {
	case *ArrayExpr:
		b.WriteString("[")
		list(x.Elems)
		b.WriteString("]")
	case *ObjectExpr:
		if len(x.Keys) == 0 && st.emptyBraces {
			b.WriteString("{}")
			return true
		}
		b.WriteString("{ ")
		for i, k := range x.Keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(st.key(k) + ": ")
			if i < len(x.Values) {
				st.expr(b, x.Values[i])
			}
		}
		b.WriteString(" }")
	case *Call:
		b.WriteString(x.Name + "(")
		list(x.Args)
		b.WriteString(")")
	case *Subquery:
		b.WriteString("(")
		if x.Select != nil {
			writeSelectAs(b, x.Select, st)
		}
		b.WriteString(")")
		if x.Index != nil {
			b.WriteString("[" + strconv.Itoa(*x.Index) + "]")
		}
	default:
		return false
	}
	return true
}

func writeSelectAs(b *strings.Builder, s *Select, st printStyle) {
	b.WriteString("SELECT ")
	if st.valueAlone && s.Value && len(s.Fields) == 1 {
		b.WriteString("VALUE ")
		st.expr(b, s.Fields[0].Expr)
	} else {
		if s.Value && !st.valueAlone {
			b.WriteString("VALUE ")
		}
		first := true
		sep := func() {
			if !first {
				b.WriteString(", ")
			}
			first = false
		}
		for i, f := range s.Fields {
			if s.Star && i == int(s.StarAt) {
				sep()
				b.WriteString("*")
			}
			sep()
			st.expr(b, f.Expr)
			if f.Alias != "" {
				b.WriteString(" AS ")
				b.WriteString(st.name(f.Alias, true))
			}
		}
		if s.Star && int(s.StarAt) >= len(s.Fields) {
			sep()
			b.WriteString("*")
		}
	}
	b.WriteString(" FROM ")
	if s.FromID != nil {
		b.WriteString(st.record(*s.FromID))
	} else {
		b.WriteString(st.name(s.From, true))
	}
	if s.Where != nil {
		b.WriteString(" WHERE ")
		st.expr(b, s.Where)
	}
	for i, t := range s.Order {
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		st.expr(b, t.Path)
		if t.Collate {
			b.WriteString(" COLLATE")
		}
		if t.Numeric {
			b.WriteString(" NUMERIC")
		}
		if t.Desc {
			b.WriteString(" DESC")
		}
	}
	if s.Limit != nil {
		b.WriteString(" LIMIT ")
		st.expr(b, s.Limit)
	}
	if s.Start != nil {
		b.WriteString(" START ")
		st.expr(b, s.Start)
	}
}

func writeExpr(b *strings.Builder, e Expr) {
	switch x := e.(type) {
	case nil:
		b.WriteString("NONE")
	case *Literal:
		b.WriteString(literalString(x.Val))
	case *Param:
		b.WriteString("$" + x.Name)
		for _, name := range x.Path {
			b.WriteString("." + identString(name, false))
		}
	case *Idiom:
		writeIdiom(b, x)
	case *Binary:
		bp := opBP(x.Op)
		lbp, rbp := exprBP(x.L), exprBP(x.R)
		writeOperand(b, x.L, lbp < bp || (lbp == bp && (bp == bpEq || bp == bpRel)))
		op := x.Op.String()
		if x.Double && x.Op == OpEq {
			op = "=="
		}
		b.WriteString(" " + op + " ")
		writeOperand(b, x.R, rbp <= bp)
	case *Unary:
		if x.Call && x.Op == OpNot {
			b.WriteString("NOT(")
			writeExpr(b, x.X)
			b.WriteString(")")
			return
		}
		b.WriteString(x.Op.String())
		writeOperand(b, x.X, unaryNeedsParens(x.X))
	default:
		if !writeCompound(b, e, sspStyle()) {
			b.WriteString("NONE")
		}
	}
}

func writeOperand(b *strings.Builder, e Expr, parens bool) {
	if parens {
		b.WriteString("(")
	}
	writeExpr(b, e)
	if parens {
		b.WriteString(")")
	}
}

// unaryNeedsParens reports whether the operand of `!`/`-` must be parenthesised: anything but a
// path, parameter, call, subquery, collection or non-numeric literal (so `-(5)` stays a negation
// and `--x` never turns into a comment).
func unaryNeedsParens(e Expr) bool {
	switch x := e.(type) {
	case *Idiom, *Param, *Call, *Subquery, *ArrayExpr, *ObjectExpr:
		return false
	case *Literal:
		switch x.Val.Kind() {
		case value.KindInt, value.KindFloat, value.KindDuration:
			return true
		}
		return false
	}
	return true
}

func writeIdiom(b *strings.Builder, id *Idiom) {
	for i, p := range id.Parts {
		switch {
		case p.IsIndex:
			b.WriteString("[" + strconv.Itoa(p.Index) + "]")
		case p.Quoted && i > 0:
			b.WriteString("[" + quoteString(p.Name) + "]")
		case i == 0:
			b.WriteString(identString(p.Name, true))
		default:
			b.WriteString("." + identString(p.Name, false))
		}
	}
}

// identString renders a field, table or alias name: bare when it is a plain identifier (and,
// where a keyword could be misread, not a keyword), else inside backticks.
func identString(name string, first bool) string {
	if isPlainIdent(name) && !(first && escapedWords[strings.ToUpper(name)]) {
		return name
	}
	return quoteWith(name, '`')
}

func isPlainIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

func objectKeyString(k string) string {
	if isPlainIdent(k) {
		return k
	}
	return quoteString(k)
}

// quoteString renders s as a single-quoted SurrealQL string.
func quoteString(s string) string { return quoteWith(s, '\'') }

// quoteWith renders s between two q runes with SurrealQL's escape sequences.
func quoteWith(s string, q rune) string {
	var b strings.Builder
	b.WriteRune(q)
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case q:
			b.WriteRune('\\')
			b.WriteRune(q)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case 0:
			b.WriteString(`\0`)
		default:
			if r < 0x20 || r == 0x7f {
				b.WriteString(`\u{` + strconv.FormatInt(int64(r), 16) + `}`)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteRune(q)
	return b.String()
}

// literalString renders a constant as SurrealQL that the parser reads back to the same value.
func literalString(v value.Value) string {
	switch v.Kind() {
	case value.KindNone:
		return "NONE"
	case value.KindNull:
		return "NULL"
	case value.KindBool:
		return strconv.FormatBool(v.AsBool())
	case value.KindInt:
		return strconv.FormatInt(v.AsInt(), 10)
	case value.KindFloat:
		f := v.AsFloat()
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "Infinity"
		case math.IsInf(f, -1):
			return "-Infinity"
		}
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += "f"
		}
		return s
	case value.KindString:
		return quoteString(v.AsString())
	case value.KindDuration:
		return value.FormatDuration(v.AsDuration())
	case value.KindDatetime:
		return "d'" + v.AsTime().UTC().Format(time.RFC3339Nano) + "'"
	case value.KindArray:
		parts := make([]string, 0, v.Len())
		for _, e := range v.Elems() {
			parts = append(parts, literalString(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case value.KindObject:
		if v.Len() == 0 {
			return "{}"
		}
		parts := make([]string, 0, v.Len())
		for _, f := range v.Fields() {
			parts = append(parts, objectKeyString(f.Key)+": "+literalString(f.Val))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case value.KindRecord:
		return recordString(v)
	}
	return v.SurQL()
}

// recordString renders a record id: the table bare or quoted, an integer key as digits, an
// identifier key bare, any other key quoted (see recordPart).
func recordString(v value.Value) string {
	tb := v.Table()
	if !isPlainIdent(tb) || escapedWords[strings.ToUpper(tb)] {
		tb = recordPart(tb)
	}
	k := v.Key()
	switch k.Kind() {
	case value.KindInt:
		return tb + ":" + strconv.FormatInt(k.AsInt(), 10)
	case value.KindString:
		s := k.AsString()
		if isPlainIdent(s) {
			return tb + ":" + s
		}
		return tb + ":" + recordPart(s)
	}
	return tb + ":" + literalString(k)
}

// recordPart quotes a record table or key: in ⟨…⟩ when that needs no escapes, else in backticks.
func recordPart(s string) string {
	if !strings.ContainsAny(s, "⟩\\") && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "⟨" + s + "⟩"
	}
	return quoteWith(s, '`')
}
