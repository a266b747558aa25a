package eval

import (
	"fmt"
	"math"

	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// Matches reports whether the row of env is a row of sel: the record of `FROM table:key` when
// sel names one, and satisfying its WHERE clause (true when there is none). A WHERE that
// SurrealDB would reject with an error for this row does not match.
func Matches(sel *surql.Select, env *Env) bool {
	if sel.FromID != nil && !value.Equal(env.Row.Get("id"), *sel.FromID) {
		return false
	}
	if sel.Where == nil {
		return true
	}
	v, err := EvalErr(sel.Where, env)
	return err == nil && value.Truthy(v)
}

// OrderKey returns the ORDER BY sort key of the row of env, one value per term.
//
// ORDER BY paths refer to the projected output, as in SurrealDB. A term is resolved as:
//  1. a projected field whose output name (its alias, or an unaliased idiom's path text) is the
//     term's whole path: that field's expression (`SELECT s AS a … ORDER BY a` orders by s);
//  2. a projected field whose output name is the term's first part: that field's expression,
//     then the rest of the path (SurrealDB itself rejects these at parse time);
//  3. otherwise the path on the row itself: this covers `SELECT *`, an aliased idiom ordered by
//     its source path (`SELECT a AS b … ORDER BY a`, which SurrealDB accepts) and `id`.
//
// Plain field paths are read from the stored row without following record links, as SurrealDB
// does (measured by the differential test: `SELECT author.name AS an … ORDER BY an` sorts every
// row by NONE when author is a link); only computed fields sort by their evaluated value.
//
// A key whose evaluation fails is NONE.
func OrderKey(sel *surql.Select, env *Env) []value.Value {
	keys := make([]value.Value, len(sel.Order))
	for i, t := range sel.Order {
		keys[i] = orderValue(sel, t, env)
	}
	return keys
}

func orderValue(sel *surql.Select, t surql.OrderTerm, env *Env) value.Value {
	if t.Path == nil || len(t.Path.Parts) == 0 {
		return value.None()
	}
	whole := t.Path.String()
	for _, f := range sel.Fields {
		if name, ok := outputName(f); ok && name == whole {
			return fieldOrderValue(f, nil, env)
		}
	}
	if first := t.Path.Parts[0]; !first.IsIndex && len(t.Path.Parts) > 1 {
		for _, f := range sel.Fields {
			if name, ok := outputName(f); ok && name == first.Name {
				return fieldOrderValue(f, t.Path.Parts[1:], env)
			}
		}
	}
	return walk(env.Row, t.Path.Parts, nil)
}

// fieldOrderValue is the sort key of a projected field (then rest of the path). SurrealDB sorts a
// plain field path on the stored row without following record links (`author.name AS an …
// ORDER BY an` sorts by NONE when author is a link), while a computed field sorts by its value.
func fieldOrderValue(f surql.Field, rest []surql.Part, env *Env) value.Value {
	if id, ok := f.Expr.(*surql.Idiom); ok {
		return walk(walk(env.Row, id.Parts, nil), rest, nil)
	}
	return walk(Eval(f.Expr, env), rest, nil)
}

// outputName is the output field name of f when it is an alias or an idiom's path text.
func outputName(f surql.Field) (string, bool) {
	if f.Alias != "" {
		return f.Alias, true
	}
	if id, ok := f.Expr.(*surql.Idiom); ok {
		return id.String(), true
	}
	return "", false
}

// CompareKeys orders two sort keys of sel (from OrderKey) term by term: ascending or, for DESC,
// descending. For two strings, COLLATE compares case- and accent-insensitively (SurrealDB's
// lexical order: letters transliterated to ASCII and lower-cased, non-alphanumeric characters
// before alphanumeric ones, bytewise order of the original strings as the last resort), NUMERIC
// compares runs of digits as numbers (a longer run is the larger number), and both together
// combine the two. Other values compare with value.Compare. It returns -1, 0 or +1; rows with
// equal keys are ordered by TieBreak.
func CompareKeys(sel *surql.Select, a, b []value.Value) int {
	for i, t := range sel.Order {
		var x, y value.Value
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		c := compareTerm(t, x, y)
		if t.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func compareTerm(t surql.OrderTerm, a, b value.Value) int {
	if (t.Collate || t.Numeric) && a.Kind() == value.KindString && b.Kind() == value.KindString {
		switch {
		case t.Collate && t.Numeric:
			return naturalLexicalCmp(a.AsString(), b.AsString())
		case t.Collate:
			return lexicalCmp(a.AsString(), b.AsString())
		default:
			return naturalCmp(a.AsString(), b.AsString())
		}
	}
	return value.Compare(a, b)
}

// TieBreak orders two rows whose sort keys are equal (or that have no ORDER BY) by their record
// ids a and b: ascending id order, for ASC and DESC terms alike, as SurrealDB returns them.
// This is the one place that rule lives.
func TieBreak(a, b value.Value) int {
	return value.Compare(a, b)
}

// LimitStart evaluates sel's LIMIT and START against env (usually only its Params matter).
// hasLimit is false without a LIMIT clause; start is 0 without START. As in SurrealDB, a float
// is truncated toward zero, NONE and NULL count as 0 (`LIMIT $unset` returns no rows), and a
// negative number or any other kind is an error.
func LimitStart(sel *surql.Select, env *Env) (limit int, hasLimit bool, start int, err error) {
	if sel.Limit != nil {
		limit, err = clauseInt("LIMIT", sel.Limit, env)
		if err != nil {
			return 0, false, 0, err
		}
		hasLimit = true
	}
	if sel.Start != nil {
		start, err = clauseInt("START", sel.Start, env)
		if err != nil {
			return 0, false, 0, err
		}
	}
	return limit, hasLimit, start, nil
}

func clauseInt(clause string, e surql.Expr, env *Env) (int, error) {
	v, err := EvalErr(e, env)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", clause, err)
	}
	var n float64
	switch v.Kind() {
	case value.KindNone, value.KindNull:
		return 0, nil
	case value.KindInt:
		if v.AsInt() < 0 {
			return 0, fmt.Errorf("%s must be a non-negative integer, got %s", clause, v.SurQL())
		}
		if v.AsInt() > math.MaxInt32 {
			return math.MaxInt32, nil
		}
		return int(v.AsInt()), nil
	case value.KindFloat:
		n = math.Trunc(v.AsFloat())
		if math.IsNaN(n) || n < 0 {
			return 0, fmt.Errorf("%s must be a non-negative integer, got %s", clause, v.SurQL())
		}
		if n > math.MaxInt32 {
			return math.MaxInt32, nil
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("%s must be a non-negative integer, got %s %s", clause, v.Kind(), v.SurQL())
}

// Version is the version of a stored row: its `_00_rv` when that is an integer (an int, or a
// float with an integral value), else 1 (absent, NULL, text, fractional). Zero and negative
// integers are kept as they are, like SurrealDB's own `_00_rv` field (TYPE int DEFAULT 0).
func Version(row value.Value) int64 {
	v := row.Get("_00_rv")
	switch v.Kind() {
	case value.KindInt:
		return v.AsInt()
	case value.KindFloat:
		f := v.AsFloat()
		if f == math.Trunc(f) && math.Abs(f) < 9e18 {
			return int64(f)
		}
	}
	return 1
}
