package eval

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

func evalBinary(b *surql.Binary, env *Env) (value.Value, error) {
	if env.SubHas != nil {
		if v, ok, err := subMembership(b, env); ok || err != nil {
			return v, err
		}
	}
	l, err := EvalErr(b.L, env)
	if err != nil {
		return value.None(), err
	}
	// AND/OR return one of their operands and only evaluate the right one when needed.
	switch b.Op {
	case surql.OpAnd:
		if !value.Truthy(l) {
			return l, nil
		}
		return EvalErr(b.R, env)
	case surql.OpOr:
		if value.Truthy(l) {
			return l, nil
		}
		return EvalErr(b.R, env)
	}
	r, err := EvalErr(b.R, env)
	if err != nil {
		return value.None(), err
	}
	switch b.Op {
	case surql.OpEq, surql.OpIs:
		return value.Bool(value.Equal(l, r)), nil
	case surql.OpNe, surql.OpIsNot:
		return value.Bool(!value.Equal(l, r)), nil
	case surql.OpLt:
		return value.Bool(value.Compare(l, r) < 0), nil
	case surql.OpLe:
		return value.Bool(value.Compare(l, r) <= 0), nil
	case surql.OpGt:
		return value.Bool(value.Compare(l, r) > 0), nil
	case surql.OpGe:
		return value.Bool(value.Compare(l, r) >= 0), nil
	case surql.OpContains:
		return value.Bool(contains(l, r)), nil
	case surql.OpContainsNot:
		return value.Bool(!contains(l, r)), nil
	case surql.OpContainsAll:
		return value.Bool(containsAll(l, r)), nil
	case surql.OpContainsAny:
		return value.Bool(containsAny(l, r)), nil
	case surql.OpContainsNone:
		return value.Bool(!containsAny(l, r)), nil
	case surql.OpInside:
		return value.Bool(contains(r, l)), nil
	case surql.OpNotInside:
		return value.Bool(!contains(r, l)), nil
	case surql.OpAllInside:
		return value.Bool(containsAll(r, l)), nil
	case surql.OpAnyInside:
		return value.Bool(containsAny(r, l)), nil
	case surql.OpNoneInside:
		return value.Bool(!containsAny(r, l)), nil
	case surql.OpAdd, surql.OpSub, surql.OpMul, surql.OpDiv:
		v, err := arith(b.Op, l, r)
		if err != nil {
			return value.None(), fmt.Errorf("%s at %s: %w", b.Op, b.Pos, err)
		}
		return v, nil
	}
	return value.None(), fmt.Errorf("unsupported binary operator %s at %s", b.Op, b.Pos)
}

func evalUnary(u *surql.Unary, env *Env) (value.Value, error) {
	x, err := EvalErr(u.X, env)
	if err != nil {
		return value.None(), err
	}
	switch u.Op {
	case surql.OpNot:
		return value.Bool(!value.Truthy(x)), nil
	case surql.OpNeg:
		switch x.Kind() {
		case value.KindInt:
			if x.AsInt() == math.MinInt64 {
				return value.None(), fmt.Errorf("cannot negate %s at %s: integer overflow", x.SurQL(), u.Pos)
			}
			return value.Int(-x.AsInt()), nil
		case value.KindFloat:
			return value.Float(-x.AsFloat()), nil
		}
		return value.None(), fmt.Errorf("cannot negate the value %s at %s", x.SurQL(), u.Pos)
	}
	return value.None(), fmt.Errorf("unsupported unary operator %s at %s", u.Op, u.Pos)
}

// text returns the text of a string, or of a record or datetime taken as the string it spells
// (see the package comment on text leniency).
func text(v value.Value) (string, bool) {
	switch v.Kind() {
	case value.KindString:
		return v.AsString(), true
	case value.KindRecord:
		return value.RecordString(v), true
	case value.KindDatetime:
		return v.AsTime().Format(time.RFC3339Nano), true
	}
	return "", false
}

// contains is SurrealDB's `a CONTAINS b`: an array holding an element equal to b, a string
// holding the string b, an object holding the key b.
func contains(a, b value.Value) bool {
	if a.Kind() == value.KindObject {
		if b.Kind() != value.KindString {
			return false
		}
		for _, f := range a.Fields() {
			if f.Key == b.AsString() {
				return true
			}
		}
		return false
	}
	return holds(a, b)
}

// holds is the element test of the CONTAINS family: an array holding an element equal to x, or
// a text holding the string x. Objects hold nothing here (SurrealDB: `{a:1} CONTAINSALL ["a"]`
// is false although `{a:1} CONTAINS "a"` is true).
func holds(a, x value.Value) bool {
	if a.Kind() == value.KindArray {
		for _, e := range a.Elems() {
			if value.Equal(e, x) {
				return true
			}
		}
		return false
	}
	s, ok := text(a)
	if !ok || x.Kind() != value.KindString {
		return false
	}
	return strings.Contains(s, x.AsString())
}

// containsAll is `a CONTAINSALL b`: b is an array whose every element a holds (true for an
// empty b, whatever a is).
func containsAll(a, b value.Value) bool {
	if b.Kind() != value.KindArray {
		return false
	}
	for _, x := range b.Elems() {
		if !holds(a, x) {
			return false
		}
	}
	return true
}

// containsAny is `a CONTAINSANY b`: b is an array some element of which a holds. For a text a,
// SurrealDB requires every element of b to be a string (else the result is false).
// `CONTAINSNONE` is its negation in every case.
func containsAny(a, b value.Value) bool {
	if b.Kind() != value.KindArray {
		return false
	}
	if _, isText := text(a); isText && a.Kind() != value.KindArray {
		for _, x := range b.Elems() {
			if x.Kind() != value.KindString {
				return false
			}
		}
	}
	for _, x := range b.Elems() {
		if holds(a, x) {
			return true
		}
	}
	return false
}

// arith implements `+ - * /` as SurrealDB does for the kinds views meet: numbers (integer
// results stay integers; overflow is an error; integer division truncates; division by zero
// is NaN), string concatenation, array concatenation, object merge, durations and datetimes.
func arith(op surql.Op, l, r value.Value) (value.Value, error) {
	if l.IsNumber() && r.IsNumber() {
		return arithNumbers(op, l, r)
	}
	lk, rk := l.Kind(), r.Kind()
	switch {
	case op == surql.OpAdd && lk == value.KindString && rk == value.KindString:
		return value.String(l.AsString() + r.AsString()), nil
	case op == surql.OpAdd && lk == value.KindArray && rk == value.KindArray:
		out := make([]value.Value, 0, l.Len()+r.Len())
		out = append(append(out, l.Elems()...), r.Elems()...)
		return value.Array(out), nil
	case op == surql.OpAdd && lk == value.KindObject && rk == value.KindObject:
		fs := append(append([]value.Field{}, l.Fields()...), r.Fields()...)
		return value.ObjectOf(fs), nil
	case lk == value.KindDuration && rk == value.KindDuration && (op == surql.OpAdd || op == surql.OpSub):
		a, b := l.AsDuration(), r.AsDuration()
		if op == surql.OpSub {
			b = -b
		}
		s := a + b
		if s < 0 || (b > 0 && s < a) {
			return value.None(), fmt.Errorf("duration out of range: %s %s %s", l.SurQL(), op, r.SurQL())
		}
		return value.Duration(s), nil
	case lk == value.KindDatetime && rk == value.KindDuration && (op == surql.OpAdd || op == surql.OpSub):
		d := r.AsDuration()
		if op == surql.OpSub {
			d = -d
		}
		return value.Datetime(l.AsTime().Add(d)), nil
	case lk == value.KindDuration && rk == value.KindDatetime && op == surql.OpAdd:
		return value.Datetime(r.AsTime().Add(l.AsDuration())), nil
	case lk == value.KindDatetime && rk == value.KindDatetime && op == surql.OpSub:
		d := l.AsTime().Sub(r.AsTime())
		if d < 0 {
			d = -d
		}
		return value.Duration(d), nil
	}
	return value.None(), fmt.Errorf("cannot perform %s with %s and %s", opVerb(op), l.SurQL(), r.SurQL())
}

func opVerb(op surql.Op) string {
	switch op {
	case surql.OpAdd:
		return "addition"
	case surql.OpSub:
		return "subtraction"
	case surql.OpMul:
		return "multiplication"
	}
	return "division"
}

func arithNumbers(op surql.Op, l, r value.Value) (value.Value, error) {
	if op == surql.OpDiv && r.AsFloat() == 0 {
		return value.Float(math.NaN()), nil
	}
	if l.Kind() == value.KindInt && r.Kind() == value.KindInt {
		a, b := l.AsInt(), r.AsInt()
		var res int64
		ok := true
		switch op {
		case surql.OpAdd:
			res = a + b
			ok = (b >= 0) == (res >= a)
		case surql.OpSub:
			res = a - b
			ok = (b >= 0) == (res <= a)
		case surql.OpMul:
			res = a * b
			ok = a == 0 || (res/a == b && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64))
		case surql.OpDiv:
			ok = !(a == math.MinInt64 && b == -1)
			if ok {
				res = a / b
			}
		}
		if !ok {
			return value.None(), fmt.Errorf("cannot perform %s with %d and %d: integer overflow", opVerb(op), a, b)
		}
		return value.Int(res), nil
	}
	a, b := l.AsFloat(), r.AsFloat()
	switch op {
	case surql.OpAdd:
		return value.Float(a + b), nil
	case surql.OpSub:
		return value.Float(a - b), nil
	case surql.OpMul:
		return value.Float(a * b), nil
	}
	return value.Float(a / b), nil
}

// subMembership answers a CONTAINS/INSIDE-family test whose container is a subquery through
// env.SubHas, element by element, with the same results as the generic path; ok is false when
// b is not such a test or SubHas declines it.
func subMembership(b *surql.Binary, env *Env) (value.Value, bool, error) {
	var sub, other surql.Expr
	switch b.Op {
	case surql.OpContains, surql.OpContainsNot, surql.OpContainsAll, surql.OpContainsAny, surql.OpContainsNone:
		sub, other = b.L, b.R
	case surql.OpInside, surql.OpNotInside, surql.OpAllInside, surql.OpAnyInside, surql.OpNoneInside:
		sub, other = b.R, b.L
	default:
		return value.Value{}, false, nil
	}
	q, isSub := sub.(*surql.Subquery)
	if !isSub || q.Index != nil {
		return value.Value{}, false, nil
	}
	// The generic path evaluates the left operand first; a subquery never fails.
	x, err := EvalErr(other, env)
	if err != nil {
		return value.None(), true, err
	}
	has := func(e value.Value) (bool, bool) { return env.SubHas(q, env, e) }
	switch b.Op {
	case surql.OpContains, surql.OpInside, surql.OpContainsNot, surql.OpNotInside:
		h, ok := has(x)
		if !ok {
			return value.Value{}, false, nil
		}
		neg := b.Op == surql.OpContainsNot || b.Op == surql.OpNotInside
		return value.Bool(h != neg), true, nil
	}
	// CONTAINSALL/ANY/NONE, ALLINSIDE/ANY/NONE: x must be an array of elements to look up
	// (otherwise the result does not depend on the subquery: only the NONE forms hold).
	if x.Kind() != value.KindArray {
		return value.Bool(b.Op == surql.OpContainsNone || b.Op == surql.OpNoneInside), true, nil
	}
	all, anyHeld := true, false
	for _, e := range x.Elems() {
		h, ok := has(e)
		if !ok {
			return value.Value{}, false, nil
		}
		all = all && h
		anyHeld = anyHeld || h
	}
	switch b.Op {
	case surql.OpContainsAll, surql.OpAllInside:
		return value.Bool(all), true, nil
	case surql.OpContainsAny, surql.OpAnyInside:
		return value.Bool(anyHeld), true, nil
	}
	return value.Bool(!anyHeld), true, nil
}
