package workload

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// fingerprint renders changes so two streams can be compared.
func fingerprint(cs []engine.Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s %d %s %s\n", c.Table, c.Op, c.ID.SurQL(), c.Record.SurQL())
	}
	return b.String()
}

func stream(w *Workload, n int) []engine.Change {
	out := make([]engine.Change, n)
	for i := range out {
		out[i] = w.Next()
	}
	return out
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Views: 40, Rows: 500}
	a, b, c := New(7, cfg), New(7, cfg), New(8, cfg)
	if fa, fb := fingerprint(a.Initial()), fingerprint(b.Initial()); fa != fb {
		t.Fatal("same seed gave different initial rows")
	}
	if fa, fc := fingerprint(a.Initial()), fingerprint(c.Initial()); fa == fc {
		t.Fatal("different seeds gave identical initial rows")
	}
	if sa, sb := fingerprint(stream(a, 300)), fingerprint(stream(b, 300)); sa != sb {
		t.Fatal("same seed gave different change streams")
	}
	va, vb := a.Views(), b.Views()
	for i := range va {
		if va[i].ID != vb[i].ID || va[i].SurQL != vb[i].SurQL || !value.Equal(va[i].Params, vb[i].Params) {
			t.Fatalf("view %d differs: %+v vs %+v", i, va[i], vb[i])
		}
	}
	// Initial does not depend on how far the stream has advanced.
	if fa, fn := fingerprint(a.Initial()), fingerprint(New(7, cfg).Initial()); fa != fn {
		t.Fatal("Initial changed after Next was called")
	}
}

func TestInitialRows(t *testing.T) {
	tests := []struct {
		rows                     int
		users, threads, comments int
	}{
		{0, 0, 0, 0},
		{1, 1, 1, 0},
		{20, 1, 5, 14},
		{1000, 50, 250, 700},
		{10000, 500, 2500, 7000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.rows), func(t *testing.T) {
			w := New(1, Config{Rows: tt.rows})
			got := map[string]int{}
			seen := map[string]bool{}
			for _, c := range w.Initial() {
				got[c.Table]++
				if c.Op != engine.OpCreate {
					t.Fatalf("initial change %s has op %d, want CREATE", c.ID.SurQL(), c.Op)
				}
				if c.ID.Kind() != value.KindRecord || c.ID.Table() != c.Table {
					t.Fatalf("id %s is not a record of %s", c.ID.SurQL(), c.Table)
				}
				if !value.Equal(c.Record.Get("id"), c.ID) {
					t.Fatalf("row %s has id field %s", c.ID.SurQL(), c.Record.Get("id").SurQL())
				}
				if seen[c.ID.SurQL()] {
					t.Fatalf("duplicate id %s", c.ID.SurQL())
				}
				seen[c.ID.SurQL()] = true
				for _, link := range []string{"author", "thread"} {
					l := c.Record.Get(link)
					if l.IsNone() {
						continue
					}
					if l.Kind() != value.KindRecord || !seen[l.SurQL()] {
						t.Fatalf("%s.%s = %s does not link an earlier row", c.ID.SurQL(), link, l.SurQL())
					}
				}
			}
			want := map[string]int{"user": tt.users, "thread": tt.threads, "comment": tt.comments}
			for tb, n := range want {
				if got[tb] != n {
					t.Errorf("%s rows = %d, want %d", tb, got[tb], n)
				}
			}
		})
	}
}

func TestRowShapes(t *testing.T) {
	w := New(3, Config{Rows: 100})
	want := map[string]map[string]value.Kind{
		"user":    {"name": value.KindString, "handle": value.KindString, "karma": value.KindInt, "created": value.KindDatetime, "_00_rv": value.KindInt},
		"thread":  {"author": value.KindRecord, "title": value.KindString, "created": value.KindDatetime, "tags": value.KindArray, "score": value.KindInt, "pinned": value.KindBool, "_00_rv": value.KindInt},
		"comment": {"thread": value.KindRecord, "author": value.KindRecord, "body": value.KindString, "created": value.KindDatetime, "score": value.KindInt, "_00_rv": value.KindInt},
	}
	for _, c := range w.Initial() {
		for f, k := range want[c.Table] {
			if got := c.Record.Get(f).Kind(); got != k {
				t.Fatalf("%s.%s kind = %s, want %s", c.ID.SurQL(), f, got, k)
			}
		}
	}
}

// TestStreamConsistency replays the stream against a model of the table contents: creates make
// new ids, updates/merges/deletes touch existing ones, versions grow by one, links never change
// on update and point at rows that exist when they are created.
func TestStreamConsistency(t *testing.T) {
	w := New(11, Config{Rows: 200})
	rows := map[string]value.Value{}
	for _, c := range w.Initial() {
		rows[c.ID.SurQL()] = c.Record
	}
	ops := map[string]int{}
	const n = 5000
	for range n {
		c := w.Next()
		id := c.ID.SurQL()
		old, exists := rows[id]
		ops[fmt.Sprintf("%s %d", c.Table, c.Op)]++
		switch c.Op {
		case engine.OpCreate:
			if exists {
				t.Fatalf("CREATE of existing %s", id)
			}
			for _, link := range []string{"author", "thread"} {
				if l := c.Record.Get(link); !l.IsNone() {
					if _, ok := rows[l.SurQL()]; !ok {
						t.Fatalf("new %s links missing %s", id, l.SurQL())
					}
				}
			}
			rows[id] = c.Record
		case engine.OpUpdate, engine.OpMerge:
			if !exists {
				t.Fatalf("op %d of missing %s", c.Op, id)
			}
			if got, want := c.Record.Get("_00_rv").AsInt(), old.Get("_00_rv").AsInt()+1; got != want {
				t.Fatalf("%s version %d, want %d", id, got, want)
			}
			merged := c.Record
			if c.Op == engine.OpMerge {
				merged = old
				for _, f := range c.Record.Fields() {
					merged = merged.With(f.Key, f.Val)
				}
			}
			for _, f := range []string{"author", "thread", "created", "tags"} {
				if !value.Equal(old.Get(f), merged.Get(f)) {
					t.Fatalf("%s.%s changed on update: %s -> %s", id, f, old.Get(f).SurQL(), merged.Get(f).SurQL())
				}
			}
			rows[id] = merged
		case engine.OpDelete:
			if !exists {
				t.Fatalf("DELETE of missing %s", id)
			}
			if !c.Record.IsNone() {
				t.Fatalf("DELETE of %s carries a record", id)
			}
			delete(rows, id)
		default:
			t.Fatalf("unknown op %d", c.Op)
		}
	}
	// The mix is roughly the documented one (5000 draws: generous bounds).
	want := map[string]int{
		"comment 1": 40, "comment 2": 16, "comment 4": 4,
		"thread 1": 8, "thread 2": 10, "thread 3": 8, "thread 4": 2,
		"user 1": 2, "user 2": 10,
	}
	for k, pct := range want {
		got := ops[k] * 100 / n
		if got < pct*6/10 || got > pct*14/10+1 {
			t.Errorf("%s: %d%% of changes, want about %d%%", k, got, pct)
		}
	}
}

func TestStreamFromEmpty(t *testing.T) {
	w := New(5, Config{Rows: 0})
	ids := map[string]bool{}
	for range 200 {
		c := w.Next()
		switch c.Op {
		case engine.OpCreate:
			ids[c.ID.SurQL()] = true
		default:
			if !ids[c.ID.SurQL()] {
				t.Fatalf("op %d on %s, which was never created", c.Op, c.ID.SurQL())
			}
		}
	}
}

func TestViewMix(t *testing.T) {
	w := New(2, Config{Views: 1000, Rows: 10000})
	views := w.Views()
	if len(views) != 1000 {
		t.Fatalf("got %d views, want 1000", len(views))
	}
	kinds := map[string]int{}
	ids := map[string]bool{}
	for _, v := range views {
		if ids[v.ID] {
			t.Fatalf("duplicate view id %s", v.ID)
		}
		ids[v.ID] = true
		kinds[strings.SplitN(v.ID, "_", 2)[0]]++
		for _, p := range []string{"user", "id", "tag"} {
			if strings.Contains(v.SurQL, "$"+p) && v.Params.Get(p).IsNone() {
				t.Fatalf("view %s uses $%s without the param", v.ID, p)
			}
		}
		if id := v.Params.Get("id"); !id.IsNone() && id.Table() != "thread" {
			t.Fatalf("view %s: $id %s is not a thread", v.ID, id.SurQL())
		}
	}
	want := map[string]int{"user": 350, "feed": 200, "filter": 150, "detail": 300}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s views, want %d", kinds[k], k, n)
		}
	}
	// Views returns a copy.
	views[0].ID = "changed"
	if w.Views()[0].ID == "changed" {
		t.Error("Views exposes internal state")
	}
}

func TestWindowKeepsTheDataStationary(t *testing.T) {
	const window = 40
	w := New(12, Config{Rows: 400, Window: window})
	rows := map[string]bool{}
	initial := map[string]int{}
	for _, c := range w.Initial() {
		rows[c.ID.SurQL()] = true
		initial[c.Table]++
	}
	live := func(table string) int {
		n := 0
		for id := range rows {
			if strings.HasPrefix(id, table+":") {
				n++
			}
		}
		return n
	}
	creates, deletes := 0, 0
	for i := range 20000 {
		c := w.Next()
		id := c.ID.SurQL()
		switch c.Op {
		case engine.OpCreate:
			if rows[id] {
				t.Fatalf("change %d: CREATE of existing %s", i, id)
			}
			rows[id] = true
			creates++
		case engine.OpDelete:
			if !rows[id] {
				t.Fatalf("change %d: DELETE of missing %s", i, id)
			}
			delete(rows, id)
			deletes++
		default:
			if !rows[id] {
				t.Fatalf("change %d: op %d of missing %s", i, c.Op, id)
			}
		}
		if i%1000 == 999 {
			for _, tb := range []string{"user", "thread", "comment"} {
				if n := live(tb); n > initial[tb]+window+1 {
					t.Fatalf("change %d: %d %s rows alive, want at most %d initial + %d", i, n, tb, initial[tb], window)
				}
			}
		}
	}
	if deletes < creates-3*window {
		t.Errorf("%d creates but %d deletes: the window should delete as much as is created", creates, deletes)
	}
}
