package engine

// router decides which views a change is offered to. Views declare interests, reference
// counted: a whole table (every change of it), a routed value of a table field (only changes
// whose old or new row has that value in the field), or one record (changes of that record, for
// rows that dereferenced it through a link).
type router struct {
	tables  map[string]*tableRoutes
	records map[string]map[*view]int32 // record key → views
}

type tableRoutes struct {
	all    map[*view]int32
	fields map[string]map[string]map[*view]int32 // field → HashKey → views
}

func newRouter() *router {
	return &router{tables: map[string]*tableRoutes{}, records: map[string]map[*view]int32{}}
}

func (r *router) routes(tbl string) *tableRoutes {
	t := r.tables[tbl]
	if t == nil {
		t = &tableRoutes{all: map[*view]int32{}, fields: map[string]map[string]map[*view]int32{}}
		r.tables[tbl] = t
	}
	return t
}

func inc(m map[*view]int32, v *view) { m[v]++ }

func dec(m map[*view]int32, v *view) bool {
	if m[v] <= 1 {
		delete(m, v)
		return len(m) == 0
	}
	m[v]--
	return false
}

// addTable registers interest of v in every change of tbl.
func (r *router) addTable(v *view, tbl string) { inc(r.routes(tbl).all, v) }

// removeTable drops one interest added by addTable.
func (r *router) removeTable(v *view, tbl string) {
	if t := r.tables[tbl]; t != nil {
		dec(t.all, v)
	}
}

// addRoute registers interest of v in changes of tbl whose old or new row has field = h (h a
// value.HashKey).
func (r *router) addRoute(v *view, tbl, field, h string) {
	t := r.routes(tbl)
	byHash := t.fields[field]
	if byHash == nil {
		byHash = map[string]map[*view]int32{}
		t.fields[field] = byHash
	}
	m := byHash[h]
	if m == nil {
		m = map[*view]int32{}
		byHash[h] = m
	}
	inc(m, v)
}

// removeRoute drops one interest added by addRoute.
func (r *router) removeRoute(v *view, tbl, field, h string) {
	t := r.tables[tbl]
	if t == nil {
		return
	}
	byHash := t.fields[field]
	if m := byHash[h]; m != nil && dec(m, v) {
		delete(byHash, h)
		if len(byHash) == 0 {
			delete(t.fields, field)
		}
	}
}

// addRecord registers interest of v in changes of the record with key key.
func (r *router) addRecord(v *view, key string) {
	m := r.records[key]
	if m == nil {
		m = map[*view]int32{}
		r.records[key] = m
	}
	inc(m, v)
}

// removeRecord drops one interest added by addRecord.
func (r *router) removeRecord(v *view, key string) {
	if m := r.records[key]; m != nil && dec(m, v) {
		delete(r.records, key)
	}
}

// collect appends to out every view interested in change c, each once; mark is a fresh step
// number used to deduplicate (view.mark).
func (r *router) collect(c *change, mark uint64, out []*view) []*view {
	add := func(m map[*view]int32) {
		for v := range m {
			if v.mark != mark {
				v.mark = mark
				out = append(out, v)
			}
		}
	}
	if t := r.tables[c.table]; t != nil {
		add(t.all)
		for f, byHash := range t.fields {
			if !c.old.IsNone() {
				add(byHash[c.hash(f, true)])
			}
			if !c.new.IsNone() {
				add(byHash[c.hash(f, false)])
			}
		}
	}
	add(r.records[c.key])
	return out
}
