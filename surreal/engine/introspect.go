package engine

import (
	"sort"

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
