package difftest

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	flagSeeds = flag.Int("difftest.seeds", 3, "number of seeds TestDifferential runs (seeds seed, seed+1, …)")
	flagSeed  = flag.Uint64("difftest.seed", 1, "first seed of TestDifferential")
	flagSteps = flag.Int("difftest.steps", 2000, "writes per seed in TestDifferential")
	flagShown = flag.Int("difftest.shrink", 4, "mismatching views per seed that TestDifferential shrinks and prints")
)

// TestDifferential is the differential test of SPEC §10: for each seed, a random workload of
// -difftest.steps writes goes to SurrealDB and, as ingests, to the SSP engine; after every write
// (and every registration) each corpus view's membership on SurrealDB must equal the engine's.
// Each difference is shrunk to a minimal reproduction, printed and written under $DIFFTEST_OUT
// (or the test's temporary folder).
func TestDifferential(t *testing.T) {
	budget := 15*time.Minute + time.Duration(*flagSeeds**flagSteps)*20*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	_, db := startDB(t, ctx)
	r, err := NewRunner(Options{
		DB:           db,
		NewEngine:    NewSSPEngine,
		Logf:         t.Logf,
		ShrinkBudget: 60 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	for seed := *flagSeed; seed < *flagSeed+uint64(*flagSeeds); seed++ {
		rep, err := r.Run(ctx, seed, *flagSteps)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		t.Logf("seed %d: %d writes, %d views, each checked after every step, in %s (%d mismatching views)",
			seed, rep.Steps, len(r.views), rep.Elapsed.Round(time.Millisecond), len(rep.Mismatches))
		var quiet []string
		for _, v := range r.opts.Views {
			if rep.Changes[v.ID] < 3 {
				quiet = append(quiet, fmt.Sprintf("%s (%d changes, at most %d members)", v.ID, rep.Changes[v.ID], rep.MaxSize[v.ID]))
			}
		}
		if len(quiet) > 0 {
			t.Logf("seed %d: views whose SurrealDB answer hardly changed: %s", seed, strings.Join(quiet, ", "))
		}
		for _, rj := range rep.Rejected {
			t.Errorf("seed %d: the engine rejected view %s (%s): %v", seed, rj.View.ID, rj.View.SurQL, rj.Err)
		}
		for i, m := range rep.Mismatches {
			if i >= *flagShown {
				t.Errorf("seed %d: view %s differs after event %d (not shrunk):\n  %s", seed, m.View.ID, m.Step, strings.Join(m.Diff, "\n  "))
				continue
			}
			rp, err := r.Shrink(ctx, m)
			if err != nil {
				t.Errorf("seed %d: view %s differs after event %d:\n  %s\n(shrinking failed: %v)", seed, m.View.ID, m.Step, strings.Join(m.Diff, "\n  "), err)
				continue
			}
			paths := writeRepro(t, seed, rp)
			t.Errorf("seed %d: view %s differs from SurrealDB after event %d; minimal reproduction (also in %s):\n%s",
				seed, m.View.ID, m.Step, strings.Join(paths, ", "), rp.Format())
		}
	}
}
