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
// of the table — edges of members that left, of views not in views, and rows with ids not of
// the writer's form (duplicates written by older SSPs). The table is read in pages by id. It
// replaces the writer's mirror and pending writes by views, so later deltas apply on top of
// them. Writes that fail stay pending, like any flush's; a failed read is returned and leaves
// nothing pending.
func (w *Writer) Reconcile(ctx context.Context, views map[string]ViewMembership) (ReconcileStats, error) {
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
		if k == "" {
			w.stats.InvalidMembers += int64(len(vm.Members))
			continue
		}
		vs := newViewState()
		vs.clientID, vs.authID = vm.ClientID, vm.AuthID
		for _, m := range vm.Members {
			if mem, ok := w.member(k, m); ok {
				vs.set(m.ID(), mem)
			}
		}
		if len(vs.members) > 0 {
			w.views[k] = vs
		}
	}
	st.Views = len(views)

	seen := map[edgeKey]bool{}
	var stale []value.Value
	var fix []edgeKey
	err := w.scanEdges(ctx, func(row value.Value) {
		st.Scanned++
		id := row.Get("id")
		k, ok := parseEdgeID(table, id)
		if !ok {
			stale = append(stale, id)
			return
		}
		want, present := w.edgeRow(k)
		switch {
		case !present:
			stale = append(stale, id)
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
