package naive

import (
	"fmt"
	"sort"

	"github.com/sp00ky/ssp/surreal/value"
)

// MemDB is a simple in-memory DB: table → record id text → row. It is not safe for concurrent
// use.
type MemDB struct {
	tables map[string]map[string]value.Value
}

// NewMemDB returns an empty MemDB.
func NewMemDB() *MemDB {
	return &MemDB{tables: map[string]map[string]value.Value{}}
}

// Put stores row (an object whose `id` is a record id, or a string spelling one), replacing any
// row with the same id.
func (m *MemDB) Put(row value.Value) error {
	if row.Kind() != value.KindObject {
		return fmt.Errorf("put row: want an object, got %s", row.Kind())
	}
	id, ok := recordID(row.Get("id"))
	if !ok {
		return fmt.Errorf("put row: field id must be a record id, got %s", row.Get("id").SurQL())
	}
	t := m.tables[id.Table()]
	if t == nil {
		t = map[string]value.Value{}
		m.tables[id.Table()] = t
	}
	t[value.RecordString(id)] = row.With("id", id)
	return nil
}

// Delete removes the row of record id id (a no-op when absent or not a record id).
func (m *MemDB) Delete(id value.Value) {
	rid, ok := recordID(id)
	if !ok {
		return
	}
	delete(m.tables[rid.Table()], value.RecordString(rid))
}

// Scan returns the rows of table in record-id order.
func (m *MemDB) Scan(table string) []value.Value {
	t := m.tables[table]
	rows := make([]value.Value, 0, len(t))
	for _, r := range t {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return value.Compare(rows[i].Get("id"), rows[j].Get("id")) < 0 })
	return rows
}

// Record returns the row of record id id (a record, or a string spelling one).
func (m *MemDB) Record(id value.Value) (value.Value, bool) {
	rid, ok := recordID(id)
	if !ok {
		return value.None(), false
	}
	r, ok := m.tables[rid.Table()][value.RecordString(rid)]
	return r, ok
}

func recordID(v value.Value) (value.Value, bool) {
	switch v.Kind() {
	case value.KindRecord:
		return v, true
	case value.KindString:
		return value.ParseRecord(v.AsString())
	}
	return value.None(), false
}
