package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// Options configures an Engine. The zero value is valid.
type Options struct {
	// WindowSlack is how many matching rows past its end a LIMIT window keeps at hand, so that
	// members leaving rarely cost a walk of the table's index. 0 picks the default (LIMIT/4+4,
	// at most 16); a negative value keeps none (every member that leaves costs a walk), which
	// tests use to exercise that path.
	WindowSlack int
}

// Engine holds the base rows and every registered view. It is not safe for concurrent use: the
// caller serializes Register, Apply and the other calls.
//
// Design. Base rows are stored once (store), keyed by record id; each row has one handle (srow)
// that indexes and view state point at. Each distinct query (normalized SurrealQL plus the params
// it reads) is one pipeline (view) shared by every view id registered with it. A pipeline is a
// tree of nodes, one per SELECT (top level and projected subquery fields); a node's state lives
// in partitions: one for the top level and for subqueries that do not use $parent (shared by all
// parents), one per parent row otherwise, created when the parent enters a window and dropped
// when it leaves. A partition keeps matching rows in an order-statistics B+tree ordered by
// (ORDER BY keys, record id) — record-id order without ORDER BY — with the sort keys computed
// once per row evaluation, so an insert, delete or move costs O(log n) and changes the window
// [START, START+LIMIT) only at its boundaries. Filters see the old state (the row's entry) and
// the new row, so rows enter and leave on updates. Membership is reference counted by
// (parent, rel, key), because one record can reach the same parent through several paths.
//
// Shared indexes and bounded windows. The store keeps, per (table, correlation or route field,
// ORDER BY), one ordered index over every row of the table (index.go), created with its first
// user and shared, reference counted, by all nodes that need it: rows grouped by the field's
// value, then in sort order. A node with LIMIT whose sort keys depend on the row alone (ORDER BY
// paths do not follow links) keeps bounded partitions (bounded.go): only the rows before the
// window, the window and a small buffer past it; it walks its group of the index to refill when
// members leave and drops rows past the buffer when rows enter, so rows that are neither members
// nor at hand cost a view nothing and a change still costs O(log n) (plus the rows a refill skips
// when WHERE rejects them). Other partitions keep every matching row (all of them are members
// unless the node has LIMIT with computed sort keys). Equality lookups (a new per-parent
// partition's candidates, a routed view's rows) read the same indexes.
//
// Dependencies. A `$parent` subquery whose WHERE has a top-level conjunct `field = $parent…`
// (either side) indexes its partitions by that value: a change of its table only visits the
// partitions of the old and new field values, and a new partition reads its candidate rows from
// the index group of the value. Other `$parent` uses (e.g. `score > $parent.min`) fall back to
// evaluating the change in every partition of the node and to scanning the table (with LIMIT:
// walking it in order) when a partition is built: correct, but proportional to the number of
// parents and the table size. Record links followed while evaluating a row (`author.name` in
// WHERE, or in a computed projection ORDER BY reads) are recorded per row, for matching and
// non-matching rows alike, and a change of such a record re-evaluates exactly those rows; a
// bounded partition that meets such a row becomes a full one.
// Subqueries used as values (in WHERE, or in a projection ORDER BY reads: `thread IN (SELECT
// VALUE id FROM thread WHERE …)`) are value nodes (valuesub.go): nodes of their own whose
// partitions, one per value of their `$parent.f` expressions, keep the result incrementally; a
// row that consulted a result depends on the one element a CONTAINS/INSIDE test looked up, or on
// the whole result, and only the rows whose dependency moved are evaluated again. Subqueries
// that do not qualify (a deeper `$parent` path, a subquery in their projection) are evaluated
// from the store when a table they read changes: uncorrelated ones are cached and a changed
// result re-filters the node (O(rows)); correlated ones re-filter it on every change of their
// tables (slow path).
//
// Routing. A change is offered only to pipelines interested in it: by table, by the value of a
// top-level `field = constant|$param` conjunct (a view of user A never sees user B's rows), by
// the correlation value of existing partitions, and by the records rows dereferenced. Each
// pipeline touches only its own state and reads the store, so pipelines are independent units.
type Engine struct {
	opts    Options
	st      *store
	rtr     *router
	byName  map[string]*view // view key → pipeline
	byQuery map[string]*view // normalized query + used params → pipeline
	schema  map[string]schema.Table
	step    uint64
	scratch []*view
	deltas  []*Delta
	cursors []int
}

// mergeDeltas appends to out one copy of deltas[i] per name of views[i], in view-id order, by
// merging the pipelines' sorted name lists.
func mergeDeltas(views []*view, deltas []*Delta, out []Delta, cursors *[]int) []Delta {
	if len(views) == 1 {
		for _, name := range views[0].names {
			out = append(out, *deltas[0])
			out[len(out)-1].View = name
		}
		return out
	}
	cur := (*cursors)[:0]
	for range views {
		cur = append(cur, 0)
	}
	*cursors = cur
	for {
		best := -1
		for i, v := range views {
			if cur[i] < len(v.names) && (best < 0 || v.names[cur[i]] < views[best].names[cur[best]]) {
				best = i
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, *deltas[best])
		out[len(out)-1].View = views[best].names[cur[best]]
		cur[best]++
	}
}

// New returns an empty engine.
func New(opts Options) *Engine {
	e := &Engine{opts: opts, schema: map[string]schema.Table{}}
	e.Reset()
	return e
}

// Reset drops every view and all base rows (schema hints stay).
func (e *Engine) Reset() {
	e.st = newStore()
	e.rtr = newRouter()
	e.byName = map[string]*view{}
	e.byQuery = map[string]*view{}
}

// Params returns a view's params as the engine takes them: an object, with NONE and NULL (no
// params) meaning the empty object; anything else is an error.
func Params(params value.Value) (value.Value, error) {
	switch params.Kind() {
	case value.KindNone, value.KindNull:
		return value.ObjectOf(nil), nil
	case value.KindObject:
		return params, nil
	}
	return value.Value{}, fmt.Errorf("params must be an object, got %s", params.Kind())
}

// Register materializes the live query src under view id (normalized with ViewKey, so
// `_00_query:abc` and `abc` are one view) with params (an object, or NONE) and returns its
// membership. Invalid or unsupported SurrealQL is an error naming the construct and its
// position, and changes nothing. Registering an id again with the same query and params is a
// no-op; with a different query or params the view is replaced. Views with the same query and
// params share one pipeline.
func (e *Engine) Register(id, src string, params value.Value) ([]Member, error) {
	key := ViewKey(id)
	if key == "" {
		return nil, fmt.Errorf("register view %q: the view id is empty", id)
	}
	params, err := Params(params)
	if err != nil {
		return nil, fmt.Errorf("register view %s: %w", key, err)
	}
	sel, err := surql.ParseSelect(src)
	if err != nil {
		return nil, fmt.Errorf("register view %s: %w", key, err)
	}
	qkey := queryText(sel, src) + "\x00" + paramKey(sel, params)
	cur := e.byName[key]
	if cur != nil && cur.key == qkey {
		return cur.list(), nil
	}
	v := e.byQuery[qkey]
	if v == nil {
		v = newView(qkey, params, e.st, e.rtr)
		v.slack = e.opts.WindowSlack
		if err := v.compile(sel); err != nil {
			return nil, fmt.Errorf("register view %s: %w", key, err)
		}
		v.start()
		e.byQuery[qkey] = v
	}
	if cur != nil {
		e.detachName(key, cur)
	}
	v.addName(key)
	e.byName[key] = v
	return v.list(), nil
}

// queryText is the normalized text of a query used to share pipelines.
func queryText(sel *surql.Select, src string) string {
	if s, ok := any(sel).(fmt.Stringer); ok {
		return s.String()
	}
	return strings.TrimSuffix(strings.TrimSpace(src), ";")
}

func (e *Engine) detachName(key string, v *view) {
	delete(e.byName, key)
	if !v.removeName(key) {
		v.stop()
		delete(e.byQuery, v.key)
	}
}

// Unregister removes view id (normalized with ViewKey); it reports whether the view existed.
func (e *Engine) Unregister(id string) bool {
	key := ViewKey(id)
	v := e.byName[key]
	if v == nil {
		return false
	}
	e.detachName(key, v)
	return true
}

// Members returns the membership of view id sorted by Parent, Rel, Key; ok is false when the
// view does not exist.
func (e *Engine) Members(id string) ([]Member, bool) {
	v := e.byName[ViewKey(id)]
	if v == nil {
		return nil, false
	}
	return v.list(), true
}

// Views returns the registered view keys, sorted.
func (e *Engine) Views() []string {
	out := make([]string, 0, len(e.byName))
	for k := range e.byName {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Rows returns the number of base rows stored for table.
func (e *Engine) Rows(table string) int { return e.st.count(table) }

// Apply applies one change as one step: the base row is upserted, merged or deleted and every
// affected view is brought up to date. It returns the deltas of the views whose membership or
// member versions changed, sorted by view id. A change that fails validation is an error and
// changes nothing; a change that leaves the row as it was (a replayed CREATE, a DELETE of an
// unknown id) yields no deltas. The record is resolved by its table's schema hint (SetSchema)
// before it is stored.
func (e *Engine) Apply(c Change) ([]Delta, error) {
	c, err := validate(c)
	if err != nil {
		return nil, fmt.Errorf("apply change: %w", err)
	}
	c = e.resolve(c)
	key := value.RecordString(c.ID)
	cur := e.st.getRow(c.Table, key)
	had := cur != nil
	old := value.None()
	if had {
		old = cur.row
	}
	var row value.Value
	switch c.Op {
	case OpCreate, OpUpdate:
		row = c.Record
	case OpMerge:
		row = c.Record
		if had {
			row = mergeRow(old, c.Record).With("id", c.ID)
		}
	case OpDelete:
		if !had {
			return nil, nil
		}
	}
	if had && !row.IsNone() && value.Identical(old, row) {
		return nil, nil
	}
	e.step++
	ch := &change{table: c.Table, key: key, new: row, changed: true, step: e.step}
	ch.hashes = ch.hbuf[:0]
	if had {
		ch.old = old
		ch.seq = cur.seq
		ch.r = cur
	} else {
		ch.seq = e.st.nextSeq(c.Table)
	}
	e.st.apply(ch)
	views := e.rtr.collect(ch, e.step, e.scratch[:0])
	// Deltas of the affected pipelines, one per view id, sorted by view id (each pipeline's
	// names are sorted already, so one affected pipeline needs no sort).
	n, touched := 0, 0
	for i, v := range views {
		d := v.apply(ch)
		if d == nil {
			views[i] = nil
			continue
		}
		views[touched] = v
		e.deltas = append(e.deltas, d)
		touched++
		n += len(v.names)
	}
	var out []Delta
	if n > 0 {
		out = mergeDeltas(views[:touched], e.deltas, make([]Delta, 0, n), &e.cursors)
	}
	for i := range views {
		views[i] = nil
	}
	e.scratch = views[:0]
	for i := range e.deltas {
		e.deltas[i] = nil
	}
	e.deltas = e.deltas[:0]
	return out, nil
}
