package membership

import (
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// TestReconcile fixes a table holding a correct edge, a wrong-version edge, a stale edge, a
// duplicate with a random id (as older SSPs wrote them), an edge of an unknown view and a
// wrong parent pointer, and misses one edge.
func TestReconcile(t *testing.T) {
	e := newEnv(t, WriterOptions{PageSize: 2})
	const tb = GlobalTable
	// What an earlier run left behind.
	if err := e.w.ApplyDeltas(e.ctx, []ViewDelta{
		{ViewKey: "v1", ClientID: "c", AuthID: "user:alice", Delta: deltaAdded(
			top("thread:1", 1), top("thread:2", 1), top("thread:3", 1),
			sub("thread:1", "comments", "comment:a", 1), sub("thread:2", "comments", "comment:b", 1))},
		{ViewKey: "gone", ClientID: "c", Delta: deltaAdded(top("thread:1", 1))},
	}); err != nil {
		t.Fatal(err)
	}
	e.exec("CREATE _00_list_ref SET in = $in, out = thread:1, version = 1, clientId = 'c', auth_id = 'user:alice'; "+
		"UPDATE type::record($tb, ['v1', 'thread:2', 'comments', 'comment:b']) SET parent = type::record($tb, ['v1', '', '', 'thread:9'])",
		map[string]any{"in": QueryRecord("v1"), "tb": tb})

	// A fresh writer (a restarted SSP) with the computed membership: thread:1 at version 2,
	// thread:3 gone, thread:4 new, comment:a unchanged, comment:b with the right parent.
	w := e.writer(tb)
	views := map[string]ViewMembership{"v1": {ClientID: "c", AuthID: "user:alice", Members: []engine.Member{
		top("thread:1", 2), top("thread:2", 1), top("thread:4", 1),
		sub("thread:1", "comments", "comment:a", 1), sub("thread:2", "comments", "comment:b", 1),
	}}}
	st, err := w.Reconcile(e.ctx, views, nil)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	want := ReconcileStats{Views: 1, Scanned: 7, Added: 1, Fixed: 2, Removed: 3}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	gotTop, gotSub := e.clientRead(tb, "v1")
	if w := []string{"thread:1@2", "thread:2@1", "thread:4@1"}; !eq(gotTop, w) {
		t.Fatalf("top after reconcile = %v, want %v", gotTop, w)
	}
	if w := []string{"comment:a@1<thread:1", "comment:b@1<thread:2"}; !eq(gotSub, w) {
		t.Fatalf("sub after reconcile = %v, want %v", gotSub, w)
	}
	if n := len(e.edges(tb)); n != 5 {
		t.Fatalf("%d rows, want 5", n)
	}

	// A second pass finds nothing to do.
	st, err = w.Reconcile(e.ctx, views, nil)
	if err != nil || st != (ReconcileStats{Views: 1, Scanned: 5}) {
		t.Fatalf("second Reconcile = %+v, %v", st, err)
	}
	// Deltas after reconcile apply on top of the reconciled state.
	if err := w.ApplyDeltas(e.ctx, []ViewDelta{{ViewKey: "v1", ClientID: "c", AuthID: "user:alice",
		Delta: engine.Delta{Removed: []engine.Member{top("thread:4", 1)}}}}); err != nil {
		t.Fatal(err)
	}
	if gotTop, _ := e.clientRead(tb, "v1"); !eq(gotTop, []string{"thread:1@2", "thread:2@1"}) {
		t.Fatalf("after a delta: %v", gotTop)
	}
	// A table that does not exist yet is created with the edges.
	st, err = e.writer("_00_list_ref_user_new").Reconcile(e.ctx, map[string]ViewMembership{"v9": {ClientID: "c",
		Members: []engine.Member{top("thread:1", 1)}}}, nil)
	if err != nil || st.Added != 1 || len(e.edges("_00_list_ref_user_new")) != 1 {
		t.Fatalf("Reconcile of a missing table = %+v, %v", st, err)
	}
	if _, err := e.writer("bad-name").Reconcile(e.ctx, nil, nil); err == nil {
		t.Fatal("Reconcile accepted an invalid table name")
	}
}

func TestParseEdgeID(t *testing.T) {
	arr := func(s ...string) value.Value {
		vs := make([]value.Value, len(s))
		for i, x := range s {
			vs[i] = value.String(x)
		}
		return value.Array(vs)
	}
	tests := []struct {
		id   value.Value
		ok   bool
		want edgeKey
	}{
		{value.Record("t", arr("v", "", "", "a:1")), true, edgeKey{"v", engine.MemberKey{Key: "a:1"}}},
		{value.Record("t", arr("v", "p:1", "r", "a:1")), true, edgeKey{"v", engine.MemberKey{Parent: "p:1", Rel: "r", Key: "a:1"}}},
		{value.Record("t", arr("v", "p:1", "", "a:1")), false, edgeKey{}},
		{value.Record("other", arr("v", "", "", "a:1")), false, edgeKey{}},
		{value.Record("t", value.String("abc")), false, edgeKey{}},
		{value.Record("t", arr("v", "", "")), false, edgeKey{}},
		{value.String("t:x"), false, edgeKey{}},
	}
	for _, tc := range tests {
		got, ok := parseEdgeID("t", tc.id)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseEdgeID(%s) = %+v, %v", tc.id.SurQL(), got, ok)
		}
	}
}
