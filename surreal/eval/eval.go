// Package eval evaluates SurrealQL expressions of a view against one row, with SurrealDB's
// semantics: field paths (following record links through a Resolver), parameters, `$parent`,
// operators and the supported functions. Both the incremental engine and the from-scratch
// evaluator use it, so a view means the same thing to both.
package eval

import (
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
	// Sub evaluates a subquery that appears inside an expression (e.g. in WHERE) for env; nil
	// makes such subqueries evaluate to NONE.
	Sub func(q *surql.Subquery, env *Env) value.Value
}
