package engine

import "github.com/sp00ky/ssp/surreal/value"

// rowState is one row known to a partition: a node of the partition's order-statistics treap
// while the row matches the partition's WHERE, and the record ids its last evaluation
// dereferenced (kept also for rows that do not match, so that a change of a linked record
// re-evaluates exactly the rows that looked at it).
type rowState struct {
	left, right *rowState
	size        int32
	prio        uint32
	inTree      bool
	part        *partition
	key         string        // the record id's text form, value.RecordString(id)
	id          value.Value   // the record id
	keys        []value.Value // ORDER BY sort keys, computed once per evaluation
	derefs      []string      // record keys dereferenced by the last evaluation
}

// ostree is an order-statistics treap of rowStates: O(log n) expected insert, delete, rank and
// select. cmp is a strict total order on the rows (sort keys, then record id).
type ostree struct {
	root *rowState
	cmp  func(a, b *rowState) int
	rnd  uint64
}

func size(n *rowState) int32 {
	if n == nil {
		return 0
	}
	return n.size
}

func (t *ostree) next() uint32 {
	// xorshift64*
	t.rnd ^= t.rnd >> 12
	t.rnd ^= t.rnd << 25
	t.rnd ^= t.rnd >> 27
	return uint32((t.rnd * 2685821657736338717) >> 32)
}

// Len is the number of rows in the tree.
func (t *ostree) Len() int { return int(size(t.root)) }

// Insert adds n (not in the tree) and returns its rank.
func (t *ostree) Insert(n *rowState) int {
	if t.rnd == 0 {
		t.rnd = 0x9e3779b97f4a7c15
	}
	n.left, n.right, n.size, n.prio = nil, nil, 1, t.next()
	rank := 0
	t.root = t.insert(t.root, n, &rank)
	n.inTree = true
	return rank
}

func (t *ostree) insert(x, n *rowState, rank *int) *rowState {
	if x == nil {
		return n
	}
	if n.prio > x.prio {
		l, r := t.split(x, n)
		n.left, n.right = l, r
		n.size = 1 + size(l) + size(r)
		*rank += int(size(l))
		return n
	}
	if t.cmp(n, x) < 0 {
		x.left = t.insert(x.left, n, rank)
	} else {
		*rank += int(size(x.left)) + 1
		x.right = t.insert(x.right, n, rank)
	}
	x.size++
	return x
}

// split divides x into the rows ordered before n and those after it.
func (t *ostree) split(x, n *rowState) (l, r *rowState) {
	if x == nil {
		return nil, nil
	}
	if t.cmp(x, n) < 0 {
		a, b := t.split(x.right, n)
		x.right = a
		x.size = 1 + size(x.left) + size(a)
		return x, b
	}
	a, b := t.split(x.left, n)
	x.left = b
	x.size = 1 + size(b) + size(x.right)
	return a, x
}

func merge(a, b *rowState) *rowState {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.right = merge(a.right, b)
		a.size = 1 + size(a.left) + size(a.right)
		return a
	default:
		b.left = merge(a, b.left)
		b.size = 1 + size(b.left) + size(b.right)
		return b
	}
}

// Delete removes n (which must be in the tree, with the sort keys it was inserted with) and
// returns the rank it had.
func (t *ostree) Delete(n *rowState) int {
	rank := 0
	t.root = t.delete(t.root, n, &rank)
	n.left, n.right, n.size, n.inTree = nil, nil, 0, false
	return rank
}

func (t *ostree) delete(x, n *rowState, rank *int) *rowState {
	if x == nil {
		return nil // not reached for a row in the tree
	}
	if x == n {
		*rank += int(size(x.left))
		return merge(x.left, x.right)
	}
	if t.cmp(n, x) < 0 {
		x.left = t.delete(x.left, n, rank)
	} else {
		*rank += int(size(x.left)) + 1
		x.right = t.delete(x.right, n, rank)
	}
	x.size--
	return x
}

// At returns the row of rank i, or nil when i is out of range.
func (t *ostree) At(i int) *rowState {
	if i < 0 {
		return nil
	}
	x := t.root
	for x != nil {
		l := int(size(x.left))
		switch {
		case i < l:
			x = x.left
		case i == l:
			return x
		default:
			i -= l + 1
			x = x.right
		}
	}
	return nil
}

// Walk calls fn for the rows of rank in [from, to), in order.
func (t *ostree) Walk(from, to int, fn func(*rowState)) {
	walk(t.root, 0, from, to, fn)
}

func walk(x *rowState, base, from, to int, fn func(*rowState)) {
	for x != nil {
		l := int(size(x.left))
		r := base + l
		if from < r {
			walk(x.left, base, from, to, fn)
		}
		if r >= to {
			return
		}
		if r >= from {
			fn(x)
		}
		base = r + 1
		x = x.right
	}
}
