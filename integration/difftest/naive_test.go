package difftest

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/internal/naive"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

type naiveView struct {
	sel    *surql.Select
	params value.Value
}

// naiveEngine is the from-scratch evaluator (internal/naive) behind the Engine interface.
type naiveEngine struct {
	db    *naive.MemDB
	views map[string]naiveView
	hints map[string]schema.Table
}

func newNaive() *naiveEngine {
	return &naiveEngine{db: naive.NewMemDB(), views: map[string]naiveView{}, hints: map[string]schema.Table{}}
}

// SetSchema records the field types; every change is resolved by them before it is stored,
// as the engine does.
func (n *naiveEngine) SetSchema(table string, t schema.Table) error {
	n.hints[table] = t
	return nil
}

func (n *naiveEngine) Register(id, src string, params value.Value) ([]engine.Member, error) {
	sel, err := surql.ParseSelect(src)
	if err != nil {
		return nil, err
	}
	n.views[id] = naiveView{sel, params}
	ms, _ := n.Members(id)
	return ms, nil
}

func (n *naiveEngine) Apply(c engine.Change) ([]engine.Delta, error) {
	c.Record = n.hints[c.Table].Apply(c.Record)
	switch c.Op {
	case engine.OpDelete:
		n.db.Delete(c.ID)
	case engine.OpMerge:
		row, ok := n.db.Record(c.ID)
		if !ok {
			row = value.ObjectOf(nil)
		}
		for _, f := range c.Record.Fields() {
			row = row.With(f.Key, f.Val)
		}
		return nil, n.db.Put(row.With("id", c.ID))
	default:
		return nil, n.db.Put(c.Record.With("id", c.ID))
	}
	return nil, nil
}

func (n *naiveEngine) Members(id string) ([]engine.Member, bool) {
	v, ok := n.views[id]
	if !ok {
		return nil, false
	}
	ms, err := naive.Eval(v.sel, v.params, n.db)
	if err != nil {
		return []engine.Member{{Key: "error: " + err.Error()}}, true
	}
	return ms, true
}

var naiveSteps = flag.Int("difftest.naivesteps", 300, "steps per seed for TestNaiveAgainstSurrealDB")

func TestNaiveAgainstSurrealDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	_, db := startDB(t, ctx)
	r, err := NewRunner(Options{DB: db, NewEngine: func() (Engine, error) { return newNaive(), nil }, Logf: t.Logf, ShrinkBudget: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 1; seed++ {
		rep, err := r.Run(ctx, seed, *naiveSteps)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: %d steps in %s", seed, rep.Steps, rep.Elapsed)
		for _, rj := range rep.Rejected {
			t.Errorf("rejected %s: %v", rj.View.ID, rj.Err)
		}
		for i, m := range rep.Mismatches {
			t.Errorf("seed %d view %s differs at event %d:\n%s", seed, m.View.ID, m.Step, strings.Join(m.Diff, "\n"))
			if i < 3 {
				rp, err := r.Shrink(ctx, m)
				if err != nil {
					t.Errorf("shrink: %v", err)
					continue
				}
				t.Logf("repro:\n%s", rp.Format())
			}
		}
	}
}
