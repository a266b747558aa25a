package engine

import (
	"github.com/sp00ky/ssp/surreal/value"
)

// Bounded windows. A partition of a node with LIMIT whose ORDER BY reads plain fields of the row
// keeps only a prefix of its matching rows: the rows before the window (START), the window and a
// small buffer of the next matching rows. The rows come from the node's shared index (index.go),
// which orders every row of the table by (group of the correlation or route value, sort keys,
// id): the partition remembers how far it has walked its group (the frontier) and holds exactly
// the matching rows at or before the frontier. So
//
//   - a changed row positioned after the frontier is ignored without evaluating WHERE (it is not
//     in the window, and a later walk evaluates it against the store as it is then);
//   - a row at or before the frontier is evaluated and enters or leaves the tree as usual;
//   - when the tree falls below the window's end and the walk has not reached the end of the
//     group, the partition walks on from the frontier, evaluating WHERE, until the buffer is
//     full again (O(log n) plus the rows skipped; a very selective filter walks further);
//   - when the tree grows past the window plus the buffer, its last rows are dropped and the
//     frontier moves back to the new last row.
//
// Rows beyond the frontier and rows that do not match cost the partition nothing. Nothing here
// tracks record links: if any evaluation reads a linked record (a WHERE through a link), the
// partition is rebuilt as a full partition, which tracks them, and the node's later partitions
// start full (node.noBound).

// bound is the walk state of a bounded partition.
type bound struct {
	g        uint64 // the group's key word bits in the index (0 without a prefix field)
	front    ipos   // index position of the last entry walked (owns its keys)
	walked   bool   // front is set; otherwise nothing has been walked
	complete bool   // the walk reached the end of the group: the tree holds every matching row
	tainted  bool   // an evaluation read a linked record: the partition must become full
}

// need is the number of rows a bounded partition must hold (unless its group has no more):
// those before the window and the window itself.
func (n *node) need() int {
	if n.limit == 0 {
		return 0
	}
	return n.start + n.limit
}

// keep is the number of rows a bounded partition holds at most: need plus a buffer of rows
// just beyond the window (Options.WindowSlack), so that members leaving rarely cost a walk.
func (n *node) keep() int {
	if n.limit == 0 {
		return 0
	}
	slack := n.v.slack
	switch {
	case slack == 0:
		slack = min(n.limit/4+4, 16)
	case slack < 0:
		slack = 0
	}
	return n.start + n.limit + slack
}

// startBound prepares a bounded partition's walk; it reports false when the partition cannot be
// bounded (a correlation value that cannot be indexed).
func (v *view) startBound(p *partition) bool {
	n := p.n
	hk := ""
	switch {
	case n.corr != nil:
		if !p.indexed {
			return false
		}
		hk = p.corrKey
	case n.route != nil:
		hk = n.route.hash
	}
	*p.bnd = bound{g: n.ix.group(hk), front: ipos{keys: p.bnd.front.keys[:0]}}
	return true
}

// setFront moves the frontier to the index position of row rs of the partition's tree.
func (b *bound) setFront(n *node, rs *rowState) {
	keys := n.entryKeys(rs)
	id := rs.id()
	b.front.k = n.ix.word(b.g, n.prefix(keys, id))
	b.front.keys = append(b.front.keys[:0], keys...)
	b.front.id = id
	b.walked = true
}

// within reports whether index position pos lies at or before the frontier.
func (b *bound) within(ix *oindex, pos *ipos) bool {
	return b.complete || (b.walked && ix.cmpPos(pos, &b.front) <= 0)
}

// refill walks the partition's group from the frontier, adding matching rows to the tree (no
// membership effects), until the tree holds target rows or the group ends.
func (v *view) refill(p *partition, prow value.Value, target int) {
	b, n := p.bnd, p.n
	ix := n.ix
	if b.complete || p.tree.Len() >= target {
		return
	}
	var cur icursor
	if b.walked {
		cur = ix.seekAfter(&b.front)
	} else {
		cur = ix.seekWord(b.g)
	}
	for p.tree.Len() < target {
		r, k, ok := cur.next()
		if !ok || !ix.sameGroup(k, b.g) {
			b.complete = true
			return
		}
		v.st.walked++
		b.front.k = k
		b.front.keys = ix.keysOf(r.row, b.front.keys[:0])
		b.front.id = r.id()
		b.walked = true
		match, _, deps := v.evalRow(p, r.row, prow)
		if len(deps) > 0 {
			b.tainted = true
		}
		if match {
			p.tree.Insert(&rowState{part: p, r: r})
		}
	}
}

// trim drops the rows past keep from the tree, moving the frontier back.
func (v *view) trim(p *partition) {
	b, n := p.bnd, p.n
	for keep := n.keep(); p.tree.Len() > keep; {
		p.tree.Delete(p.tree.Last())
		b.complete = false
		if nl := p.tree.Last(); nl != nil {
			b.setFront(n, nl)
		} else {
			b.walked = false
		}
	}
}

// reevalBounded is reeval for a bounded partition. Its rows keep no sort keys and the partition
// no map of them: the changed row is found in the tree by the position its old content had.
func (v *view) reevalBounded(p *partition, r *srow, old, row value.Value, c *change) {
	b, n := p.bnd, p.n
	ix := n.ix
	// The sort keys of the old and new content, as the store computed them for the index.
	oldKeys, newKeys := v.oldKeys[:0], v.posKeys[:0]
	if c != nil && ix.step == c.step {
		oldKeys, newKeys = ix.oldKeys, ix.newKeys
	} else {
		if !old.IsNone() {
			oldKeys = ix.keysOf(old, oldKeys)
			v.oldKeys = oldKeys
		}
		if !row.IsNone() {
			newKeys = ix.keysOf(row, newKeys)
			v.posKeys = newKeys
		}
	}
	var rs *rowState
	if !old.IsNone() && p.tree.Len() > 0 {
		rs = p.tree.Find(r, oldKeys)
	}
	var pos ipos
	within := false
	if !row.IsNone() {
		// The row's position in the partition's group: were it in another group it would not
		// match (the prefix field's equality is part of WHERE), so the group is not looked up.
		id := r.id()
		pos = ipos{k: ix.word(b.g, n.prefix(newKeys, id)), keys: newKeys, id: id}
		within = b.within(ix, &pos)
	}
	if rs == nil && !within {
		return // beyond the frontier before and after: a later walk sees it as it is then
	}
	prow := v.parentRow(p)
	match := false
	if within {
		var deps []string
		match, _, deps = v.evalRow(p, row, prow)
		if len(deps) > 0 {
			b.tainted = true
		}
	}
	if rs != nil {
		id := r.id()
		if match && n.compare(oldKeys, id, newKeys, id) == 0 && n.prefix(oldKeys, id) == n.prefix(newKeys, id) {
			if p.n.value != nil {
				v.valueRow(p, r, false)
			}
			v.endBounded(p) // same position
			return
		}
		rs.keys = oldKeys // the position it was inserted at
		rnk := p.tree.Delete(rs)
		rs.keys = nil
		if p.tree.Len() < n.need() {
			// Before the window's new boundary row is looked up (the walk appends past every
			// row in the tree, so the deleted row's rank stays valid). The walk may meet the
			// row again, if it moved past the frontier.
			v.refill(p, prow, n.keep())
		}
		v.onDelete(p, rnk, rs)
	}
	if match {
		// Within the frontier as it was before any walk above, so no walk has met it.
		if rs == nil {
			rs = &rowState{part: p, r: r}
		}
		v.onInsert(p, p.tree.Insert(rs), rs)
	}
	v.trim(p)
	v.flush(p)
	if p.n.value != nil {
		v.valueRow(p, r, true) // it may have moved within the window
	}
	v.endBounded(p)
}

// endBounded turns a bounded partition whose evaluations read linked records into a full one.
func (v *view) endBounded(p *partition) {
	if p.bnd == nil || !p.bnd.tainted {
		return
	}
	p.n.noBound = true
	p.bnd = nil
	v.recompute(p)
}
