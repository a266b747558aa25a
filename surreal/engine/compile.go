package engine

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/eval"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// node is one compiled SELECT of a view: the top-level statement or a projected subquery field
// (`(SELECT …) AS rel`, `(SELECT …)[n] AS rel`). Its state lives in partitions: one for the top
// level and for subqueries that do not use `$parent` (shared by every parent row), one per parent
// row otherwise.
type node struct {
	v        *view
	sel      *surql.Select
	table    string
	tbl      *table // the store's table (set by view.start)
	rel      string // the field's output name (empty at the top level)
	parent   *node
	children []*node
	ordered  bool

	// The window [start, start+limit) of the ordered matching rows (limit = MaxInt: no LIMIT).
	start, limit int

	// corr is the equality between a field of this node's row and a `$parent` expression found in
	// the WHERE's top-level AND chain; partitions are indexed by that value.
	corr *correlation
	// route is an equality `field = constant` of the WHERE's top-level AND chain (used when there
	// is no correlation) to find candidate rows and to route changes.
	route *route
	// parentExprs are the `$parent…` expressions this node's own evaluation reads (WHERE and the
	// projections ORDER BY may use); a per-parent partition is recomputed when their values change.
	parentExprs []surql.Expr
	perParent   bool // one partition per parent row (a subquery using $parent)
	shared      bool // a subquery not using $parent: one partition for all parents

	// exprSubs are the subqueries evaluated inside this node's WHERE or ORDER BY projections.
	exprSubs []*exprSub
	// value is set on a value node (valuesub.go): the subquery it maintains.
	value *exprSub

	// ixField is the prefix field of the node's index: the correlation's or the route's field
	// ("" without either). ixTerms are the index's sort terms, ok when every ORDER BY key depends
	// on the row alone (see indexTerms). boundable: the node has a LIMIT, ixTerms are ok and ixField
	// is not `id` (at most one candidate row), so its partitions keep bounded windows
	// (bounded.go) over ix; otherwise ix (if any) only answers equality lookups. noBound is set
	// once a bounded partition's evaluation read a linked record: later partitions start full.
	ixField   string
	ixTerms   []ixTerm
	boundable bool
	noBound   bool
	ix        *oindex

	pbuf, ebuf []value.Value // scratch of probeKeys and entryKeys

	parts     map[string]*partition              // by instance key (parent row key, "" if single)
	corrIdx   map[string]map[*partition]struct{} // HashKey of the parent-side value → partitions
	unindexed map[*partition]struct{}            // partitions whose parent-side value is not indexable
}

type correlation struct {
	field  string     // single-step field of the subquery's row
	parent surql.Expr // the `$parent…` side
}

type route struct {
	field string
	val   value.Value
	hash  string
}

// exprSub is a subquery evaluated as a value inside a node's expressions.
type exprSub struct {
	q          *surql.Subquery
	correlated bool            // uses $parent (the row being evaluated): never cached
	tables     map[string]bool // FROM tables of it and every nested SELECT, plus tables of records it dereferenced
	val        value.Value     // cached value when !correlated and valid
	valid      bool
	// Incremental maintenance (valuesub.go): its value node, the node's number in the view and
	// the state of each of the node's partitions.
	vn     *node
	id     int
	states map[*partition]*valueState
}

// compileError is a registration error that names the construct and its position.
func compileError(pos surql.Pos, format string, args ...any) error {
	return &surql.Error{Pos: pos, Msg: "unsupported: " + fmt.Sprintf(format, args...), Unsupported: true}
}

// compile builds the node tree of sel for view v (params already set on v).
func (v *view) compile(sel *surql.Select) error {
	root, err := v.compileNode(sel, nil, "", nil)
	if err != nil {
		return err
	}
	v.root = root
	return nil
}

func (v *view) compileNode(sel *surql.Select, parent *node, rel string, index *int) (*node, error) {
	return v.compileNodeAs(sel, parent, rel, index, false)
}

// compileNodeAs compiles a node; valueOf marks a value node (valuesub.go).
func (v *view) compileNodeAs(sel *surql.Select, parent *node, rel string, index *int, valueOf bool) (*node, error) {
	if sel.From == "" {
		return nil, compileError(sel.Pos, "SELECT without a FROM table")
	}
	if sel.Value && parent == nil && !valueOf {
		return nil, compileError(sel.Pos, "SELECT VALUE as the view itself (a view lists records: select fields or *; SELECT VALUE works in subqueries inside WHERE)")
	}
	n := &node{
		v: v, sel: sel, table: sel.From, rel: rel, parent: parent, ordered: len(sel.Order) > 0,
		parts: map[string]*partition{}, corrIdx: map[string]map[*partition]struct{}{},
		unindexed: map[*partition]struct{}{},
	}
	// LIMIT / START: constants or view params (never $parent).
	for _, e := range []surql.Expr{sel.Limit, sel.Start} {
		if e == nil {
			continue
		}
		bad := false
		visit(e, func(x surql.Expr) bool {
			switch t := x.(type) {
			case *surql.Param:
				if t.Name == "parent" {
					bad = true
				}
			case *surql.Subquery:
				bad = true
			}
			return true
		})
		if bad {
			return nil, compileError(e.ExprPos(), "LIMIT/START depending on $parent or a subquery")
		}
	}
	limit, hasLimit, start, err := eval.LimitStart(sel, &eval.Env{Params: v.params})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sel.Pos, err)
	}
	if start < 0 {
		start = 0
	}
	if !hasLimit {
		limit = math.MaxInt
	} else if limit < 0 {
		limit = 0
	}
	if index != nil {
		i := *index
		switch {
		case i < 0 || i >= limit:
			limit = 0
		default:
			start += i
			limit = 1
		}
	}
	n.start, n.limit = start, limit

	// The expressions this node evaluates per row: WHERE and the projections ORDER BY may read
	// (a value node's result reads every projection).
	own := []surql.Expr{}
	if sel.Where != nil {
		own = append(own, sel.Where)
	}
	for _, f := range sel.Fields {
		if orderReads(sel, f) || valueOf {
			own = append(own, f.Expr)
		}
	}
	for _, e := range own {
		visit(e, func(x surql.Expr) bool {
			switch t := x.(type) {
			case *surql.Param:
				if t.Name == "parent" && parent != nil {
					n.parentExprs = append(n.parentExprs, t)
				}
			case *surql.Subquery:
				es := newExprSub(t)
				v.compileValue(n, es)
				n.exprSubs = append(n.exprSubs, es)
				return false
			}
			return true
		})
	}
	if parent != nil {
		n.perParent = len(n.parentExprs) > 0
		n.shared = !n.perParent
	}
	if n.perParent {
		n.corr = findCorrelation(sel.Where)
	}
	switch {
	case n.corr == nil && sel.FromID != nil:
		// FROM table:key: one record, looked up and routed by its id.
		n.route = &route{field: "id", val: *sel.FromID, hash: value.HashKey(*sel.FromID)}
	case n.corr == nil:
		n.route = findRoute(sel.Where, v.params)
	}
	switch {
	case n.corr != nil:
		n.ixField = n.corr.field
	case n.route != nil:
		n.ixField = n.route.field
	}
	if terms, ok := indexTerms(sel); ok && limit != math.MaxInt && n.ixField != "id" {
		n.ixTerms, n.boundable = terms, true
	}
	for _, f := range sel.Fields {
		q, ok := f.Expr.(*surql.Subquery)
		if !ok {
			continue
		}
		name := f.Name()
		if name == "" {
			return nil, compileError(f.Pos, "subquery field without a name")
		}
		if q.Select.Value {
			return nil, compileError(f.Pos, "SELECT VALUE as a projected field (%s); its values are not records: select fields or * in the subquery, or use SELECT VALUE inside WHERE", name)
		}
		c, err := v.compileNode(q.Select, n, name, q.Index)
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, c)
	}
	v.nodes = append(v.nodes, n)
	return n, nil
}

// indexTerms returns sel's ORDER BY as index terms when each term's sort key depends on the row
// alone, as eval.OrderKey resolves it: a path of the row, or a projected plain field path (then
// the rest of the term's path), neither of which follows record links. A term naming a computed
// projection (an expression, which may read links or params) is not indexable.
func indexTerms(sel *surql.Select) ([]ixTerm, bool) {
	var out []ixTerm
	for _, t := range sel.Order {
		if t.Path == nil || len(t.Path.Parts) == 0 {
			return nil, false
		}
		term := ixTerm{desc: t.Desc, collate: t.Collate, numeric: t.Numeric}
		var f *surql.Field
		whole := t.Path.String()
		for i := range sel.Fields {
			if name, ok := outputName(sel.Fields[i]); ok && name == whole {
				f = &sel.Fields[i]
				break
			}
		}
		if f == nil && !t.Path.Parts[0].IsIndex && len(t.Path.Parts) > 1 {
			for i := range sel.Fields {
				if name, ok := outputName(sel.Fields[i]); ok && name == t.Path.Parts[0].Name {
					f, term.rest = &sel.Fields[i], t.Path.Parts[1:]
					break
				}
			}
		}
		if f == nil {
			term.path = t.Path.Parts
		} else if id, ok := f.Expr.(*surql.Idiom); ok && len(id.Parts) > 0 {
			term.path = id.Parts
		} else {
			return nil, false
		}
		out = append(out, term)
	}
	return out, true
}

// outputName is the output field name of f when it is an alias or an idiom's path text (as
// eval.OrderKey matches ORDER BY terms against projections).
func outputName(f surql.Field) (string, bool) {
	if f.Alias != "" {
		return f.Alias, true
	}
	if id, ok := f.Expr.(*surql.Idiom); ok {
		return id.String(), true
	}
	return "", false
}

// orderReads reports whether ORDER BY may read projected field f (over-approximated: any term
// whose first step names the field's alias or the first step of its path).
func orderReads(sel *surql.Select, f surql.Field) bool {
	if len(sel.Order) == 0 {
		return false
	}
	name := f.Name()
	if i := strings.IndexAny(name, ".["); i > 0 {
		name = name[:i]
	}
	for _, t := range sel.Order {
		if t.Path == nil || len(t.Path.Parts) == 0 {
			continue
		}
		first := t.Path.Parts[0].Name
		if first == name || first == f.Alias {
			return true
		}
	}
	return false
}

func newExprSub(q *surql.Subquery) *exprSub {
	es := &exprSub{q: q, tables: map[string]bool{}}
	collectTables(q.Select, es.tables)
	for _, e := range ownExprs(q.Select) {
		visit(e, func(x surql.Expr) bool {
			switch t := x.(type) {
			case *surql.Param:
				if t.Name == "parent" {
					es.correlated = true
				}
			case *surql.Subquery:
				return false
			}
			return true
		})
	}
	return es
}

// ownExprs are the expressions of sel outside nested SELECTs' own clauses.
func ownExprs(sel *surql.Select) []surql.Expr {
	var out []surql.Expr
	for _, e := range []surql.Expr{sel.Where, sel.Limit, sel.Start} {
		if e != nil {
			out = append(out, e)
		}
	}
	for _, f := range sel.Fields {
		out = append(out, f.Expr)
	}
	return out
}

// collectTables adds the FROM table of sel and of every SELECT nested in it.
func collectTables(sel *surql.Select, into map[string]bool) {
	into[sel.From] = true
	for _, e := range ownExprs(sel) {
		visit(e, func(x surql.Expr) bool {
			if q, ok := x.(*surql.Subquery); ok {
				collectTables(q.Select, into)
				return false
			}
			return true
		})
	}
}

// visit calls fn for e and, while fn returns true, its operands; it does not enter subqueries.
func visit(e surql.Expr, fn func(surql.Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch x := e.(type) {
	case *surql.Binary:
		visit(x.L, fn)
		visit(x.R, fn)
	case *surql.Unary:
		visit(x.X, fn)
	case *surql.ArrayExpr:
		for _, el := range x.Elems {
			visit(el, fn)
		}
	case *surql.ObjectExpr:
		for _, el := range x.Values {
			visit(el, fn)
		}
	case *surql.Call:
		for _, a := range x.Args {
			visit(a, fn)
		}
	}
}

// conjuncts returns the operands of the top-level AND chain of e.
func conjuncts(e surql.Expr, out []surql.Expr) []surql.Expr {
	if b, ok := e.(*surql.Binary); ok && b.Op == surql.OpAnd {
		return conjuncts(b.R, conjuncts(b.L, out))
	}
	if e != nil {
		out = append(out, e)
	}
	return out
}

// simpleField returns the field name of a single-step idiom (`author`, `id`).
func simpleField(e surql.Expr) (string, bool) {
	id, ok := e.(*surql.Idiom)
	if !ok || len(id.Parts) != 1 || id.Parts[0].IsIndex || id.Parts[0].Name == "" {
		return "", false
	}
	return id.Parts[0].Name, true
}

func isEq(op surql.Op) bool { return op == surql.OpEq || op == surql.OpIs }

// findCorrelation looks for `field = $parent…` (either side) in the top-level AND chain.
func findCorrelation(where surql.Expr) *correlation {
	for _, c := range conjuncts(where, nil) {
		b, ok := c.(*surql.Binary)
		if !ok || !isEq(b.Op) {
			continue
		}
		for _, side := range [2][2]surql.Expr{{b.L, b.R}, {b.R, b.L}} {
			f, ok := simpleField(side[0])
			if !ok {
				continue
			}
			if p, ok := side[1].(*surql.Param); ok && p.Name == "parent" {
				return &correlation{field: f, parent: p}
			}
		}
	}
	return nil
}

// findRoute looks for `field = constant` (a literal or a view param) in the top-level AND chain
// whose value is indexable.
func findRoute(where surql.Expr, params value.Value) *route {
	for _, c := range conjuncts(where, nil) {
		b, ok := c.(*surql.Binary)
		if !ok || !isEq(b.Op) {
			continue
		}
		for _, side := range [2][2]surql.Expr{{b.L, b.R}, {b.R, b.L}} {
			f, ok := simpleField(side[0])
			if !ok {
				continue
			}
			var val value.Value
			switch t := side[1].(type) {
			case *surql.Literal:
				val = t.Val
			case *surql.Param:
				if t.Name == "parent" {
					continue
				}
				val = eval.Eval(t, &eval.Env{Params: params})
			default:
				continue
			}
			if indexable(val) {
				return &route{field: f, val: val, hash: value.HashKey(val)}
			}
		}
	}
	return nil
}

// indexable reports whether value.HashKey agrees with value.Equal for v, so an equality with v
// can be answered from a hash index.
func indexable(v value.Value) bool {
	switch v.Kind() {
	case value.KindArray, value.KindObject:
		return false
	case value.KindFloat:
		return !math.IsNaN(v.AsFloat())
	}
	return true
}

// paramKey renders the params a SELECT tree actually reads, so views that differ only in unused
// params share a pipeline.
func paramKey(sel *surql.Select, params value.Value) string {
	names := map[string]bool{}
	var walkSel func(s *surql.Select)
	walkSel = func(s *surql.Select) {
		for _, e := range ownExprs(s) {
			visit(e, func(x surql.Expr) bool {
				switch t := x.(type) {
				case *surql.Param:
					if t.Name != "parent" {
						names[t.Name] = true
					}
				case *surql.Subquery:
					walkSel(t.Select)
					return false
				}
				return true
			})
		}
	}
	walkSel(sel)
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params.Get(k).SurQL())
		b.WriteByte(0)
	}
	return b.String()
}
