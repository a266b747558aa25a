package membership

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// vmOf is a membership of client "c", owner user:alice.
func vmOf(ms ...engine.Member) ViewMembership {
	return ViewMembership{ClientID: "c", AuthID: "user:alice", Members: ms}
}

// delta is one step of view with the given changes.
func delta(view string, add, upd, rem []engine.Member) ViewDelta {
	return ViewDelta{ViewKey: view, ClientID: "c", AuthID: "user:alice",
		Delta: engine.Delta{Added: add, Updated: upd, Removed: rem}}
}

func ms(m ...engine.Member) []engine.Member { return m }

// owned returns a Writer of table for the SSP owner, with e's options otherwise.
func (e *env) owned(table, owner string, opts WriterOptions) *Writer {
	opts.Owner = owner
	if opts.Log == nil {
		opts.Log = quietLog()
	}
	return NewWriter(e.q, table, opts)
}

// expectTop fails unless the top-level read of each view in table equals want.
func (e *env) expectTop(when, table string, want map[string][]string) {
	e.t.Helper()
	for view, w := range want {
		if got, _ := e.clientRead(table, view); !eq(got, w) {
			e.t.Fatalf("%s: view %s = %v, want %v", when, view, got, w)
		}
	}
}

// sspOf returns the ssp_id of a view's `_00_query` row (NONE when it has none).
func (e *env) sspOf(view string) value.Value {
	e.t.Helper()
	return e.exec("RETURN $q.ssp_id", map[string]any{"q": QueryRecord(view)})[0].Value
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestFencing: two SSPs' Writers on one table. Once B claims a view of A's, A's next flush
// skips that view's writes — in the same transaction as A's other views, which are written —
// reports it once through TakeFenced, and A never writes it again (deltas, SetView,
// RemoveView, Reconcile, pending writes) until A claims it back, which fences B in turn. Run
// with one transaction per flush, with views split over several transactions, and with
// parallel groups.
func TestFencing(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts WriterOptions
		txs  int64 // Querier calls of A's first fenced flush; 0: not checked
	}{
		{"one transaction", WriterOptions{}, 1},
		{"views split over transactions", WriterOptions{MaxStatements: 2}, 0},
		{"parallel groups", WriterOptions{Parallel: 3, ParallelMin: 1, MaxStatements: 3}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, WriterOptions{})
			const tb = GlobalTable
			a := e.owned(tb, "ssp-A", tc.opts)
			b := e.owned(tb, "ssp-B", tc.opts)
			for _, v := range []string{"v1", "v2", "v3"} {
				must(t, "A claims "+v, a.ClaimView(e.ctx, v, vmOf(top("thread:1", 1), top("thread:2", 1))))
			}
			must(t, "B claims v2", b.ClaimView(e.ctx, "v2", vmOf(top("thread:1", 1), top("thread:3", 1))))
			if got := e.sspOf("v2").AsString(); got != "ssp-B" {
				t.Fatalf("v2's ssp_id = %q after B's claim", got)
			}
			bTop := []string{"thread:1@1", "thread:3@1"}

			// A's next flush touches all three views.
			before := e.queries()
			must(t, "A's flush", a.ApplyDeltas(e.ctx, []ViewDelta{
				delta("v1", ms(top("thread:4", 1)), ms(top("thread:1", 2)), nil),
				delta("v2", ms(top("thread:5", 1)), ms(top("thread:1", 2)), ms(top("thread:2", 1))),
				delta("v3", ms(top("thread:6", 1)), nil, nil),
			}))
			if n := e.queries() - before; tc.txs > 0 && n != tc.txs {
				t.Fatalf("A's flush made %d queries, want %d", n, tc.txs)
			}
			e.expectTop("after A's fenced flush", tb, map[string][]string{
				"v1": {"thread:1@2", "thread:2@1", "thread:4@1"},
				"v2": bTop,
				"v3": {"thread:1@1", "thread:2@1", "thread:6@1"},
			})
			if got := a.TakeFenced(); !eq(got, []string{"v2"}) {
				t.Fatalf("A's TakeFenced = %v, want [v2]", got)
			}
			if got := a.TakeFenced(); got != nil {
				t.Fatalf("second TakeFenced = %v, want nothing", got)
			}
			if st := a.Stats(); st.Pending != 0 || st.FencedViews != 1 {
				t.Fatalf("A's stats %+v", st)
			}

			// A never writes v2 again, whatever it is asked.
			before = e.queries()
			must(t, "A's delta of v2", a.ApplyDeltas(e.ctx, []ViewDelta{delta("v2", ms(top("thread:7", 1)), nil, nil)}))
			must(t, "A's SetView of v2", a.SetView(e.ctx, "v2", vmOf(top("thread:7", 1))))
			must(t, "A's RemoveView of v2", a.RemoveView(e.ctx, "v2"))
			if n := e.queries() - before; n != 0 {
				t.Fatalf("A sent %d queries for a fenced view", n)
			}
			st, err := a.Reconcile(e.ctx, map[string]ViewMembership{
				"v1": vmOf(top("thread:1", 2), top("thread:4", 1)), "v2": vmOf(top("thread:7", 1)), "v3": vmOf(top("thread:6", 1)),
			}, nil)
			must(t, "A's Reconcile", err)
			if st.Removed != 3 || st.Added != 0 {
				t.Fatalf("A's Reconcile stats %+v, want 3 removed of v1 and v3 only", st)
			}
			e.expectTop("after A's Reconcile", tb, map[string][]string{
				"v1": {"thread:1@2", "thread:4@1"}, "v2": bTop, "v3": {"thread:6@1"},
			})
			if got := a.TakeFenced(); !eq(got, []string{"v2"}) {
				t.Fatalf("TakeFenced after a Reconcile naming v2 = %v, want [v2] again", got)
			}

			// A statement failing inside the guarded block fails the whole transaction: the
			// writes stay pending. Writes of a view left pending go when the view turns out
			// fenced; the other views' are written.
			var broken atomic.Bool
			broken.Store(true)
			a.fault = func(surql string) string {
				if !broken.Load() {
					return surql
				}
				return strings.Replace(surql, "$fenced\n};", "THROW 'injected fault';\n$fenced\n};", 1)
			}
			if err := a.ApplyDeltas(e.ctx, []ViewDelta{
				delta("v1", ms(top("thread:8", 1)), nil, nil), delta("v3", ms(top("thread:8", 1)), nil, nil),
			}); err == nil || !strings.Contains(err.Error(), "injected fault") {
				t.Fatalf("A's flush with a failing statement = %v", err)
			}
			e.expectTop("after A's failed flush", tb, map[string][]string{
				"v1": {"thread:1@2", "thread:4@1"}, "v3": {"thread:6@1"},
			})
			if n := a.Stats().Pending; n != 2 {
				t.Fatalf("%d writes pending after the failed flush, want 2", n)
			}
			must(t, "B claims v3", b.ClaimView(e.ctx, "v3", vmOf(top("thread:9", 1))))
			broken.Store(false)
			must(t, "A's Flush", a.Flush(e.ctx))
			e.expectTop("after A's retried flush", tb, map[string][]string{
				"v1": {"thread:1@2", "thread:4@1", "thread:8@1"}, "v3": {"thread:9@1"},
			})
			if got := a.TakeFenced(); !eq(got, []string{"v3"}) || a.Stats().Pending != 0 {
				t.Fatalf("TakeFenced = %v with %d pending, want [v3] and nothing", got, a.Stats().Pending)
			}

			// B writes its view; when A claims v2 back, B is fenced in turn.
			must(t, "B's flush", b.ApplyDeltas(e.ctx, []ViewDelta{delta("v2", ms(top("thread:8", 1)), nil, nil)}))
			e.expectTop("after B's flush", tb, map[string][]string{"v2": {"thread:1@1", "thread:3@1", "thread:8@1"}})
			must(t, "A claims v2 back", a.ClaimView(e.ctx, "v2", vmOf(top("thread:1", 3))))
			must(t, "B's next flush", b.ApplyDeltas(e.ctx, []ViewDelta{
				delta("v2", ms(top("thread:9", 1)), nil, nil), delta("v3", ms(top("thread:10", 1)), nil, nil),
			}))
			if got := b.TakeFenced(); !eq(got, []string{"v2"}) {
				t.Fatalf("B's TakeFenced = %v, want [v2]", got)
			}
			must(t, "A's delta of v2", a.ApplyDeltas(e.ctx, []ViewDelta{delta("v2", ms(top("thread:10", 1)), nil, nil)}))
			e.expectTop("after the claim back", tb, map[string][]string{
				"v2": {"thread:10@1", "thread:1@3"}, "v3": {"thread:10@1", "thread:9@1"},
			})
			if got := a.TakeFenced(); got != nil {
				t.Fatalf("A's TakeFenced after claiming v2 back = %v", got)
			}
		})
	}
}

// TestFenceOnlyAnotherSSPsRow: in one transaction, a view is fenced only when its
// `_00_query` row has a string ssp_id naming another SSP; a missing row (a registration whose
// row is not written yet), a row without ssp_id, or with a non-string one, is written. In a
// database without `_00_query` at all, the first guarded flush defines it first.
func TestFenceOnlyAnotherSSPsRow(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	a := e.owned(GlobalTable, "ssp-A", WriterOptions{})
	var sent []string
	a.fault = func(surql string) string { sent = append(sent, surql); return surql }
	must(t, "flush without _00_query", a.ApplyDeltas(e.ctx, []ViewDelta{delta("no-table", ms(top("thread:1", 1)), nil, nil)}))
	if got, _ := e.clientRead(GlobalTable, "no-table"); len(got) != 1 || len(sent) != 1 || !strings.HasPrefix(sent[0], ensureQueryTable) {
		t.Fatalf("flush without _00_query: edges %v, sent %q", got, sent)
	}
	cases := []struct {
		view, row string // row: the SurrealQL writing $q before the flush ("" for none)
		fenced    bool
	}{
		{"missing", "", false},
		{"no-ssp-id", "UPSERT $q SET surql = 'SELECT * FROM thread'", false},
		{"null-ssp-id", "UPSERT $q SET ssp_id = NULL", false},
		{"not-a-string", "UPSERT $q SET ssp_id = 5", false},
		{"ours", "UPSERT $q SET ssp_id = 'ssp-A'", false},
		{"another's", "UPSERT $q SET ssp_id = 'ssp-B'", true},
		{"another's, odd id", "UPSERT $q SET ssp_id = \"ssp-A' OR true; --\"", true},
	}
	var batch []ViewDelta
	var want []string
	for _, c := range cases {
		if c.row != "" {
			e.exec(c.row, map[string]any{"q": QueryRecord(c.view)})
		}
		batch = append(batch, delta(c.view, ms(top("thread:1", 1)), nil, nil))
		if c.fenced {
			want = append(want, c.view)
		}
	}
	before := e.queries()
	must(t, "ApplyDeltas", a.ApplyDeltas(e.ctx, batch))
	if n := e.queries() - before; n != 1 {
		t.Fatalf("%d queries, want one transaction", n)
	}
	for _, c := range cases {
		got, _ := e.clientRead(GlobalTable, c.view)
		if written := len(got) == 1; written == c.fenced {
			t.Errorf("view %q (%s): edges %v, fenced = %v", c.view, c.row, got, c.fenced)
		}
	}
	if got := a.TakeFenced(); !eq(got, want) {
		t.Fatalf("TakeFenced = %v, want %v", got, want)
	}
	if len(sent) != 2 || strings.Contains(sent[1], "DEFINE") {
		t.Fatalf("the second flush redefined _00_query: %q", sent)
	}
}

// TestClaimView: a claim takes over a view in one transaction — the row names the claimant
// (a row holding only ssp_id when there was none, which the registration's full row keeps),
// the previous owner's edges of the view that are not members are deleted (random ids too),
// members are upserted, other views' edges are left alone — and later deltas apply on top.
// A failed claim records nothing; without an Owner a claim is SetView.
func TestClaimView(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	const tb = GlobalTable
	old := e.owned(tb, "ssp-old", WriterOptions{})
	must(t, "old owner's edges", old.ApplyDeltas(e.ctx, []ViewDelta{
		delta("v", ms(top("thread:1", 1), top("thread:2", 1), sub("thread:1", "comments", "comment:a", 1)), nil, nil),
		delta("w", ms(top("thread:1", 1), top("thread:2", 1)), nil, nil),
	}))
	e.exec("CREATE _00_list_ref SET in = $q, out = thread:2, version = 1, clientId = 'c', auth_id = 'user:alice'",
		map[string]any{"q": QueryRecord("v")}) // a duplicate with a random id
	if !e.sspOf("v").IsNone() {
		t.Fatal("the old owner's writes created a _00_query row")
	}

	nw := e.owned(tb, "ssp-new", WriterOptions{})
	claimed := vmOf(top("thread:1", 3), top("thread:3", 1), sub("thread:1", "comments", "comment:b", 1))
	before := e.queries()
	must(t, "ClaimView", nw.ClaimView(e.ctx, "v", claimed))
	if n := e.queries() - before; n != 1 {
		t.Fatalf("ClaimView made %d queries, want one transaction", n)
	}
	top0, sub0 := e.clientRead(tb, "v")
	if !eq(top0, []string{"thread:1@3", "thread:3@1"}) || !eq(sub0, []string{"comment:b@1<thread:1"}) {
		t.Fatalf("v after the claim: top %v sub %v", top0, sub0)
	}
	if n := len(e.edges(tb)); n != 5 {
		t.Fatalf("%d rows after the claim, want v's 3 and w's 2", n)
	}
	e.expectTop("w after the claim", tb, map[string][]string{"w": {"thread:1@1", "thread:2@1"}})
	row := e.exec("SELECT * FROM ONLY $q", map[string]any{"q": QueryRecord("v")})[0].Value
	if fs := row.Fields(); len(fs) != 2 || row.Get("ssp_id").AsString() != "ssp-new" {
		t.Fatalf("the claim's row = %s, want id and ssp_id only", row.SurQL())
	}

	// The registration's full row keeps the claim's ssp_id, with an SSP id or without.
	reg := QueryRow{Key: "v", SurQL: "SELECT * FROM thread", Params: value.None(), ClientID: "c", AuthID: "user:alice",
		TTL: time.Hour, LastActiveAt: time.Now()}
	for _, ssp := range []string{"", "ssp-new"} {
		reg.SSPID = ssp
		must(t, "UpsertQuery", e.s.UpsertQuery(e.ctx, reg))
		rows, err := e.s.LoadQueries(e.ctx, "ssp-new")
		if err != nil || len(rows) != 1 || rows[0].Key != "v" || rows[0].SurQL != reg.SurQL || rows[0].SSPID != "ssp-new" {
			t.Fatalf("LoadQueries(ssp-new) after UpsertQuery with SSPID %q = %+v, %v", ssp, rows, err)
		}
	}

	// Later deltas apply on top of the claimed membership; the old owner is fenced.
	must(t, "delta after the claim", nw.ApplyDeltas(e.ctx, []ViewDelta{delta("v", ms(top("thread:4", 1)), nil, ms(top("thread:3", 1)))}))
	must(t, "old owner's flush", old.ApplyDeltas(e.ctx, []ViewDelta{delta("v", ms(top("thread:9", 1)), nil, nil)}))
	e.expectTop("after both flushes", tb, map[string][]string{"v": {"thread:1@3", "thread:4@1"}})
	if got := old.TakeFenced(); !eq(got, []string{"v"}) {
		t.Fatalf("old owner's TakeFenced = %v", got)
	}

	// A failed claim records nothing: the view stays as it was, and so does its row.
	countFaults(e, nw, false, 1)
	if err := nw.ClaimView(e.ctx, "w", vmOf(top("thread:7", 1))); err == nil || !strings.Contains(err.Error(), "claim view w") {
		t.Fatalf("ClaimView with a failing database = %v", err)
	}
	if !e.sspOf("w").IsNone() || nw.views["w"] != nil {
		t.Fatal("a failed claim recorded something")
	}
	e.expectTop("w after a failed claim", tb, map[string][]string{"w": {"thread:1@1", "thread:2@1"}})
	// An empty claim takes the view with no edges.
	must(t, "empty ClaimView", nw.ClaimView(e.ctx, "w", vmOf()))
	if got, _ := e.clientRead(tb, "w"); len(got) != 0 || e.sspOf("w").AsString() != "ssp-new" {
		t.Fatalf("after an empty claim: %v, ssp_id %s", got, e.sspOf("w").SurQL())
	}

	// Without an Owner, ClaimView is SetView: no row, the difference only.
	free := e.writer(tb)
	must(t, "standalone ClaimView", free.ClaimView(e.ctx, "x", vmOf(top("thread:1", 1))))
	if !e.sspOf("x").IsNone() {
		t.Fatalf("a standalone claim wrote ssp_id %s", e.sspOf("x").SurQL())
	}
	e.expectTop("standalone claim", tb, map[string][]string{"x": {"thread:1@1"}})
}

// TestReconcileScoped: with an ownership scope, Reconcile removes this SSP's stale rows (of
// views in the computed membership or owned but gone, deterministic or random ids) and leaves
// every row of another SSP's views, and rows that name no view, alone; without a scope every
// row of the table is this SSP's (standalone) — though with an Owner the fencing guard still
// keeps it from deleting another SSP's rows.
func TestReconcileScoped(t *testing.T) {
	mine := map[string]bool{"a1": true, "a2": true}
	for _, tc := range []struct {
		name  string
		owner string
		owned func(string) bool
		// rows left in the table after the reconcile, by the `in` of each row ("-" for none),
		// what the reconcile found stale, and the views found fenced
		left    string
		removed int
		fenced  []string
	}{
		{"scoped", "ssp-A", func(v string) bool { return mine[v] }, "- a1 a1 b1 b1 b1", 3, nil},
		{"standalone", "", nil, "a1 a1", 7, nil},
		{"owner without a scope", "ssp-A", nil, "a1 a1 b1 b1 b1", 7, []string{"b1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, WriterOptions{PageSize: 3})
			const tb = GlobalTable
			other := e.owned(tb, "ssp-B", WriterOptions{})
			must(t, "B's edges", other.ClaimView(e.ctx, "b1", vmOf(top("thread:1", 1), top("thread:2", 1))))
			mineW := e.owned(tb, "ssp-A", WriterOptions{})
			for v, members := range map[string][]engine.Member{
				"a1": {top("thread:1", 1), top("thread:2", 1), top("thread:3", 1)},
				"a2": {top("thread:1", 1)},
			} {
				must(t, "A's edges", mineW.ClaimView(e.ctx, v, vmOf(members...)))
			}
			for _, v := range []string{"a1", "b1"} { // duplicates with random ids
				e.exec("CREATE _00_list_ref SET in = $q, out = thread:1, version = 1, clientId = 'c', auth_id = 'user:alice'",
					map[string]any{"q": QueryRecord(v)})
			}
			e.exec("CREATE _00_list_ref SET in = thread:1, out = thread:1, version = 1", nil) // names no view

			w := e.owned(tb, tc.owner, WriterOptions{PageSize: 3}) // a restarted SSP A
			st, err := w.Reconcile(e.ctx, map[string]ViewMembership{"a1": vmOf(top("thread:1", 2), top("thread:2", 1))}, tc.owned)
			must(t, "Reconcile", err)
			if st.Removed != tc.removed || st.Fixed != 1 || st.Added != 0 || st.Scanned != 9 {
				t.Fatalf("stats %+v, want %d removed, 1 fixed, 9 scanned", st, tc.removed)
			}
			var ins []string
			for _, r := range e.edges(tb) {
				in := "-"
				if strings.HasPrefix(r.in, QueryTable+":") {
					in = strings.TrimPrefix(r.in, QueryTable+":")
				}
				ins = append(ins, in)
			}
			if got := strings.Join(sorted(ins), " "); got != tc.left {
				t.Fatalf("rows left by view: %s, want %s", got, tc.left)
			}
			e.expectTop("a1", tb, map[string][]string{"a1": {"thread:1@2", "thread:2@1"}})
			if tc.owner != "" {
				e.expectTop("b1", tb, map[string][]string{"b1": {"thread:1@1", "thread:1@1", "thread:2@1"}})
			}
			if got := w.TakeFenced(); !eq(got, tc.fenced) {
				t.Fatalf("TakeFenced = %v, want %v", got, tc.fenced)
			}
		})
	}
	t.Run("only rows of no view, with an owner", func(t *testing.T) {
		e := newEnv(t, WriterOptions{})
		e.exec("CREATE _00_list_ref SET in = thread:1, out = thread:1, version = 1", nil)
		st, err := e.owned(GlobalTable, "ssp-A", WriterOptions{}).Reconcile(e.ctx, nil, nil)
		if err != nil || st.Removed != 1 || len(e.edges(GlobalTable)) != 0 {
			t.Fatalf("Reconcile = %+v, %v with %d rows left; want the row removed", st, err, len(e.edges(GlobalTable)))
		}
	})
}

// TestClearEdgesByOwner: with an owner, ClearEdges deletes, in every list_ref table and in
// one transaction, only the edges of views whose row names that owner; without one, every edge.
func TestClearEdgesByOwner(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	must(t, "DefineUserTable", DefineUserTable(e.ctx, e.q, "alice"))
	ut := UserTable("alice")
	// A row whose `in` names a table that does not exist is never followed.
	e.exec("CREATE _00_list_ref SET in = thread:1, out = thread:1, version = 1", nil)
	// Without `_00_query` no view has an owner: nothing goes, and nothing is tried.
	before := e.queries()
	must(t, "ClearEdges without _00_query", ClearEdges(e.ctx, e.q, "ssp-A"))
	if n := len(e.edges(GlobalTable)); n != 1 || e.queries()-before != 1 {
		t.Fatalf("ClearEdges without _00_query: %d rows left, %d queries; want 1 and 1", n, e.queries()-before)
	}
	for _, tb := range []string{GlobalTable, ut} {
		for _, c := range []struct{ owner, view string }{{"ssp-A", "a"}, {"ssp-B", "b"}} {
			must(t, "claim", e.owned(tb, c.owner, WriterOptions{}).ClaimView(e.ctx, c.view, vmOf(top("thread:1", 1), top("thread:2", 1))))
		}
		// Views whose row is missing, or has no ssp_id.
		must(t, "edges", e.writer(tb).ApplyDeltas(e.ctx, []ViewDelta{added("norow", top("thread:1", 1)), added("noid", top("thread:1", 1))}))
	}
	e.exec("UPSERT _00_query:noid SET surql = 'SELECT * FROM thread'", nil)
	views := func() string {
		var out []string
		for _, tb := range []string{GlobalTable, ut} {
			for _, r := range e.edges(tb) {
				if strings.HasPrefix(r.in, QueryTable+":") {
					out = append(out, tb+"/"+strings.TrimPrefix(r.in, QueryTable+":"))
				} else {
					out = append(out, tb+"/-")
				}
			}
		}
		return strings.Join(sorted(out), " ")
	}
	for _, step := range []struct {
		owner, left string
	}{
		{"ssp-C", fmt.Sprintf("%[1]s/- %[1]s/a %[1]s/a %[1]s/b %[1]s/b %[1]s/noid %[1]s/norow %[2]s/a %[2]s/a %[2]s/b %[2]s/b %[2]s/noid %[2]s/norow", GlobalTable, ut)},
		{"ssp-A", fmt.Sprintf("%[1]s/- %[1]s/b %[1]s/b %[1]s/noid %[1]s/norow %[2]s/b %[2]s/b %[2]s/noid %[2]s/norow", GlobalTable, ut)},
		{"", ""},
	} {
		before = e.queries()
		must(t, "ClearEdges", ClearEdges(e.ctx, e.q, step.owner))
		if n := e.queries() - before; n != 2 {
			t.Fatalf("ClearEdges(%q) made %d queries, want 2", step.owner, n)
		}
		if got := views(); got != step.left {
			t.Fatalf("after ClearEdges(%q): %s\nwant %s", step.owner, got, step.left)
		}
	}
	if rs := e.exec("SELECT VALUE id FROM _00_query", nil); rs[0].Value.Len() != 3 {
		t.Fatalf("ClearEdges touched _00_query: %s", rs[0].Value.SurQL())
	}
}
