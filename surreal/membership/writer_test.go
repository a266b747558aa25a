package membership

import (
	"context"
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
	if err := DefineGlobalTable(e.ctx, e.q); err != nil {
		t.Fatal(err)
	}
	batch := []ViewDelta{added("v1", top("thread:1", 1), top("thread:2", 3), sub("thread:1", "comments", "comment:a", 1))}
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
		{ViewKey: "v1", ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{
			Updated: []engine.Member{top("thread:2", 4)},
			Removed: []engine.Member{top("thread:1", 1), sub("thread:1", "comments", "comment:a", 1)},
		}},
		added("v1", top("thread:3", 1)),
		{ViewKey: "v1", ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{
			Removed: []engine.Member{top("thread:3", 1)},
		}},
		{ViewKey: "v1", ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{
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
	if st := e.w.Stats(); st.Pending != 0 || st.FailedTransactions != 0 || st.Transactions == 0 {
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
		if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{{ViewKey: "v", ClientID: "c", Delta: d}}); err != nil {
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
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added(view, members...)}); err != nil {
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
	if err := e.w.RemoveView(e.ctx, view); err != nil {
		t.Fatal(err)
	}
	if n := len(e.edges(tb)); n != 0 {
		t.Fatalf("%d rows after RemoveView", n)
	}
	// An invalid member key is skipped and counted, not written.
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v2", top("not a record", 1), top("ok:1", 1))}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.edges(tb)); n != 1 || e.w.Stats().InvalidMembers != 1 {
		t.Fatalf("rows %d, stats %+v", n, e.w.Stats())
	}
	// A writer of a table name that may not be pasted into SurrealQL records nothing, says why,
	// and sends nothing.
	bad := e.writer("bad;table")
	before := e.queries()
	for _, err := range []error{
		bad.ApplyDeltas(e.ctx, []ViewDelta{added("v3", top("ok:2", 1))}),
		bad.SetView(e.ctx, "v3", ViewMembership{Members: []engine.Member{top("ok:3", 1)}}),
		bad.RemoveView(e.ctx, "v3"),
		bad.Flush(e.ctx),
		func() error { _, err := bad.Reconcile(e.ctx, nil, nil); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), `"bad;table" is not [A-Za-z0-9_]+`) {
			t.Fatalf("writer of an invalid table: error %v", err)
		}
	}
	if st := bad.Stats(); st.InvalidMembers != 2 || st.Pending != 0 || e.queries() != before || bad.Table() != "bad;table" {
		t.Fatalf("writer of an invalid table: stats %+v, %d queries", st, e.queries()-before)
	}
}

// countFaults makes w's transactions count their round trips in the database — a counter row
// written before the transaction, so that it survives the transaction's failure — and throw on
// the round trips numbered in failOn (from 1, across the test): a conflict, which the
// connection retries, or another error, which it does not.
func countFaults(e *env, w *Writer, conflict bool, failOn ...int64) {
	msg := "injected fault"
	if conflict {
		msg = "Transaction conflict: injected, this transaction can be retried"
	}
	list := make([]value.Value, len(failOn))
	for i, n := range failOn {
		list[i] = value.Int(n)
	}
	// The list is a literal: the Writer binds its own variables.
	check := "IF " + value.Array(list).SurQL() + " CONTAINS (SELECT VALUE n FROM ONLY faults:n) { THROW '" + msg + "' };\n"
	w.fault = func(surql string) string {
		return "UPSERT faults:n SET n += 1 RETURN NONE;\n" + strings.Replace(surql, "COMMIT TRANSACTION;", check+"COMMIT TRANSACTION;", 1)
	}
}

// roundTrips returns how many transactions countFaults counted.
func (e *env) roundTrips() int64 {
	e.t.Helper()
	return e.exec("RETURN (SELECT VALUE n FROM ONLY faults:n) ?? 0", nil)[0].Value.AsInt()
}

func upTo(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// TestTransientFailureIsRetriedOnce: a transaction that conflicts twice is retried by the
// connection alone — one Querier call, three round trips — and the Writer sees a success.
func TestTransientFailureIsRetriedOnce(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	countFaults(e, e.w, true, 1, 2)
	before := e.queries()
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", top("a:1", 1), top("a:2", 1))}); err != nil {
		t.Fatalf("ApplyDeltas: %v", err)
	}
	if calls, trips := e.queries()-before, e.roundTrips(); calls != 1 || trips != 3 {
		t.Fatalf("%d Querier calls and %d round trips, want 1 and 3 (the connection retries, the Writer does not)", calls, trips)
	}
	st := e.w.Stats()
	if st.FailedTransactions != 0 || st.Transactions != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(e.edges(GlobalTable)); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}

// TestFailedFlushKeepsItsWrites: a flush whose transaction keeps failing costs one Querier call
// (the connection's budget of round trips, no more), keeps exactly its writes pending — later
// changes of the same edges queue on them — and the next Flush writes the latest state in one
// call.
func TestFailedFlushKeepsItsWrites(t *testing.T) {
	for _, conflict := range []bool{true, false} {
		t.Run(fmt.Sprintf("conflict=%v", conflict), func(t *testing.T) {
			e := newEnv(t, WriterOptions{})
			// A conflict is transient: the connection tries it connAttempts times. Another error
			// is not: one round trip.
			trips := int64(1)
			if conflict {
				trips = connAttempts
			}
			countFaults(e, e.w, conflict, upTo(2*trips)...)
			before := e.queries()
			if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", top("a:1", 1), top("a:2", 1), top("a:3", 1))}); err == nil {
				t.Fatal("ApplyDeltas with a failing database: no error")
			}
			if calls, n := e.queries()-before, e.roundTrips(); calls != 1 || n != trips {
				t.Fatalf("failed flush: %d Querier calls and %d round trips, want 1 and %d", calls, n, trips)
			}
			if st := e.w.Stats(); st.Pending != 3 || st.FailedFlushes != 1 || st.FailedTransactions != 1 || st.Transactions != 0 {
				t.Fatalf("stats %+v", st)
			}
			if rs := e.exec("INFO FOR DB", nil); rs[0].Value.Get("tables").Get(GlobalTable).Kind() != 0 {
				t.Fatal("edges reached the database through a failed transaction")
			}
			later := []ViewDelta{{ViewKey: "v", ClientID: "c", Delta: engine.Delta{
				Removed: []engine.Member{top("a:2", 1)}, Updated: []engine.Member{top("a:3", 5)},
			}}}
			if err := e.w.ApplyDeltas(e.ctx, later); err == nil {
				t.Fatal("second ApplyDeltas: no error")
			}
			if calls, n := e.queries()-before, e.roundTrips(); calls != 2 || n != 2*trips {
				t.Fatalf("two failed flushes: %d Querier calls and %d round trips, want 2 and %d", calls, n, 2*trips)
			}
			// a:2 never reached the database: its removal changes nothing and is not written.
			if st := e.w.Stats(); st.Pending != 2 || st.Unchanged != 1 {
				t.Fatalf("pending %d, unchanged %d after a second change of the same edges, want 2 and 1", st.Pending, st.Unchanged)
			}
			countFaults(e, e.w, conflict) // the database recovers
			if err := e.w.Flush(e.ctx); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if calls, n := e.queries()-before, e.roundTrips(); calls != 3 || n != 2*trips+1 {
				t.Fatalf("after the recovering Flush: %d Querier calls and %d round trips, want 3 and %d", calls, n, 2*trips+1)
			}
			gotTop, _ := e.clientRead(GlobalTable, "v")
			if want := []string{"a:1@1", "a:3@5"}; !eq(gotTop, want) {
				t.Fatalf("after recovery: %v, want %v", gotTop, want)
			}
			if st := e.w.Stats(); st.Pending != 0 || st.Statements != 2 || st.Transactions != 1 {
				t.Fatalf("stats %+v, want the 2 kept writes in 1 transaction", st)
			}
			if err := e.w.Flush(e.ctx); err != nil || e.queries()-before != 3 {
				t.Fatalf("Flush with nothing pending = %v after %d more calls, want no query", err, e.queries()-before-3)
			}
		})
	}
}

// TestFailedTransactionKeepsTheRest: a flush split into transactions stops at the one that
// fails; the ones before it stay written, and exactly the writes from it on stay pending.
func TestFailedTransactionKeepsTheRest(t *testing.T) {
	e := newEnv(t, WriterOptions{MaxStatements: 2})
	countFaults(e, e.w, false, 2)
	var ms []engine.Member
	for i := range 5 {
		ms = append(ms, top(fmt.Sprintf("a:%d", i), 1))
	}
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", ms...)}); err == nil {
		t.Fatal("ApplyDeltas whose second transaction fails: no error")
	}
	if got, _ := e.clientRead(GlobalTable, "v"); !eq(got, []string{"a:0@1", "a:1@1"}) {
		t.Fatalf("after the failed flush: %v, want the first transaction's edges", got)
	}
	if st := e.w.Stats(); st.Pending != 3 || st.Transactions != 1 || st.Statements != 2 || st.FailedTransactions != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := e.w.Flush(e.ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got, _ := e.clientRead(GlobalTable, "v"); len(got) != 5 {
		t.Fatalf("after recovery: %v", got)
	}
	if n := e.roundTrips(); n != 4 { // 1 written, 1 failed, then 2 for the 3 kept writes
		t.Fatalf("%d round trips, want 4", n)
	}
}

func TestTransactionsAreCapped(t *testing.T) {
	e := newEnv(t, WriterOptions{MaxStatements: 3})
	var ms []engine.Member
	for i := range 10 {
		ms = append(ms, top("item:"+string(rune('a'+i)), 1))
	}
	before := e.queries()
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", ms...)}); err != nil {
		t.Fatal(err)
	}
	if n := e.queries() - before; n != 4 {
		t.Fatalf("%d queries for 10 writes capped at 3, want 4", n)
	}
	if n := len(e.edges(GlobalTable)); n != 10 {
		t.Fatalf("%d rows, want 10", n)
	}
}

func TestRemoveViewAndClearEdges(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	if err := DefineUserTable(e.ctx, e.q, "alice"); err != nil {
		t.Fatal(err)
	}
	ut := UserTable("alice")
	uw := e.writer(ut)
	err := e.w.ApplyDeltas(e.ctx, []ViewDelta{
		added("v1", top("a:1", 1), top("a:2", 1)),
		added("v2", top("a:1", 1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := uw.ApplyDeltas(e.ctx, []ViewDelta{added("v3", top("a:1", 1), sub("a:1", "r", "b:1", 1))}); err != nil {
		t.Fatal(err)
	}
	e.exec("CREATE other:1; UPSERT _00_query:v1 SET surql = 'SELECT * FROM a'", nil)
	if err := e.w.RemoveView(e.ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if rows := e.edges(GlobalTable); len(rows) != 1 || rows[0].in != "_00_query:v2" {
		t.Fatalf("after RemoveView: %+v", rows)
	}
	if err := e.w.RemoveView(e.ctx, "unknown"); err != nil {
		t.Fatalf("RemoveView of an unknown view: %v", err)
	}
	// A removed view can come back; its old edges do not.
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v1", top("a:9", 1))}); err != nil {
		t.Fatal(err)
	}
	if top, _ := e.clientRead(GlobalTable, "v1"); !eq(top, []string{"a:9@1"}) {
		t.Fatalf("re-added view: %v", top)
	}

	tables, err := ListRefTables(e.ctx, e.q)
	if err != nil || !eq(tables, []string{GlobalTable, ut}) {
		t.Fatalf("ListRefTables = %v, %v", tables, err)
	}
	before := e.queries()
	if err := ClearEdges(e.ctx, e.q, ""); err != nil {
		t.Fatalf("ClearEdges: %v", err)
	}
	if n := e.queries() - before; n != 2 { // INFO FOR DB, one transaction
		t.Fatalf("ClearEdges made %d queries, want 2", n)
	}
	if n := len(e.edges(GlobalTable)) + len(e.edges(ut)); n != 0 {
		t.Fatalf("%d edges after ClearEdges", n)
	}
	rs := e.exec("SELECT * FROM other; SELECT * FROM _00_query; INFO FOR DB", nil)
	if rs[0].Value.Len() != 1 || rs[1].Value.Len() != 1 || rs[2].Value.Get("tables").Get(ut).IsNone() {
		t.Fatal("ClearEdges touched other tables or removed a list_ref table")
	}
}

// TestCLIReadonlyUpdatedAt: with the `_00_list_ref` schema Sp00ky's CLI applies (updatedAt
// `VALUE time::now() READONLY`), edges can be updated, reconciled and removed; updatedAt is set
// by the field itself.
func TestCLIReadonlyUpdatedAt(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	const tb = GlobalTable
	e.exec("DEFINE TABLE _00_list_ref SCHEMALESS PERMISSIONS FOR select, create, update WHERE true; "+
		"DEFINE FIELD in ON _00_list_ref TYPE record; DEFINE FIELD out ON _00_list_ref TYPE record; "+
		"DEFINE FIELD clientId ON _00_list_ref TYPE string; DEFINE FIELD version ON _00_list_ref TYPE int; "+
		"DEFINE FIELD updatedAt ON _00_list_ref TYPE datetime VALUE time::now() READONLY; "+
		"DEFINE FIELD parent ON _00_list_ref TYPE option<record<_00_list_ref>>; "+
		"DEFINE FIELD parent_rel ON _00_list_ref TYPE option<string>", nil)
	if err := DefineGlobalTable(e.ctx, e.q); err != nil {
		t.Fatal(err)
	}
	steps := [][]ViewDelta{
		{added("v1", top("thread:1", 1), sub("thread:1", "comments", "comment:a", 1))},
		{{ViewKey: "v1", ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{
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
	if _, err := e.w.Reconcile(e.ctx, map[string]ViewMembership{"v1": {ClientID: "client-2", AuthID: "user:alice",
		Members: []engine.Member{top("thread:1", 2), sub("thread:1", "comments", "comment:a", 3)}}}, nil); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if top, _ := e.clientRead(tb, "v1"); !eq(top, []string{"thread:1@2"}) {
		t.Fatalf("after reconcile: top %v", top)
	}
}

func TestParallelFlush(t *testing.T) {
	e := newEnv(t, WriterOptions{Parallel: 3, ParallelMin: 1, MaxStatements: 5})
	var broken atomic.Bool
	e.w.fault = func(surql string) string {
		if !broken.Load() {
			return surql
		}
		return strings.Replace(surql, "COMMIT TRANSACTION;", "THROW 'injected fault';\nCOMMIT TRANSACTION;", 1)
	}
	const tb = GlobalTable
	var batch []ViewDelta
	for v := range 6 {
		view := fmt.Sprintf("v%d", v)
		var ms []engine.Member
		for i := range 7 {
			ms = append(ms, top(fmt.Sprintf("thread:%d", i), int64(v+1)))
		}
		ms = append(ms, sub("thread:0", "comments", "comment:1", 1), sub("thread:0", "comments", "comment:2", 1))
		batch = append(batch, added(view, ms...))
	}
	before := e.queries()
	if err := e.w.ApplyDeltas(e.ctx, batch); err != nil {
		t.Fatal(err)
	}
	if n := e.queries() - before; n < 11 { // 54 writes in groups, at most 5 per transaction
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
		later = append(later, ViewDelta{ViewKey: fmt.Sprintf("v%d", v), ClientID: "c", Delta: d})
	}
	before = e.queries()
	if err := e.w.ApplyDeltas(e.ctx, later); err == nil {
		t.Fatal("ApplyDeltas with a failing database: no error")
	}
	// Each group stops at its first failed transaction: one call per group, at most 3.
	if n := e.queries() - before; n < 1 || n > 3 {
		t.Fatalf("%d Querier calls for a failing flush in 3 groups, want 1 to 3", n)
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

// TestSetView replaces a view's membership step by step and checks that each SetView writes
// exactly the edges that differ, and that the database then holds the membership.
func TestSetView(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	const tb = GlobalTable
	vm := func(clientID string, ms ...engine.Member) ViewMembership {
		return ViewMembership{ClientID: clientID, AuthID: "user:alice", Members: ms}
	}
	steps := []struct {
		name       string
		vm         ViewMembership
		writes     int64 // statements the SetView writes
		top, sub   []string
		postParent string // the parent edge of post:x, when set
	}{
		{"first membership: every edge", vm("c1", top("thread:1", 1), top("thread:2", 1), sub("thread:1", "comments", "comment:a", 1)),
			3, []string{"thread:1@1", "thread:2@1"}, []string{"comment:a@1<thread:1"}, ""},
		{"same membership: nothing", vm("c1", sub("thread:1", "comments", "comment:a", 1), top("thread:2", 1), top("thread:1", 1)),
			0, []string{"thread:1@1", "thread:2@1"}, []string{"comment:a@1<thread:1"}, ""},
		{"version 0 is version 1: nothing", vm("c1", top("thread:1", 0), top("thread:2", 1), sub("thread:1", "comments", "comment:a", 1)),
			0, []string{"thread:1@1", "thread:2@1"}, []string{"comment:a@1<thread:1"}, ""},
		{"one removed, one changed, one added", vm("c1", top("thread:2", 5), top("thread:3", 1)),
			4, []string{"thread:2@5", "thread:3@1"}, nil, ""},
		{"new client id: every edge", vm("c2", top("thread:2", 5), top("thread:3", 1)),
			2, []string{"thread:2@5", "thread:3@1"}, nil, ""},
		{"subquery members added", vm("c2", top("thread:2", 5), top("thread:3", 1),
			sub("thread:2", "author", "user:1", 1), sub("user:1", "posts", "post:x", 1)),
			2, []string{"thread:2@5", "thread:3@1"}, []string{"post:x@1<user:1", "user:1@1<thread:2"},
			`_00_list_ref:["v", "thread:2", "author", "user:1"]`},
		{"the parent shows at the top level: its new edge and the child repointed", vm("c2", top("thread:2", 5), top("thread:3", 1), top("user:1", 1),
			sub("thread:2", "author", "user:1", 1), sub("user:1", "posts", "post:x", 1)),
			2, []string{"thread:2@5", "thread:3@1", "user:1@1"}, []string{"post:x@1<user:1", "user:1@1<thread:2"},
			`_00_list_ref:["v", "", "", "user:1"]`},
		{"invalid members are skipped", vm("c2", top("thread:2", 5), top("not a record", 1)),
			4, []string{"thread:2@5"}, nil, ""},
		{"empty: every edge goes", vm("c2"), 1, nil, nil, ""},
	}
	for _, st := range steps {
		before := e.w.Stats().Statements
		if err := e.w.SetView(e.ctx, "v", st.vm); err != nil {
			t.Fatalf("%s: SetView: %v", st.name, err)
		}
		if n := e.w.Stats().Statements - before; n != st.writes {
			t.Errorf("%s: %d writes, want %d", st.name, n, st.writes)
		}
		gotTop, gotSub := e.clientRead(tb, "v")
		if !eq(gotTop, st.top) || !eq(gotSub, st.sub) {
			t.Fatalf("%s: top %v sub %v, want %v %v", st.name, gotTop, gotSub, st.top, st.sub)
		}
		for _, r := range e.edges(tb) {
			if r.clientID != st.vm.ClientID {
				t.Fatalf("%s: edge %s has clientId %q, want %q", st.name, r.id, r.clientID, st.vm.ClientID)
			}
			if r.out == "post:x" && st.postParent != "" && r.parent != st.postParent {
				t.Fatalf("%s: post:x's parent is %s, want %s", st.name, r.parent, st.postParent)
			}
		}
	}
	if len(e.w.views) != 0 || e.w.Stats().InvalidMembers != 1 {
		t.Fatalf("after the empty membership: %d views mirrored, stats %+v", len(e.w.views), e.w.Stats())
	}
	if err := e.w.SetView(e.ctx, "", vm("c", top("a:1", 1))); err == nil {
		t.Fatal("SetView accepted an empty view key")
	}

	// A removal that failed stays ahead of a later SetView of the same view.
	if err := e.w.SetView(e.ctx, "w", vm("c", top("a:1", 1), top("a:2", 1))); err != nil {
		t.Fatal(err)
	}
	countFaults(e, e.w, false, 1)
	if err := e.w.RemoveView(e.ctx, "w"); err == nil {
		t.Fatal("RemoveView with a failing database: no error")
	}
	if err := e.w.SetView(e.ctx, "w", vm("c", top("a:2", 2), top("a:3", 1))); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.clientRead(tb, "w"); !eq(got, []string{"a:2@2", "a:3@1"}) {
		t.Fatalf("after a failed removal and SetView: %v", got)
	}
}

// TestForget: Forget drops the pending writes and the mirror; the next writes start from
// nothing (a table that was removed, or emptied by /reset).
func TestForget(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	const tb = GlobalTable
	ms := []engine.Member{top("a:1", 1), top("a:2", 1)}
	if err := e.w.SetView(e.ctx, "v", ViewMembership{ClientID: "c", Members: ms}); err != nil {
		t.Fatal(err)
	}
	countFaults(e, e.w, false, upTo(10)...)
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", top("a:3", 1)), added("w", top("b:1", 1))}); err == nil {
		t.Fatal("ApplyDeltas with a failing database: no error")
	}
	if st := e.w.Stats(); st.Pending != 2 {
		t.Fatalf("stats %+v", st)
	}
	e.w.Forget()
	countFaults(e, e.w, false)
	before := e.queries()
	if err := e.w.Flush(e.ctx); err != nil || e.queries() != before || e.w.Stats().Pending != 0 {
		t.Fatalf("Flush after Forget = %v with %d queries, stats %+v; want nothing to write", err, e.queries()-before, e.w.Stats())
	}
	// The database lost the edges (here: /reset's ClearEdges); the mirror is empty, so setting
	// the view writes every edge again.
	if err := ClearEdges(e.ctx, e.q, ""); err != nil {
		t.Fatal(err)
	}
	written := e.w.Stats().Statements
	if err := e.w.SetView(e.ctx, "v", ViewMembership{ClientID: "c", Members: ms}); err != nil {
		t.Fatal(err)
	}
	if n := e.w.Stats().Statements - written; n != 2 {
		t.Fatalf("%d writes after Forget, want every edge (2)", n)
	}
	if got, _ := e.clientRead(tb, "v"); !eq(got, []string{"a:1@1", "a:2@1"}) {
		t.Fatalf("after Forget and SetView: %v", got)
	}
	if got, _ := e.clientRead(tb, "w"); len(got) != 0 {
		t.Fatalf("a forgotten pending write reached the database: %v", got)
	}
}

// TestUnchangedEdgesAreNotWritten: within one flush, an edge whose row ends as the database
// holds it is not written (issue 10: no more statements than members that changed), and every
// edge that did change is.
func TestUnchangedEdgesAreNotWritten(t *testing.T) {
	upd := func(view string, ms ...engine.Member) ViewDelta {
		return ViewDelta{ViewKey: view, ClientID: "client-1", AuthID: "user:alice", Delta: engine.Delta{Updated: ms}}
	}
	rem := func(view string, ms ...engine.Member) ViewDelta {
		return ViewDelta{ViewKey: view, ClientID: "client-1", AuthID: "user:alice", Delta: engine.Delta{Removed: ms}}
	}
	for _, tt := range []struct {
		name    string
		batch   []ViewDelta // one flush, on top of a:1@1 and a:1's child c:1@1
		written int64       // statements
		top     []string
		sub     []string
	}{
		{"added and removed", []ViewDelta{added("v", top("a:2", 1)), rem("v", top("a:2", 1))}, 0, []string{"a:1@1"}, []string{"c:1@1<a:1"}},
		{"re-emitted at its version", []ViewDelta{upd("v", top("a:1", 1), sub("a:1", "cs", "c:1", 1))}, 0, []string{"a:1@1"}, []string{"c:1@1<a:1"}},
		{"there and back", []ViewDelta{upd("v", top("a:1", 2)), upd("v", top("a:1", 1))}, 0, []string{"a:1@1"}, []string{"c:1@1<a:1"}},
		{"removed and added again", []ViewDelta{rem("v", sub("a:1", "cs", "c:1", 1)), added("v", sub("a:1", "cs", "c:1", 1))}, 0, []string{"a:1@1"}, []string{"c:1@1<a:1"}},
		{"a new version", []ViewDelta{upd("v", top("a:1", 2))}, 1, []string{"a:1@2"}, []string{"c:1@1<a:1"}},
		{"added and changed", []ViewDelta{added("v", top("a:2", 1)), upd("v", top("a:2", 3))}, 1, []string{"a:1@1", "a:2@3"}, []string{"c:1@1<a:1"}},
		{"removed", []ViewDelta{rem("v", sub("a:1", "cs", "c:1", 1))}, 1, []string{"a:1@1"}, nil},
		{"a new client id", []ViewDelta{{ViewKey: "v", ClientID: "client-2", AuthID: "user:alice", Delta: engine.Delta{Updated: []engine.Member{top("a:1", 1)}}}},
			1, []string{"a:1@1"}, []string{"c:1@1<a:1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, WriterOptions{})
			if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", top("a:1", 1), sub("a:1", "cs", "c:1", 1))}); err != nil {
				t.Fatal(err)
			}
			before := e.w.Stats().Statements
			if err := e.w.ApplyDeltas(e.ctx, tt.batch); err != nil {
				t.Fatal(err)
			}
			if n := e.w.Stats().Statements - before; n != tt.written {
				t.Errorf("%d statements, want %d", n, tt.written)
			}
			gotTop, gotSub := e.clientRead(GlobalTable, "v")
			if !eq(gotTop, tt.top) || !eq(gotSub, tt.sub) {
				t.Errorf("edges %v %v, want %v %v", gotTop, gotSub, tt.top, tt.sub)
			}
			if st := e.w.Stats(); st.Pending != 0 {
				t.Errorf("%d writes pending", st.Pending)
			}
		})
	}
}

// TestStatementByKindOfChange: a flush writes each edge with the statement its change needs —
// the new version alone for a row the database holds that changed only its version, the whole
// row for a new edge or any other change, the id for a gone edge — and the rows end right.
func TestStatementByKindOfChange(t *testing.T) {
	const (
		versionOnly = "UPDATE $e.id SET version = $e.v"
		wholeRow    = "INSERT INTO " + GlobalTable
		idsGone     = "DELETE $d"
	)
	delta := func(client string, d engine.Delta) ViewDelta {
		return ViewDelta{ViewKey: "v", ClientID: client, AuthID: "user:alice", Delta: d}
	}
	for _, tt := range []struct {
		name      string
		batch     ViewDelta
		want, not []string
		top, sub  []string
	}{
		{"new version", delta("client-1", engine.Delta{Updated: []engine.Member{top("a:1", 2), sub("a:1", "cs", "c:1", 5)}}),
			[]string{versionOnly}, []string{wholeRow, idsGone}, []string{"a:1@2"}, []string{"c:1@5<a:1"}},
		{"new edge", delta("client-1", engine.Delta{Added: []engine.Member{top("a:2", 1)}}),
			[]string{wholeRow}, []string{versionOnly, idsGone}, []string{"a:1@1", "a:2@1"}, []string{"c:1@1<a:1"}},
		{"gone", delta("client-1", engine.Delta{Removed: []engine.Member{sub("a:1", "cs", "c:1", 1)}}),
			[]string{idsGone}, []string{versionOnly, wholeRow}, []string{"a:1@1"}, nil},
		{"new client id", delta("client-2", engine.Delta{Updated: []engine.Member{top("a:1", 2)}}),
			[]string{wholeRow}, []string{versionOnly}, []string{"a:1@2"}, []string{"c:1@1<a:1"}},
		{"all three", delta("client-1", engine.Delta{Added: []engine.Member{top("a:3", 1)}, Updated: []engine.Member{top("a:1", 4)},
			Removed: []engine.Member{sub("a:1", "cs", "c:1", 1)}}),
			[]string{versionOnly, wholeRow, idsGone}, nil, []string{"a:1@4", "a:3@1"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, WriterOptions{})
			if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("v", top("a:1", 1), sub("a:1", "cs", "c:1", 1))}); err != nil {
				t.Fatal(err)
			}
			var sent string
			e.w.fault = func(surql string) string { sent = surql; return surql }
			if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{tt.batch}); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.want {
				if !strings.Contains(sent, s) {
					t.Errorf("no %q in\n%s", s, sent)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(sent, s) {
					t.Errorf("%q in\n%s", s, sent)
				}
			}
			gotTop, gotSub := e.clientRead(GlobalTable, "v")
			if !eq(gotTop, tt.top) || !eq(gotSub, tt.sub) {
				t.Errorf("edges %v %v, want %v %v", gotTop, gotSub, tt.top, tt.sub)
			}
			if tt.name == "new client id" {
				for _, r := range e.edges(GlobalTable) {
					if r.out == "a:1" && r.clientID != "client-2" { // the edge the delta touched
						t.Errorf("edge %s keeps clientId %s", r.id, r.clientID)
					}
				}
			}
		})
	}
}

// A flush's scratch (its items, kinds and groups) is kept for the next flush only while it is
// of a usual size: after an outsized one (a reconcile of a big table, a whole view set) it is
// let go, as the spare queue is, instead of holding that room for the writer's life.
func TestOutsizedFlushScratchIsNotKept(t *testing.T) {
	e := newEnv(t, WriterOptions{})
	ms := make([]engine.Member, maxSpareEdges+1)
	for i := range ms {
		ms[i] = top(fmt.Sprintf("thread:%d", i), 1)
	}
	// The database is not reached (the context is over): the flush builds its items and fails.
	done, cancel := context.WithCancel(e.ctx)
	cancel()
	if err := e.w.ApplyDeltas(done, []ViewDelta{added("big", ms...)}); err == nil {
		t.Fatal("a flush with a cancelled context did not fail")
	}
	if e.w.items != nil || e.w.kinds != nil || e.w.groups != nil {
		t.Errorf("an outsized flush's scratch is kept: %d items, %d kinds, %d groups", cap(e.w.items), cap(e.w.kinds), len(e.w.groups))
	}
	e.w.Forget()
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{added("small", top("thread:1", 1))}); err != nil {
		t.Fatal(err)
	}
	if cap(e.w.items) == 0 || cap(e.w.kinds) == 0 {
		t.Errorf("a usual flush's scratch is not kept: %d items, %d kinds", cap(e.w.items), cap(e.w.kinds))
	}
}
