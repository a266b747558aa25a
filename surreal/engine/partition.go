package engine

import (
	"math"

	"github.com/sp00ky/ssp/surreal/eval"
	"github.com/sp00ky/ssp/surreal/value"
)

// partition is the state of one node for one parent row (or the single state of a top-level or
// shared node): matching rows in an order-statistics tree ordered by (sort keys, record id), so
// the window [start, start+limit) changes by looking at its boundary rows only. A full partition
// keeps every matching row; a bounded one (bnd set, see bounded.go) only the rows up to a little
// past the window, refilled from a shared index.
type partition struct {
	n       *node
	key     string           // parent row key (per-parent nodes); "" otherwise
	refs    int32            // how many parent windows hold this partition (per-parent, top)
	parents map[string]int32 // shared nodes: parent row keys the window rows are attached to
	tree    btree
	rows    map[uint64]*rowState // full partitions, by row sequence number: rows in the tree and non-matching rows that dereferenced links
	bnd     *bound               // set while the partition keeps a bounded window (then rows is nil)
	born    uint64               // the view's step number when the partition was created

	sig     []value.Value // values of the node's $parent expressions for this parent
	sigDeps []string      // records read computing sig (the parent row itself included)

	corrVal value.Value // parent-side value of the correlation
	corrKey string      // its HashKey when indexed
	indexed bool
	dead    bool
}

type windowEvent struct {
	rs *rowState
	d  int8 // +1 entered the window, -1 left it
}

// storeResolver reads linked records from the store without recording them.
type storeResolver struct{ st *store }

func (r storeResolver) Record(id value.Value) (value.Value, bool) { return r.st.getID(id) }

// The node is the rowOrder of its partitions' trees: ORDER BY keys, then the tie-break on ids;
// record-id order without ORDER BY.

func (n *node) probeKeys(rs *rowState) []value.Value {
	if rs.keys != nil || !n.ordered {
		return rs.keys
	}
	n.pbuf = n.ix.keysOf(rs.r.row, n.pbuf[:0]) // a bounded partition's row
	return n.pbuf
}

func (n *node) entryKeys(rs *rowState) []value.Value {
	if rs.keys != nil || !n.ordered {
		return rs.keys
	}
	n.ebuf = n.ix.keysOf(rs.r.row, n.ebuf[:0])
	return n.ebuf
}

func (n *node) prefix(keys []value.Value, id value.Value) uint64 {
	if !n.ordered {
		return idPrefix(id)
	}
	if len(keys) == 0 {
		return 0
	}
	t := n.sel.Order[0]
	return termPrefix(keys[0], t.Desc, t.Collate || t.Numeric)
}

func (n *node) compare(aKeys []value.Value, aID value.Value, bKeys []value.Value, bID value.Value) int {
	if n.ordered {
		if c := eval.CompareKeys(n.sel, aKeys, bKeys); c != 0 {
			return c
		}
		return eval.TieBreak(aID, bID)
	}
	return value.Compare(aID, bID)
}

func (v *view) newPartition(n *node, key string) *partition {
	p := &partition{n: n, key: key, born: v.stepNo}
	p.tree.ord = n
	if n.shared {
		p.parents = map[string]int32{}
	}
	if n.boundable && !n.noBound {
		p.bnd = &bound{}
	} else {
		p.rows = map[uint64]*rowState{}
	}
	n.parts[key] = p
	return p
}

func (v *view) parentRow(p *partition) value.Value {
	if p.n.value != nil {
		return p.vs().prow
	}
	if !p.n.perParent {
		return value.None()
	}
	row, _ := v.st.get(p.n.parent.table, p.key)
	return row
}

// forParents calls fn with each parent row key the partition's window rows are members under.
func (v *view) forParents(p *partition, fn func(parent string)) {
	if p.n.shared {
		for k := range p.parents {
			fn(k)
		}
		return
	}
	fn(p.key)
}

// build materializes a new partition from the store and enters its window rows.
func (v *view) build(p *partition) {
	v.fill(p)
	for _, rs := range v.window(p) {
		v.enter(p, rs)
	}
}

// fill evaluates the partition's candidate rows into its tree (no membership effects): a bounded
// partition walks its index up to a little past the window, a full one evaluates every candidate.
func (v *view) fill(p *partition) {
	n := p.n
	prow := v.parentRow(p)
	if p.n.value == nil { // a value partition's signature is its key
		p.sig, p.sigDeps = v.computeSig(p, prow)
		v.addPartDeps(p, p.sigDeps)
	}
	v.registerRoute(p, prow)
	if p.bnd != nil && !v.startBound(p) {
		p.bnd = nil // a correlation value that cannot be indexed: keep every row
		p.rows = map[uint64]*rowState{}
	}
	if p.bnd != nil {
		v.refill(p, prow, n.keep())
		if !p.bnd.tainted {
			return
		}
		// A row's evaluation read linked records: keep all rows, with their dependencies.
		n.noBound = true
		p.bnd = nil
		p.rows = map[uint64]*rowState{}
		p.tree.Clear()
	}
	var cands []*srow
	collect := func(r *srow) { cands = append(cands, r) }
	switch {
	case n.corr != nil && p.indexed:
		v.lookupEq(n, p.corrVal, p.corrKey, collect)
	case n.corr == nil && n.route != nil:
		v.lookupEq(n, n.route.val, n.route.hash, collect)
	default:
		v.st.scan(n.table, collect)
	}
	for _, r := range cands {
		match, keys, deps := v.evalRow(p, r.row, prow)
		if !match && len(deps) == 0 {
			continue
		}
		rs := &rowState{part: p, r: r}
		p.rows[r.seq] = rs
		v.setRowDeps(rs, deps)
		if match {
			rs.keys = keys
			p.tree.Insert(rs)
		}
	}
}

// lookupEq calls fn for the rows of n's table whose prefix field may equal val (hash key hk):
// by id, or through the node's index or any index with that prefix field (or, were there none,
// by scanning).
func (v *view) lookupEq(n *node, val value.Value, hk string, fn func(*srow)) {
	if n.ixField == "id" {
		rid := val
		if rid.Kind() == value.KindString {
			r, ok := value.ParseRecord(rid.AsString())
			if !ok {
				return
			}
			rid = r
		}
		if rid.Kind() != value.KindRecord || rid.Table() != n.table {
			return
		}
		if r := v.st.getRow(n.table, value.RecordString(rid)); r != nil {
			fn(r)
		}
		return
	}
	ix := n.ix
	if ix == nil {
		ix = v.st.lookupIndex(n.table, n.ixField)
	}
	if ix == nil {
		v.st.scan(n.table, func(r *srow) {
			if value.HashKey(r.row.Get(n.ixField)) == hk {
				fn(r)
			}
		})
		return
	}
	ix.eachInGroup(hk, fn)
}

// window returns the rows currently in the partition's window, in order.
func (v *view) window(p *partition) []*rowState {
	n := p.n
	if n.limit == 0 || n.start >= p.tree.Len() {
		return nil
	}
	end := p.tree.Len()
	if n.limit < end-n.start {
		end = n.start + n.limit
	}
	out := make([]*rowState, 0, end-n.start)
	p.tree.Walk(n.start, end, func(rs *rowState) { out = append(out, rs) })
	return out
}

// computeSig evaluates the node's $parent expressions for the partition's parent row.
func (v *view) computeSig(p *partition, prow value.Value) ([]value.Value, []string) {
	n := p.n
	if !n.perParent {
		return nil, nil
	}
	saved := v.trk.keys
	v.trk.keys = nil
	env := eval.Env{Params: v.params, Parent: prow, Links: &v.trk, Sub: v.subValue}
	sig := make([]value.Value, len(n.parentExprs))
	for i, e := range n.parentExprs {
		sig[i] = eval.Eval(e, &env)
	}
	deps := v.takeDerefs()
	v.trk.keys = saved
	hasParent := false
	for _, d := range deps {
		if d == p.key {
			hasParent = true
		}
	}
	if !hasParent {
		deps = append(deps, p.key)
	}
	return sig, deps
}

// sigUnchanged recomputes the partition's $parent values; it reports whether they are the same
// (then only the dependency registrations are refreshed).
func (v *view) sigUnchanged(p *partition) bool {
	prow := v.parentRow(p)
	if prow.IsNone() {
		return true // the parent is gone; its windows drop this partition
	}
	sig, deps := v.computeSig(p, prow)
	same := len(sig) == len(p.sig)
	for i := 0; same && i < len(sig); i++ {
		same = value.Identical(sig[i], p.sig[i])
	}
	if same {
		v.removePartDeps(p)
		p.sigDeps = deps
		v.addPartDeps(p, deps)
	}
	return same
}

func (v *view) registerRoute(p *partition, prow value.Value) {
	n := p.n
	switch {
	case n.corr != nil:
		env := eval.Env{Params: v.params, Parent: prow, Links: storeResolver{v.st}}
		cv := eval.Eval(n.corr.parent, &env)
		p.corrVal = cv
		if indexable(cv) {
			p.indexed = true
			p.corrKey = value.HashKey(cv)
			set := n.corrIdx[p.corrKey]
			if set == nil {
				set = map[*partition]struct{}{}
				n.corrIdx[p.corrKey] = set
			}
			set[p] = struct{}{}
			v.rtr.addRoute(v, n.table, n.corr.field, p.corrKey)
		} else {
			p.indexed = false
			n.unindexed[p] = struct{}{}
			v.rtr.addTable(v, n.table)
		}
	case n.route != nil:
		v.rtr.addRoute(v, n.table, n.route.field, n.route.hash)
	default:
		v.rtr.addTable(v, n.table)
	}
}

func (v *view) unregisterRoute(p *partition) {
	n := p.n
	switch {
	case n.corr != nil:
		if p.indexed {
			if set := n.corrIdx[p.corrKey]; set != nil {
				delete(set, p)
				if len(set) == 0 {
					delete(n.corrIdx, p.corrKey)
				}
			}
			v.rtr.removeRoute(v, n.table, n.corr.field, p.corrKey)
		} else {
			delete(n.unindexed, p)
			v.rtr.removeTable(v, n.table)
		}
		p.indexed = false
	case n.route != nil:
		v.rtr.removeRoute(v, n.table, n.route.field, n.route.hash)
	default:
		v.rtr.removeTable(v, n.table)
	}
}

// evalRow evaluates the partition's WHERE (and sort keys when it matches) for row, recording
// the records the evaluation dereferenced.
func (v *view) evalRow(p *partition, row, prow value.Value) (bool, []value.Value, []string) {
	n := p.n
	env := &v.env
	env.Row, env.Parent = row, prow
	v.trk.keys = v.trk.keys[:0]
	match := eval.Matches(n.sel, env)
	var keys []value.Value
	if match && n.ordered {
		keys = eval.OrderKey(n.sel, env)
	}
	if match && n.value != nil {
		project(n.sel, env) // the links its result reads are dependencies of the row
	}
	deps := v.takeDerefs()
	env.Row, env.Parent = value.None(), value.None()
	return match, keys, deps
}

// reeval brings one row of a partition up to date (row NONE: the row is gone; old is the content
// the partition last saw, NONE if the row is new; c is the change of the row, if it changed) and
// applies the resulting window changes.
func (v *view) reeval(p *partition, r *srow, old, row value.Value, c *change) {
	if p.bnd != nil {
		v.reevalBounded(p, r, old, row, c)
		return
	}
	n := p.n
	rs := p.rows[r.seq]
	var match bool
	var keys []value.Value
	var deps []string
	if !row.IsNone() {
		match, keys, deps = v.evalRow(p, row, v.parentRow(p))
		if !match && len(deps) > 0 && n.corr != nil && p.indexed && value.HashKey(row.Get(n.corr.field)) != p.corrKey {
			deps = nil // the row left this partition's bucket; a change back routes it here again
		}
	}
	if rs == nil && !match && len(deps) == 0 {
		return
	}
	if rs == nil {
		rs = &rowState{part: p, r: r}
		p.rows[r.seq] = rs
	}
	v.setRowDeps(rs, deps)
	if rs.inTree {
		if match && (!n.ordered || eval.CompareKeys(n.sel, rs.keys, keys) == 0) {
			// Same position. The stored prefix stays valid (the keys order equally) and must
			// stay as the leaf's inline copy has it.
			if n.ordered {
				rs.keys = keys
			}
			if p.n.value != nil {
				v.valueRow(p, r, false)
			}
			return
		}
		rnk := p.tree.Delete(rs)
		v.onDelete(p, rnk, rs)
	}
	if match {
		rs.keys = keys
		rnk := p.tree.Insert(rs)
		v.onInsert(p, rnk, rs)
	} else if len(deps) == 0 {
		delete(p.rows, r.seq)
	}
	v.flush(p)
	if p.n.value != nil {
		v.valueRow(p, r, true) // it may have moved within the window
	}
}

func (v *view) onInsert(p *partition, r int, rs *rowState) {
	s, l := p.n.start, p.n.limit
	if l == 0 {
		return
	}
	cnt := p.tree.Len()
	switch {
	case r < s:
		if s < cnt {
			v.events = append(v.events, windowEvent{p.tree.At(s), +1})
		}
		if l != math.MaxInt && s+l < cnt {
			v.events = append(v.events, windowEvent{p.tree.At(s + l), -1})
		}
	case r-s < l:
		v.events = append(v.events, windowEvent{rs, +1})
		if l != math.MaxInt && s+l < cnt {
			v.events = append(v.events, windowEvent{p.tree.At(s + l), -1})
		}
	}
}

func (v *view) onDelete(p *partition, r int, rs *rowState) {
	s, l := p.n.start, p.n.limit
	if l == 0 {
		return
	}
	cnt := p.tree.Len() // after the deletion
	switch {
	case r < s:
		if s-1 < cnt {
			v.events = append(v.events, windowEvent{p.tree.At(s - 1), -1})
		}
		if l != math.MaxInt && s+l-1 < cnt {
			v.events = append(v.events, windowEvent{p.tree.At(s + l - 1), +1})
		}
	case r-s < l:
		v.events = append(v.events, windowEvent{rs, -1})
		if l != math.MaxInt && s+l-1 < cnt {
			v.events = append(v.events, windowEvent{p.tree.At(s + l - 1), +1})
		}
	}
}

// flush nets the collected window events (a row that left and re-entered did not move out of
// the window; a bounded partition may hold it as a new rowState by then) and applies them:
// leaves first, then enters.
func (v *view) flush(p *partition) {
	if len(v.events) == 0 {
		return
	}
	evs := append([]windowEvent(nil), v.events...)
	v.events = v.events[:0]
	for i := range evs {
		for j := i + 1; j < len(evs); j++ {
			if evs[j].rs.r == evs[i].rs.r && evs[i].d != 0 {
				evs[i].d += evs[j].d
				evs[j].d = 0
			}
		}
	}
	for _, e := range evs {
		if e.d < 0 {
			v.leave(p, e.rs)
		}
	}
	for _, e := range evs {
		if e.d > 0 {
			v.enter(p, e.rs)
		}
	}
}

// enter makes a row of p's window a member under each parent and materializes its subqueries
// (a value node's row joins the partition's value instead).
func (v *view) enter(p *partition, rs *rowState) {
	if p.n.value != nil {
		v.valueEnter(p, rs)
		return
	}
	n := p.n
	v.forParents(p, func(parent string) { v.addMember(parent, n.rel, rs.key(), n.tbl, +1) })
	for _, c := range n.children {
		v.attach(c, rs.key())
	}
}

// leave undoes enter.
func (v *view) leave(p *partition, rs *rowState) {
	if p.n.value != nil {
		v.valueLeave(p, rs)
		return
	}
	n := p.n
	v.forParents(p, func(parent string) { v.addMember(parent, n.rel, rs.key(), n.tbl, -1) })
	for _, c := range n.children {
		v.detach(c, rs.key())
	}
}

// attach makes child node c's result visible under parent row parentKey.
func (v *view) attach(c *node, parentKey string) {
	if c.shared {
		p := c.parts[""]
		if p == nil {
			p = v.newPartition(c, "")
			v.build(p)
		}
		p.parents[parentKey]++
		if p.parents[parentKey] == 1 {
			for _, rs := range v.window(p) {
				v.addMember(parentKey, c.rel, rs.key(), c.tbl, +1)
			}
		}
		return
	}
	if p := c.parts[parentKey]; p != nil {
		p.refs++
		return
	}
	p := v.newPartition(c, parentKey)
	p.refs = 1
	v.build(p)
}

// detach undoes attach.
func (v *view) detach(c *node, parentKey string) {
	if c.shared {
		p := c.parts[""]
		if p == nil {
			return
		}
		p.parents[parentKey]--
		if p.parents[parentKey] <= 0 {
			delete(p.parents, parentKey)
			for _, rs := range v.window(p) {
				v.addMember(parentKey, c.rel, rs.key(), c.tbl, -1)
			}
		}
		if len(p.parents) == 0 {
			v.teardown(p)
		}
		return
	}
	p := c.parts[parentKey]
	if p == nil {
		return
	}
	p.refs--
	if p.refs <= 0 {
		v.teardown(p)
	}
}

// teardown removes a partition with its window's memberships and subtrees.
func (v *view) teardown(p *partition) {
	if p.dead {
		return
	}
	for _, rs := range v.window(p) {
		v.leave(p, rs)
	}
	for _, rs := range p.rows {
		v.removeRowDeps(rs)
	}
	v.removePartDeps(p)
	v.unregisterRoute(p)
	if p.n.parts[p.key] == p {
		delete(p.n.parts, p.key)
	}
	p.dead = true
	p.rows = nil
	p.tree.Clear()
}

// recompute rebuilds a partition from the store (its $parent values or a subquery it reads
// changed) and applies the difference of its window.
func (v *view) recompute(p *partition) {
	oldWin := v.window(p)
	for _, rs := range p.rows {
		v.removeRowDeps(rs)
	}
	v.removePartDeps(p)
	v.unregisterRoute(p)
	if p.bnd == nil {
		p.rows = map[uint64]*rowState{}
	}
	p.tree.Clear()
	v.fill(p)
	newWin := v.window(p)
	inNew := make(map[string]bool, len(newWin))
	for _, rs := range newWin {
		inNew[rs.key()] = true
	}
	inOld := make(map[string]bool, len(oldWin))
	for _, rs := range oldWin {
		inOld[rs.key()] = true
		if !inNew[rs.key()] {
			v.leave(p, rs)
		}
	}
	for _, rs := range newWin {
		if !inOld[rs.key()] {
			v.enter(p, rs)
		}
	}
}
