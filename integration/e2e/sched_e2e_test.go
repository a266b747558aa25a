package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/sp00ky/ssp/integration/testscheduler"
)

// TestSchedWorkload is scheduler mode end to end: three `ssp serve` processes behind the test
// scheduler, a seeded workload written into SurrealDB whose events post to the scheduler, and
// the corpus's views registered through the scheduler, which spreads them over the SSPs. The
// edge rows of all SSPs together must be SurrealDB's own answers, row for row, with every view
// served by the SSP it was assigned to. Then a fourth SSP joins while the writes go on: it
// bootstraps from the scheduler's frozen snapshot, gets what arrived meanwhile replayed, takes
// the views registered next, and the rows are exact again.
func TestSchedWorkload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newSchedCluster(t, ctx, "sched_wl", testscheduler.Options{}, nil)

	gen := newGenerator(11)
	r := &runner{db: c.db, writers: 3}
	if err := r.run(ctx, gen.owners()); err != nil {
		t.Fatal(err)
	}
	writes := make([]write, 450)
	for i := range writes {
		writes[i] = gen.next()
	}
	// The first writes reach the SSPs through the scheduler's snapshot, the rest as ingests.
	if err := r.run(ctx, writes[:100]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sched.ApplyNow(ctx); err != nil {
		t.Fatal(err)
	}
	c.startSSPs("ssp-1", "ssp-2", "ssp-3")
	views := corpus()
	for _, v := range views[:len(views)/2] {
		c.register(v)
	}
	if err := r.run(ctx, writes[100:200]); err != nil {
		t.Fatal(err)
	}
	for _, v := range views[len(views)/2:] {
		c.register(v)
	}
	if err := r.run(ctx, writes[200:300]); err != nil {
		t.Fatal(err)
	}
	c.converge(views)
	shares := c.shares(views)
	for _, id := range []string{"ssp-1", "ssp-2", "ssp-3"} {
		if shares[id] < 4 {
			t.Errorf("the views were not spread over the SSPs: %v", shares)
		}
		if n := c.ssp(id).metric("ssp_bootstrap_rows"); n == 0 {
			t.Errorf("SSP %s loaded no rows from the scheduler's snapshot", id)
		}
	}
	t.Logf("three SSPs exact: %d writes, %d events, views per SSP %v", r.done.Load(), c.sched.Seq(), shares)

	// A fourth SSP registers while the writers go on.
	if _, err := c.sched.ApplyNow(ctx); err != nil {
		t.Fatal(err)
	}
	snap := c.sched.SnapshotSeq()
	base := r.done.Load()
	done := make(chan error, 1)
	go func() { done <- r.run(ctx, writes[300:]) }()
	waitFor(t, time.Minute, 5*time.Millisecond, func() (bool, string) {
		return r.done.Load()-base >= 10, "the writers did not start"
	})
	c.startSSP("ssp-4", nil)
	c.waitSchedReady("ssp-4")
	late := lateViews()
	for _, v := range late {
		if got := c.register(v); got != "ssp-4" {
			t.Errorf("view %s went to %s, want the SSP with the fewest views, ssp-4", v.Key, got)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	info, _ := c.sched.SSP("ssp-4")
	replayed := 0
	for _, rq := range c.sched.Requests("ssp-4") {
		if rq.Kind == testscheduler.KindReplay || rq.Kind == testscheduler.KindDrain {
			replayed++
		}
	}
	if info.SnapshotSeq != snap || replayed == 0 {
		t.Fatalf("ssp-4 got snapshot %d (want %d, the frozen replica) and %d replayed events: it did not bootstrap while ingests went on",
			info.SnapshotSeq, snap, replayed)
	}
	all := append(views, late...)
	c.converge(all)
	t.Logf("four SSPs exact: ssp-4 bootstrapped from snapshot %d with %d events replayed; %d writes in all, views per SSP %v",
		snap, replayed, r.done.Load(), c.shares(all))
}

// lateViews are views registered after a fourth SSP joined: more of the corpus's shapes under
// new keys.
func lateViews() []view {
	byKey := map[string]view{}
	for _, v := range corpus() {
		byKey[v.Key] = v
	}
	var out []view
	for _, k := range []string{"hot", "recent", "bob_mine"} {
		v := byKey[k]
		v.Key, v.Client = "late_"+k, "client-late_"+k
		out = append(out, v)
	}
	return out
}
