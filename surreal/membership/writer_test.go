package membership

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

func TestTableFor(t *testing.T) {
	tests := []struct {
		mode   RefMode
		authID string
		want   string
	}{
		{RefSingle, "user:alice", GlobalTable},
		{RefSingle, "", GlobalTable},
		{RefDedicated, "user:alice", "_00_list_ref_user_alice"},
		{RefDedicated, "user:A_1", "_00_list_ref_user_A_1"},
		{RefDedicated, "bob", "_00_list_ref_user_bob"},
		{RefDedicated, "", GlobalTable},
		{RefDedicated, "user:", GlobalTable},
		{RefDedicated, "user:⟨a-b⟩", GlobalTable},
		{RefDedicated, "user:a-b", GlobalTable},
		{RefDedicated, "user:a b", GlobalTable},
		{RefDedicated, "admin:x", GlobalTable},
		{RefDedicated, "user:x;DROP", GlobalTable},
	}
	for _, tc := range tests {
		if got := TableFor(tc.mode, tc.authID); got != tc.want {
			t.Errorf("TableFor(%s, %q) = %q, want %q", tc.mode, tc.authID, got, tc.want)
		}
	}
	for in, want := range map[string]RefMode{"": RefDedicated, "Single": RefSingle, "DEDICATED": RefDedicated} {
		if got, err := ParseRefMode(in); err != nil || got != want {
			t.Errorf("ParseRefMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseRefMode("shared"); err == nil || !strings.Contains(err.Error(), "single") {
		t.Errorf("ParseRefMode(shared) error = %v", err)
	}
}

func TestApplyDeltasWritesEdgesIdempotently(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	const tb = GlobalTable
	if err := e.w.EnsureGlobalTable(e.ctx); err != nil {
		t.Fatal(err)
	}
	batch := []ViewDelta{added("v1", tb, top("thread:1", 1), top("thread:2", 3), sub("thread:1", "comments", "comment:a", 1))}
	for range 3 { // replays change nothing
		if err := e.w.ApplyDeltas(e.ctx, batch); err != nil {
			t.Fatalf("ApplyDeltas: %v", err)
		}
	}
	if n := len(e.edges(tb)); n != 3 {
		t.Fatalf("%d edge rows after three identical batches, want 3", n)
	}
	gotTop, gotSub := e.clientRead(tb, "v1")
	if want := []string{"thread:1@1", "thread:2@3"}; !eq(gotTop, want) {
		t.Fatalf("top-level read = %v, want %v", gotTop, want)
	}
	if want := []string{"comment:a@1<thread:1"}; !eq(gotSub, want) {
		t.Fatalf("subquery read = %v, want %v", gotSub, want)
	}
	rows := e.edges(tb)
	for _, r := range rows {
		if r.in != "_00_query:v1" || r.clientID != "client-1" || r.authID != "user:alice" {
			t.Fatalf("edge row %+v", r)
		}
		if r.out == "comment:a" && (r.rel != "comments" || r.parent != `_00_list_ref:["v1", "", "", "thread:1"]`) {
			t.Fatalf("subquery edge %+v", r)
		}
	}

	// A version update, a removal (of the parent and its child), an addition — in one batch with
	// several ops on one edge collapsing to the last.
	batch = []ViewDelta{
		{ViewKey: "v1", Table: tb, ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{
			Updated: []engine.Member{top("thread:2", 4)},
			Removed: []engine.Member{top("thread:1", 1), sub("thread:1", "comments", "comment:a", 1)},
		}},
		added("v1", tb, top("thread:3", 1)),
		{ViewKey: "v1", Table: tb, ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{
			Removed: []engine.Member{top("thread:3", 1)},
		}},
		{ViewKey: "v1", Table: tb, ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{
			Added: []engine.Member{top("thread:3", 2)},
		}},
	}
	for range 2 {
		if err := e.w.ApplyDeltas(e.ctx, batch[:1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.w.ApplyDeltas(e.ctx, batch[1:]); err != nil {
		t.Fatal(err)
	}
	gotTop, gotSub = e.clientRead(tb, "v1")
	if want := []string{"thread:2@4", "thread:3@2"}; !eq(gotTop, want) || len(gotSub) != 0 {
		t.Fatalf("after update/removal: top %v sub %v, want %v and none", gotTop, gotSub, want)
	}
	if n := len(e.edges(tb)); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
	if st := e.w.Stats(); st.Pending != 0 || st.FailedAttempts != 0 || st.Transactions == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestParentPointerRule pins how a child's parent edge is chosen when its parent record sits
// in several places of the view.
func TestParentPointerRule(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	const tb = GlobalTable
	apply := func(d engine.Delta) {
		t.Helper()
		if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{{ViewKey: "v", Table: tb, ClientID: "c", Delta: d}}); err != nil {
			t.Fatal(err)
		}
	}
	parentOf := func(key string) string {
		t.Helper()
		for _, r := range e.edges(tb) {
			if r.out == key {
				return r.parent
			}
		}
		t.Fatalf("no edge for %s", key)
		return ""
	}
	apply(engine.Delta{Added: []engine.Member{
		top("thread:1", 1), top("thread:2", 1),
		sub("thread:2", "author", "user:1", 1), sub("thread:1", "author", "user:1", 1),
		sub("user:1", "posts", "post:x", 1),
	}})
	if got, want := parentOf("post:x"), `_00_list_ref:["v", "thread:1", "author", "user:1"]`; got != want {
		t.Fatalf("parent = %s, want the smallest (parent, rel) slot %s", got, want)
	}
	apply(engine.Delta{Added: []engine.Member{top("user:1", 1)}})
	if got, want := parentOf("post:x"), `_00_list_ref:["v", "", "", "user:1"]`; got != want {
		t.Fatalf("parent = %s, want the top-level edge %s", got, want)
	}
	apply(engine.Delta{Removed: []engine.Member{top("user:1", 1), sub("thread:1", "author", "user:1", 1)}})
	if got, want := parentOf("post:x"), `_00_list_ref:["v", "thread:2", "author", "user:1"]`; got != want {
		t.Fatalf("parent = %s, want %s", got, want)
	}
	// Every parent pointer names an existing edge.
	ids := map[string]bool{}
	rows := e.edges(tb)
	for _, r := range rows {
		ids[r.id] = true
	}
	for _, r := range rows {
		if r.parent != "" && !ids[r.parent] {
			t.Fatalf("edge %s points at missing parent %s", r.id, r.parent)
		}
	}
}

// TestOddIDsAreBound writes ids, keys and aliases full of quotes, brackets and SurrealQL; they
// must be stored verbatim and nothing else may happen.
func TestOddIDsAreBound(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	e.exec("CREATE victim:1 SET ok = true", nil)
	const tb = GlobalTable
	view := "v'1\"; REMOVE TABLE victim; --"
	rel := "c'; DELETE victim; --"
	members := []engine.Member{
		top("thread:⟨a'b⟩", 1),
		top("thread:⟨x y; DELETE victim:1⟩", 2),
		top("thread:⟨q\"`⟩", 3),
		sub("thread:⟨a'b⟩", rel, "comment:⟨it's \\⟩ here⟩", 4),
	}
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added(view, tb, members...)}); err != nil {
		t.Fatalf("ApplyDeltas: %v", err)
	}
	gotTop, gotSub := e.clientRead(tb, view)
	if want := []string{"thread:⟨a'b⟩@1", "thread:⟨q\"`⟩@3", "thread:⟨x y; DELETE victim:1⟩@2"}; !eq(gotTop, want) {
		t.Fatalf("top = %v\nwant  %v", gotTop, want)
	}
	if want := []string{"comment:⟨it's \\⟩ here⟩@4<thread:⟨a'b⟩"}; !eq(gotSub, want) {
		t.Fatalf("sub = %v\nwant  %v", gotSub, want)
	}
	for _, r := range e.edges(tb) {
		if r.parent != "" && r.rel != rel {
			t.Fatalf("parent_rel = %q, want %q", r.rel, rel)
		}
	}
	if rs := e.exec("SELECT * FROM victim", nil); rs[0].Value.Len() != 1 {
		t.Fatalf("victim table changed: %s", rs[0].Value.SurQL())
	}
	if err := e.w.RemoveView(e.ctx, tb, view); err != nil {
		t.Fatal(err)
	}
	if n := len(e.edges(tb)); n != 0 {
		t.Fatalf("%d rows after RemoveView", n)
	}
	// An invalid member key is skipped and counted, not written.
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v2", tb, top("not a record", 1), top("ok:1", 1))}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.edges(tb)); n != 1 || e.w.Stats().InvalidMembers != 1 {
		t.Fatalf("rows %d, stats %+v", n, e.w.Stats())
	}
	// So is a delta for a table name that may not be pasted into SurrealQL.
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v3", "bad;table", top("ok:2", 1))}); err != nil {
		t.Fatal(err)
	}
	if st := e.w.Stats(); st.InvalidMembers != 2 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTransactionRetry(t *testing.T) {
	e := newEnv(t, WriterOptions{MaxAttempts: 4})
	fails := 0
	e.w.fault = func(table string, attempt int) bool {
		if attempt <= 2 {
			fails++
			return true
		}
		return false
	}
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", GlobalTable, top("a:1", 1), top("a:2", 1))}); err != nil {
		t.Fatalf("ApplyDeltas: %v", err)
	}
	if fails != 2 {
		t.Fatalf("fault hook fired %d times, want 2", fails)
	}
	st := e.w.Stats()
	if st.FailedAttempts != 2 || st.Transactions != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(e.edges(GlobalTable)); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}

// TestFailedWritesAreKept: writes that fail every attempt stay pending, later changes queue
// behind them, and a later flush writes the latest state.
func TestFailedWritesAreKept(t *testing.T) {
	e := newEnv(t, WriterOptions{MaxAttempts: 2})
	broken := true
	e.w.fault = func(string, int) bool { return broken }
	const tb = GlobalTable
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", tb, top("a:1", 1), top("a:2", 1), top("a:3", 1))}); err == nil {
		t.Fatal("ApplyDeltas with a failing database: no error")
	}
	if st := e.w.Stats(); st.Pending != 3 || st.FailedFlushes != 1 {
		t.Fatalf("stats %+v", st)
	}
	if rs := e.exec("INFO FOR DB", nil); rs[0].Value.Get("tables").Get(tb).Kind() != 0 {
		t.Fatal("edges reached the database through a failed transaction")
	}
	later := []ViewDelta{{ViewKey: "v", Table: tb, ClientID: "c", Delta: engine.Delta{
		Removed: []engine.Member{top("a:2", 1)}, Updated: []engine.Member{top("a:3", 5)},
	}}}
	if err := e.w.ApplyDeltas(e.ctx, later); err == nil {
		t.Fatal("second ApplyDeltas: no error")
	}
	broken = false
	if err := e.w.Flush(e.ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	gotTop, _ := e.clientRead(tb, "v")
	if want := []string{"a:1@1", "a:3@5"}; !eq(gotTop, want) {
		t.Fatalf("after recovery: %v, want %v", gotTop, want)
	}
	if st := e.w.Stats(); st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTransactionsAreCapped(t *testing.T) {
	e := newEnv(t, WriterOptions{MaxStatements: 3})
	var ms []engine.Member
	for i := range 10 {
		ms = append(ms, top("item:"+string(rune('a'+i)), 1))
	}
	before := e.q.n.Load()
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", GlobalTable, ms...)}); err != nil {
		t.Fatal(err)
	}
	if n := e.q.n.Load() - before; n != 4 {
		t.Fatalf("%d queries for 10 writes capped at 3, want 4", n)
	}
	if n := len(e.edges(GlobalTable)); n != 10 {
		t.Fatalf("%d rows, want 10", n)
	}
}

func TestRemoveViewAndClearAll(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	if err := e.w.EnsureUserTable(e.ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	ut := UserTable("alice")
	err := e.w.ApplyDeltas(e.ctx, []ViewDelta{
		added("v1", GlobalTable, top("a:1", 1), top("a:2", 1)),
		added("v2", GlobalTable, top("a:1", 1)),
		added("v3", ut, top("a:1", 1), sub("a:1", "r", "b:1", 1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.exec("CREATE other:1; UPSERT _00_query:v1 SET surql = 'SELECT * FROM a'", nil)
	if err := e.w.RemoveView(e.ctx, GlobalTable, "v1"); err != nil {
		t.Fatal(err)
	}
	if rows := e.edges(GlobalTable); len(rows) != 1 || rows[0].in != "_00_query:v2" {
		t.Fatalf("after RemoveView: %+v", rows)
	}
	if err := e.w.RemoveView(e.ctx, GlobalTable, "unknown"); err != nil {
		t.Fatalf("RemoveView of an unknown view: %v", err)
	}
	// A removed view can come back; its old edges do not.
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v1", GlobalTable, top("a:9", 1))}); err != nil {
		t.Fatal(err)
	}
	if top, _ := e.clientRead(GlobalTable, "v1"); !eq(top, []string{"a:9@1"}) {
		t.Fatalf("re-added view: %v", top)
	}

	tables, err := e.w.ListRefTables(e.ctx)
	if err != nil || !eq(tables, []string{GlobalTable, ut}) {
		t.Fatalf("ListRefTables = %v, %v", tables, err)
	}
	if err := e.w.ClearAll(e.ctx); err != nil {
		t.Fatalf("ClearAll: %v", err)
	}
	if n := len(e.edges(GlobalTable)) + len(e.edges(ut)); n != 0 {
		t.Fatalf("%d edges after ClearAll", n)
	}
	if rs := e.exec("SELECT * FROM other; SELECT * FROM _00_query", nil); rs[0].Value.Len() != 1 || rs[1].Value.Len() != 1 {
		t.Fatal("ClearAll touched other tables")
	}
	if st := e.w.Stats(); st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestCLIReadonlyUpdatedAt: with the `_00_list_ref` schema Sp00ky's CLI applies (updatedAt
// `VALUE time::now() READONLY`), edges can be updated, reconciled and removed; updatedAt is set
// by the field itself.
func TestCLIReadonlyUpdatedAt(t *testing.T) {
	e := newEnv(t, WriterOptions{MaxAttempts: 1})
	const tb = GlobalTable
	e.exec("DEFINE TABLE _00_list_ref SCHEMALESS PERMISSIONS FOR select, create, update WHERE true; "+
		"DEFINE FIELD in ON _00_list_ref TYPE record; DEFINE FIELD out ON _00_list_ref TYPE record; "+
		"DEFINE FIELD clientId ON _00_list_ref TYPE string; DEFINE FIELD version ON _00_list_ref TYPE int; "+
		"DEFINE FIELD updatedAt ON _00_list_ref TYPE datetime VALUE time::now() READONLY; "+
		"DEFINE FIELD parent ON _00_list_ref TYPE option<record<_00_list_ref>>; "+
		"DEFINE FIELD parent_rel ON _00_list_ref TYPE option<string>", nil)
	if err := e.w.EnsureGlobalTable(e.ctx); err != nil {
		t.Fatal(err)
	}
	steps := [][]ViewDelta{
		{added("v1", tb, top("thread:1", 1), sub("thread:1", "comments", "comment:a", 1))},
		{{ViewKey: "v1", Table: tb, ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{
			Updated: []engine.Member{top("thread:1", 2), sub("thread:1", "comments", "comment:a", 3)}}}},
	}
	for i, batch := range steps {
		if err := e.w.ApplyDeltas(e.ctx, batch); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if top, sub := e.clientRead(tb, "v1"); !eq(top, []string{"thread:1@2"}) || !eq(sub, []string{"comment:a@3<thread:1"}) {
		t.Fatalf("after the update: top %v, sub %v", top, sub)
	}
	for _, r := range e.exec("SELECT VALUE updatedAt FROM _00_list_ref", nil)[0].Value.Elems() {
		if r.Kind() != value.KindDatetime {
			t.Fatalf("updatedAt = %s, want a datetime", r.SurQL())
		}
	}
	e.exec("UPDATE _00_list_ref SET version = 9 WHERE out = thread:1", nil)
	if _, err := e.w.Reconcile(e.ctx, tb, map[string]ViewMembership{"v1": {ClientID: "client-2", AuthID: "user:alice",
		Members: []engine.Member{top("thread:1", 2), sub("thread:1", "comments", "comment:a", 3)}}}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if top, _ := e.clientRead(tb, "v1"); !eq(top, []string{"thread:1@2"}) {
		t.Fatalf("after reconcile: top %v", top)
	}
}

func TestParallelFlush(t *testing.T) {
	e := newEnv(t, WriterOptions{Parallel: 3, ParallelMin: 1, MaxStatements: 5, MaxAttempts: 2})
	var broken atomic.Bool
	e.w.fault = func(string, int) bool { return broken.Load() }
	const tb = GlobalTable
	var batch []ViewDelta
	for v := range 6 {
		view := fmt.Sprintf("v%d", v)
		var ms []engine.Member
		for i := range 7 {
			ms = append(ms, top(fmt.Sprintf("thread:%d", i), int64(v+1)))
		}
		ms = append(ms, sub("thread:0", "comments", "comment:1", 1), sub("thread:0", "comments", "comment:2", 1))
		batch = append(batch, added(view, tb, ms...))
	}
	before := e.q.n.Load()
	if err := e.w.ApplyDeltas(e.ctx, batch); err != nil {
		t.Fatal(err)
	}
	if n := e.q.n.Load() - before; n < 11 { // 54 writes in groups, at most 5 per transaction
		t.Fatalf("%d transactions for 54 writes capped at 5", n)
	}
	check := func(when string, version func(v int) int64, gone string) {
		t.Helper()
		for v := range 6 {
			gotTop, gotSub := e.clientRead(tb, fmt.Sprintf("v%d", v))
			var wantTop []string
			for i := range 7 {
				if k := fmt.Sprintf("thread:%d", i); k != gone {
					wantTop = append(wantTop, fmt.Sprintf("%s@%d", k, version(v)))
				}
			}
			wantSub := []string{"comment:1@1<thread:0", "comment:2@1<thread:0"}
			if !eq(gotTop, wantTop) || !eq(gotSub, wantSub) {
				t.Fatalf("%s, view v%d: top %v sub %v, want %v %v", when, v, gotTop, gotSub, wantTop, wantSub)
			}
		}
	}
	check("after the parallel flush", func(v int) int64 { return int64(v + 1) }, "")

	// A failing database keeps every group's writes; the next flush writes them in order.
	broken.Store(true)
	var later []ViewDelta
	for v := range 6 {
		d := engine.Delta{Removed: []engine.Member{top("thread:6", int64(v+1))}}
		for i := range 6 {
			d.Updated = append(d.Updated, top(fmt.Sprintf("thread:%d", i), 10))
		}
		later = append(later, ViewDelta{ViewKey: fmt.Sprintf("v%d", v), Table: tb, ClientID: "c", Delta: d})
	}
	if err := e.w.ApplyDeltas(e.ctx, later); err == nil {
		t.Fatal("ApplyDeltas with a failing database: no error")
	}
	if st := e.w.Stats(); st.Pending != 42 {
		t.Fatalf("pending %d, want 42 (stats %+v)", st.Pending, st)
	}
	broken.Store(false)
	if err := e.w.Flush(e.ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	check("after recovery", func(int) int64 { return 10 }, "thread:6")
	if st := e.w.Stats(); st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}
