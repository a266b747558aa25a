package workload

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sp00ky/ssp/internal/naive"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/surql"
)

// TestEngineMatchesNaive runs the workload through the incremental engine and checks every
// view's membership against the from-scratch evaluator at a few points of the change stream, so
// the benchmark measures an engine that computes the right answer on exactly this workload.
func TestEngineMatchesNaive(t *testing.T) {
	w := New(9, Config{Views: 60, Rows: 400})
	eng := engine.New(engine.Options{})
	db := naive.NewMemDB()
	apply := func(c engine.Change) {
		t.Helper()
		if _, err := eng.Apply(c); err != nil {
			t.Fatalf("apply %s %s: %v", c.Op, c.ID.SurQL(), err)
		}
		switch c.Op {
		case engine.OpDelete:
			db.Delete(c.ID)
		case engine.OpMerge:
			row, _ := db.Record(c.ID)
			for _, f := range c.Record.Fields() {
				row = row.With(f.Key, f.Val)
			}
			if err := db.Put(row); err != nil {
				t.Fatal(err)
			}
		default:
			if err := db.Put(c.Record); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range w.Initial() {
		apply(c)
	}
	views := w.Views()
	parsed := make([]*surql.Select, len(views))
	for i, v := range views {
		sel, err := surql.ParseSelect(v.SurQL)
		if err != nil {
			t.Fatalf("view %s does not parse: %v", v.ID, err)
		}
		parsed[i] = sel
		if _, err := eng.Register(v.ID, v.SurQL, v.Params); err != nil {
			t.Fatalf("register %s: %v", v.ID, err)
		}
	}
	compare := func(step int) {
		t.Helper()
		for i, v := range views {
			want, err := naive.Eval(parsed[i], v.Params, db)
			if err != nil {
				t.Fatalf("naive eval %s: %v", v.ID, err)
			}
			got, ok := eng.Members(v.ID)
			if !ok {
				t.Fatalf("view %s is not registered", v.ID)
			}
			if !sameMembers(got, want) {
				t.Fatalf("step %d, view %s (%s): engine has %d members, naive %d\nengine: %v\nnaive:  %v",
					step, v.ID, v.SurQL, len(got), len(want), got, want)
			}
		}
	}
	compare(0)
	for step := 1; step <= 1500; step++ {
		apply(w.Next())
		if step%500 == 0 {
			compare(step)
		}
	}
	// The mix exercises every kind of membership.
	var top, sub int
	for _, v := range views {
		ms, _ := eng.Members(v.ID)
		for _, m := range ms {
			if m.Parent == "" {
				top++
			} else {
				sub++
			}
		}
	}
	if top == 0 || sub == 0 {
		t.Fatalf("views hold %d top-level and %d subquery members; want both", top, sub)
	}
}

func sameMembers(a, b []engine.Member) bool {
	key := func(m engine.Member) string {
		return fmt.Sprintf("%s\x00%s\x00%s\x00%d", m.Parent, m.Rel, m.Key, m.Version)
	}
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i, m := range a {
		ka[i] = key(m)
	}
	for i, m := range b {
		kb[i] = key(m)
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
