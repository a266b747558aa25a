package engine

import (
	"slices"

	"github.com/sp00ky/ssp/surreal/eval"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// view is one materialized query pipeline: the compiled node tree with its per-operator state
// (partitions holding ordered windows), the membership with reference counts, and the reverse
// index of dereferenced records. Views with the same normalized query and params share one
// pipeline; names holds the view ids attached to it. A view only reads the store and mutates
// its own state (plus its routing interests), so views are independent units.
type view struct {
	key    string
	names  []string // sorted
	params value.Value

	st  *store
	rtr *router

	root     *node
	nodes    []*node
	byTable  map[string][]*node // nodes whose FROM is the table
	exprDeps map[string][]*node // nodes whose expression subqueries read the table
	subs     map[*surql.Subquery]subRef

	members map[string]*memberList // record key → its (parent, rel) memberships
	derefs  map[string]*depSet     // record key → rows and partitions whose evaluation read it
	rowDeps map[*rowState][]string // the records a row's last evaluation read (rows that read any)

	mark  uint64 // router deduplication
	slack int    // Options.WindowSlack

	vals *viewValues // value nodes' state (valuesub.go); nil without value nodes

	// Scratch state, reused (a view is single-threaded).
	env          eval.Env
	trk          tracker
	events       []windowEvent
	scratchParts []*partition
	posKeys      []value.Value // sort keys of a bounded partition's changed row
	oldKeys      []value.Value // and of its previous content
	// The current step (0 outside apply): member refs touched in it carry its number and their
	// count before it, and are listed in touched; refs that drop to zero stay until the step ends.
	stepNo  uint64
	inStep  bool
	touched []touchedRef
}

type touchedRef struct {
	key, parent, rel string
	ml               *memberList
}

type subRef struct {
	n  *node
	es *exprSub
}

// memberList holds the memberships of one record: at the top level (kept inline: most members
// have only that one) and under parent rows.
type memberList struct {
	tbl  *table      // the member's table in the store (for its version)
	top  memberCount // the top-level membership (no parent, no rel); zero when absent
	refs []memberRef // memberships under parent rows
}

type memberRef struct {
	parent, rel string
	memberCount
}

// memberCount is the reference count of one membership.
type memberCount struct {
	n      int32
	before int32  // count before the step `step`
	step   uint64 // the last step that touched it (0: none since it was added)
}

// get returns the count of membership (parent, rel), or nil when it is absent.
func (ml *memberList) get(parent, rel string) *memberCount {
	if parent == "" && rel == "" {
		if ml.top == (memberCount{}) {
			return nil
		}
		return &ml.top
	}
	for i := range ml.refs {
		if ml.refs[i].parent == parent && ml.refs[i].rel == rel {
			return &ml.refs[i].memberCount
		}
	}
	return nil
}

// add returns the count of membership (parent, rel), adding it when absent. The pointer is valid
// until the next add or drop.
func (ml *memberList) add(parent, rel string) *memberCount {
	if c := ml.get(parent, rel); c != nil {
		return c
	}
	if parent == "" && rel == "" {
		return &ml.top
	}
	ml.refs = append(ml.refs, memberRef{parent: parent, rel: rel})
	return &ml.refs[len(ml.refs)-1].memberCount
}

// drop removes membership (parent, rel).
func (ml *memberList) drop(parent, rel string) {
	if parent == "" && rel == "" {
		ml.top = memberCount{}
		return
	}
	for i := range ml.refs {
		if ml.refs[i].parent == parent && ml.refs[i].rel == rel {
			ml.refs = append(ml.refs[:i], ml.refs[i+1:]...)
			return
		}
	}
}

// each calls fn for every membership of the list.
func (ml *memberList) each(fn func(parent, rel string, c *memberCount)) {
	if ml.top != (memberCount{}) {
		fn("", "", &ml.top)
	}
	for i := range ml.refs {
		fn(ml.refs[i].parent, ml.refs[i].rel, &ml.refs[i].memberCount)
	}
}

type depSet struct {
	rows  map[*rowState]struct{}
	parts map[*partition]struct{}
}

// tracker is the eval.Resolver views use: it reads the store and records every record id that
// was looked up (found or not).
type tracker struct {
	st   *store
	keys []string
}

// Record implements eval.Resolver.
func (t *tracker) Record(id value.Value) (value.Value, bool) {
	if id.Kind() == value.KindString {
		r, ok := value.ParseRecord(id.AsString())
		if !ok {
			return value.None(), false
		}
		id = r
	}
	if id.Kind() != value.KindRecord {
		return value.None(), false
	}
	k := value.RecordString(id)
	t.keys = append(t.keys, k)
	return t.st.get(id.Table(), k)
}

// addName attaches view id name to the pipeline.
func (v *view) addName(name string) {
	i, found := slices.BinarySearch(v.names, name)
	if !found {
		v.names = slices.Insert(v.names, i, name)
	}
}

// removeName detaches view id name; it reports whether names remain.
func (v *view) removeName(name string) bool {
	if i, found := slices.BinarySearch(v.names, name); found {
		v.names = slices.Delete(v.names, i, i+1)
	}
	return len(v.names) > 0
}

func newView(key string, params value.Value, st *store, rtr *router) *view {
	v := &view{
		key: key, params: params, st: st, rtr: rtr,
		byTable: map[string][]*node{}, exprDeps: map[string][]*node{}, subs: map[*surql.Subquery]subRef{},
		members: map[string]*memberList{}, derefs: map[string]*depSet{}, rowDeps: map[*rowState][]string{},
	}
	v.trk.st = st
	v.env = eval.Env{Params: params, Links: &v.trk, Sub: v.subValue, SubHas: v.subHas}
	return v
}

// start acquires the nodes' shared indexes, wires the nodes into the routing tables and
// materializes the top level.
func (v *view) start() {
	for _, n := range v.nodes {
		n.tbl = v.st.table(n.table)
		switch {
		case n.boundable:
			n.ix = v.st.acquireIndex(n.table, n.ixField, n.ixTerms)
		case n.ixField != "" && n.ixField != "id":
			v.st.acquireLookup(n.table, n.ixField)
		}
	}
	for _, n := range v.nodes {
		v.byTable[n.table] = append(v.byTable[n.table], n)
		for _, es := range n.exprSubs {
			v.subs[es.q] = subRef{n, es}
			if es.vn != nil {
				continue // maintained by its value node
			}
			for t := range es.tables {
				v.addExprDep(n, t)
			}
		}
	}
	top := v.newPartition(v.root, "")
	top.refs = 1
	v.build(top)
	if v.vals != nil {
		v.settleValues()
	}
}

func (v *view) addExprDep(n *node, tbl string) {
	for _, x := range v.exprDeps[tbl] {
		if x == n {
			return
		}
	}
	v.exprDeps[tbl] = append(v.exprDeps[tbl], n)
	v.rtr.addTable(v, tbl)
}

// stop releases every partition, index and routing interest of the view.
func (v *view) stop() {
	for _, n := range v.nodes {
		for _, p := range n.parts {
			v.teardown(p)
		}
	}
	for tbl, ns := range v.exprDeps {
		for range ns {
			v.rtr.removeTable(v, tbl)
		}
	}
	v.exprDeps = map[string][]*node{}
	for _, n := range v.nodes {
		switch {
		case n.ix != nil:
			v.st.releaseIndex(n.ix)
			n.ix = nil
		case n.ixField != "" && n.ixField != "id":
			v.st.releaseLookup(n.table, n.ixField)
		}
	}
}

// addMember changes the count of membership (parent, rel, key) by d.
func (v *view) addMember(parent, rel, key string, tbl *table, d int32) {
	ml := v.members[key]
	if ml == nil {
		ml = &memberList{tbl: tbl}
		v.members[key] = ml
	}
	r := ml.add(parent, rel)
	if v.inStep && r.step != v.stepNo {
		r.step, r.before = v.stepNo, r.n
		v.touched = append(v.touched, touchedRef{key: key, parent: parent, rel: rel, ml: ml})
	}
	r.n += d
	if r.n <= 0 && !v.inStep {
		v.dropRef(key, ml, parent, rel)
	}
}

func (v *view) dropRef(key string, ml *memberList, parent, rel string) {
	ml.drop(parent, rel)
	if ml.top == (memberCount{}) && len(ml.refs) == 0 && v.members[key] == ml {
		delete(v.members, key)
	}
}

// setRowDeps records that rs's last evaluation read the records keys (replacing what the
// previous evaluation read).
func (v *view) setRowDeps(rs *rowState, keys []string) {
	var old []string
	if !rs.hasDeps && len(keys) == 0 {
		return // the common case: no dependencies before or now
	}
	if rs.hasDeps {
		old = v.rowDeps[rs]
		if slices.Equal(old, keys) {
			return
		}
	}
	// The new dependencies first, so that one kept never empties its set on the way (a value
	// partition lives while its sets do).
	for _, k := range keys {
		ds := v.dep(k)
		if ds.rows == nil {
			ds.rows = map[*rowState]struct{}{}
		}
		ds.rows[rs] = struct{}{}
	}
	for _, k := range old {
		if slices.Contains(keys, k) {
			continue
		}
		if ds := v.derefs[k]; ds != nil {
			delete(ds.rows, rs)
			v.dropDepIfEmpty(k, ds)
		}
	}
	if len(keys) == 0 {
		delete(v.rowDeps, rs)
		rs.hasDeps = false
		return
	}
	v.rowDeps[rs] = keys
	rs.hasDeps = true
}

func (v *view) removeRowDeps(rs *rowState) {
	if !rs.hasDeps {
		return
	}
	for _, k := range v.rowDeps[rs] {
		if ds := v.derefs[k]; ds != nil {
			delete(ds.rows, rs)
			v.dropDepIfEmpty(k, ds)
		}
	}
	delete(v.rowDeps, rs)
	rs.hasDeps = false
}

func (v *view) addPartDeps(p *partition, keys []string) {
	for _, k := range keys {
		ds := v.dep(k)
		if ds.parts == nil {
			ds.parts = map[*partition]struct{}{}
		}
		ds.parts[p] = struct{}{}
	}
}

func (v *view) removePartDeps(p *partition) {
	for _, k := range p.sigDeps {
		if ds := v.derefs[k]; ds != nil {
			delete(ds.parts, p)
			v.dropDepIfEmpty(k, ds)
		}
	}
	p.sigDeps = nil
}

// dep returns the dependency set of key k: a record key, or a value partition's dependency key
// (valuesub.go; those start with a zero byte and need no routing).
func (v *view) dep(k string) *depSet {
	ds := v.derefs[k]
	if ds == nil {
		ds = &depSet{}
		v.derefs[k] = ds
		if k != "" && k[0] == 0 {
			v.vals.bind(k)
		} else {
			v.rtr.addRecord(v, k)
		}
	}
	return ds
}

func (v *view) dropDepIfEmpty(k string, ds *depSet) {
	if len(ds.rows) == 0 && len(ds.parts) == 0 {
		delete(v.derefs, k)
		if k != "" && k[0] == 0 {
			v.vals.unbind(k)
			return
		}
		v.rtr.removeRecord(v, k)
	}
}

// takeDerefs returns the deduplicated record keys the tracker collected since it was reset.
func (v *view) takeDerefs() []string {
	ks := v.trk.keys
	if len(ks) == 0 {
		return nil
	}
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		dup := false
		for _, o := range out {
			if o == k {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, k)
		}
	}
	v.trk.keys = v.trk.keys[:0]
	return out
}

// change is one applied base-data change as views see it.
type change struct {
	table, key string
	seq        uint64      // the row's store sequence number
	step       uint64      // the engine's step number of the change
	r          *srow       // the row's handle (the existing row, or set by store.apply)
	old, new   value.Value // NONE when absent
	changed    bool        // the row's content (or version) differs
	hashes     []fieldHash // HashKeys of fields of old and new, computed once per change
	hbuf       [4]fieldHash
}

type fieldHash struct {
	field, old, new string
}

// hash returns value.HashKey of field of the old (or new) row, computed once per change.
func (c *change) hash(field string, old bool) string {
	for i := range c.hashes {
		if c.hashes[i].field == field {
			if old {
				return c.hashes[i].old
			}
			return c.hashes[i].new
		}
	}
	h := fieldHash{field: field}
	if !c.old.IsNone() {
		h.old = value.HashKey(c.old.Get(field))
	}
	if !c.new.IsNone() {
		h.new = value.HashKey(c.new.Get(field))
	}
	c.hashes = append(c.hashes, h)
	if old {
		return h.old
	}
	return h.new
}

// apply brings the view up to date with one change (the store already holds the new row) and
// returns its membership delta (nil when nothing changed).
func (v *view) apply(c *change) *Delta {
	v.stepNo++
	v.inStep = true
	v.touched = v.touched[:0]

	// Expression subqueries reading the table: re-evaluate cached values; recompute nodes whose
	// subquery results may have changed (after the row-level work below).
	var recompute []*node
	for _, n := range v.exprDeps[c.table] {
		need := false
		for _, es := range n.exprSubs {
			if !es.tables[c.table] || es.vn != nil {
				continue
			}
			if es.correlated || !es.valid {
				need = true
				continue
			}
			old := es.val
			es.valid = false
			if !value.Identical(old, v.subValue(es.q, &eval.Env{Params: v.params})) {
				need = true
			}
		}
		if need {
			recompute = append(recompute, n)
		}
	}

	// The changed row in the partitions of nodes over its table.
	for _, n := range v.byTable[c.table] {
		ps := v.targets(n, c)
		v.scratchParts = nil // owned by this loop until it ends
		for i, p := range ps {
			// A partition created during this step (a parent entered a window) was built from
			// the store as it is now: it has seen the change. (Nodes are listed children first,
			// so this does not happen today; a bounded partition must not see it twice, as it
			// finds the changed row by its old content.)
			if !p.dead && p.born != v.stepNo {
				v.reeval(p, c.r, c.old, c.new, c)
			}
			ps[i] = nil
		}
		v.scratchParts = ps[:0]
	}

	// Rows and partitions whose evaluation dereferenced the changed record.
	if ds := v.derefs[c.key]; ds != nil {
		rows := make([]*rowState, 0, len(ds.rows))
		for rs := range ds.rows {
			rows = append(rows, rs)
		}
		parts := make([]*partition, 0, len(ds.parts))
		for p := range ds.parts {
			parts = append(parts, p)
		}
		for _, rs := range rows {
			p := rs.part
			if p.dead || p.rows[rs.r.seq] != rs {
				continue
			}
			v.reeval(p, rs.r, rs.r.live(), rs.r.live(), nil)
		}
		for _, p := range parts {
			if p.dead {
				continue
			}
			if !v.sigUnchanged(p) {
				v.recompute(p)
			}
		}
	}

	for _, n := range recompute {
		ps := make([]*partition, 0, len(n.parts))
		for _, p := range n.parts {
			ps = append(ps, p)
		}
		for _, p := range ps {
			if !p.dead {
				v.recompute(p)
			}
		}
	}
	if v.vals != nil {
		v.settleValues()
	}
	return v.delta(c)
}

// targets lists the partitions of n the changed row may belong to (old or new row).
func (v *view) targets(n *node, c *change) []*partition {
	if n.corr == nil {
		out := v.scratchParts[:0]
		for _, p := range n.parts {
			out = append(out, p)
		}
		return out
	}
	out := v.scratchParts[:0]
	seen := func(p *partition) bool {
		for _, o := range out {
			if o == p {
				return true
			}
		}
		return false
	}
	for _, old := range [2]bool{true, false} {
		if (old && c.old.IsNone()) || (!old && c.new.IsNone()) {
			continue
		}
		for p := range n.corrIdx[c.hash(n.corr.field, old)] {
			if !seen(p) {
				out = append(out, p)
			}
		}
	}
	for p := range n.unindexed {
		if !seen(p) {
			out = append(out, p)
		}
	}
	return out
}

// delta ends the step: it turns the membership transitions into a Delta (nil when nothing
// changed) and drops the refs that fell to zero.
func (v *view) delta(c *change) *Delta {
	v.inStep = false
	var d *Delta
	get := func() *Delta {
		if d == nil {
			d = &Delta{}
		}
		return d
	}
	for _, t := range v.touched {
		r := t.ml.get(t.parent, t.rel)
		if r == nil {
			continue // already handled (listed twice)
		}
		id := MemberKey{Parent: t.parent, Rel: t.rel, Key: t.key}
		switch {
		case r.before <= 0 && r.n > 0:
			get().Added = append(get().Added, v.member(id, t.ml.tbl, c))
		case r.before > 0 && r.n <= 0:
			get().Removed = append(get().Removed, v.member(id, t.ml.tbl, c))
		}
	}
	if c.changed && !c.new.IsNone() {
		if ml := v.members[c.key]; ml != nil {
			ml.each(func(parent, rel string, r *memberCount) {
				if r.n <= 0 || (r.step == v.stepNo && r.before <= 0) {
					return
				}
				get().Updated = append(get().Updated, v.member(MemberKey{Parent: parent, Rel: rel, Key: c.key}, ml.tbl, c))
			})
		}
	}
	for _, t := range v.touched {
		if r := t.ml.get(t.parent, t.rel); r != nil && r.n <= 0 {
			v.dropRef(t.key, t.ml, t.parent, t.rel)
		}
	}
	for i := range v.touched {
		v.touched[i] = touchedRef{}
	}
	v.touched = v.touched[:0]
	if d == nil {
		return nil
	}
	SortMembers(d.Added)
	SortMembers(d.Removed)
	SortMembers(d.Updated)
	return d
}

func (v *view) member(id MemberKey, tbl *table, c *change) Member {
	m := Member{Key: id.Key, Parent: id.Parent, Rel: id.Rel, Version: 1}
	if r := tbl.rows[id.Key]; r != nil {
		m.Version = eval.Version(r.row)
	} else if id.Key == c.key && !c.old.IsNone() {
		m.Version = eval.Version(c.old)
	}
	return m
}

// list returns the current membership sorted by Parent, Rel, Key.
func (v *view) list() []Member {
	out := make([]Member, 0, len(v.members))
	for k, ml := range v.members {
		ver := int64(1)
		if r := ml.tbl.rows[k]; r != nil {
			ver = eval.Version(r.row)
		}
		ml.each(func(parent, rel string, r *memberCount) {
			if r.n > 0 {
				out = append(out, Member{Key: k, Version: ver, Parent: parent, Rel: rel})
			}
		})
	}
	SortMembers(out)
	return out
}

// subValue is the eval.Env.Sub of the view: uncorrelated subqueries that belong to a node's
// expressions are cached until a change of one of their tables; everything else is evaluated
// from the store.
func (v *view) subValue(q *surql.Subquery, env *eval.Env) value.Value {
	if vn := v.valueSub(q); vn != nil {
		p := v.valuePart(vn, env.Row)
		v.depOn(p, wholeValue)
		return v.valueOf(p)
	}
	if ref, ok := v.subs[q]; ok && !ref.es.correlated {
		es := ref.es
		if es.valid {
			return es.val
		}
		saved := v.trk.keys
		v.trk.keys = nil
		val := v.runSubquery(q, value.None(), &v.trk)
		for _, k := range v.trk.keys {
			if r, ok := value.ParseRecord(k); ok && !es.tables[r.Table()] {
				es.tables[r.Table()] = true
				v.addExprDep(ref.n, r.Table())
			}
		}
		v.trk.keys = saved
		es.val, es.valid = val, true
		return val
	}
	return v.runSubquery(q, env.Row, env.Links)
}
