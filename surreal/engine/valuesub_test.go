package engine

import (
	"fmt"
	"testing"

	"github.com/sp00ky/ssp/surreal/value"
)

// TestValueSubqueriesAreIncremental: a change that moves a WHERE subquery's result evaluates
// again only the rows whose answer depends on what moved, not the filtering node, and the
// subquery's partitions go when no row depends on them.
func TestValueSubqueriesAreIncremental(t *testing.T) {
	e := New(Options{})
	obj := func(kv ...any) value.Value {
		var fs []value.Field
		for i := 0; i < len(kv); i += 2 {
			fs = append(fs, value.Field{Key: kv[i].(string), Val: kv[i+1].(value.Value)})
		}
		return value.ObjectOf(fs)
	}
	rec := func(tb string, k int) value.Value { return value.Record(tb, value.Int(int64(k))) }
	const threads, perThread, users = 100, 10, 20
	for i := 1; i <= threads; i++ {
		mustApply(t, e, "thread", "CREATE", fmt.Sprintf("thread:%d", i), obj("pinned", value.Bool(i%2 == 0), "author", rec("user", i%users)))
	}
	for i := 1; i <= threads*perThread; i++ {
		mustApply(t, e, "comment", "CREATE", fmt.Sprintf("comment:%d", i), obj("thread", rec("thread", 1+i%threads), "author", rec("user", i%users)))
	}
	views := map[string]string{
		"unc":  "SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE pinned = true)",
		"corr": "SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE author = $parent.author)",
		"len":  "SELECT * FROM thread WHERE array::len((SELECT id FROM comment WHERE thread = $parent.id)) > 10",
	}
	for id, q := range views {
		if _, err := e.Register(id, q, value.None()); err != nil {
			t.Fatal(err)
		}
	}
	count := func(id string) int {
		ms, _ := e.Members(id)
		return len(ms)
	}
	if got := count("unc"); got != threads*perThread/2 {
		t.Fatalf("unc has %d members", got)
	}
	resettled := func(id string) int { return e.byName[id].vals.resettled }
	before := map[string]int{}
	for id := range views {
		before[id] = resettled(id)
	}
	// thread:3 becomes pinned: its 10 comments enter "unc"; only they are evaluated again.
	mustApply(t, e, "thread", "UPDATE", "thread:3", obj("pinned", value.Bool(true), "author", rec("user", 3)))
	if got := resettled("unc") - before["unc"]; got != perThread {
		t.Errorf("unc evaluated %d rows again, want the %d comments of thread:3", got, perThread)
	}
	if got := count("unc"); got != threads*perThread/2+perThread {
		t.Errorf("unc has %d members", got)
	}
	// thread:3 gets another author: for "corr" only comments of thread:3 by the old or the new
	// author can change.
	b := resettled("corr")
	mustApply(t, e, "thread", "UPDATE", "thread:3", obj("pinned", value.Bool(true), "author", rec("user", 5)))
	if got := resettled("corr") - b; got > 2*perThread {
		t.Errorf("corr evaluated %d rows again for one thread's author", got)
	}
	// A new comment of thread:7 (10 comments) makes it pass "len": one thread evaluated again.
	b = resettled("len")
	mustApply(t, e, "comment", "CREATE", "comment:5000", obj("thread", rec("thread", 7)))
	if got := resettled("len") - b; got != 1 {
		t.Errorf("len evaluated %d rows again, want 1", got)
	}
	if ms, _ := e.Members("len"); len(ms) != 1 || ms[0].Key != "thread:7" {
		t.Errorf("len = %v", ms)
	}
	// Partitions of signatures no row has any more are dropped: "corr" keeps one per author
	// (and one for comment:5000, which has none).
	if n := len(e.byName["corr"].root.exprSubs[0].vn.parts); n != users+1 {
		t.Errorf("corr keeps %d partitions for %d authors", n, users+1)
	}
	for i := 1; i <= threads*perThread; i++ {
		mustApply(t, e, "comment", "DELETE", fmt.Sprintf("comment:%d", i), value.None())
	}
	mustApply(t, e, "comment", "DELETE", "comment:5000", value.None())
	if n := len(e.byName["corr"].root.exprSubs[0].vn.parts); n != 0 {
		t.Errorf("corr keeps %d partitions without comments", n)
	}
}
