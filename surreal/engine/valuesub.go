package engine

import (
	"strconv"
	"strings"

	"github.com/sp00ky/ssp/surreal/eval"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// Subqueries used as values (value nodes). A subquery inside a node's WHERE (or in a projection
// its ORDER BY reads) — `thread IN (SELECT VALUE id FROM thread WHERE author = $parent.author)`,
// `array::len((SELECT id FROM comment WHERE thread = $parent.id)) > 1` — is maintained
// incrementally like a projected subquery: it is compiled as a node of its own (the value node)
// whose partitions are keyed by the values of its `$parent.f` expressions (its signature;
// `$parent` is the row being filtered), one partition shared by every row with that signature,
// or a single one when the subquery is uncorrelated. Its partitions keep their windows with the
// same trees, shared indexes, correlation routing and bounded windows as any node, but a row
// entering or leaving the window changes the partition's value (the window's results, in order)
// instead of a membership.
//
// A row of the filtering node that consulted a partition depends on it, through the view's
// dependency sets (the same as for records a row dereferenced, under keys that are no record's):
// on one element — a test of the CONTAINS/INSIDE family asks whether the result holds x
// (eval.Env.SubHas), and depends only on x's presence — or on the whole value (any other use).
// When a change moves a partition's window, exactly the rows depending on an element that
// appeared or disappeared, or on the whole value, are evaluated again. So a change costs the
// window change plus the rows whose answer may change, not a recomputation of the filtering node.
// A partition lives while some row depends on it.
//
// A subquery qualifies when its `$parent` uses are single field steps (`$parent.author`), its
// LIMIT and START do not use `$parent`, and its projection holds no subquery; others keep the
// slow path (exprSub: re-evaluated from the store).

// viewValues is the value-node state of a view, allocated with its first value node.
type viewValues struct {
	nextID    int
	keys      map[string]*partition // dependency keys that have a dependency set
	lookedUp  map[string]*partition // keys evaluations of this step read (not yet in a set)
	dirty     []*partition          // partitions whose value changed in this step
	unused    []*partition          // partitions that may have no dependents left
	resettled int                   // rows evaluated again because a value changed (tests read it)
}

// bind counts a new dependency set of key k on its partition.
func (vv *viewValues) bind(k string) {
	if vv == nil {
		return
	}
	if p := vv.lookedUp[k]; p != nil {
		vv.keys[k] = p
		p.vs().refs++
	}
}

// unbind undoes bind when the set of k emptied.
func (vv *viewValues) unbind(k string) {
	if vv == nil {
		return
	}
	if p := vv.keys[k]; p != nil {
		delete(vv.keys, k)
		if s := p.vs(); s != nil {
			if s.refs--; s.refs == 0 {
				vv.unused = append(vv.unused, p)
			}
		}
	}
}

// vs is the value state of a partition of a value node (nil for other partitions).
func (p *partition) vs() *valueState {
	if es := p.n.value; es != nil {
		return es.states[p]
	}
	return nil
}

// valueState is the value of one partition of a value node.
type valueState struct {
	prow     value.Value            // the parent row the partition evaluates with: its signature's fields
	elems    map[*srow]value.Value  // each window row's result (as it entered or last changed)
	counts   map[string][]elemCount // distinct results by value.HashKey
	arr      value.Value            // the value (array of results in window order), when arrValid
	arrValid bool                   //
	refs     int                    // dependency keys on the partition in the view's derefs
	dirty    map[string]bool        // HashKeys of elements that appeared or disappeared this step
	all      bool                   // the value changed this step
	prefix   string                 // dependency keys' prefix
	building bool                   // no dependents yet
}

type elemCount struct {
	v value.Value
	n int
}

// depKey is the dependency key of an element hash h, or of the whole value for h "*".
func (s *valueState) depKey(h string) string { return s.prefix + h }

// wholeValue is the dependency "hash" of uses of the whole value (no HashKey starts with '*').
const wholeValue = "*"

func (s *valueState) has(x value.Value, h string) bool {
	for _, e := range s.counts[h] {
		if value.Equal(e.v, x) {
			return true
		}
	}
	return false
}

// count adds d to the count of result e; it reports whether e (its distinct value) appeared or
// disappeared.
func (s *valueState) count(e value.Value, d int) (h string, moved bool) {
	h = value.HashKey(e)
	list := s.counts[h]
	for i := range list {
		if value.Identical(list[i].v, e) {
			list[i].n += d
			if list[i].n > 0 {
				return h, false
			}
			list = append(list[:i], list[i+1:]...)
			if len(list) == 0 {
				delete(s.counts, h)
			} else {
				s.counts[h] = list
			}
			return h, true
		}
	}
	if d > 0 {
		s.counts[h] = append(list, elemCount{v: e, n: d})
		return h, true
	}
	return h, false
}

// valueEligible reports whether subquery sel can be a value node (see above).
func valueEligible(sel *surql.Select) bool {
	ok := true
	check := func(e surql.Expr, parentOK bool) {
		visit(e, func(x surql.Expr) bool {
			if p, isParam := x.(*surql.Param); isParam && p.Name == "parent" && (!parentOK || len(p.Path) != 1) {
				ok = false
			}
			return true
		})
	}
	if sel.Where != nil {
		check(sel.Where, true)
	}
	for _, f := range sel.Fields {
		if _, isSub := f.Expr.(*surql.Subquery); isSub {
			return false
		}
		visit(f.Expr, func(x surql.Expr) bool {
			if _, isSub := x.(*surql.Subquery); isSub {
				ok = false
			}
			return true
		})
		check(f.Expr, true)
	}
	for _, e := range []surql.Expr{sel.Limit, sel.Start} {
		if e != nil {
			check(e, false)
		}
	}
	return ok
}

// compileValue compiles the subquery of es as a value node of n, when it qualifies; the node
// goes into v.nodes before n. A subquery that does not compile as a node keeps the slow path.
func (v *view) compileValue(n *node, es *exprSub) {
	if !valueEligible(es.q.Select) {
		return
	}
	mark := len(v.nodes)
	vn, err := v.compileNodeAs(es.q.Select, n, "", nil, true)
	if err != nil {
		v.nodes = v.nodes[:mark]
		return
	}
	if v.vals == nil {
		v.vals = &viewValues{keys: map[string]*partition{}, lookedUp: map[string]*partition{}}
	}
	vn.value = es
	es.vn, es.id, es.states = vn, v.vals.nextID, map[*partition]*valueState{}
	v.vals.nextID++
}

// valuePart returns the partition of value node vn for a filtered row (NONE for the single
// partition of an uncorrelated subquery), building it from the store when it does not exist.
func (v *view) valuePart(vn *node, row value.Value) *partition {
	key := ""
	var sig []value.Value
	var fields []value.Field
	if vn.perParent {
		penv := eval.Env{Params: v.params, Parent: row}
		sig = make([]value.Value, len(vn.parentExprs))
		var b strings.Builder
		for i, e := range vn.parentExprs {
			sig[i] = eval.Eval(e, &penv)
			b.WriteString(value.IdentityKey(sig[i]))
			b.WriteByte(0)
			if pe, ok := e.(*surql.Param); ok && len(pe.Path) == 1 {
				fields = append(fields, value.Field{Key: pe.Path[0], Val: sig[i]})
			}
		}
		key = b.String()
	}
	if p := vn.parts[key]; p != nil {
		return p
	}
	// Built in the middle of an evaluation: keep the evaluation's scratch state.
	savedEnv, savedKeys := v.env, v.trk.keys
	v.trk.keys = nil
	p := v.newPartition(vn, key)
	s := &valueState{
		prow: value.None(), elems: map[*srow]value.Value{}, counts: map[string][]elemCount{},
		prefix: "\x00v" + strconv.Itoa(vn.value.id) + "\x00" + key + "\x00", building: true,
	}
	if vn.perParent {
		s.prow = value.ObjectOf(fields)
	}
	vn.value.states[p] = s
	p.sig = sig
	v.build(p)
	s.building = false
	v.env, v.trk.keys = savedEnv, savedKeys
	v.vals.unused = append(v.vals.unused, p) // until a row depends on it
	return p
}

// valueSub returns the value node of subquery q of the view, or nil.
func (v *view) valueSub(q *surql.Subquery) *node {
	if ref, ok := v.subs[q]; ok {
		return ref.es.vn
	}
	return nil
}

// subHas is the view's eval.Env.SubHas: membership in a value node's partition, recorded as a
// dependency of the row being evaluated on that one element.
func (v *view) subHas(q *surql.Subquery, env *eval.Env, x value.Value) (bool, bool) {
	vn := v.valueSub(q)
	if vn == nil {
		return false, false
	}
	p := v.valuePart(vn, env.Row)
	h := value.HashKey(x)
	v.depOn(p, h)
	return p.vs().has(x, h), true
}

// depOn records that the evaluation in progress reads element hash h (or the whole value) of
// value partition p.
func (v *view) depOn(p *partition, h string) {
	k := p.vs().depKey(h)
	v.vals.lookedUp[k] = p // the live partition of the key, for the set the row's dependencies make
	v.trk.keys = append(v.trk.keys, k)
}

// valueOf returns the value of a value partition: the results of its window rows, in order.
func (v *view) valueOf(p *partition) value.Value {
	s := p.vs()
	if s.arrValid {
		return s.arr
	}
	win := v.window(p)
	out := make([]value.Value, len(win))
	for i, rs := range win {
		out[i] = s.elems[rs.r]
	}
	s.arr, s.arrValid = value.Array(out), true
	return s.arr
}

// result evaluates the subquery's result for one of its rows: the value of `SELECT VALUE expr`
// or the projected object. Links its projection reads were recorded when the row was evaluated
// (evalRow evaluates the projection of a value node's matching rows).
func (v *view) result(p *partition, row value.Value) value.Value {
	env := eval.Env{Row: row, Params: v.params, Parent: p.vs().prow, Links: storeResolver{v.st}}
	return project(p.n.sel, &env)
}

// valueEnter and valueLeave are enter and leave for a value node: the row's result joins or
// leaves the value.
func (v *view) valueEnter(p *partition, rs *rowState) {
	e := v.result(p, rs.r.row)
	p.vs().elems[rs.r] = e
	v.valueCount(p, e, +1)
}

func (v *view) valueLeave(p *partition, rs *rowState) {
	s := p.vs()
	e, ok := s.elems[rs.r]
	if !ok {
		return
	}
	delete(s.elems, rs.r)
	v.valueCount(p, e, -1)
}

func (v *view) valueCount(p *partition, e value.Value, d int) {
	h, moved := p.vs().count(e, d)
	if moved {
		v.valueDirty(p, h)
	} else {
		v.valueDirty(p, "")
	}
}

// valueDirty marks the value of p changed in this step (and element hash h, unless empty).
func (v *view) valueDirty(p *partition, h string) {
	s := p.vs()
	s.arrValid = false
	if s.building {
		return
	}
	if !s.all && len(s.dirty) == 0 {
		v.vals.dirty = append(v.vals.dirty, p)
	}
	s.all = true
	if h != "" {
		if s.dirty == nil {
			s.dirty = map[string]bool{}
		}
		s.dirty[h] = true
	}
}

// valueRow brings the result of window row r of value partition p up to date after the row was
// evaluated again: a new result replaces the old one. moved says the row may have moved within
// the window, which changes the value's order.
func (v *view) valueRow(p *partition, r *srow, moved bool) {
	s := p.vs()
	old, ok := s.elems[r]
	if !ok {
		return
	}
	e := v.result(p, r.row)
	if value.Identical(old, e) {
		if moved {
			v.valueDirty(p, "")
		}
		return
	}
	s.elems[r] = e
	v.valueCount(p, old, -1)
	v.valueCount(p, e, +1)
}

// settleValues re-evaluates the rows that depend on what the step changed in value partitions
// (which may change further partitions), then drops the partitions no row depends on.
func (v *view) settleValues() {
	vv := v.vals
	for len(vv.dirty) > 0 {
		ps := vv.dirty
		vv.dirty = nil
		var rows []*rowState
		seen := map[*rowState]bool{}
		for _, p := range ps {
			s := p.vs()
			if s == nil {
				continue // torn down
			}
			keys := make([]string, 0, len(s.dirty)+1)
			for h := range s.dirty {
				keys = append(keys, s.depKey(h))
			}
			if s.all {
				keys = append(keys, s.depKey(wholeValue))
			}
			s.dirty, s.all = nil, false
			if p.dead {
				continue
			}
			for _, k := range keys {
				if ds := v.derefs[k]; ds != nil {
					for rs := range ds.rows {
						if !seen[rs] {
							seen[rs] = true
							rows = append(rows, rs)
						}
					}
				}
			}
		}
		for _, rs := range rows {
			p := rs.part
			if p.dead || p.rows[rs.r.seq] != rs {
				continue
			}
			vv.resettled++
			v.reeval(p, rs.r, rs.r.live(), rs.r.live(), nil)
		}
	}
	v.dropUnused()
}

// dropUnused tears down the value partitions that no row depends on any more (at the end of a
// step, when every evaluation has turned what it read into dependencies).
func (v *view) dropUnused() {
	vv := v.vals
	clear(vv.lookedUp)
	for len(vv.unused) > 0 {
		ps := vv.unused
		vv.unused = nil
		for _, p := range ps {
			if s := p.vs(); s != nil && !p.dead && s.refs == 0 {
				v.teardown(p)
				delete(p.n.value.states, p)
			}
		}
	}
}
