package engine

import (
	"math/rand"
	"sort"
	"testing"

	"github.com/sp00ky/ssp/surreal/value"
)

// TestOSTreeAgainstSortedSlice checks insert/delete ranks, At and Walk against a sorted slice
// model under a random workload.
func TestOSTreeAgainstSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	cmp := func(a, b *rowState) int {
		if c := value.Compare(a.keys[0], b.keys[0]); c != 0 {
			return c
		}
		return value.Compare(a.id, b.id)
	}
	tr := &ostree{cmp: cmp}
	var model []*rowState
	nodes := map[int64]*rowState{}
	for step := 0; step < 5000; step++ {
		id := rng.Int63n(300)
		if n, ok := nodes[id]; ok {
			rank := tr.Delete(n)
			i := sort.Search(len(model), func(i int) bool { return cmp(model[i], n) >= 0 })
			if rank != i || model[i] != n {
				t.Fatalf("step %d: delete rank %d, want %d", step, rank, i)
			}
			model = append(model[:i], model[i+1:]...)
			delete(nodes, id)
			if n.inTree {
				t.Fatalf("step %d: deleted node still marked in tree", step)
			}
		} else {
			n := &rowState{id: value.Record("t", value.Int(id)), keys: []value.Value{value.Int(rng.Int63n(20))}}
			rank := tr.Insert(n)
			i := sort.Search(len(model), func(i int) bool { return cmp(model[i], n) >= 0 })
			if rank != i {
				t.Fatalf("step %d: insert rank %d, want %d", step, rank, i)
			}
			model = append(model, nil)
			copy(model[i+1:], model[i:])
			model[i] = n
			nodes[id] = n
		}
		if tr.Len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", step, tr.Len(), len(model))
		}
		if step%97 == 0 {
			for i, want := range model {
				if got := tr.At(i); got != want {
					t.Fatalf("step %d: At(%d) wrong", step, i)
				}
			}
			if tr.At(len(model)) != nil || tr.At(-1) != nil {
				t.Fatalf("step %d: At out of range must be nil", step)
			}
			from, to := rng.Intn(len(model)+1), rng.Intn(len(model)+2)
			var got []*rowState
			tr.Walk(from, to, func(n *rowState) { got = append(got, n) })
			var want []*rowState
			for i := from; i < to && i < len(model); i++ {
				want = append(want, model[i])
			}
			if len(got) != len(want) {
				t.Fatalf("step %d: Walk(%d,%d) gave %d rows, want %d", step, from, to, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("step %d: Walk(%d,%d)[%d] wrong", step, from, to, i)
				}
			}
		}
	}
}
