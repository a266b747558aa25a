// Package naive is the from-scratch view evaluator of the SSP: given a SELECT, its params and the
// whole database, it computes the view's membership by scanning, filtering, sorting and slicing,
// recursively for subquery fields. It is deliberately simple and slow; it is the reference that
// property tests hold the incremental engine to. It sits under the top-level internal/ (test
// machinery shared by several top-level folders, fenced from other modules, not linked into ssp).
package naive

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/eval"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// DB is the data a view is evaluated over.
type DB interface {
	// Scan returns the rows (objects with a record `id`) of table in record-id order.
	Scan(table string) []value.Value
	// Record returns the row of record id id; ok is false when it is absent.
	Record(id value.Value) (row value.Value, ok bool)
}

// Eval computes the membership of the view sel with params (an object, or NONE) over db:
// the rows of sel's FROM table (or its FROM record) in record-id order that match WHERE, stably sorted by ORDER BY
// (ties by eval.TieBreak of their ids), windowed by START then LIMIT; then, for every result
// row and every projected field that is a subquery (also `(…)[n]`), the subquery's rows with
// `$parent` bound to that row, recursively, as members with Parent = the row's id and Rel = the
// field's output name. Subqueries inside expressions evaluate to arrays of projected rows and
// contribute no members. Members are unique by (Parent, Rel, Key) and sorted by Parent, Rel, Key;
// Version is eval.Version of the row. The error reports an invalid LIMIT or START.
func Eval(sel *surql.Select, params value.Value, db DB) ([]engine.Member, error) {
	if sel == nil {
		return nil, fmt.Errorf("naive eval: no query")
	}
	ev := &evaluator{db: db, params: params, seen: map[engine.MemberKey]bool{}}
	rows, err := ev.query(sel, value.None())
	if err != nil {
		return nil, fmt.Errorf("naive eval: %w", err)
	}
	for _, r := range rows {
		ev.add(r, "", "")
		if err := ev.children(sel, r); err != nil {
			return nil, fmt.Errorf("naive eval: %w", err)
		}
	}
	out := ev.members
	engine.SortMembers(out)
	return out, nil
}

type evaluator struct {
	db      DB
	params  value.Value
	seen    map[engine.MemberKey]bool
	members []engine.Member
}

func (ev *evaluator) add(row value.Value, parent, rel string) {
	k := engine.MemberKey{Parent: parent, Rel: rel, Key: value.RecordString(row.Get("id"))}
	if ev.seen[k] {
		return
	}
	ev.seen[k] = true
	ev.members = append(ev.members, engine.Member{Key: k.Key, Version: eval.Version(row), Parent: parent, Rel: rel})
}

// children adds the members of every subquery field of sel for the result row r, recursively.
func (ev *evaluator) children(sel *surql.Select, r value.Value) error {
	parent := value.RecordString(r.Get("id"))
	for _, f := range sel.Fields {
		q, ok := f.Expr.(*surql.Subquery)
		if !ok {
			continue
		}
		rows, err := ev.query(q.Select, r)
		if err != nil {
			return fmt.Errorf("subquery %s: %w", f.Name(), err)
		}
		if q.Index != nil {
			if i := *q.Index; i >= 0 && i < len(rows) {
				rows = rows[i : i+1]
			} else {
				rows = nil
			}
		}
		rel := f.Name()
		for _, sr := range rows {
			ev.add(sr, parent, rel)
			if err := ev.children(q.Select, sr); err != nil {
				return err
			}
		}
	}
	return nil
}

func (ev *evaluator) env(row, parent value.Value) *eval.Env {
	return &eval.Env{Row: row, Params: ev.params, Parent: parent, Links: ev.db, Sub: ev.sub}
}

// query returns the result rows (unprojected) of sel with `$parent` bound to parent.
func (ev *evaluator) query(sel *surql.Select, parent value.Value) ([]value.Value, error) {
	type keyed struct {
		row value.Value
		key []value.Value
	}
	var rows []keyed
	for _, row := range ev.db.Scan(sel.From) {
		env := ev.env(row, parent)
		if !eval.Matches(sel, env) {
			continue
		}
		var key []value.Value
		if len(sel.Order) > 0 {
			key = eval.OrderKey(sel, env)
		}
		rows = append(rows, keyed{row: row, key: key})
	}
	if len(sel.Order) > 0 {
		sort.SliceStable(rows, func(i, j int) bool {
			if c := eval.CompareKeys(sel, rows[i].key, rows[j].key); c != 0 {
				return c < 0
			}
			return eval.TieBreak(rows[i].row.Get("id"), rows[j].row.Get("id")) < 0
		})
	}
	limit, hasLimit, start, err := eval.LimitStart(sel, ev.env(value.None(), parent))
	if err != nil {
		return nil, err
	}
	if start > len(rows) {
		start = len(rows)
	}
	rows = rows[start:]
	if hasLimit && limit < len(rows) {
		rows = rows[:limit]
	}
	out := make([]value.Value, len(rows))
	for i, r := range rows {
		out[i] = r.row
	}
	return out, nil
}

// sub evaluates a subquery inside an expression: the array of its projected result rows, with
// `$parent` bound to the row being evaluated. An invalid LIMIT/START yields NONE.
func (ev *evaluator) sub(q *surql.Subquery, env *eval.Env) value.Value {
	rows, err := ev.query(q.Select, env.Row)
	if err != nil {
		return value.None()
	}
	out := make([]value.Value, len(rows))
	for i, r := range rows {
		out[i] = ev.project(q.Select, r, env.Row)
	}
	return value.Array(out)
}

// project builds the result row of row for sel: the value of the expression of `SELECT VALUE`,
// else the output object: the row's fields for `*`, then every field under its output name (an
// unaliased field path `a.b` nests as {a: {b: …}}).
func (ev *evaluator) project(sel *surql.Select, row, parent value.Value) value.Value {
	env := ev.env(row, parent)
	if sel.Value && len(sel.Fields) == 1 {
		return eval.Eval(sel.Fields[0].Expr, env)
	}
	out := value.ObjectOf(nil)
	if sel.Star {
		out = row
	}
	for _, f := range sel.Fields {
		v := eval.Eval(f.Expr, env)
		if id, ok := f.Expr.(*surql.Idiom); ok && f.Alias == "" && plainPath(id) {
			names := make([]string, len(id.Parts))
			for i, p := range id.Parts {
				names[i] = p.Name
			}
			out = setPath(out, names, v)
			continue
		}
		out = out.With(f.Name(), v)
	}
	return out
}

func plainPath(id *surql.Idiom) bool {
	for _, p := range id.Parts {
		if p.IsIndex || strings.Contains(p.Name, ".") {
			return false
		}
	}
	return len(id.Parts) > 0
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
