package engine

import (
	"sort"

	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/value"
)

// SetSchema sets the schema hint of table (package schema): from now on every change of the
// table has its spelled values resolved by the hint (schema.Table.Apply) before it is stored,
// whichever way it arrived (an ingest, a bootstrap row). It returns the changes that bring the
// rows already stored in line with the hint — an UPDATE of each row whose spelled values the hint
// resolves, in record-id order — for the caller to Apply, so that the views see them as ordinary
// steps. The zero Table removes the hint; rows keep what earlier hints resolved. Hints survive
// Reset.
func (e *Engine) SetSchema(table string, t schema.Table) []Change {
	if t.IsZero() {
		delete(e.schema, table)
		return nil
	}
	if cur, ok := e.schema[table]; ok && cur.Equal(t) {
		return nil
	}
	e.schema[table] = t
	tb := e.st.tables[table]
	if tb == nil {
		return nil
	}
	var out []Change
	for _, r := range tb.rows {
		if nr := t.Apply(r.row); !value.Identical(nr, r.row) {
			out = append(out, Change{Table: table, Op: OpUpdate, ID: r.id(), Record: nr})
		}
	}
	sort.Slice(out, func(i, j int) bool { return value.Compare(out[i].ID, out[j].ID) < 0 })
	return out
}

// Schemas returns the schema hint of every table that has one.
func (e *Engine) Schemas() map[string]schema.Table {
	out := make(map[string]schema.Table, len(e.schema))
	for t, h := range e.schema {
		out[t] = h
	}
	return out
}

// Schema returns the schema hint of table (the zero Table when it has none).
func (e *Engine) Schema(table string) schema.Table { return e.schema[table] }

// resolve applies the table's schema hint to a validated change's record.
func (e *Engine) resolve(c Change) Change {
	if t, ok := e.schema[c.Table]; ok && c.Record.Kind() == value.KindObject {
		c.Record = t.Apply(c.Record)
	}
	return c
}
