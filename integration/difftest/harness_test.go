package difftest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestHarnessAgainstMirror drives the harness with SurrealDB itself as the "engine": nothing may
// differ. This pins the harness (writes, read-back, JSON ingests, MERGE patches, the membership
// walk, batching, params) independently of the SSP engine.
func TestHarnessAgainstMirror(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv, db := startDB(t, ctx)
	mdb := connect(t, ctx, srv, "mirror", "app")
	r, err := NewRunner(Options{
		DB:        db,
		NewEngine: func() (Engine, error) { return newMirror(ctx, mdb, "") },
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(ctx, 7, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rejected) > 0 {
		t.Fatalf("mirror rejected %s: %v", rep.Rejected[0].View.ID, rep.Rejected[0].Err)
	}
	for _, m := range rep.Mismatches {
		t.Errorf("view %s differs from its mirror at event %d:\n%s", m.View.ID, m.Step, strings.Join(m.Diff, "\n"))
	}
	if rep.Steps != 100 {
		t.Errorf("ran %d steps, want 100", rep.Steps)
	}
}

// TestShrinkFindsInjectedBug injects a bug (the mirror ignores comment DELETEs) and checks that
// it is found and shrunk to a tiny reproduction that still fails.
func TestShrinkFindsInjectedBug(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv, db := startDB(t, ctx)
	mdb := connect(t, ctx, srv, "mirror", "app")
	var views []View
	for _, v := range Corpus() {
		if v.ID == "limit_no_order" || v.ID == "all_users" {
			views = append(views, v)
		}
	}
	r, err := NewRunner(Options{
		DB:           db,
		Views:        views,
		NewEngine:    func() (Engine, error) { return newMirror(ctx, mdb, "comment") },
		ShrinkBudget: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(ctx, 3, 400)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mismatches) == 0 {
		t.Fatal("the injected bug went unnoticed")
	}
	m := rep.Mismatches[0]
	if m.View.ID != "limit_no_order" {
		t.Fatalf("mismatch in %s, want limit_no_order", m.View.ID)
	}
	rp, err := r.Shrink(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("shrunk:\n%s", rp.Format())
	if len(rp.Writes) > 2 || len(rp.Writes) == 0 {
		t.Errorf("shrunk to %d writes, want 1 or 2 (a comment, then its delete)", len(rp.Writes))
	}
	if last := rp.Writes[len(rp.Writes)-1]; last.Op != OpDelete || last.Table != "comment" {
		t.Errorf("last write is %s of %s, want a comment DELETE", last.Op, last.Table)
	}
	if len(rp.Diff) == 0 || !strings.HasPrefix(rp.Diff[0], "extra in engine") {
		t.Errorf("diff = %v, want an extra member", rp.Diff)
	}
	lines := rp.ReplayLines()
	for len(lines) > 0 && strings.HasPrefix(lines[0], `{"schema":`) {
		lines = lines[1:] // the field types come first
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], `{"register":`) || !strings.Contains(strings.Join(lines, "\n"), `"op":"DELETE"`) {
		t.Errorf("replay lines lack the registration or the delete:\n%s", strings.Join(rp.ReplayLines(), "\n"))
	}
	if !strings.Contains(rp.ReplayLines()[0], `"schema":{"fields":{"owner":"record"},"table":"thread"}`) {
		t.Errorf("replay lines lack the field types: %s", rp.ReplayLines()[0])
	}
	for _, p := range writeRepro(t, 3, rp) {
		t.Logf("wrote %s", p)
	}
}
