package surql

import "github.com/sp00ky/ssp/surreal/value"

// ParseSelect parses one SurrealQL SELECT statement (an optional trailing `;` is allowed) and
// validates it against the supported subset. The error, when not nil, is an *Error.
func ParseSelect(src string) (*Select, error) {
	p, err := newParser(src, "query")
	if err != nil {
		return nil, err
	}
	s, err := p.parseStatement()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParseValue parses a SurrealQL value literal (used for params sent as a string, e.g.
// `{ user: user:abc, n: 5, tags: ['a'] }`). Parameters, idioms and subqueries are rejected.
// The error, when not nil, is an *Error.
func ParseValue(src string) (value.Value, error) {
	p, err := newParser(src, "value")
	if err != nil {
		return value.Value{}, err
	}
	e, err := p.expr(bpBase)
	if err != nil {
		return value.Value{}, err
	}
	if p.tok.kind != tEOF {
		return value.Value{}, errAt(p.tok.pos, "unexpected %s after the value", p.describe(p.tok))
	}
	if v, ok := constValue(e); ok {
		return v, nil
	}
	bad := firstNonConstant(e)
	return value.Value{}, errAt(bad.ExprPos(), "expected a value but found %s", describeExpr(bad))
}

// constValue returns the value of e when it is a constant: a literal, or an array or object of
// constants (an object literal whose keys are not in order is not folded by the parser).
func constValue(e Expr) (value.Value, bool) {
	switch x := e.(type) {
	case *Literal:
		return x.Val, true
	case *ArrayExpr:
		vals := make([]value.Value, len(x.Elems))
		for i, el := range x.Elems {
			v, ok := constValue(el)
			if !ok {
				return value.Value{}, false
			}
			vals[i] = v
		}
		return value.Array(vals), true
	case *ObjectExpr:
		fs := make([]value.Field, len(x.Keys))
		for i, k := range x.Keys {
			if i >= len(x.Values) {
				return value.Value{}, false
			}
			v, ok := constValue(x.Values[i])
			if !ok {
				return value.Value{}, false
			}
			fs[i] = value.Field{Key: k, Val: v}
		}
		return value.ObjectOf(fs), true
	}
	return value.Value{}, false
}

// firstNonConstant returns the first node of e (in source order) that is not a constant.
func firstNonConstant(e Expr) Expr {
	switch x := e.(type) {
	case *ArrayExpr:
		for _, el := range x.Elems {
			if bad := firstNonConstant(el); bad != nil {
				return bad
			}
		}
		return nil
	case *ObjectExpr:
		for _, v := range x.Values {
			if bad := firstNonConstant(v); bad != nil {
				return bad
			}
		}
		return nil
	case *Literal:
		return nil
	}
	return e
}

func describeExpr(e Expr) string {
	switch x := e.(type) {
	case *Param:
		return "the parameter " + ExprString(x)
	case *Idiom:
		return "the field path " + ExprString(x) + " (quote text: '" + x.String() + "')"
	case *Subquery:
		return "a subquery"
	case *Call:
		return "a call of " + x.Name
	}
	return "the expression " + ExprString(e)
}
