package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// convergeTimeout bounds waiting for the SSP's edge writes to reach SurrealDB.
const convergeTimeout = 90 * time.Second

// converge polls until the SSP has nothing left to write (no ingest or edge item waiting) and
// the edge rows equal what SurrealDB's answers to the views imply (plus, in dedicated mode, one
// per-user table per existing user and, with strictTables, none for others) and did not change
// since the previous poll. It returns the final snapshot.
func converge(t *testing.T, ctx context.Context, db *conn.Conn, p *sspProc, views []view, mode refMode, strictTables bool) snapshot {
	t.Helper()
	var snap snapshot
	var prev []string
	seen := false // prev holds a snapshot (an empty one is nil)
	waitFor(t, convergeTimeout, 100*time.Millisecond, func() (bool, string) {
		if d := p.Metric("ssp_mailbox_depth"); d != 0 {
			return false, fmt.Sprintf("the SSP still has %v items to write", d)
		}
		exp, err := expect(ctx, db, views, mode)
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		s, err := readEdges(ctx, db)
		if err != nil {
			t.Fatalf("read edges: %v", err)
		}
		diffs := diffEdges(exp, s)
		diffs = append(diffs, userTableDiffs(t, ctx, db, mode, s, strictTables)...)
		text := rowsText(s, true)
		stable := seen && len(diffLines(prev, text)) == 0
		prev, snap, seen = text, s, true
		if len(diffs) > 0 {
			return false, fmt.Sprintf("%d differences between the edge rows and SurrealDB's answers:\n%s", len(diffs), head(diffs, 40))
		}
		return stable, "edge rows still changing"
	})
	return snap
}

// userTableDiffs checks the per-user list_ref tables: in dedicated mode one per existing user
// (defined when the user's CREATE was ingested) and, with strict, none for users that do not
// exist (removed when their DELETE was ingested); in single mode none. (Rows in a table of a
// missing user are reported by diffEdges.)
func userTableDiffs(t *testing.T, ctx context.Context, db *conn.Conn, mode refMode, s snapshot, strict bool) []string {
	t.Helper()
	want := map[string]bool{}
	if mode == dedicated {
		for _, id := range exec1(t, ctx, db, "SELECT VALUE id FROM user", nil)[0].Value.Elems() {
			if uid, ok := userUID(value.RecordString(id)); ok {
				want[userTable(uid)] = true
			}
		}
	}
	var out []string
	for tb := range s {
		if strings.HasPrefix(tb, userTablePrefix) && !want[tb] && (strict || mode == single) {
			out = append(out, fmt.Sprintf("table %s exists but its user does not (or single mode)", tb))
		}
	}
	for tb := range want {
		if _, ok := s[tb]; !ok {
			out = append(out, fmt.Sprintf("table %s of an existing user is missing", tb))
		}
	}
	return out
}

// waitWritersIdle polls /metrics until no ingest and no edge item is waiting.
func waitWritersIdle(t *testing.T, p *sspProc) {
	t.Helper()
	waitFor(t, convergeTimeout, 20*time.Millisecond, func() (bool, string) {
		d := p.Metric("ssp_mailbox_depth")
		return d == 0, fmt.Sprintf("ssp_mailbox_depth = %v", d)
	})
}

// lastBodies returns, per record id, the last /ingest body of bodies (the record's current
// state or its deletion), in their original order.
func lastBodies(t *testing.T, bodies [][]byte) [][]byte {
	t.Helper()
	last := map[string]int{}
	for i, b := range bodies {
		var m struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &m); err != nil || m.ID == "" {
			t.Fatalf("recorded ingest body %d without id (%v): %s", i, err, b)
		}
		last[m.ID] = i
	}
	var out [][]byte
	for i, b := range bodies {
		var m struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(b, &m)
		if last[m.ID] == i {
			out = append(out, b)
		}
	}
	return out
}

// TestWorkloadMembership is the end-to-end correctness test in both ref modes: a seeded random
// workload written into SurrealDB reaches the SSP through Sp00ky's events, and the edge rows in
// SurrealDB must then equal, row for row, the membership SurrealDB's own answers to the views
// imply. Replaying the ingests afterwards (each record's last body, then the whole sequence)
// must leave the edge tables as they were.
func TestWorkloadMembership(t *testing.T) {
	for _, mode := range []refMode{dedicated, single} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			name, db := newDatabase(t, ctx, "wl_"+string(mode))
			proxy := newIngestProxy(t)
			exec1(t, ctx, db, schemaSQL(proxy.URL(), false), nil)
			ssp := startSSP(t, sspConfig{DB: name, RefMode: string(mode)})
			proxy.setTarget(ssp.Base)
			ssp.WaitReady(time.Minute)

			gen := newGenerator(100) // the same workload in both modes
			r := &runner{db: db, writers: 3}
			if err := r.run(ctx, gen.owners()); err != nil {
				t.Fatal(err)
			}
			views := corpus()
			// Half the views see the data grow, half are registered over existing data.
			for _, v := range views[:len(views)/2] {
				ssp.register(v)
			}
			writes := make([]write, 300)
			for j := range writes {
				writes[j] = gen.next()
			}
			if err := r.run(ctx, writes[:150]); err != nil {
				t.Fatal(err)
			}
			for _, v := range views[len(views)/2:] {
				ssp.register(v)
			}
			if err := r.run(ctx, writes[150:]); err != nil {
				t.Fatal(err)
			}
			if n := r.retries.Load(); n > 0 {
				t.Errorf("%d writes failed and were retried; the SSP should accept every ingest", n)
			}
			if dropped, rejected := proxy.counts(); dropped+rejected > 0 {
				t.Errorf("proxy: %d ingests dropped, %d rejected", dropped, rejected)
			}
			snap := converge(t, ctx, db, ssp, views, mode, true)
			checkQueryRows(t, ctx, db, views)
			before := rowsText(snap, true)
			members := 0
			for _, rows := range snap {
				members += len(rows)
			}
			t.Logf("%s: %d writes, %d ingests, %d edge rows in %d tables", mode, r.done.Load(), len(proxy.recorded()), members, len(snap))

			// Replaying every record's last ingest changes nothing: no edge write at all.
			bodies := proxy.recorded()
			writes0 := ssp.Metric("ssp_edge_writes_total")
			for _, b := range lastBodies(t, bodies) {
				ssp.MustDo("POST", "/ingest", b, 200)
			}
			waitWritersIdle(t, ssp)
			if w := ssp.Metric("ssp_edge_writes_total"); w != writes0 {
				t.Errorf("replaying the current rows wrote %v edges, want none", w-writes0)
			}
			after, err := readEdges(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffLines(before, rowsText(after, true)); len(d) > 0 {
				t.Errorf("replaying the current rows changed edge rows:\n%s", head(d, 20))
			}

			// Replaying the whole ingest sequence passes through old states again but must end
			// with the same rows (ids included; only updatedAt may differ).
			for _, b := range bodies {
				ssp.MustDo("POST", "/ingest", b, 200)
			}
			waitWritersIdle(t, ssp)
			final := converge(t, ctx, db, ssp, views, mode, true)
			if d := diffLines(rowsText(snap, false), rowsText(final, false)); len(d) > 0 {
				t.Errorf("replaying the workload changed edge rows:\n%s", head(d, 20))
			}
		})
	}
}

// checkQueryRows checks the `_00_query` row of every view: surql, clientId and auth_id as
// registered.
func checkQueryRows(t *testing.T, ctx context.Context, db *conn.Conn, views []view) {
	t.Helper()
	rows := exec1(t, ctx, db, "SELECT * FROM _00_query", nil)[0].Value.Elems()
	got := map[string]value.Value{}
	for _, r := range rows {
		got[r.Get("id").Key().AsString()] = r
	}
	if len(got) != len(views) {
		t.Errorf("%d _00_query rows, want %d", len(got), len(views))
	}
	for _, v := range views {
		r, ok := got[v.Key]
		switch {
		case !ok:
			t.Errorf("no _00_query row for view %s", v.Key)
		case r.Get("surql").AsString() != v.SurQL || r.Get("clientId").AsString() != v.Client || r.Get("auth_id").AsString() != v.Owner:
			t.Errorf("_00_query:%s = %s, want surql %q, clientId %q, auth_id %q", v.Key, r.SurQL(), v.SurQL, v.Client, v.Owner)
		}
	}
}
