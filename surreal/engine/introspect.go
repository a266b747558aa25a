package engine

import (
	"sort"
	"unsafe"

	"github.com/sp00ky/ssp/surreal/value"
)

// This file holds read-only views of the engine's state for the service's /info and /debug
// routes. Like every Engine method they must be called from the goroutine that owns the engine.

// Tables returns the names of the tables that hold at least one base row, sorted.
func (e *Engine) Tables() []string {
	out := make([]string, 0, len(e.st.tables))
	for name, t := range e.st.tables {
		if len(t.rows) > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// TableCount returns how many tables hold at least one base row (len(Tables()) without the
// list).
func (e *Engine) TableCount() int {
	n := 0
	for _, t := range e.st.tables {
		if len(t.rows) > 0 {
			n++
		}
	}
	return n
}

// Has reports whether the base row of record id (a record, or its text) is stored.
func (e *Engine) Has(id value.Value) bool {
	_, ok := e.st.getID(id)
	return ok
}

// TableRows returns the base rows of table (each an object with its `id`), in no particular
// order. The rows are shared with the engine: do not modify them.
func (e *Engine) TableRows(table string) []value.Value {
	t := e.st.tables[table]
	if t == nil {
		return nil
	}
	out := make([]value.Value, 0, len(t.rows))
	for _, r := range t.rows {
		out = append(out, r.row)
	}
	return out
}

// ViewTables returns the tables view id reads: all of them (referenced) and those read by its
// subqueries (subquery), each sorted; ok is false when the view does not exist.
func (e *Engine) ViewTables(id string) (referenced, subquery []string, ok bool) {
	v := e.byName[ViewKey(id)]
	if v == nil {
		return nil, nil, false
	}
	ref := map[string]bool{}
	sub := map[string]bool{}
	for _, n := range v.nodes {
		ref[n.table] = true
		if n.parent != nil {
			sub[n.table] = true
		}
	}
	for tbl := range v.exprDeps {
		ref[tbl] = true
		sub[tbl] = true
	}
	return sortedSet(ref), sortedSet(sub), true
}

// Dependencies maps every table that some view reads to the keys of those views, sorted.
func (e *Engine) Dependencies() map[string][]string {
	out := map[string][]string{}
	for key := range e.byName {
		ref, _, _ := e.ViewTables(key)
		for _, t := range ref {
			out[t] = append(out[t], key)
		}
	}
	for _, keys := range out {
		sort.Strings(keys)
	}
	return out
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Stats describes the engine's shared ordered indexes: one per (table, correlation or route
// field, ORDER BY) that views use, each holding an entry per row of its table, whatever the
// number of views sharing it.
type Stats struct {
	Indexes      int   // shared ordered indexes
	IndexEntries int   // entries over all indexes (rows of the table per index)
	IndexBytes   int64 // heap the indexes hold (nodes and separator keys), approximately
	// Walked counts the index entries LIMIT windows have evaluated to refill themselves (when
	// building, and when members left and the rows at hand ran out), since New or Reset.
	Walked uint64
}

// Stats returns the current Stats. It walks every index node: O(rows/64) per index.
func (e *Engine) Stats() Stats {
	s := Stats{Walked: e.st.walked}
	for _, t := range e.st.tables {
		for _, ix := range t.idx {
			s.Indexes++
			s.IndexEntries += ix.n
			s.IndexBytes += ix.bytes()
		}
	}
	return s
}

// bytes is the heap held by the index's nodes.
func (ix *oindex) bytes() int64 {
	var leaf ileaf
	var inner iinner
	var val value.Value
	if ix.height == 0 {
		if ix.leaf == nil {
			return 0
		}
		return int64(unsafe.Sizeof(leaf))
	}
	var walk func(in *iinner, h int) int64
	walk = func(in *iinner, h int) int64 {
		b := int64(unsafe.Sizeof(inner))
		for i := 0; i < in.n; i++ {
			b += int64(cap(in.seps[i].keys)) * int64(unsafe.Sizeof(val))
			if h == 1 {
				b += int64(unsafe.Sizeof(leaf))
			} else {
				b += walk(in.kids[i], h-1)
			}
		}
		return b
	}
	return walk(ix.root, ix.height)
}
