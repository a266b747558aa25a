// Package eval evaluates SurrealQL expressions of a view against one row, with SurrealDB's
// semantics: field paths (following record links through a Resolver), parameters, `$parent`,
// operators and the supported functions. Both the incremental engine and the from-scratch
// evaluator use it, so a view means the same thing to both.
//
// Errors. Where SurrealDB raises an error while evaluating an expression (a function called with
// an argument of the wrong type, `"a" + 1`, integer overflow, negating a string), SurrealDB fails
// the whole query. A view cannot fail per row, so here the error travels up to the expression's
// root: EvalErr returns it, Eval turns it into NONE, Matches treats the row as not matching and
// OrderKey uses NONE as the key. `AND`/`OR` short-circuit like SurrealDB's, so
// `name = "x" AND string::len(name) > 1` never sees a non-string name.
//
// Text leniency. Records and datetimes reach the SSP as JSON strings and are classified back by
// spelling (see package value), so a field that held the string "user:1" in SurrealDB arrives as
// a record. The string functions and CONTAINS on text therefore accept a record or a datetime as
// the text it spells (records as value.RecordString, datetimes in RFC 3339 with nanoseconds),
// where SurrealDB would reject a real record: a query that fails in SurrealDB has no result to
// disagree with.
package eval

import (
	"fmt"

	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// Resolver looks up stored rows for record-link paths (`author.name`).
type Resolver interface {
	// Record returns the stored row (an object) of record id id; ok is false when it is absent.
	Record(id value.Value) (row value.Value, ok bool)
}

// Env is what an expression is evaluated against.
type Env struct {
	Row    value.Value // the current row (an object)
	Params value.Value // the view's params (an object; `$auth` is Params.auth)
	Parent value.Value // the row `$parent` refers to (NONE at the top level)
	Links  Resolver    // nil: link steps yield NONE
	// Sub evaluates a subquery that appears inside an expression (e.g. in WHERE) for env and
	// returns its result: an array of the projected result rows (objects, even when the
	// subquery projects a single field). Eval applies the subquery's `[n]` index itself. Inside
	// the subquery `$parent` is env.Row. Nil makes such subqueries evaluate to NONE.
	Sub func(q *surql.Subquery, env *Env) value.Value
	// SubHas, when set, answers the membership tests of the CONTAINS/INSIDE family whose
	// container is a subquery without `[n]` (`x IN (SELECT VALUE …)`, `(SELECT …) CONTAINS x`,
	// `xs ANYINSIDE (SELECT …)`, …): whether the subquery's result (as Sub evaluates it for env)
	// holds an element equal to x. ok false leaves the test to Sub. It lets an incremental
	// evaluator answer from, and record a dependency on, the one element x.
	SubHas func(q *surql.Subquery, env *Env, x value.Value) (has, ok bool)
}

// Eval evaluates e against env. An expression that SurrealDB would reject with an error (see the
// package comment) evaluates to NONE; use EvalErr to tell the two apart.
func Eval(e surql.Expr, env *Env) value.Value {
	v, err := EvalErr(e, env)
	if err != nil {
		return value.None()
	}
	return v
}

// EvalErr evaluates e against env and reports the error SurrealDB would raise, if any.
func EvalErr(e surql.Expr, env *Env) (value.Value, error) {
	if env == nil {
		env = &Env{}
	}
	switch n := e.(type) {
	case nil:
		return value.None(), fmt.Errorf("evaluate: missing expression")
	case *surql.Literal:
		return n.Val, nil
	case *surql.Param:
		return evalParam(n, env), nil
	case *surql.Idiom:
		return walk(env.Row, n.Parts, env.Links), nil
	case *surql.Binary:
		return evalBinary(n, env)
	case *surql.Unary:
		return evalUnary(n, env)
	case *surql.ArrayExpr:
		elems := make([]value.Value, len(n.Elems))
		for i, x := range n.Elems {
			v, err := EvalErr(x, env)
			if err != nil {
				return value.None(), err
			}
			elems[i] = v
		}
		return value.Array(elems), nil
	case *surql.ObjectExpr:
		if len(n.Keys) != len(n.Values) {
			return value.None(), fmt.Errorf("evaluate object at %s: %d keys but %d values", n.Pos, len(n.Keys), len(n.Values))
		}
		fields := make([]value.Field, len(n.Keys))
		for i, x := range n.Values {
			v, err := EvalErr(x, env)
			if err != nil {
				return value.None(), err
			}
			fields[i] = value.Field{Key: n.Keys[i], Val: v}
		}
		return value.ObjectOf(fields), nil
	case *surql.Call:
		return evalCall(n, env)
	case *surql.Subquery:
		if env.Sub == nil {
			return value.None(), nil
		}
		res := env.Sub(n, env)
		if n.Index != nil {
			return indexStep(res, *n.Index), nil
		}
		return res, nil
	}
	return value.None(), fmt.Errorf("evaluate: unsupported expression %T", e)
}

// evalParam resolves `$name.path`: `$parent` is env.Parent, every other name is looked up in
// env.Params (an unknown parameter is NONE); the path steps like an idiom, following links.
func evalParam(p *surql.Param, env *Env) value.Value {
	var base value.Value
	if p.Name == "parent" {
		base = env.Parent
	} else {
		base = env.Params.Get(p.Name)
	}
	if len(p.Path) == 0 {
		return base
	}
	parts := make([]surql.Part, len(p.Path))
	for i, name := range p.Path {
		parts[i] = surql.Part{Name: name}
	}
	return walk(base, parts, env.Links)
}

// walk applies an idiom path to v with SurrealDB's rules: a field step reads an object's field,
// follows a record link to the linked row (NONE without a resolver or when the row is absent)
// and maps over an array (the rest of the path is applied to every element, so `tags.name`
// yields an array); an index step picks an array element. Anything else yields NONE.
func walk(v value.Value, parts []surql.Part, links Resolver) value.Value {
	for i, p := range parts {
		if p.IsIndex {
			v = indexStep(v, p.Index)
			continue
		}
		switch v.Kind() {
		case value.KindObject:
			v = v.Get(p.Name)
		case value.KindRecord:
			row, ok := resolve(v, links)
			if !ok {
				return value.None()
			}
			v = row.Get(p.Name)
		case value.KindArray:
			elems := v.Elems()
			out := make([]value.Value, len(elems))
			for j, e := range elems {
				out[j] = walk(e, parts[i:], links)
			}
			return value.Array(out)
		default:
			return value.None()
		}
	}
	return v
}

func resolve(id value.Value, links Resolver) (value.Value, bool) {
	if links == nil {
		return value.None(), false
	}
	row, ok := links.Record(id)
	if !ok || row.Kind() != value.KindObject {
		return value.None(), false
	}
	return row, true
}

// indexStep is `v[i]`: the element of an array, NONE for anything else or out of range.
func indexStep(v value.Value, i int) value.Value {
	elems := v.Elems()
	if i < 0 || i >= len(elems) {
		return value.None()
	}
	return elems[i]
}
