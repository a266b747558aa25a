package engine

import (
	"math"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

// TestBTreeAgainstSortedSlice checks insert/delete ranks, At and Walk against a sorted slice
// model under random workloads large enough for three levels, with coarse prefixes so that
// prefix ties fall back to the full comparison.
func TestBTreeAgainstSortedSlice(t *testing.T) {
	for _, tc := range []struct {
		name          string
		ids, distinct int
		steps         int
		coarse        bool
	}{
		{"small", 300, 20, 4000, false},
		{"ties", 3000, 3, 10000, true},
		{"deep", 20000, 1000, 30000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(7))
			ord := testOrder{coarse: tc.coarse}
			cmp := func(a, b *rowState) int {
				pa, pb := ord.prefix(a.keys, a.id()), ord.prefix(b.keys, b.id())
				if pa != pb {
					if pa < pb {
						return -1
					}
					return 1
				}
				return ord.compare(a.keys, a.id(), b.keys, b.id())
			}
			tr := &btree{ord: ord}
			var model []*rowState
			nodes := map[int64]*rowState{}
			maxH := 0
			for step := 0; step < tc.steps; step++ {
				id := rng.Int63n(int64(tc.ids))
				if n, ok := nodes[id]; ok && rng.Intn(3) > 0 {
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
				} else if !ok {
					k := value.Int(rng.Int63n(int64(tc.distinct)))
					n := &rowState{r: &srow{row: value.ObjectOf([]value.Field{{Key: "id", Val: value.Record("t", value.Int(id))}})}, keys: []value.Value{k}}
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
				if int(tr.height) > maxH {
					maxH = int(tr.height)
				}
				if tr.Len() != len(model) {
					t.Fatalf("step %d: len %d, want %d", step, tr.Len(), len(model))
				}
				if step%(tc.steps/40) == 0 || step == tc.steps-1 {
					for i, want := range model {
						if got := tr.At(i); got != want {
							t.Fatalf("step %d: At(%d) wrong", step, i)
						}
						if got := tr.Find(want.r, want.keys); got != want {
							t.Fatalf("step %d: Find(row %d) wrong", step, i)
						}
					}
					absent := &srow{row: value.ObjectOf([]value.Field{{Key: "id", Val: value.Record("t", value.Int(-1))}})}
					if tr.Find(absent, []value.Value{value.Int(0)}) != nil {
						t.Fatalf("step %d: Find of an absent row found one", step)
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
			t.Logf("max height %d, final size %d", maxH, len(model))
			// Drain: deleting everything must leave an empty, reusable tree.
			for _, n := range append([]*rowState(nil), model...) {
				tr.Delete(n)
			}
			if tr.Len() != 0 || tr.height != 0 || tr.At(0) != nil {
				t.Fatalf("drained tree: len %d height %d", tr.Len(), tr.height)
			}
		})
	}
}

// testOrder orders rows by their first key, then id; coarse prefixes are all 0 (every
// comparison falls back to the full order).
type testOrder struct{ coarse bool }

func (testOrder) probeKeys(rs *rowState) []value.Value { return rs.keys }
func (testOrder) entryKeys(rs *rowState) []value.Value { return rs.keys }
func (o testOrder) prefix(keys []value.Value, _ value.Value) uint64 {
	if o.coarse {
		return 0
	}
	return prefix(keys[0], false)
}
func (testOrder) compare(aKeys []value.Value, aID value.Value, bKeys []value.Value, bID value.Value) int {
	if c := value.Compare(aKeys[0], bKeys[0]); c != 0 {
		return c
	}
	return value.Compare(aID, bID)
}

// TestPrefixOrder checks that prefix agrees with value.Compare wherever it decides.
func TestPrefixOrder(t *testing.T) {
	vals := []value.Value{
		value.None(), value.Null(), value.Bool(false), value.Bool(true),
		value.Int(math.MinInt64), value.Int(-5), value.Float(-4.5), value.Float(math.Inf(-1)), value.Int(0),
		value.Float(0), value.Float(math.Copysign(0, -1)), value.Float(1e-300), value.Int(1), value.Float(1.5),
		value.Int(1 << 60), value.Float(math.Inf(1)), value.Float(math.NaN()), value.String(""), value.String("a"),
		value.String("abcdefg"), value.String("abcdefgh"), value.String("abcdefga"), value.String("b"),
		value.Duration(-time.Second), value.Duration(0), value.Duration(time.Hour),
		value.Datetime(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)), value.Datetime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
		value.Datetime(time.Date(2024, 1, 1, 0, 0, 0, 1, time.UTC)), value.Array(nil), value.ObjectOf(nil),
		value.Record("a", value.Int(1)),
	}
	for _, opaque := range []bool{false, true} {
		for _, a := range vals {
			for _, b := range vals {
				pa, pb := prefix(a, opaque), prefix(b, opaque)
				c := value.Compare(a, b)
				if (pa < pb && c >= 0) || (pa > pb && c <= 0) {
					t.Errorf("prefix(%s)=%x, prefix(%s)=%x but Compare=%d", a.SurQL(), pa, b.SurQL(), pb, c)
				}
			}
		}
	}
	ids := []value.Value{
		value.Record("t", value.Int(-3)), value.Record("t", value.Int(2)), value.Record("t", value.Int(10)),
		value.Record("t", value.String("10")), value.Record("t", value.String("a")), value.Record("t", value.String("ab")),
		value.Record("t", value.Array([]value.Value{value.Int(1)})),
	}
	for _, a := range ids {
		for _, b := range ids {
			pa, pb := idPrefix(a), idPrefix(b)
			c := value.Compare(a, b)
			if (pa < pb && c >= 0) || (pa > pb && c <= 0) {
				t.Errorf("idPrefix(%s)=%x, idPrefix(%s)=%x but Compare=%d", a.SurQL(), pa, b.SurQL(), pb, c)
			}
		}
	}
}
