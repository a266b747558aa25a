// Package surql parses the SurrealQL that SSP views use (SPEC §3) into a syntax tree with source
// positions. Statements are parsed completely: an unconsumed tail is an error. Constructs outside
// the supported set are rejected with an *Error naming the construct and its position.
package surql

import (
	"fmt"

	"github.com/sp00ky/ssp/surreal/value"
)

// Pos is a position in the query text: 1-based line and column (in runes) and 0-based byte offset.
type Pos struct {
	Line, Col, Offset int
}

// String renders the position as `line:col`.
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is a parse or validation error at a position. Unsupported is true when the text is valid
// SurrealQL that the SSP does not support (then Msg starts with "unsupported: ").
type Error struct {
	Pos         Pos
	Msg         string
	Unsupported bool
}

// Error renders `<msg> at <line>:<col>`, e.g. `unsupported: GROUP BY at 1:38`.
func (e *Error) Error() string { return fmt.Sprintf("%s at %s", e.Msg, e.Pos) }

// Select is one SELECT statement (top level or subquery).
type Select struct {
	Pos    Pos
	Star   bool    // `SELECT *` (possibly with more fields: `SELECT *, (...) AS x`)
	Value  bool    // `SELECT VALUE expr`: Fields holds expr alone (no alias)
	StarAt int32   // where `*` stands among Fields: before Fields[StarAt]
	Fields []Field // projected fields besides `*`, in source order
	From   string  // the single FROM table (the table of FromID when that is set)
	// FromID is the record of `FROM table:key` (nil for a table): the statement reads that one
	// record, if it exists.
	FromID  *value.Value
	FromPos Pos
	Where   Expr        // nil when absent
	Order   []OrderTerm // empty when absent
	Limit   Expr        // nil when absent; evaluates to an integer (literal or param)
	Start   Expr        // nil when absent
}

// Field is one projected field `expr [AS alias]`.
type Field struct {
	Pos   Pos
	Expr  Expr
	Alias string // as written after AS; empty when there is none
}

// Name is the output field name of the projection: the alias, or for an idiom without alias its
// path text (`a.b`), or for anything else the name SurrealDB gives the field: the expression as
// SurrealDB prints it (SurrealText), for `(SELECT …)` the statement without parentheses and for
// `(SELECT …)[n]` the statement in parentheses without the index.
func (f Field) Name() string {
	if f.Alias != "" {
		return f.Alias
	}
	switch x := f.Expr.(type) {
	case *Idiom:
		return x.String()
	case *Subquery:
		if x.Index != nil {
			return "(" + x.Select.SurrealText() + ")"
		}
		return x.Select.SurrealText()
	}
	return SurrealText(f.Expr)
}

// OrderTerm is one `ORDER BY` term.
type OrderTerm struct {
	Pos     Pos
	Path    *Idiom // the ordered field path (refers to the projected output, as in SurrealDB)
	Desc    bool
	Collate bool // COLLATE: unicode collation of strings
	Numeric bool // NUMERIC: numeric-aware string ordering
}

// Expr is an expression node: *Literal, *Param, *Idiom, *Binary, *Unary, *ArrayExpr, *ObjectExpr,
// *Call or *Subquery.
type Expr interface {
	ExprPos() Pos
	exprNode()
}

// Literal is a constant: numbers, strings, booleans, NULL, NONE, record ids, datetimes,
// durations, and arrays/objects whose elements are all constant (an object only when its keys
// are written in order, so that it prints as written).
type Literal struct {
	Pos Pos
	Val value.Value
}

// Param is `$name` optionally followed by a field path: `$parent.author`, `$auth.id`, `$p.a.b`.
type Param struct {
	Pos  Pos
	Name string   // without `$`
	Path []string // field names after the parameter
}

// Idiom is a field path on the current row: `a`, `a.b.c`, `id`, and `a[0]` index steps. A step
// through a field holding a record id follows the link to that record (when the table is known).
type Idiom struct {
	Pos   Pos
	Parts []Part
}

// Part is one step of an Idiom: a field name, or an array index when IsIndex is set. Quoted
// marks a field written as an index (`a['b c']`), which SurrealDB prints that way.
type Part struct {
	Name    string
	Index   int
	IsIndex bool
	Quoted  bool
}

// String renders the idiom as SurrealQL (`a.b[0]`).
func (i *Idiom) String() string {
	s := ""
	for n, p := range i.Parts {
		switch {
		case p.IsIndex:
			s += fmt.Sprintf("[%d]", p.Index)
		case n == 0:
			s += p.Name
		default:
			s += "." + p.Name
		}
	}
	return s
}

// Op is a binary or unary operator.
type Op int32

// Operators. OpEq covers `=` and `==`, OpNe covers `!=`; OpIs/OpIsNot are `IS`/`IS NOT` (same as
// equality in SurrealDB); OpInside covers `IN` and `INSIDE`, OpNotInside `NOT IN` and `NOTINSIDE`.
const (
	OpInvalid Op = iota
	OpAnd
	OpOr
	OpEq
	OpNe
	OpIs
	OpIsNot
	OpLt
	OpLe
	OpGt
	OpGe
	OpContains
	OpContainsNot
	OpContainsAll
	OpContainsAny
	OpContainsNone
	OpInside
	OpNotInside
	OpAllInside
	OpAnyInside
	OpNoneInside
	OpNot // unary `NOT x` / `!x`
	OpNeg // unary `-x`
	OpAdd
	OpSub
	OpMul
	OpDiv
)

var opNames = map[Op]string{
	OpAnd: "AND", OpOr: "OR", OpEq: "=", OpNe: "!=", OpIs: "IS", OpIsNot: "IS NOT", OpLt: "<",
	OpLe: "<=", OpGt: ">", OpGe: ">=", OpContains: "CONTAINS", OpContainsNot: "CONTAINSNOT",
	OpContainsAll: "CONTAINSALL", OpContainsAny: "CONTAINSANY", OpContainsNone: "CONTAINSNONE",
	OpInside: "IN", OpNotInside: "NOT IN", OpAllInside: "ALLINSIDE", OpAnyInside: "ANYINSIDE",
	OpNoneInside: "NONEINSIDE", OpNot: "!", OpNeg: "-", OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/",
}

// String renders the operator as SurrealQL.
func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "?"
}

// Binary is `L op R`. Double marks OpEq written `==` (the same comparison, printed apart).
type Binary struct {
	Pos    Pos
	Op     Op
	Double bool // beside the int32 Op, so that a Binary stays 64 bytes
	L, R   Expr
}

// Unary is `op X` (OpNot or OpNeg). Call marks OpNot written as the function `NOT(X)`.
type Unary struct {
	Pos  Pos
	Op   Op
	Call bool // beside the int32 Op, so that a Unary stays 48 bytes
	X    Expr
}

// ArrayExpr is an array literal with at least one non-constant element (`[$a, 1]`).
type ArrayExpr struct {
	Pos   Pos
	Elems []Expr
}

// ObjectExpr is an object literal with at least one non-constant value (`{ a: $x }`), or whose
// keys are not written in order (`{ b: 1, a: 2 }`: a constant would print them sorted).
type ObjectExpr struct {
	Pos    Pos
	Keys   []string
	Values []Expr
}

// Call is a call of one of the supported pure functions, e.g. `string::lowercase(name)`.
// Name is lower-cased and fully qualified.
type Call struct {
	Pos  Pos
	Name string
	Args []Expr
}

// Subquery is a parenthesised SELECT, optionally indexed: `(SELECT …)[0]`.
type Subquery struct {
	Pos    Pos
	Select *Select
	Index  *int // non-nil for `(SELECT …)[n]`
}

func (e *Literal) ExprPos() Pos    { return e.Pos }
func (e *Param) ExprPos() Pos      { return e.Pos }
func (e *Idiom) ExprPos() Pos      { return e.Pos }
func (e *Binary) ExprPos() Pos     { return e.Pos }
func (e *Unary) ExprPos() Pos      { return e.Pos }
func (e *ArrayExpr) ExprPos() Pos  { return e.Pos }
func (e *ObjectExpr) ExprPos() Pos { return e.Pos }
func (e *Call) ExprPos() Pos       { return e.Pos }
func (e *Subquery) ExprPos() Pos   { return e.Pos }

func (*Literal) exprNode()    {}
func (*Param) exprNode()      {}
func (*Idiom) exprNode()      {}
func (*Binary) exprNode()     {}
func (*Unary) exprNode()      {}
func (*ArrayExpr) exprNode()  {}
func (*ObjectExpr) exprNode() {}
func (*Call) exprNode()       {}
func (*Subquery) exprNode()   {}
