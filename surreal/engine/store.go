package engine

import (
	"hash/maphash"

	"github.com/sp00ky/ssp/surreal/value"
)

// store holds the base rows of every table, once, keyed by the record id's text form, plus the
// shared ordered indexes (index.go) that views create on demand: correlated subqueries and
// equality-routed views find their candidate rows through them, and bounded LIMIT windows walk
// them to refill.
type store struct {
	tables map[string]*table
	seed   maphash.Seed // hashes correlation values into index key words
	walked uint64       // index entries bounded windows walked to refill (Stats.Walked)
}

type table struct {
	name    string
	rows    map[string]*srow
	slab    []*srow            // by slot: indexes refer to rows by slot (4 bytes, no pointer)
	free    []uint32           // slots of deleted rows, for reuse
	idx     map[string]*oindex // index spec → index
	lookups map[string]int     // prefix field → nodes that look rows up by it (see acquireLookup)
	seq     uint64             // the last row sequence number handed out
}

// srow is one base row. The struct lives as long as the row (an update replaces row in place)
// and is shared by the indexes and by the view state that refers to the row. seq is unique to
// the row's current life (never reused: a re-created record gets a new srow and seq); gone is set
// when the row is deleted, after which row keeps its last content.
type srow struct {
	row  value.Value
	key  string // value.RecordString of the id
	seq  uint64
	slot uint32 // index of the row in its table's slab while it exists
	gone bool
}

// id returns the row's record id.
func (r *srow) id() value.Value { return r.row.Get("id") }

// live returns the row, or NONE once it is deleted.
func (r *srow) live() value.Value {
	if r.gone {
		return value.None()
	}
	return r.row
}

func newStore() *store { return &store{tables: map[string]*table{}, seed: maphash.MakeSeed()} }

func (s *store) table(name string) *table {
	t := s.tables[name]
	if t == nil {
		t = &table{name: name, rows: map[string]*srow{}, idx: map[string]*oindex{}, lookups: map[string]int{}}
		s.tables[name] = t
	}
	return t
}

// get returns the row of a record key (the table is the record's table).
func (s *store) get(tbl, key string) (value.Value, bool) {
	if r := s.getRow(tbl, key); r != nil {
		return r.row, true
	}
	return value.None(), false
}

// getRow returns the stored row of a record key, or nil.
func (s *store) getRow(tbl, key string) *srow {
	t := s.tables[tbl]
	if t == nil {
		return nil
	}
	return t.rows[key]
}

// nextSeq hands out a new row sequence number for tbl.
func (s *store) nextSeq(tbl string) uint64 {
	t := s.table(tbl)
	t.seq++
	return t.seq
}

// getID returns the row of record id id.
func (s *store) getID(id value.Value) (value.Value, bool) {
	if id.Kind() != value.KindRecord {
		if id.Kind() == value.KindString {
			if r, ok := value.ParseRecord(id.AsString()); ok {
				id = r
			} else {
				return value.None(), false
			}
		} else {
			return value.None(), false
		}
	}
	return s.get(id.Table(), value.RecordString(id))
}

// count is the number of rows stored for a table.
func (s *store) count(tbl string) int {
	if t := s.tables[tbl]; t != nil {
		return len(t.rows)
	}
	return 0
}

// apply stores the new row of change c (or deletes the row; c.r is the existing row, if any),
// keeps the indexes current and sets c.r to the row's handle.
func (s *store) apply(c *change) {
	t := s.table(c.table)
	r := c.r
	if r == nil {
		r = &srow{row: c.new, key: c.key, seq: c.seq}
	}
	// Index entries are removed while the row still holds its old content (index comparisons
	// read it) and inserted once it holds the new one.
	for _, ix := range t.idx {
		ix.apply(c, r, false)
	}
	switch {
	case c.r == nil:
		t.rows[c.key] = r
		if n := len(t.free); n > 0 {
			r.slot = t.free[n-1]
			t.free = t.free[:n-1]
			t.slab[r.slot] = r
		} else {
			r.slot = uint32(len(t.slab))
			t.slab = append(t.slab, r)
		}
	case c.new.IsNone():
		delete(t.rows, c.key)
		t.slab[r.slot] = nil
		t.free = append(t.free, r.slot)
		r.gone = true
	default:
		r.row = c.new
	}
	for _, ix := range t.idx {
		ix.apply(c, r, true)
	}
	c.r = r
}

// acquireIndex returns the ordered index of tbl with prefix field field ("" for none) and sort
// terms, building it from the rows when it does not exist yet, and counts one more user of it.
func (s *store) acquireIndex(tbl, field string, terms []ixTerm) *oindex {
	t := s.table(tbl)
	spec := indexSpec(field, terms)
	ix := t.idx[spec]
	if ix == nil {
		ix = newIndex(s.seed, t, field, terms)
		ix.build(t.rows)
		t.idx[spec] = ix
		// An index kept only for equality lookups on the same field is redundant now.
		for sp, o := range t.idx {
			if o != ix && o.refs == 0 && field != "" && o.field == field {
				delete(t.idx, sp)
			}
		}
	}
	ix.refs++
	return ix
}

// releaseIndex drops one user of ix, deleting it with the last unless it is the index that
// answers equality lookups on its field.
func (s *store) releaseIndex(ix *oindex) {
	ix.refs--
	t := ix.tbl
	if ix.refs > 0 || t == nil {
		return
	}
	spec := indexSpec(ix.field, ix.terms)
	if ix.field != "" && t.lookups[ix.field] > 0 {
		other := false
		for sp, o := range t.idx {
			other = other || (sp != spec && o.field == ix.field)
		}
		if !other {
			return // the index that answers the lookups on its field
		}
	}
	delete(t.idx, spec)
}

// acquireLookup counts one more user of equality lookups on tbl.field (see lookupIndex),
// creating an unordered index of the field when no index has it as prefix field.
func (s *store) acquireLookup(tbl, field string) {
	t := s.table(tbl)
	t.lookups[field]++
	if t.lookupIndex(field) == nil {
		ix := newIndex(s.seed, t, field, nil)
		ix.build(t.rows)
		t.idx[indexSpec(field, nil)] = ix
	}
}

// releaseLookup drops one user of lookups on tbl.field.
func (s *store) releaseLookup(tbl, field string) {
	t := s.tables[tbl]
	if t == nil {
		return
	}
	t.lookups[field]--
	if t.lookups[field] > 0 {
		return
	}
	delete(t.lookups, field)
	for sp, ix := range t.idx {
		if ix.field == field && ix.refs == 0 {
			delete(t.idx, sp)
		}
	}
}

// lookupIndex returns an index whose prefix field is field (every such index answers equality
// lookups on it, whatever its order), or nil. Among several, the one with the smallest spec.
func (t *table) lookupIndex(field string) *oindex {
	var best *oindex
	bestSpec := ""
	for sp, ix := range t.idx {
		if ix.field == field && (best == nil || sp < bestSpec) {
			best, bestSpec = ix, sp
		}
	}
	return best
}

// lookupIndex returns an index of tbl whose prefix field is field, or nil.
func (s *store) lookupIndex(tbl, field string) *oindex {
	if t := s.tables[tbl]; t != nil {
		return t.lookupIndex(field)
	}
	return nil
}

// scan calls fn for every row of tbl (in no particular order).
func (s *store) scan(tbl string, fn func(r *srow)) {
	t := s.tables[tbl]
	if t == nil {
		return
	}
	for _, r := range t.rows {
		fn(r)
	}
}
