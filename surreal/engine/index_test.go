package engine

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// TestIndexAgainstSortedModel drives the store's shared ordered indexes with random creates,
// updates and deletes (enough rows for three levels, small value domains for ties and mixed
// kinds) and checks after every batch that each index holds every row exactly once, in
// (group, sort keys, id) order, that every group's walk yields the rows of that group value in
// sort order, and that seeking after any entry lands on the next one.
func TestIndexAgainstSortedModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		field  string
		terms  []ixTerm
		rows   int
		groups int
		steps  int
		minH   int // the height the index must reach
	}{
		{"ids", "", nil, 9000, 0, 16000, 2},
		{"desc-ties", "", []ixTerm{{field: "s", desc: true}, {field: "n"}}, 9000, 0, 16000, 2},
		{"grouped", "g", []ixTerm{{field: "s", desc: true}}, 9000, 40, 16000, 2},
		{"many-groups", "g", []ixTerm{{field: "n"}}, 3000, 2000, 6000, 1},
		{"collate", "g", []ixTerm{{field: "t", collate: true}, {field: "s"}}, 2000, 7, 4000, 1},
		{"paths", "g", []ixTerm{
			{path: []surql.Part{{Name: "o"}, {Name: "x"}}, desc: true},
			{path: []surql.Part{{Name: "o"}}, rest: []surql.Part{{Name: "y"}}},
		}, 2000, 30, 4000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(11))
			st := newStore()
			gen := func(id int) value.Value {
				var g value.Value
				switch rng.Intn(6) {
				case 0:
					g = value.String(fmt.Sprint("g", rng.Intn(max(tc.groups, 1))))
				case 1:
					g = value.Record("user", value.Int(int64(rng.Intn(max(tc.groups, 1)))))
				default:
					g = value.Int(int64(rng.Intn(max(tc.groups, 1))))
				}
				var s value.Value
				switch rng.Intn(5) {
				case 0:
					s = value.Float(float64(rng.Intn(20)) / 2)
				case 1:
					s = value.None()
				case 2:
					s = value.String(fmt.Sprint("abcdefg", rng.Intn(3)))
				default:
					s = value.Int(int64(rng.Intn(10)))
				}
				fs := []value.Field{
					{Key: "id", Val: value.Record("t", value.Int(int64(id)))},
					{Key: "g", Val: g},
					{Key: "s", Val: s},
					{Key: "n", Val: value.Int(int64(rng.Intn(50)))},
					{Key: "t", Val: value.String([]string{"a", "B", "b", "é", "A1", "a10", "a9"}[rng.Intn(7)])},
					{Key: "o", Val: value.ObjectOf([]value.Field{{Key: "x", Val: s}, {Key: "y", Val: value.Int(int64(rng.Intn(5)))}})},
				}
				return value.ObjectOf(fs)
			}
			step := uint64(0)
			apply := func(id int, row value.Value) {
				key := value.RecordString(value.Record("t", value.Int(int64(id))))
				step++
				c := &change{table: "t", key: key, new: row, step: step}
				c.hashes = c.hbuf[:0]
				if r := st.getRow("t", key); r != nil {
					c.old, c.seq, c.r = r.row, r.seq, r
				} else if row.IsNone() {
					return
				} else {
					c.seq = st.nextSeq("t")
				}
				st.apply(c)
			}
			// Half the rows exist before the index is built, the rest arrive afterwards.
			for i := 0; i < tc.rows/2; i++ {
				id := rng.Intn(tc.rows)
				apply(id, gen(id))
			}
			ix := st.acquireIndex("t", tc.field, tc.terms)
			maxH := 0
			for step := 0; step < tc.steps; step++ {
				id := rng.Intn(tc.rows)
				if rng.Intn(4) == 0 {
					apply(id, value.None())
				} else {
					apply(id, gen(id))
				}
				maxH = max(maxH, ix.height)
				if step%(tc.steps/10) == 0 || step == tc.steps-1 {
					checkIndex(t, st, ix, rng)
				}
			}
			if maxH < tc.minH {
				t.Fatalf("the index never grew past height %d", maxH)
			}
			// Drain.
			for id := 0; id < tc.rows; id++ {
				apply(id, value.None())
			}
			checkIndex(t, st, ix, rng)
			st.releaseIndex(ix)
			if len(st.tables["t"].idx) != 0 {
				t.Fatalf("released index still registered")
			}
		})
	}
}

func checkIndex(t *testing.T, st *store, ix *oindex, rng *rand.Rand) {
	t.Helper()
	tbl := st.tables["t"]
	type ent struct {
		pos ipos
		r   *srow
	}
	var model []ent
	for _, r := range tbl.rows {
		hk := ""
		if ix.field != "" {
			hk = value.HashKey(r.row.Get(ix.field))
		}
		keys := ix.keysOf(r.row, nil)
		model = append(model, ent{ipos{k: ix.word(ix.group(hk), ix.preOf(keys, r.id())), keys: keys, id: r.id()}, r})
	}
	slices.SortFunc(model, func(a, b ent) int { return ix.cmpPos(&a.pos, &b.pos) })
	var got []*srow
	c := ix.seekWord(0)
	for {
		r, _, ok := c.next()
		if !ok {
			break
		}
		got = append(got, r)
	}
	if len(got) != len(model) || ix.Len() != len(model) {
		t.Fatalf("index walks %d rows and counts %d, the table has %d", len(got), ix.Len(), len(model))
	}
	for i := range model {
		if got[i] != model[i].r {
			t.Fatalf("entry %d is %s, want %s", i, got[i].key, model[i].r.key)
		}
	}
	if len(model) == 0 {
		return
	}
	// Seeks after random entries.
	for range 50 {
		i := rng.Intn(len(model))
		cur := ix.seekAfter(&model[i].pos)
		r, _, ok := cur.next()
		if i+1 < len(model) {
			if !ok || r != model[i+1].r {
				t.Fatalf("seekAfter(entry %d) did not land on entry %d", i, i+1)
			}
		} else if ok {
			t.Fatalf("seekAfter(last entry) returned %s", r.key)
		}
	}
	// Group walks: exactly the rows of the group's value, in order (other values only when
	// their hash collides).
	if ix.field == "" {
		return
	}
	for range 20 {
		hk := value.HashKey(model[rng.Intn(len(model))].r.row.Get(ix.field))
		var want, walked []*srow
		for _, e := range model {
			if value.HashKey(e.r.row.Get(ix.field)) == hk {
				want = append(want, e.r)
			}
		}
		ix.eachInGroup(hk, func(r *srow) {
			if value.HashKey(r.row.Get(ix.field)) == hk {
				walked = append(walked, r)
			}
		})
		if !slices.Equal(want, walked) {
			t.Fatalf("group %q walks %d rows, want %d", hk, len(walked), len(want))
		}
	}
}

// TestIndexRegistry checks the sharing rules of the store's indexes: one index per spec,
// equality lookups served by any index with the field as prefix (an unordered one only while
// no other exists), and nothing left once every user is gone.
func TestIndexRegistry(t *testing.T) {
	st := newStore()
	specs := func() []string {
		var out []string
		for sp := range st.table("t").idx {
			out = append(out, sp)
		}
		slices.Sort(out)
		return out
	}
	byCreated := []ixTerm{{field: "created", desc: true}}
	st.acquireLookup("t", "a")
	if got := specs(); !slices.Equal(got, []string{indexSpec("a", nil)}) {
		t.Fatalf("after a lookup: %q", got)
	}
	ix := st.acquireIndex("t", "a", byCreated)
	if got := specs(); !slices.Equal(got, []string{indexSpec("a", byCreated)}) {
		t.Fatalf("an ordered index on the field must replace the lookup-only one: %q", got)
	}
	if st.lookupIndex("t", "a") != ix {
		t.Fatalf("lookups must use the ordered index")
	}
	if again := st.acquireIndex("t", "a", byCreated); again != ix || ix.refs != 2 {
		t.Fatalf("one index per spec (refs %d)", ix.refs)
	}
	other := st.acquireIndex("t", "", byCreated)
	st.releaseIndex(ix)
	st.releaseIndex(ix)
	if got := specs(); len(got) != 2 || st.lookupIndex("t", "a") != ix {
		t.Fatalf("the last index on a looked-up field must stay: %q", got)
	}
	st.releaseLookup("t", "a")
	if got := specs(); !slices.Equal(got, []string{indexSpec("", byCreated)}) {
		t.Fatalf("after the last lookup: %q", got)
	}
	st.releaseIndex(other)
	if got := specs(); len(got) != 0 {
		t.Fatalf("after the last user: %q", got)
	}
}

// TestEngineReleasesIndexes registers and unregisters views that create bounded windows and
// lookups and checks that no index outlives its views.
func TestEngineReleasesIndexes(t *testing.T) {
	e := New(Options{})
	queries := []string{
		`SELECT * FROM thread WHERE author = $user`,
		`SELECT * FROM thread WHERE author = $user ORDER BY created DESC LIMIT 2`,
		`SELECT * FROM thread ORDER BY created DESC LIMIT 3`,
		`SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created LIMIT 2) AS c FROM thread LIMIT 2`,
		`SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS c FROM thread`,
	}
	params := value.ObjectOf([]value.Field{{Key: "user", Val: value.Record("user", value.Int(1))}})
	for i, q := range queries {
		if _, err := e.Register(fmt.Sprint("v", i), q, params); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, tb := range e.st.tables {
		n += len(tb.idx)
	}
	// thread: (author, created) also serving the lookup, (created), (id order); comment:
	// (thread, created) serving the window and the lookup.
	if n != 4 {
		t.Fatalf("%d indexes for the views, want 4", n)
	}
	for i := range queries {
		e.Unregister(fmt.Sprint("v", i))
	}
	for name, tb := range e.st.tables {
		if len(tb.idx) != 0 || len(tb.lookups) != 0 {
			t.Fatalf("table %s keeps %d indexes and %d lookups after every view left", name, len(tb.idx), len(tb.lookups))
		}
	}
}
