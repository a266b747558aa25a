package engine

import (
	"github.com/sp00ky/ssp/surreal/value"
)

// store holds the base rows of every table, once, keyed by the record id's text form, plus
// on-demand hash indexes of single fields (value.HashKey of the field's value → row keys) that
// correlated subqueries and equality-routed views use to find their candidate rows.
type store struct {
	tables map[string]*table
}

type table struct {
	rows map[string]stored
	idx  map[string]*fieldIndex // field name → index
	seq  uint64                 // the last row sequence number handed out
}

// stored is a base row with its sequence number: a number unique to the row's current life
// (never reused, a re-created record gets a new one) that partitions key their row state by.
type stored struct {
	row value.Value
	seq uint64
}

type fieldIndex struct {
	refs    int
	buckets map[string]map[string]struct{} // HashKey(row[field]) → row keys
}

func newStore() *store { return &store{tables: map[string]*table{}} }

func (s *store) table(name string) *table {
	t := s.tables[name]
	if t == nil {
		t = &table{rows: map[string]stored{}, idx: map[string]*fieldIndex{}}
		s.tables[name] = t
	}
	return t
}

// get returns the row of a record key (the table is the record's table).
func (s *store) get(tbl, key string) (value.Value, bool) {
	t := s.tables[tbl]
	if t == nil {
		return value.None(), false
	}
	r, ok := t.rows[key]
	return r.row, ok
}

// getStored returns the row of a record key with its sequence number.
func (s *store) getStored(tbl, key string) (stored, bool) {
	t := s.tables[tbl]
	if t == nil {
		return stored{}, false
	}
	r, ok := t.rows[key]
	return r, ok
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

// apply stores the new row of change c (or deletes the row) and keeps the indexes current.
func (s *store) apply(c *change) {
	t := s.table(c.table)
	if c.new.IsNone() {
		delete(t.rows, c.key)
	} else {
		t.rows[c.key] = stored{row: c.new, seq: c.seq}
	}
	for f, ix := range t.idx {
		var oh, nh string
		if !c.old.IsNone() {
			oh = c.hash(f, true)
		}
		if !c.new.IsNone() {
			nh = c.hash(f, false)
		}
		if !c.old.IsNone() && !c.new.IsNone() && oh == nh {
			continue
		}
		if !c.old.IsNone() {
			ix.remove(oh, c.key)
		}
		if !c.new.IsNone() {
			ix.add(nh, c.key)
		}
	}
}

func (ix *fieldIndex) add(h, key string) {
	b := ix.buckets[h]
	if b == nil {
		b = map[string]struct{}{}
		ix.buckets[h] = b
	}
	b[key] = struct{}{}
}

func (ix *fieldIndex) remove(h, key string) {
	b := ix.buckets[h]
	delete(b, key)
	if len(b) == 0 {
		delete(ix.buckets, h)
	}
}

// acquireIndex makes sure the field index of tbl.field exists (building it from the rows) and
// counts one more user of it.
func (s *store) acquireIndex(tbl, field string) {
	t := s.table(tbl)
	ix := t.idx[field]
	if ix == nil {
		ix = &fieldIndex{buckets: map[string]map[string]struct{}{}}
		for k, r := range t.rows {
			ix.add(value.HashKey(r.row.Get(field)), k)
		}
		t.idx[field] = ix
	}
	ix.refs++
}

// releaseIndex drops one user of an index, deleting it with the last.
func (s *store) releaseIndex(tbl, field string) {
	t := s.tables[tbl]
	if t == nil {
		return
	}
	if ix := t.idx[field]; ix != nil {
		ix.refs--
		if ix.refs <= 0 {
			delete(t.idx, field)
		}
	}
}

// lookup calls fn for every row of tbl whose field has hash key h (the index must exist).
func (s *store) lookup(tbl, field, h string, fn func(key string, r stored)) {
	t := s.tables[tbl]
	if t == nil {
		return
	}
	ix := t.idx[field]
	if ix == nil {
		for k, r := range t.rows {
			if value.HashKey(r.row.Get(field)) == h {
				fn(k, r)
			}
		}
		return
	}
	for k := range ix.buckets[h] {
		fn(k, t.rows[k])
	}
}

// scan calls fn for every row of tbl (in no particular order).
func (s *store) scan(tbl string, fn func(key string, r stored)) {
	t := s.tables[tbl]
	if t == nil {
		return
	}
	for k, r := range t.rows {
		fn(k, r)
	}
}
