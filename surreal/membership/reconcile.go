package membership

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// ReconcileStats reports what Reconcile found and fixed.
type ReconcileStats struct {
	// Views is the number of views reconciled; Scanned the number of edge rows read.
	Views, Scanned int
	// Added counts missing edges written, Fixed edges rewritten (wrong version, client, owner
	// or parent), Removed stale rows deleted.
	Added, Fixed, Removed int
}

// Reconcile makes the edges of the writer's table equal to views, the complete computed
// membership of every view whose edges belong there (keyed by view key): it adds missing edges,
// rewrites edges whose version, clientId, auth_id or parent differ, and deletes every other row
// of this SSP's views — edges of members that left, of views not in views, and rows with ids
// not of the writer's form (duplicates written by older SSPs). The table is read in pages by
// id. It replaces the writer's mirror and pending writes by views, so later deltas apply on top
// of them. Writes that fail stay pending, like any flush's; a failed read is returned and
// leaves nothing pending.
//
// owned says which views are this SSP's; nil means every row of the table is (standalone).
// Otherwise a row whose view — the first element of a deterministic edge id, else the key of
// its `in` record of `_00_query` — is neither in views nor owned is left alone, as is a row
// that names no view. Views known to be fenced are another SSP's whatever owned says: they are
// left out of views and their rows alone, and TakeFenced names them again.
func (w *Writer) Reconcile(ctx context.Context, views map[string]ViewMembership, owned func(viewKey string) bool) (ReconcileStats, error) {
	var st ReconcileStats
	if w.bad != nil {
		return st, fmt.Errorf("reconcile: %w", w.bad)
	}
	table := w.table
	w.Forget()
	keys := make([]string, 0, len(views))
	for k := range views {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vm := views[k]
		switch {
		case k == "":
			w.stats.InvalidMembers += int64(len(vm.Members))
			continue
		case w.fenced[k]:
			w.unclaimed[k] = struct{}{}
			continue
		}
		if vs := w.viewStateOf(k, vm); len(vs.members) > 0 {
			w.views[k] = vs
		}
	}
	st.Views = len(views)
	ours := func(view string) bool {
		switch {
		case view == "":
			return owned == nil // a row of no view is garbage only when every row is ours
		case w.fenced[view]:
			return false
		}
		if _, ok := views[view]; ok {
			return true
		}
		return owned == nil || owned(view)
	}

	seen := map[edgeKey]bool{}
	var stale []staleEdge
	var fix []edgeKey
	err := w.scanEdges(ctx, func(row value.Value) {
		st.Scanned++
		id := row.Get("id")
		k, ok := parseEdgeID(table, id)
		if !ok {
			if view := rowView(row); ours(view) {
				stale = append(stale, staleEdge{id: id, view: view})
			}
			return
		}
		if !ours(k.view) {
			return
		}
		want, present := w.edgeRowWithID(k, value.None())
		switch {
		case !present:
			stale = append(stale, staleEdge{id: id, view: k.view})
		case seen[k]:
			// Cannot happen (ids are unique); ignore.
		default:
			seen[k] = true
			if !sameEdge(row, want) {
				fix = append(fix, k)
			}
		}
	})
	if err != nil {
		return st, fmt.Errorf("reconcile %s: %w", table, err)
	}

	w.queue.stale = stale
	st.Removed = len(stale)
	for _, k := range fix {
		w.touch(k.view, k.MemberKey)
	}
	st.Fixed = len(fix)
	for _, view := range w.sortedViews() {
		for _, p := range w.views[view].positions() {
			if !seen[edgeKey{view, p}] {
				w.touch(view, p)
				st.Added++
			}
		}
	}
	if err := w.flush(ctx); err != nil {
		return st, fmt.Errorf("reconcile %s: %w", table, err)
	}
	return st, nil
}

// scanEdges reads every row of the table in id order, in pages. A table that does not exist
// is empty.
func (w *Writer) scanEdges(ctx context.Context, fn func(row value.Value)) error {
	vars := map[string]any{"tb": w.table, "n": w.opts.PageSize}
	q := "SELECT * FROM type::table($tb) ORDER BY id LIMIT $n"
	for {
		rs, err := w.q.Query(ctx, q, vars)
		if err == nil {
			err = conn.StatementErr(rs)
		}
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				return nil
			}
			return err
		}
		rows := rs[0].Value.Elems()
		for _, r := range rows {
			fn(r)
		}
		if len(rows) < w.opts.PageSize {
			return nil
		}
		vars["last"] = rows[len(rows)-1].Get("id")
		q = "SELECT * FROM type::table($tb) WHERE id > $last ORDER BY id LIMIT $n"
	}
}

// rowView returns the view of an edge row by its `in` field: the key of a `_00_query` record,
// else "".
func rowView(row value.Value) string {
	in := row.Get("in")
	if in.Kind() != value.KindRecord || in.Table() != QueryTable {
		return ""
	}
	return recordKeyText(in.Key())
}

// parseEdgeID reads an id of the writer's form `<table>:[view, parent, rel, key]`.
func parseEdgeID(table string, id value.Value) (edgeKey, bool) {
	if id.Kind() != value.KindRecord || id.Table() != table {
		return edgeKey{}, false
	}
	parts := id.Key().Elems()
	if id.Key().Kind() != value.KindArray || len(parts) != 4 {
		return edgeKey{}, false
	}
	var s [4]string
	for i, p := range parts {
		if p.Kind() != value.KindString {
			return edgeKey{}, false
		}
		s[i] = p.AsString()
	}
	if (s[1] == "") != (s[2] == "") {
		return edgeKey{}, false
	}
	return edgeKey{view: s[0], MemberKey: engine.MemberKey{Parent: s[1], Rel: s[2], Key: s[3]}}, true
}

// sameEdge reports whether an edge row read from the database holds what want says
// (updatedAt aside).
func sameEdge(row, want value.Value) bool {
	for _, f := range []string{"in", "out", "version", "clientId", "auth_id", "parent", "parent_rel"} {
		a, b := row.Get(f), want.Get(f)
		if a.Kind() != b.Kind() || value.Compare(a, b) != 0 {
			return false
		}
	}
	return true
}
