package surql

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

// SurrealDB's own spelling of statements and expressions. SurrealDB names a projected field
// without an alias by the text of its expression as SurrealDB prints it, so an unaliased
// `(SELECT …)` field (and with it the rel of its members) must be named with SurrealDB's
// printing rules, not with ExprString's. The rules below were measured on SurrealDB 3.0.2 (the
// dev database, @surrealdb/node 3.0.3); surreal_test.go pins them:
//
//   - keywords and symbols print upper case and normalized: IS → =, IS NOT → !=, IN → INSIDE,
//     NOT IN → NOTINSIDE, NOT(x) → not(x), ORDER BY … ASC loses the ASC, LIMIT before START;
//   - an operand is parenthesized when it binds weaker than its operator, or as tightly at the
//     equality and relation levels (`(a = 1) = true`), never otherwise (`a - (b - c)` prints as
//     `a - b - c`); a record id literal as an operand is always parenthesized (`a = (user:1)`),
//     a subquery always;
//   - floats print in full decimal notation with an `f` suffix (`1.5f`, `1000f`), datetimes in
//     UTC with 0, 3, 6 or 9 fraction digits, durations in their largest units;
//   - strings are single-quoted unless they hold a `'` (then double-quoted), escaping the
//     quote, `\`, NUL, CR, LF, TAB, FF and backspace (`\u{8}`);
//   - names print bare when they are [A-Za-z_][A-Za-z0-9_]* and not NaN/Infinity, else in
//     backticks; a table, an alias or a path's first field also when it is a reserved word
//     (reservedWordsSurreal); object keys quote with ", record keys with backticks also when
//     they are digits and underscores only.

// reservedWordsSurreal are the words SurrealDB 3 puts in backticks where they name a table, an
// alias or the first field of a path (measured one by one on the dev database).
var reservedWordsSurreal = wordSet(
	"ALTER", "BEGIN", "BREAK", "CANCEL", "COMMIT", "CONTINUE", "CREATE", "DEFINE", "DELETE", "FOR",
	"IF", "INFO", "INSERT", "KILL", "LIVE", "OPTION", "REBUILD", "RETURN", "RELATE", "REMOVE",
	"SELECT", "LET", "SHOW", "SLEEP", "THROW", "UPDATE", "UPSERT", "USE", "DIFF", "RAND", "NONE",
	"NULL", "AFTER", "BEFORE", "VALUE", "BY", "ALL", "TRUE", "FALSE", "WHERE", "TABLE", "TB",
	"SEQUENCE", "FUNCTION",
)

// SurrealText renders e as SurrealDB 3 prints it (see the rules above): the name SurrealDB gives
// a projected field `e` without an alias.
func SurrealText(e Expr) string {
	var b strings.Builder
	sExpr(&b, e)
	return b.String()
}

// SurrealText renders the statement as SurrealDB 3 prints it: the name SurrealDB gives an
// unaliased projected `(SELECT …)` field. (An unaliased `(SELECT …)[n]` is named by this text in
// parentheses, without the index.)
func (s *Select) SurrealText() string {
	var b strings.Builder
	sSelect(&b, s)
	return b.String()
}

func sSelect(b *strings.Builder, s *Select) {
	writeSelectAs(b, s, surrealStyle())
}

// surrealStyle is SurrealDB's spelling.
func surrealStyle() printStyle {
	return printStyle{expr: sExpr, name: sName, record: sRecord, key: sKey, valueAlone: true}
}

func sExpr(b *strings.Builder, e Expr) {
	switch x := e.(type) {
	case nil:
		b.WriteString("NONE")
	case *Literal:
		b.WriteString(sLiteral(x.Val))
	case *Param:
		b.WriteString("$" + sName(x.Name, false))
		for _, p := range x.Path {
			b.WriteString("." + sName(p, false))
		}
	case *Idiom:
		for i, p := range x.Parts {
			switch {
			case p.IsIndex:
				b.WriteString("[" + strconv.Itoa(p.Index) + "]")
			case p.Quoted && i > 0:
				b.WriteString("[" + sString(p.Name) + "]")
			case i == 0:
				b.WriteString(sName(p.Name, true))
			default:
				b.WriteString("." + sName(p.Name, false))
			}
		}
	case *Binary:
		bp := opBP(x.Op)
		sOperand(b, x.L, bp)
		b.WriteString(" " + sOp(x) + " ")
		sOperand(b, x.R, bp)
	case *Unary:
		if x.Call && x.Op == OpNot {
			b.WriteString("not(")
			sExpr(b, x.X)
			b.WriteString(")")
			return
		}
		b.WriteString(x.Op.String())
		paren := sNeedsParens(x.X) || sBP(x.X) < bpPrefix || (x.Op == OpNeg && leftMinus(x.X))
		sWrap(b, x.X, paren)
	default:
		if !writeCompound(b, e, surrealStyle()) {
			b.WriteString("NONE")
		}
	}
}

// sOperand writes an operand of a binary operator of binding power bp.
func sOperand(b *strings.Builder, e Expr, bp int) {
	ebp := sBP(e)
	sWrap(b, e, sNeedsParens(e) || ebp < bp || (ebp == bp && (bp == bpEq || bp == bpRel)))
}

func sWrap(b *strings.Builder, e Expr, paren bool) {
	if paren {
		b.WriteString("(")
	}
	sExpr(b, e)
	if paren {
		b.WriteString(")")
	}
}

// sBP is the binding power SurrealDB gives e when it prints it (NOT(x) is a function call).
func sBP(e Expr) int {
	if u, ok := e.(*Unary); ok && u.Call {
		return bpPrime
	}
	return exprBP(e)
}

// sNeedsParens: a record id literal is parenthesized as an operand (a subquery prints its own).
func sNeedsParens(e Expr) bool {
	l, ok := e.(*Literal)
	return ok && l.Val.Kind() == value.KindRecord
}

// leftMinus reports whether e prints starting with a minus sign.
func leftMinus(e Expr) bool {
	switch x := e.(type) {
	case *Unary:
		return x.Op == OpNeg
	case *Binary:
		return leftMinus(x.L)
	case *Literal:
		switch v := x.Val; v.Kind() {
		case value.KindInt:
			return v.AsInt() < 0
		case value.KindFloat:
			return math.Signbit(v.AsFloat())
		case value.KindDuration:
			return v.AsDuration() < 0
		}
	}
	return false
}

func sOp(x *Binary) string {
	switch x.Op {
	case OpEq:
		if x.Double {
			return "=="
		}
		return "="
	case OpIs:
		return "="
	case OpIsNot:
		return "!="
	case OpInside:
		return "INSIDE"
	case OpNotInside:
		return "NOTINSIDE"
	}
	return x.Op.String()
}

func sLiteral(v value.Value) string {
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
		return strconv.FormatFloat(f, 'f', -1, 64) + "f"
	case value.KindString:
		return sString(v.AsString())
	case value.KindDuration:
		return value.FormatDuration(v.AsDuration())
	case value.KindDatetime:
		return "d'" + sDatetime(v.AsTime()) + "'"
	case value.KindArray:
		parts := make([]string, 0, v.Len())
		for _, e := range v.Elems() {
			parts = append(parts, sLiteral(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case value.KindObject:
		parts := make([]string, 0, v.Len())
		for _, f := range v.Fields() {
			parts = append(parts, sKey(f.Key)+": "+sLiteral(f.Val))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case value.KindRecord:
		return sRecord(v)
	}
	return v.SurQL()
}

// sDatetime renders t in UTC with 0, 3, 6 or 9 fraction digits, as few as it needs.
func sDatetime(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1_000_000 == 0:
		s += "." + strconv.Itoa(1000 + ns/1_000_000)[1:]
	case ns%1_000 == 0:
		s += "." + strconv.Itoa(1_000_000 + ns/1_000)[1:]
	default:
		s += "." + strconv.Itoa(1_000_000_000 + ns)[1:]
	}
	return s + "Z"
}

func sRecord(v value.Value) string {
	k := v.Key()
	key := sLiteral(k)
	switch k.Kind() {
	case value.KindInt:
		key = strconv.FormatInt(k.AsInt(), 10)
	case value.KindString:
		s := k.AsString()
		if s == "" || !plainChars(s) || strings.Trim(s, "0123456789_") == "" || s == "NaN" || s == "Infinity" {
			key = "`" + sEscape(s, '`') + "`"
		} else {
			key = s
		}
	}
	return sName(v.Table(), true) + ":" + key
}

// sName renders a name bare or in backticks; keywords: whether a reserved word needs them too.
func sName(s string, keywords bool) string {
	if (keywords && reservedWordsSurreal[strings.ToUpper(s)]) || !bareName(s) {
		return "`" + sEscape(s, '`') + "`"
	}
	return s
}

// sKey renders an object key bare or in double quotes.
func sKey(s string) string {
	if !bareName(s) {
		return `"` + sEscape(s, '"') + `"`
	}
	return s
}

func bareName(s string) bool {
	return s != "" && !isDigit(s[0]) && plainChars(s) && s != "NaN" && s != "Infinity"
}

func plainChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// sString renders a string literal: in single quotes, or double quotes when it holds one.
func sString(s string) string {
	q := '\''
	if strings.ContainsRune(s, '\'') {
		q = '"'
	}
	return string(q) + sEscape(s, q) + string(q)
}

func sEscape(s string, q rune) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case q, '\\':
			b.WriteRune('\\')
			b.WriteRune(r)
		case 0:
			b.WriteString(`\0`)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		case '\b':
			b.WriteString(`\u{8}`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
