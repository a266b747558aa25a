package engine

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/sp00ky/ssp/surreal/eval"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// oindex is a shared ordered index over every row of one table: rows ordered by (group of the
// prefix field's value, sort keys, record id). It is created on first use by a view and shared,
// reference counted, by every node that needs the same (table, prefix field, sort terms).
//
// The group of a row is a hash of value.HashKey of its prefix field (the field of a correlation
// `field = $parent…` or of a routed `field = $param`), so all rows with one value of the field are
// contiguous, in sort order; rows of another value whose hash collides interleave with them
// (walkers evaluate WHERE, which rejects them). Without a prefix field there is one group.
//
// Each entry is a 64-bit key word plus the row's 32-bit slot in its table (12 bytes, no
// pointers: moving entries costs no GC write barriers): the word holds the group hash in its top
// hashBits bits and an order-preserving truncation of the first sort key (or of the id without
// ORDER BY) below, so that comparisons rarely need the row; ties fall back to the full sort keys
// read from the row and then to the id. Entries are removed while their row still holds the
// content they were sorted by (store.apply).
type oindex struct {
	tbl   *table
	field string // the prefix field, "" for none
	terms []ixTerm
	sel   *surql.Select // mirrors terms: for eval.OrderKey and eval.CompareKeys
	plain bool          // every term is a top-level field (keys are read with Get)
	seed  maphash.Seed
	refs  int

	root   *iinner // nil while the tree is a single leaf
	leaf   *ileaf  // the root when root == nil
	height int
	n      int

	kbuf []value.Value // scratch: keys of a compared entry

	// The sort keys of the old and new content of the row of the change of step step, computed
	// once by store.apply for the index and the bounded windows over it.
	step             uint64
	oldKeys, newKeys []value.Value
	moving, adding   bool // the pending change removes the row's entry, adds one (at newPos)
	newPos           ipos
}

// ixTerm is one sort term of an ordered index: a path of the row read without following record
// links (how eval.OrderKey reads ORDER BY paths and plain projected fields): the key is path
// applied to the row, then rest applied to that (two steps, as for `a.b AS x … ORDER BY x.c`).
// A term given by field alone is that top-level field.
type ixTerm struct {
	field                  string
	path, rest             []surql.Part
	desc, collate, numeric bool
}

// partsText renders idiom parts for index specs.
func partsText(ps []surql.Part) string {
	var b strings.Builder
	for _, p := range ps {
		if p.IsIndex {
			fmt.Fprintf(&b, "[%d]", p.Index)
		} else {
			b.WriteByte(1)
			b.WriteString(p.Name)
		}
	}
	return b.String()
}

// normalize fills path from field (or field from a single-step path).
func (t ixTerm) normalize() ixTerm {
	if t.path == nil && t.field != "" {
		t.path = []surql.Part{{Name: t.field}}
	}
	t.field = ""
	if len(t.path) == 1 && !t.path[0].IsIndex && len(t.rest) == 0 {
		t.field = t.path[0].Name
	}
	return t
}

// ipos is a position in an index: its key word, sort keys and record id. Positions kept beyond
// one call (walk frontiers) own their keys slice.
type ipos struct {
	k    uint64
	keys []value.Value
	id   value.Value
}

// isep is a separator of an inner node: the position of the row r had when it became the
// separator (its keys are a snapshot: r may change since; its id does not).
type isep struct {
	keys []value.Value
	r    *srow
}

const (
	lMax     = 84 // entries per leaf: 84*12 bytes plus the header make a 1 KiB allocation
	lMin     = lMax / 4
	iMax     = 64 // children per inner node
	iMin     = iMax / 4
	hashBits = 24 // top bits of a key word holding the group hash (prefixed indexes)
)

type ileaf struct {
	n    int32
	next *ileaf
	k    [lMax]uint64
	s    [lMax]uint32 // slots of the rows in ix.tbl.slab
}

type iinner struct {
	n      int
	k      [iMax]uint64 // separator key words, inline for the search
	seps   [iMax]isep   // seps[i] <= every entry under child i (seps[0] unused)
	kids   [iMax]*iinner
	leaves [iMax]*ileaf
}

// indexSpec is the sharing key of an index of one table.
func indexSpec(field string, terms []ixTerm) string {
	var b strings.Builder
	b.WriteString(field)
	for _, t := range terms {
		t = t.normalize()
		b.WriteByte(0)
		b.WriteString(partsText(t.path))
		b.WriteByte(2)
		b.WriteString(partsText(t.rest))
		b.WriteByte(0)
		for _, f := range [3]bool{t.desc, t.collate, t.numeric} {
			if f {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		}
	}
	return b.String()
}

func newIndex(seed maphash.Seed, tbl *table, field string, terms []ixTerm) *oindex {
	ix := &oindex{tbl: tbl, field: field, seed: seed, sel: &surql.Select{}, plain: true}
	for i, t := range terms {
		t = t.normalize()
		ix.terms = append(ix.terms, t)
		ix.plain = ix.plain && t.field != ""
		path := &surql.Idiom{Parts: t.path}
		if len(t.rest) > 0 {
			// `path AS x … ORDER BY x.rest`: OrderKey applies rest to the projected path.
			alias := fmt.Sprintf("\x00term%d", i)
			ix.sel.Fields = append(ix.sel.Fields, surql.Field{Expr: path, Alias: alias})
			path = &surql.Idiom{Parts: append([]surql.Part{{Name: alias}}, t.rest...)}
		}
		ix.sel.Order = append(ix.sel.Order, surql.OrderTerm{Path: path, Desc: t.desc, Collate: t.collate, Numeric: t.numeric})
	}
	return ix
}

// termPrefix is the key prefix of a first sort key (see prefix), inverted for DESC.
func termPrefix(k value.Value, desc, opaque bool) uint64 {
	p := prefix(k, opaque)
	if desc {
		p = ^p
	}
	return p
}

// group returns the key word bits of the group of prefix-field hash key hk (0 without a prefix
// field).
func (ix *oindex) group(hk string) uint64 {
	if ix.field == "" {
		return 0
	}
	return maphash.String(ix.seed, hk) >> (64 - hashBits) << (64 - hashBits)
}

// sameGroup reports whether key word k lies in group g.
func (ix *oindex) sameGroup(k, g uint64) bool {
	return ix.field == "" || k>>(64-hashBits) == g>>(64-hashBits)
}

// word builds a key word from a group and a sort-key prefix.
func (ix *oindex) word(g, pre uint64) uint64 {
	if ix.field == "" {
		return pre
	}
	return g | pre>>hashBits
}

// keysOf appends the index's sort keys of row to buf.
func (ix *oindex) keysOf(row value.Value, buf []value.Value) []value.Value {
	if ix.plain {
		for _, t := range ix.terms {
			buf = append(buf, row.Get(t.field))
		}
		return buf
	}
	return append(buf, eval.OrderKey(ix.sel, &eval.Env{Row: row})...)
}

// preOf is the sort-key prefix of a row with sort keys keys and id id.
func (ix *oindex) preOf(keys []value.Value, id value.Value) uint64 {
	if len(ix.terms) == 0 {
		return idPrefix(id)
	}
	t := ix.terms[0]
	return termPrefix(keys[0], t.desc, t.collate || t.numeric)
}

// probe returns the position of row in group hash key hk, its keys appended to buf[:0].
func (ix *oindex) probe(row value.Value, hk string, buf []value.Value) ipos {
	buf = ix.keysOf(row, buf[:0])
	id := row.Get("id")
	return ipos{k: ix.word(ix.group(hk), ix.preOf(buf, id)), keys: buf, id: id}
}

// row returns the row in slot s.
func (ix *oindex) row(s uint32) *srow { return ix.tbl.slab[s] }

// sepOf returns a separator for the entry (k, r): its key word and a snapshot of its position.
func (ix *oindex) sepOf(k uint64, r *srow) (uint64, isep) {
	return k, isep{keys: ix.keysOf(r.row, nil), r: r}
}

// hashOf returns the hash key of the prefix field of the change's old or new row ("" without a
// prefix field).
func (ix *oindex) hashOf(c *change, old bool) string {
	if ix.field == "" {
		return ""
	}
	return c.hash(ix.field, old)
}

func cmpWord(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpSep orders separator (k, s) against position a.
func (ix *oindex) cmpSep(k uint64, s *isep, a *ipos) int {
	if c := cmpWord(k, a.k); c != 0 {
		return c
	}
	if c := eval.CompareKeys(ix.sel, s.keys, a.keys); c != 0 {
		return c
	}
	return eval.TieBreak(s.r.id(), a.id)
}

// cmpPos orders two positions.
func (ix *oindex) cmpPos(a, b *ipos) int {
	if c := cmpWord(a.k, b.k); c != 0 {
		return c
	}
	if c := eval.CompareKeys(ix.sel, a.keys, b.keys); c != 0 {
		return c
	}
	return eval.TieBreak(a.id, b.id)
}

// cmpEntry orders position a against the entry (k, r).
func (ix *oindex) cmpEntry(a *ipos, k uint64, r *srow) int {
	if c := cmpWord(a.k, k); c != 0 {
		return c
	}
	if len(ix.terms) > 0 {
		ix.kbuf = ix.keysOf(r.row, ix.kbuf[:0])
		if c := eval.CompareKeys(ix.sel, a.keys, ix.kbuf); c != 0 {
			return c
		}
	}
	return eval.TieBreak(a.id, r.id())
}

// apply keeps the index current with change c of row r (store.apply calls it twice: before the
// row's content changes, with after false, and after, with after true) and records the sort
// keys of the old and new content for the views.
func (ix *oindex) apply(c *change, r *srow, after bool) {
	if !after {
		ix.step = c.step
		ix.oldKeys, ix.newKeys = ix.oldKeys[:0], ix.newKeys[:0]
		var op, np ipos
		if !c.old.IsNone() {
			op = ix.probe(c.old, ix.hashOf(c, true), ix.oldKeys)
			ix.oldKeys = op.keys
		}
		if !c.new.IsNone() {
			np = ix.probe(c.new, ix.hashOf(c, false), ix.newKeys)
			ix.newKeys = np.keys
		}
		ix.moving = !c.old.IsNone() && (c.new.IsNone() || op.k != np.k || eval.CompareKeys(ix.sel, op.keys, np.keys) != 0)
		ix.adding = !c.new.IsNone() && (c.old.IsNone() || ix.moving)
		ix.newPos = np
		if ix.moving {
			ix.removeAt(&op, r)
		}
		return
	}
	if ix.adding {
		ix.insertAt(&ix.newPos, r)
	}
}

// Len is the number of rows in the index.
func (ix *oindex) Len() int { return ix.n }

// build fills an empty index with rows (sorted first, so leaves are packed).
func (ix *oindex) build(rows map[string]*srow) {
	if ix.leaf == nil && ix.root == nil {
		ix.leaf = &ileaf{}
	}
	type ent struct {
		pos ipos
		r   *srow
	}
	ents := make([]ent, 0, len(rows))
	keys := make([]value.Value, 0, len(rows)*len(ix.terms))
	for _, r := range rows {
		hk := ""
		if ix.field != "" {
			hk = value.HashKey(r.row.Get(ix.field))
		}
		n := len(keys)
		keys = ix.keysOf(r.row, keys)
		id := r.id()
		ks := keys[n:len(keys):len(keys)]
		ents = append(ents, ent{ipos{k: ix.word(ix.group(hk), ix.preOf(ks, id)), keys: ks, id: id}, r})
	}
	// Sort small (key word, position) pairs; only equal words compare the full positions.
	type ord struct {
		k uint64
		i int32
	}
	ords := make([]ord, len(ents))
	for i := range ents {
		ords[i] = ord{ents[i].pos.k, int32(i)}
	}
	slices.SortFunc(ords, func(a, b ord) int {
		if a.k != b.k {
			return cmpWord(a.k, b.k)
		}
		return ix.cmpPos(&ents[a.i].pos, &ents[b.i].pos)
	})
	for _, o := range ords {
		e := &ents[o.i]
		ix.insertAt(&e.pos, e.r)
	}
}

func (ix *oindex) insertAt(a *ipos, r *srow) {
	if ix.root == nil && ix.leaf == nil {
		ix.leaf = &ileaf{}
	}
	ix.n++
	if ix.height == 0 {
		if right := ix.insertLeaf(ix.leaf, a, r); right != nil {
			in := &iinner{n: 2}
			in.leaves[0], in.leaves[1] = ix.leaf, right
			in.k[1], in.seps[1] = ix.sepOf(right.k[0], ix.row(right.s[0]))
			ix.root, ix.leaf, ix.height = in, nil, 1
		}
		return
	}
	if right, k, sep := ix.insertInner(ix.root, ix.height, a, r); right != nil {
		in := &iinner{n: 2}
		in.kids[0], in.kids[1] = ix.root, right
		in.k[1], in.seps[1] = k, sep
		ix.root = in
		ix.height++
	}
}

// child returns the index of the child of in that holds (or would hold) position a.
func (ix *oindex) child(in *iinner, a *ipos) int {
	lo, hi := 1, in.n // the last i >= 1 with seps[i] <= a; 0 when none
	for lo < hi {
		m := (lo + hi) / 2
		if in.k[m] < a.k || (in.k[m] == a.k && ix.cmpSep(in.k[m], &in.seps[m], a) <= 0) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// lower returns the number of entries of l ordered before a; upper those ordered at or before.
func (ix *oindex) lower(l *ileaf, a *ipos) int {
	lo, hi := 0, int(l.n)
	for lo < hi {
		m := (lo + hi) / 2
		if ix.cmpEntry(a, l.k[m], ix.row(l.s[m])) > 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (ix *oindex) upper(l *ileaf, a *ipos) int {
	lo, hi := 0, int(l.n)
	for lo < hi {
		m := (lo + hi) / 2
		if ix.cmpEntry(a, l.k[m], ix.row(l.s[m])) >= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// insertLeaf inserts r at position a into l, splitting it when full; it returns the new right
// leaf. Appends at either end of a full leaf split it unevenly, so that monotone insertions (the
// sorted build, new rows at the top of a feed) leave packed leaves behind.
func (ix *oindex) insertLeaf(l *ileaf, a *ipos, r *srow) *ileaf {
	pos := ix.lower(l, a)
	n := int(l.n)
	if n < lMax {
		copy(l.s[pos+1:n+1], l.s[pos:n])
		copy(l.k[pos+1:n+1], l.k[pos:n])
		l.s[pos], l.k[pos] = r.slot, a.k
		l.n++
		return nil
	}
	cut := lMax / 2
	switch pos {
	case n:
		cut = lMax - 2
	case 0:
		cut = 2
	}
	right := &ileaf{next: l.next, n: int32(n - cut)}
	copy(right.s[:], l.s[cut:n])
	copy(right.k[:], l.k[cut:n])
	l.n = int32(cut)
	l.next = right
	if pos <= cut {
		ix.insertLeaf(l, a, r)
	} else {
		ix.insertLeaf(right, a, r)
	}
	return right
}

func (ix *oindex) insertInner(in *iinner, h int, a *ipos, r *srow) (*iinner, uint64, isep) {
	i := ix.child(in, a)
	added := -1 // the index of a new child
	if h == 1 {
		if in.leaves[i].n == lMax && ix.spill(in, i) {
			i = ix.child(in, a)
		}
		if right := ix.insertLeaf(in.leaves[i], a, r); right != nil {
			k, sep := ix.sepOf(right.k[0], ix.row(right.s[0]))
			insertIChild(in, i+1, nil, right, k, sep)
			added = i + 1
		}
	} else if right, k, sep := ix.insertInner(in.kids[i], h-1, a, r); right != nil {
		insertIChild(in, i+1, right, nil, k, sep)
		added = i + 1
	}
	if in.n < iMax {
		return nil, 0, isep{}
	}
	// Split; a child appended at either end (monotone insertions) leaves a packed node behind.
	half := in.n / 2
	switch {
	case added == in.n-1:
		half = in.n - 2
	case added == 1:
		half = 2
	}
	right := &iinner{n: in.n - half}
	copy(right.k[:], in.k[half:in.n])
	copy(right.seps[:], in.seps[half:in.n])
	copy(right.kids[:], in.kids[half:in.n])
	copy(right.leaves[:], in.leaves[half:in.n])
	k, sep := right.k[0], right.seps[0]
	right.k[0], right.seps[0] = 0, isep{}
	for j := half; j < in.n; j++ {
		in.k[j], in.seps[j], in.kids[j], in.leaves[j] = 0, isep{}, nil, nil
	}
	in.n = half
	return right, k, sep
}

// spill makes room in the full leaf i of in by moving some of its entries to a sibling with
// room (B*-tree style), so that leaves stay fuller than halves; it reports whether it did.
func (ix *oindex) spill(in *iinner, i int) bool {
	l := in.leaves[i]
	n := int(l.n)
	if j := i + 1; j < in.n && in.leaves[j].n < lMax-1 {
		rl := in.leaves[j]
		rn := int(rl.n)
		m := (lMax - rn) / 2
		copy(rl.s[m:rn+m], rl.s[:rn])
		copy(rl.k[m:rn+m], rl.k[:rn])
		copy(rl.s[:m], l.s[n-m:n])
		copy(rl.k[:m], l.k[n-m:n])
		l.n -= int32(m)
		rl.n += int32(m)
		in.k[j], in.seps[j] = ix.sepOf(rl.k[0], ix.row(rl.s[0]))
		return true
	}
	if j := i - 1; j >= 0 && in.leaves[j].n < lMax-1 {
		ll := in.leaves[j]
		ln := int(ll.n)
		m := (lMax - ln) / 2
		copy(ll.s[ln:ln+m], l.s[:m])
		copy(ll.k[ln:ln+m], l.k[:m])
		copy(l.s[:n-m], l.s[m:n])
		copy(l.k[:n-m], l.k[m:n])
		ll.n += int32(m)
		l.n -= int32(m)
		in.k[i], in.seps[i] = ix.sepOf(l.k[0], ix.row(l.s[0]))
		return true
	}
	return false
}

func insertIChild(in *iinner, i int, kid *iinner, lf *ileaf, k uint64, sep isep) {
	copy(in.k[i+1:in.n+1], in.k[i:in.n])
	copy(in.seps[i+1:in.n+1], in.seps[i:in.n])
	copy(in.kids[i+1:in.n+1], in.kids[i:in.n])
	copy(in.leaves[i+1:in.n+1], in.leaves[i:in.n])
	in.k[i], in.seps[i], in.kids[i], in.leaves[i] = k, sep, kid, lf
	in.n++
}

func removeIChild(in *iinner, i int) {
	copy(in.k[i:], in.k[i+1:in.n])
	copy(in.seps[i:], in.seps[i+1:in.n])
	copy(in.kids[i:], in.kids[i+1:in.n])
	copy(in.leaves[i:], in.leaves[i+1:in.n])
	in.n--
	in.k[in.n], in.seps[in.n], in.kids[in.n], in.leaves[in.n] = 0, isep{}, nil, nil
}

// removeAt deletes row r, which the index holds at position a. It reports whether the entry was
// found.
func (ix *oindex) removeAt(a *ipos, r *srow) bool {
	if ix.height == 0 {
		if ix.leaf == nil {
			return false
		}
		return ix.removeFromLeaf(ix.leaf, a, r)
	}
	found := ix.removeInner(ix.root, ix.height, a, r)
	for ix.height > 0 && ix.root.n == 1 {
		if ix.height == 1 {
			ix.leaf, ix.root = ix.root.leaves[0], nil
		} else {
			ix.root = ix.root.kids[0]
		}
		ix.height--
	}
	return found
}

func (ix *oindex) removeFromLeaf(l *ileaf, a *ipos, r *srow) bool {
	pos := ix.lower(l, a)
	n := int(l.n)
	if pos >= n || l.s[pos] != r.slot {
		return false
	}
	copy(l.s[pos:], l.s[pos+1:n])
	copy(l.k[pos:], l.k[pos+1:n])
	l.n--
	ix.n--
	return true
}

func (ix *oindex) removeInner(in *iinner, h int, a *ipos, r *srow) bool {
	i := ix.child(in, a)
	if h == 1 {
		found := ix.removeFromLeaf(in.leaves[i], a, r)
		if in.leaves[i].n < lMin {
			ix.mergeLeaf(in, i)
		}
		return found
	}
	found := ix.removeInner(in.kids[i], h-1, a, r)
	if in.kids[i].n < iMin {
		ix.mergeInner(in, i)
	}
	return found
}

// mergeLeaf folds the sparse leaf i of in and a neighbour into one leaf when they fit.
func (ix *oindex) mergeLeaf(in *iinner, i int) {
	for _, j := range [2]int{i - 1, i + 1} {
		if j < 0 || j >= in.n {
			continue
		}
		a, b := min(i, j), max(i, j)
		la, lb := in.leaves[a], in.leaves[b]
		if la.n+lb.n > lMax {
			continue
		}
		copy(la.s[la.n:], lb.s[:lb.n])
		copy(la.k[la.n:], lb.k[:lb.n])
		la.n += lb.n
		la.next = lb.next
		removeIChild(in, b)
		return
	}
}

// mergeInner folds the sparse inner child i of in and a neighbour into one node when they fit.
func (ix *oindex) mergeInner(in *iinner, i int) {
	for _, j := range [2]int{i - 1, i + 1} {
		if j < 0 || j >= in.n {
			continue
		}
		a, b := min(i, j), max(i, j)
		ka, kb := in.kids[a], in.kids[b]
		if ka.n+kb.n > iMax-1 {
			continue
		}
		kb.k[0], kb.seps[0] = in.k[b], in.seps[b]
		copy(ka.k[ka.n:], kb.k[:kb.n])
		copy(ka.seps[ka.n:], kb.seps[:kb.n])
		copy(ka.kids[ka.n:], kb.kids[:kb.n])
		copy(ka.leaves[ka.n:], kb.leaves[:kb.n])
		ka.n += kb.n
		removeIChild(in, b)
		return
	}
}

// icursor walks index entries in order.
type icursor struct {
	ix *oindex
	l  *ileaf
	i  int
}

// next returns the entry under the cursor and advances; ok is false at the end of the index.
func (c *icursor) next() (r *srow, k uint64, ok bool) {
	for c.l != nil && c.i >= int(c.l.n) {
		c.l, c.i = c.l.next, 0
	}
	if c.l == nil {
		return nil, 0, false
	}
	r, k = c.ix.row(c.l.s[c.i]), c.l.k[c.i]
	c.i++
	return r, k, true
}

// seekAfter returns a cursor at the first entry ordered after position a.
func (ix *oindex) seekAfter(a *ipos) icursor {
	l := ix.leaf
	if ix.height > 0 {
		in := ix.root
		for h := ix.height; ; h-- {
			i := ix.child(in, a)
			if h == 1 {
				l = in.leaves[i]
				break
			}
			in = in.kids[i]
		}
	}
	if l == nil {
		return icursor{}
	}
	return icursor{ix: ix, l: l, i: ix.upper(l, a)}
}

// seekWord returns a cursor at the first entry whose key word is at least k.
func (ix *oindex) seekWord(k uint64) icursor {
	l := ix.leaf
	if ix.height > 0 {
		in := ix.root
		for h := ix.height; ; h-- {
			lo, hi := 1, in.n // the last i >= 1 with k[i] < k; 0 when none
			for lo < hi {
				m := (lo + hi) / 2
				if in.k[m] < k {
					lo = m + 1
				} else {
					hi = m
				}
			}
			if h == 1 {
				l = in.leaves[lo-1]
				break
			}
			in = in.kids[lo-1]
		}
	}
	if l == nil {
		return icursor{}
	}
	i := 0
	for i < int(l.n) && l.k[i] < k {
		i++
	}
	return icursor{ix: ix, l: l, i: i}
}

// eachInGroup calls fn for every row of the group of prefix-field hash key hk (with the rows of
// colliding groups), in index order.
func (ix *oindex) eachInGroup(hk string, fn func(r *srow)) {
	g := ix.group(hk)
	c := ix.seekWord(g)
	for {
		r, k, ok := c.next()
		if !ok || !ix.sameGroup(k, g) {
			return
		}
		fn(r)
	}
}
