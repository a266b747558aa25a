package engine

import (
	"slices"

	"github.com/sp00ky/ssp/surreal/value"
)

// rowState is one row known to a partition: an item of the partition's order-statistics B+tree
// while the row matches the partition's WHERE; in full partitions, rows whose evaluation
// dereferenced links are also kept when they do not match, so that a change of a linked record
// re-evaluates exactly the rows that looked at it.
type rowState struct {
	// keys are the row's ORDER BY sort keys, computed once per evaluation and never mutated. Rows
	// of bounded partitions leave them nil: their keys depend on the row alone and are read off
	// the stored row (rowOrder.entryKeys).
	keys    []value.Value
	r       *srow // the base row (its id, key and sequence number)
	part    *partition
	inTree  bool
	hasDeps bool // its last evaluation read linked records (see view.rowDeps)
}

// key is the row's record id in text form.
func (rs *rowState) key() string { return rs.r.key }

// id is the row's record id.
func (rs *rowState) id() value.Value { return rs.r.id() }

// rowOrder is the order of a btree's rows (implemented by node).
type rowOrder interface {
	// probeKeys and entryKeys return the sort keys of a row being inserted or deleted and of a
	// row in the tree; the results may live in scratch space reused by the next call of the
	// same method.
	probeKeys(rs *rowState) []value.Value
	entryKeys(rs *rowState) []value.Value
	// prefix maps sort keys (and the id) to an order-preserving 64-bit prefix.
	prefix(keys []value.Value, id value.Value) uint64
	// compare orders two rows by sort keys, then id.
	compare(aKeys []value.Value, aID value.Value, bKeys []value.Value, bID value.Value) int
}

// btree is an order-statistics B+tree of rowStates ordered by (prefix, then the full order):
// O(log n) insert, delete, rank and select with few cache misses, because the 64-bit key
// prefixes the binary searches mostly decide on are stored inline in the nodes. Nodes that
// become sparse are merged with a neighbour. Leaves grow on demand, so a partition of a few rows
// stays small.
type btree struct {
	root   *binner // nil while the tree is a single leaf
	leaf   *bleaf  // the root when root == nil
	height int32   // 0: the root is a leaf
	n      int32
	ord    rowOrder
}

const (
	bMax = 64 // entries per node
	bMin = bMax / 4
)

// bleaf holds up to bMax entries; its slice grows with use.
type bleaf struct {
	ents []bent
}

type bent struct {
	pre uint64
	rs  *rowState
}

// bkey is a snapshot of an item's sort position (separators must not alias rowStates, whose
// keys change when they are re-inserted).
type bkey struct {
	pre  uint64
	keys []value.Value
	id   value.Value
}

type binner struct {
	n      int
	cnt    [bMax]int32   // items under each child
	pre    [bMax]uint64  // seps[i].pre, inline for the search
	seps   [bMax]bkey    // seps[i] <= every item of child i (seps[0] unused)
	kids   [bMax]*binner // children when this node is at height 2 or more
	leaves [bMax]*bleaf  // children when this node is at height 1
}

// probe is the position of the row an operation looks for: rs (or, for Find, a rowState of r)
// is the row itself, whose entry compares equal without reading its keys.
type probe struct {
	bkey
	rs *rowState
	r  *srow
}

func (t *btree) probeOf(rs *rowState) probe {
	keys := t.ord.probeKeys(rs)
	id := rs.id()
	return probe{bkey{t.ord.prefix(keys, id), keys, id}, rs, nil}
}

// Len is the number of rows in the tree.
func (t *btree) Len() int { return int(t.n) }

// child returns the index of the child of in that holds (or would hold) the probe's row.
func (t *btree) child(in *binner, p *probe) int {
	lo, hi := 1, in.n // find the last i >= 1 with seps[i] <= p; 0 when none
	for lo < hi {
		m := (lo + hi) / 2
		s := &in.seps[m]
		if in.pre[m] < p.pre || (in.pre[m] == p.pre && t.ord.compare(s.keys, s.id, p.keys, p.id) <= 0) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// leafPos returns the number of items of l ordered before the probe's row.
func (t *btree) leafPos(l *bleaf, p *probe) int {
	lo, hi := 0, len(l.ents)
	for lo < hi {
		m := (lo + hi) / 2
		e := &l.ents[m]
		var c int
		switch {
		case e.pre < p.pre:
			c = -1
		case e.pre > p.pre:
			c = 1
		case e.rs == p.rs || e.rs.r == p.r:
			c = 0
		default:
			c = t.ord.compare(t.ord.entryKeys(e.rs), e.rs.id(), p.keys, p.id)
		}
		if c < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// keyOf returns a separator for entry e (owning its keys).
func (t *btree) keyOf(e bent) bkey {
	keys := e.rs.keys
	if keys == nil {
		keys = slices.Clone(t.ord.entryKeys(e.rs))
	}
	return bkey{pre: e.pre, keys: keys, id: e.rs.id()}
}

// Find returns the row of the tree whose base row is r, located by the position it was inserted
// at (sort keys keys; the row's entry is recognized by r, so r may hold other content by now),
// or nil.
func (t *btree) Find(r *srow, keys []value.Value) *rowState {
	if t.n == 0 {
		return nil
	}
	id := r.id()
	p := probe{bkey{t.ord.prefix(keys, id), keys, id}, nil, r}
	l := t.leaf
	if t.height > 0 {
		in := t.root
		for h := t.height; ; h-- {
			i := t.child(in, &p)
			if h == 1 {
				l = in.leaves[i]
				break
			}
			in = in.kids[i]
		}
	}
	// The first entry at or after p; entries of equal position are the row itself.
	pos := t.leafPos(l, &p)
	if pos < len(l.ents) && l.ents[pos].rs.r == r {
		return l.ents[pos].rs
	}
	return nil
}

// Insert adds rs (not in the tree) and returns its rank.
func (t *btree) Insert(rs *rowState) int {
	if t.root == nil && t.leaf == nil {
		t.leaf = &bleaf{}
	}
	t.n++
	rs.inTree = true
	p := t.probeOf(rs)
	if t.height == 0 {
		rank, right := t.insertLeaf(t.leaf, &p)
		if right != nil {
			in := &binner{n: 2}
			in.leaves[0], in.leaves[1] = t.leaf, right
			in.cnt[0], in.cnt[1] = int32(len(t.leaf.ents)), int32(len(right.ents))
			in.seps[1] = t.keyOf(right.ents[0])
			in.pre[1] = in.seps[1].pre
			t.root, t.leaf, t.height = in, nil, 1
		}
		return rank
	}
	rank, right, sep := t.insertInner(t.root, int(t.height), &p)
	if right != nil {
		in := &binner{n: 2}
		in.kids[0], in.kids[1] = t.root, right
		in.cnt[0], in.cnt[1] = int32(total(t.root)), int32(total(right))
		in.seps[1], in.pre[1] = sep, sep.pre
		t.root = in
		t.height++
	}
	return rank
}

func total(in *binner) int {
	s := 0
	for i := 0; i < in.n; i++ {
		s += int(in.cnt[i])
	}
	return s
}

// insertLeaf inserts rs into l, splitting it when full; it returns rs's position in l (or, when
// it went to the new right leaf, l's remaining size plus its position there) and the new leaf.
func (t *btree) insertLeaf(l *bleaf, p *probe) (int, *bleaf) {
	pos := t.leafPos(l, p)
	n := len(l.ents)
	if n < bMax {
		if n == cap(l.ents) {
			grown := make([]bent, n, min(max(2*n, 2), bMax))
			copy(grown, l.ents)
			l.ents = grown
		}
		l.ents = l.ents[:n+1]
		copy(l.ents[pos+1:], l.ents[pos:n])
		l.ents[pos] = bent{p.pre, p.rs}
		return pos, nil
	}
	half := bMax / 2
	right := &bleaf{ents: make([]bent, n-half, bMax)}
	copy(right.ents, l.ents[half:])
	clear(l.ents[half:])
	l.ents = l.ents[:half]
	if pos <= half {
		r, _ := t.insertLeaf(l, p)
		return r, right
	}
	r, _ := t.insertLeaf(right, p)
	return half + r, right
}

// insertInner inserts rs under in (at height h) and returns its rank within in, plus the new
// right sibling and its separator when in split.
func (t *btree) insertInner(in *binner, h int, p *probe) (int, *binner, bkey) {
	i := t.child(in, p)
	rank := 0
	for j := 0; j < i; j++ {
		rank += int(in.cnt[j])
	}
	if h == 1 {
		r, right := t.insertLeaf(in.leaves[i], p)
		rank += r
		in.cnt[i] = int32(len(in.leaves[i].ents))
		if right != nil {
			t.insertChild(in, i+1, nil, right, int32(len(right.ents)), t.keyOf(right.ents[0]))
		}
	} else {
		r, right, sep := t.insertInner(in.kids[i], h-1, p)
		rank += r
		if right != nil {
			rc := int32(total(right))
			in.cnt[i] += 1 - rc
			t.insertChild(in, i+1, right, nil, rc, sep)
		} else {
			in.cnt[i]++
		}
	}
	if in.n <= bMax-1 {
		return rank, nil, bkey{}
	}
	// Split a full node (it holds bMax children: one slot is kept free for the insertion).
	half := in.n / 2
	right := &binner{n: in.n - half}
	copy(right.cnt[:], in.cnt[half:in.n])
	copy(right.pre[:], in.pre[half:in.n])
	copy(right.seps[:], in.seps[half:in.n])
	copy(right.kids[:], in.kids[half:in.n])
	copy(right.leaves[:], in.leaves[half:in.n])
	sep := right.seps[0]
	right.seps[0], right.pre[0] = bkey{}, 0
	for j := half; j < in.n; j++ {
		in.cnt[j], in.pre[j], in.seps[j], in.kids[j], in.leaves[j] = 0, 0, bkey{}, nil, nil
	}
	in.n = half
	return rank, right, sep
}

// insertChild puts a new child at index i of in.
func (t *btree) insertChild(in *binner, i int, kid *binner, lf *bleaf, cnt int32, sep bkey) {
	copy(in.cnt[i+1:in.n+1], in.cnt[i:in.n])
	copy(in.pre[i+1:in.n+1], in.pre[i:in.n])
	copy(in.seps[i+1:in.n+1], in.seps[i:in.n])
	copy(in.kids[i+1:in.n+1], in.kids[i:in.n])
	copy(in.leaves[i+1:in.n+1], in.leaves[i:in.n])
	in.cnt[i], in.pre[i], in.seps[i], in.kids[i], in.leaves[i] = cnt, sep.pre, sep, kid, lf
	in.n++
}

// removeChild deletes child i of in.
func removeChild(in *binner, i int) {
	copy(in.cnt[i:], in.cnt[i+1:in.n])
	copy(in.pre[i:], in.pre[i+1:in.n])
	copy(in.seps[i:], in.seps[i+1:in.n])
	copy(in.kids[i:], in.kids[i+1:in.n])
	copy(in.leaves[i:], in.leaves[i+1:in.n])
	in.n--
	in.cnt[in.n], in.pre[in.n], in.seps[in.n], in.kids[in.n], in.leaves[in.n] = 0, 0, bkey{}, nil, nil
}

// Delete removes rs (which must be in the tree, with the sort keys it was inserted with) and
// returns the rank it had.
func (t *btree) Delete(rs *rowState) int {
	rs.inTree = false
	t.n--
	p := t.probeOf(rs)
	if t.height == 0 {
		pos := t.leafPos(t.leaf, &p)
		deleteAt(t.leaf, pos)
		return pos
	}
	rank := t.deleteInner(t.root, int(t.height), &p)
	for t.height > 0 && t.root.n == 1 {
		if t.height == 1 {
			t.leaf, t.root = t.root.leaves[0], nil
		} else {
			t.root = t.root.kids[0]
		}
		t.height--
	}
	return rank
}

func deleteAt(l *bleaf, pos int) {
	n := len(l.ents)
	copy(l.ents[pos:], l.ents[pos+1:])
	l.ents[n-1] = bent{}
	l.ents = l.ents[:n-1]
}

func (t *btree) deleteInner(in *binner, h int, p *probe) int {
	i := t.child(in, p)
	rank := 0
	for j := 0; j < i; j++ {
		rank += int(in.cnt[j])
	}
	in.cnt[i]--
	if h == 1 {
		l := in.leaves[i]
		pos := t.leafPos(l, p)
		deleteAt(l, pos)
		rank += pos
		if len(l.ents) < bMin {
			t.mergeLeaf(in, i)
		}
		return rank
	}
	rank += t.deleteInner(in.kids[i], h-1, p)
	if in.kids[i].n < bMin {
		t.mergeInner(in, i)
	}
	return rank
}

// mergeLeaf folds the sparse leaf i of in into a neighbour when both fit in one leaf.
func (t *btree) mergeLeaf(in *binner, i int) {
	if len(in.leaves[i].ents) == 0 {
		removeChild(in, i)
		return
	}
	for _, j := range [2]int{i - 1, i + 1} {
		if j < 0 || j >= in.n {
			continue
		}
		a, b := min(i, j), max(i, j) // fold the right one of the pair into the left one
		la, lb := in.leaves[a], in.leaves[b]
		if len(la.ents)+len(lb.ents) > bMax {
			continue
		}
		if cap(la.ents) < bMax {
			grown := make([]bent, len(la.ents), bMax)
			copy(grown, la.ents)
			la.ents = grown
		}
		la.ents = append(la.ents, lb.ents...)
		in.cnt[a] += in.cnt[b]
		removeChild(in, b)
		return
	}
}

// mergeInner folds the sparse inner child i of in into a neighbour when both fit in one node.
func (t *btree) mergeInner(in *binner, i int) {
	if in.kids[i].n == 0 {
		removeChild(in, i)
		return
	}
	for _, j := range [2]int{i - 1, i + 1} {
		if j < 0 || j >= in.n {
			continue
		}
		a, b := min(i, j), max(i, j)
		ka, kb := in.kids[a], in.kids[b]
		if ka.n+kb.n > bMax-1 {
			continue
		}
		// kb's first child gets kb's separator from in.
		kb.seps[0], kb.pre[0] = in.seps[b], in.pre[b]
		copy(ka.cnt[ka.n:], kb.cnt[:kb.n])
		copy(ka.pre[ka.n:], kb.pre[:kb.n])
		copy(ka.seps[ka.n:], kb.seps[:kb.n])
		copy(ka.kids[ka.n:], kb.kids[:kb.n])
		copy(ka.leaves[ka.n:], kb.leaves[:kb.n])
		ka.n += kb.n
		in.cnt[a] += in.cnt[b]
		removeChild(in, b)
		return
	}
}

// At returns the row of rank i, or nil when i is out of range.
func (t *btree) At(i int) *rowState {
	if i < 0 || i >= int(t.n) {
		return nil
	}
	if t.height == 0 {
		return t.leaf.ents[i].rs
	}
	in := t.root
	for h := t.height; ; h-- {
		j := 0
		for j < in.n-1 && i >= int(in.cnt[j]) {
			i -= int(in.cnt[j])
			j++
		}
		if h == 1 {
			return in.leaves[j].ents[i].rs
		}
		in = in.kids[j]
	}
}

// Last returns the row of the highest rank, or nil when the tree is empty.
func (t *btree) Last() *rowState { return t.At(int(t.n) - 1) }

// Walk calls fn for the rows of rank in [from, to), in order.
func (t *btree) Walk(from, to int, fn func(*rowState)) {
	if from < 0 {
		from = 0
	}
	if to > int(t.n) {
		to = int(t.n)
	}
	if from >= to {
		return
	}
	if t.height == 0 {
		for i := from; i < to; i++ {
			fn(t.leaf.ents[i].rs)
		}
		return
	}
	walkInner(t.root, int(t.height), 0, from, to, fn)
}

func walkInner(in *binner, h, base, from, to int, fn func(*rowState)) {
	for j := 0; j < in.n && base < to; j++ {
		c := int(in.cnt[j])
		if base+c > from {
			if h == 1 {
				l := in.leaves[j]
				for k := max(from-base, 0); k < len(l.ents) && base+k < to; k++ {
					fn(l.ents[k].rs)
				}
			} else {
				walkInner(in.kids[j], h-1, base, from, to, fn)
			}
		}
		base += c
	}
}

// Clear empties the tree.
func (t *btree) Clear() {
	t.root, t.leaf, t.height, t.n = nil, nil, 0, 0
}
