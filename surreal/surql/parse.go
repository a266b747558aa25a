package surql

import "github.com/sp00ky/ssp/surreal/value"

// ParseSelect parses one SurrealQL SELECT statement (an optional trailing `;` is allowed) and
// validates it against the supported subset.
func ParseSelect(src string) (*Select, error) {
	panic("not implemented yet")
}

// ParseValue parses a SurrealQL value literal (used for params sent as a string, e.g.
// `{ user: user:abc, n: 5, tags: ['a'] }`). Parameters, idioms and subqueries are rejected.
func ParseValue(src string) (value.Value, error) {
	panic("not implemented yet")
}

// ExprString renders an expression back to SurrealQL text.
func ExprString(e Expr) string {
	panic("not implemented yet")
}
