package engine

import (
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/eval"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// runSubquery evaluates a subquery used as a value (in WHERE, or a projection ORDER BY reads)
// from scratch against the store: the array of its projected result rows (eval applies a
// `[n]` index itself). parentRow is what `$parent` means inside it. This is the slow,
// rarely used path; projected subquery fields that produce members are maintained by nodes.
func (v *view) runSubquery(q *surql.Subquery, parentRow value.Value, links eval.Resolver) value.Value {
	sel := q.Select
	type item struct {
		row  value.Value
		id   value.Value
		keys []value.Value
	}
	var items []item
	env := &eval.Env{Params: v.params, Parent: parentRow, Links: links, Sub: v.subValue}
	v.st.scan(sel.From, func(r *srow) {
		row := r.row
		env.Row = row
		if !eval.Matches(sel, env) {
			return
		}
		it := item{row: row, id: row.Get("id")}
		if len(sel.Order) > 0 {
			it.keys = eval.OrderKey(sel, env)
		}
		items = append(items, it)
	})
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if len(sel.Order) > 0 {
			if c := eval.CompareKeys(sel, a.keys, b.keys); c != 0 {
				return c < 0
			}
			return eval.TieBreak(a.id, b.id) < 0
		}
		return value.Compare(a.id, b.id) < 0
	})
	env.Row = value.None()
	limit, hasLimit, start, err := eval.LimitStart(sel, env)
	if err != nil {
		return value.None()
	}
	if start > len(items) {
		start = len(items)
	}
	if start > 0 {
		items = items[start:]
	}
	if hasLimit && limit >= 0 && limit < len(items) {
		items = items[:limit]
	}
	out := make([]value.Value, len(items))
	for i, it := range items {
		env.Row = it.row
		out[i] = project(sel, env)
	}
	return value.Array(out)
}

// project builds one result row: for `SELECT VALUE expr` the value of expr, otherwise the
// output object: the row itself for `*`, plus each projected field under its output name (an
// unaliased field path `a.b` nests as {a: {b: …}}).
func project(sel *surql.Select, env *eval.Env) value.Value {
	if sel.Value && len(sel.Fields) == 1 {
		return eval.Eval(sel.Fields[0].Expr, env)
	}
	out := value.ObjectOf(nil)
	if sel.Star {
		out = env.Row
	}
	for _, f := range sel.Fields {
		v := eval.Eval(f.Expr, env)
		if path, ok := plainPath(f); ok {
			out = setPath(out, path, v)
			continue
		}
		out = out.With(f.Name(), v)
	}
	return out
}

// plainPath returns the field names of an unaliased idiom made of field steps only.
func plainPath(f surql.Field) ([]string, bool) {
	id, ok := f.Expr.(*surql.Idiom)
	if !ok || f.Alias != "" || len(id.Parts) == 0 {
		return nil, false
	}
	names := make([]string, len(id.Parts))
	for i, p := range id.Parts {
		if p.IsIndex || strings.Contains(p.Name, ".") {
			return nil, false
		}
		names[i] = p.Name
	}
	return names, true
}

// setPath returns obj with the nested field path set to v, creating objects on the way.
func setPath(obj value.Value, path []string, v value.Value) value.Value {
	if len(path) == 1 {
		return obj.With(path[0], v)
	}
	inner := obj.Get(path[0])
	if inner.Kind() != value.KindObject {
		inner = value.ObjectOf(nil)
	}
	return obj.With(path[0], setPath(inner, path[1:], v))
}

// mergeRow merges patch into row as SurrealDB's MERGE does: nested objects are merged
// recursively, any other value replaces the stored one.
func mergeRow(row, patch value.Value) value.Value {
	if row.Kind() != value.KindObject {
		return patch
	}
	out := row
	for _, f := range patch.Fields() {
		cur := out.Get(f.Key)
		if cur.Kind() == value.KindObject && f.Val.Kind() == value.KindObject {
			out = out.With(f.Key, mergeRow(cur, f.Val))
		} else {
			out = out.With(f.Key, f.Val)
		}
	}
	return out
}
