package engine_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/internal/naive"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

var (
	flagSteps = flag.Int("engine.steps", 200, "steps per seed of the engine property test")
	flagSeeds = flag.Int("engine.seeds", 3, "seeds of the engine property test")
	flagSeed  = flag.Int64("engine.seed", 0, "run only this seed (0: seeds 1..engine.seeds)")
)

// viewSpec is one view of the property-test corpus.
type viewSpec struct {
	id     string
	surql  string
	params value.Value
}

func obj(kv ...any) value.Value {
	var fs []value.Field
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, value.Field{Key: kv[i].(string), Val: kv[i+1].(value.Value)})
	}
	return value.ObjectOf(fs)
}

func rec(tb string, key any) value.Value {
	switch k := key.(type) {
	case int:
		return value.Record(tb, value.Int(int64(k)))
	case string:
		return value.Record(tb, value.String(k))
	}
	panic("bad key")
}

// corpus is the set of views every property-test step is checked against: filters, windows
// with ties, links in WHERE and ORDER BY, correlated and uncorrelated subqueries at three levels,
// expression subqueries and params.
func corpus() []viewSpec {
	none := value.None()
	return []viewSpec{
		{"all_threads", `SELECT * FROM thread`, none},
		{"score_gt", `SELECT * FROM thread WHERE score > 2`, none},
		{"by_user", `SELECT * FROM thread WHERE author = $user`, obj("user", rec("user", 1))},
		{"by_auth", `SELECT * FROM thread WHERE author = $auth.id ORDER BY created DESC LIMIT 2`, obj("auth", obj("id", value.String("user:2")))},
		{"feed", `SELECT * FROM thread ORDER BY created DESC LIMIT 3`, none},
		{"feed_dup", `SELECT * FROM thread ORDER BY created DESC LIMIT 3;`, none}, // shares feed's pipeline
		{"feed_start", `SELECT * FROM thread ORDER BY score DESC, title ASC LIMIT 4 START 2`, none},
		{"first_ids", `SELECT * FROM thread LIMIT 3`, none},
		{"ids_start", `SELECT * FROM thread START 3 LIMIT 2`, none},
		{"order_nolimit", `SELECT * FROM comment ORDER BY score DESC`, none},
		{"link_where", `SELECT * FROM thread WHERE author.name = 'ann'`, none},
		{"link_order", `SELECT * FROM thread ORDER BY author.age DESC LIMIT 3`, none},
		{"link2", `SELECT * FROM comment WHERE thread.author.name = 'bob'`, none},
		{"link_param", `SELECT * FROM comment WHERE thread.author = $user ORDER BY created LIMIT 3`, obj("user", rec("user", "alice"))},
		{"contains", `SELECT * FROM thread WHERE tags CONTAINS 'go' ORDER BY title LIMIT 3`, none},
		{"or_null", `SELECT * FROM user WHERE profile.city = 'paris' OR age IS NULL`, none},
		{"mixed_order", `SELECT * FROM user ORDER BY age LIMIT 3`, none},
		{"mixed_desc", `SELECT * FROM user ORDER BY age DESC, name DESC LIMIT 4 START 1`, none},
		{"alias_order", `SELECT *, author.name AS an FROM thread ORDER BY an LIMIT 3`, none},
		{"limit_param", `SELECT * FROM thread ORDER BY score LIMIT $n START $s`, obj("n", value.Int(3), "s", value.Int(1))},
		{"pinned_comments", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created DESC LIMIT 2) AS comments FROM thread WHERE pinned = true`, none},
		{"nested3", `SELECT *, (SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM comment WHERE $parent.id = thread AND score > 1 ORDER BY score DESC LIMIT 3 START 1) AS comments FROM thread ORDER BY score DESC LIMIT 5`, none},
		{"detail", `SELECT *, (SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM comment WHERE thread = $parent.id ORDER BY created DESC LIMIT 10) AS comments FROM thread WHERE id = $id`, obj("id", rec("thread", 2))},
		{"fallback_corr", `SELECT *, (SELECT * FROM user WHERE age > $parent.score ORDER BY age LIMIT 2) AS older FROM thread LIMIT 4`, none},
		{"shared_sub", `SELECT *, (SELECT * FROM user WHERE active = true ORDER BY name LIMIT 2) AS actives FROM thread WHERE score >= 2`, none},
		{"expr_sub_corr", `SELECT * FROM thread WHERE array::len((SELECT * FROM comment WHERE thread = $parent.id)) > 1`, none},
		{"expr_sub_unc", `SELECT * FROM thread WHERE array::len((SELECT * FROM user WHERE active = true)) > 2 AND score < 3`, none},
		{"user_tree", `SELECT *, (SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY score LIMIT 2) AS comments FROM thread WHERE author = $parent.id ORDER BY created DESC LIMIT 2) AS threads, (SELECT * FROM thread WHERE author = $parent.id ORDER BY created DESC LIMIT 1)[0] AS latest FROM user WHERE active = true`, none},
		{"dup_paths", `SELECT *, (SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread WHERE author = $parent.author AND id != $parent.id) AS related, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread WHERE score > 1`, none},
		{"index1", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY score DESC)[1] AS second FROM thread`, none},
		{"parent_link", `SELECT * FROM comment WHERE parent.thread = thread AND parent.score <= score`, none},
		{"collate", `SELECT * FROM thread ORDER BY title COLLATE DESC LIMIT 3`, none},
		{"not_in", `SELECT * FROM comment WHERE score NOT IN [1, 2] AND !(body = 'x')`, none},
		{"created_cmp", `SELECT * FROM comment WHERE created > d'2024-01-02T00:00:00Z' ORDER BY created, id DESC LIMIT 4`, none},
		{"parent_sub_link", `SELECT *, (SELECT * FROM thread WHERE author = $parent.author.id AND score >= $parent.score) AS near FROM comment WHERE score > 2`, none},
		{"nested_obj", `SELECT * FROM thread WHERE meta.views >= 3 AND meta.flags CONTAINSANY ['hot', 'new']`, none},
		{"user_id_eq", `SELECT * FROM user WHERE id = user:alice OR id = user:3`, none},
		{"id_param_str", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id AND author = $parent.author) AS own FROM thread WHERE id = $id`, obj("id", value.String("thread:3"))},
		{"similar", `SELECT *, (SELECT * FROM thread WHERE tags CONTAINSANY $parent.tags AND id != $parent.id ORDER BY id DESC LIMIT 2) AS similar FROM thread WHERE pinned = true`, none},
		{"unindexed_corr", `SELECT *, (SELECT * FROM thread WHERE tags = $parent.tags) AS same FROM user WHERE active = true`, none},
		{"first_of_sorted", `SELECT *, (SELECT * FROM comment WHERE author = $parent.id ORDER BY created DESC, id)[0] AS last FROM user`, none},
		{"in_param", `SELECT * FROM comment WHERE author IN $authors ORDER BY score DESC, created LIMIT 3`, obj("authors", value.Array([]value.Value{rec("user", 1), value.String("user:bob")}))},
		{"comment_parent_sub", `SELECT *, (SELECT * FROM comment WHERE id = $parent.parent)[0] AS replied FROM comment WHERE score >= 3`, none},
		// Bounded windows over shared indexes: LIMIT 1-3 with heavy ties and churn at the
		// boundary, selective filters (long walks), START, routed and per-parent windows,
		// [n] of ordered subqueries, links that turn a bounded window into a full one.
		{"top1_ties", `SELECT * FROM comment ORDER BY score DESC LIMIT 1`, none},
		{"top1_ties_dup", `SELECT * FROM comment ORDER BY score DESC LIMIT 1`, none},
		{"rare_filter", `SELECT * FROM comment WHERE body = 'z' AND score >= 3 ORDER BY created DESC LIMIT 2`, none},
		{"rare_filter_id", `SELECT * FROM comment WHERE body = 'y' AND score = 4 LIMIT 1`, none},
		{"start_window", `SELECT * FROM comment ORDER BY created LIMIT 2 START 3`, none},
		{"start_ties", `SELECT * FROM thread ORDER BY score LIMIT 1 START 1`, none},
		{"alias_plain", `SELECT *, score AS s FROM comment ORDER BY s DESC, created LIMIT 2`, none},
		{"id_desc", `SELECT * FROM comment ORDER BY id DESC LIMIT 2`, none},
		{"array_order", `SELECT * FROM thread ORDER BY tags LIMIT 2`, none},
		{"mixed_kinds", `SELECT * FROM user ORDER BY age DESC LIMIT 1 START 2`, none},
		{"routed_window", `SELECT * FROM comment WHERE author = $user ORDER BY score DESC LIMIT 2`, obj("user", rec("user", "bob"))},
		{"routed_ids", `SELECT * FROM thread WHERE author = $user LIMIT 1`, obj("user", rec("user", 2))},
		{"best_comment", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id AND score > 2 ORDER BY score DESC, created LIMIT 1) AS best FROM thread`, none},
		{"older_comments", `SELECT *, (SELECT * FROM comment WHERE author = $parent.id ORDER BY created DESC LIMIT 2 START 1) AS older FROM user`, none},
		{"third_comment", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created)[2] AS third FROM thread WHERE score >= 1`, none},
		{"newest_shared", `SELECT *, (SELECT * FROM comment WHERE body != 'x' ORDER BY created DESC LIMIT 1) AS newest FROM thread WHERE pinned = true`, none},
		{"limit0", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY created LIMIT 0) AS none FROM thread WHERE score = 1`, none},
		{"link_taint", `SELECT * FROM comment WHERE body = 'x' OR parent.score > 3 ORDER BY created LIMIT 2`, none},
		{"nested_path", `SELECT * FROM thread ORDER BY meta.views DESC, id LIMIT 2`, none},
		{"alias_rest", `SELECT *, meta AS m FROM thread ORDER BY m.views, title DESC LIMIT 2 START 1`, none},
		{"index_path", `SELECT * FROM user ORDER BY tags[0] DESC, profile.score LIMIT 2`, none},
		{"computed_link", `SELECT *, author.age * 1 AS a FROM thread ORDER BY a DESC LIMIT 2`, none},
		{"unindexed_window", `SELECT *, (SELECT * FROM thread WHERE tags = $parent.tags ORDER BY created DESC LIMIT 1) AS same1 FROM user WHERE active = true`, none},
		{"siblings", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.thread ORDER BY created DESC, score LIMIT 2) AS siblings FROM comment WHERE score >= 3`, none},
		{"link_taint_sub", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id AND (score > 3 OR author.active = true) ORDER BY created DESC LIMIT 1) AS hot FROM thread`, none},
		// SELECT VALUE subqueries in WHERE (value nodes): membership tests against an
		// uncorrelated or a $parent-correlated result, windows, duplicates among the results,
		// nesting, the filtered table itself, links, whole-value uses, and a fallback shape.
		{"in_values", `SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE pinned = true)`, none},
		{"in_values_corr", `SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE author = $parent.author)`, none},
		{"contains_values", `SELECT * FROM comment WHERE (SELECT VALUE id FROM thread WHERE score >= 3) CONTAINS thread ORDER BY created DESC LIMIT 3`, none},
		{"not_in_window", `SELECT * FROM comment WHERE thread NOT IN (SELECT VALUE id FROM thread WHERE score > 1 ORDER BY id DESC LIMIT 2)`, none},
		{"values_dup", `SELECT * FROM thread WHERE id IN (SELECT VALUE thread FROM comment WHERE score > 2)`, none},
		{"values_fallback", `SELECT * FROM user WHERE id INSIDE (SELECT VALUE author FROM thread WHERE pinned = true AND score >= $parent.profile.score)`, none},
		{"anyinside_values", `SELECT * FROM thread WHERE tags ANYINSIDE (SELECT VALUE body FROM comment WHERE thread = $parent.id) OR meta.flags CONTAINSALL (SELECT VALUE title FROM thread WHERE pinned = true)`, none},
		{"index_value", `SELECT * FROM thread WHERE (SELECT VALUE score FROM comment WHERE thread = $parent.id ORDER BY score DESC LIMIT 1)[0] > 3`, none},
		{"values_in_sub", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id AND author IN (SELECT VALUE id FROM user WHERE active = true)) AS c FROM thread WHERE score > 1`, none},
		{"values_nested", `SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE author IN (SELECT VALUE id FROM user WHERE active = true AND id != $parent.author))`, none},
		{"values_self", `SELECT * FROM thread WHERE id IN (SELECT VALUE id FROM thread WHERE score > 2 ORDER BY id DESC LIMIT 2)`, none},
		{"values_link", `SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE author.active = true) AND author INSIDE (SELECT VALUE author FROM thread WHERE pinned = true)`, none},
		{"values_link_proj", `SELECT * FROM thread WHERE 'x' IN (SELECT VALUE parent.body FROM comment WHERE thread = $parent.id)`, none},
		{"rows_len", `SELECT * FROM thread WHERE array::len((SELECT id FROM comment WHERE thread = $parent.id AND score > 2)) >= 1 ORDER BY score DESC LIMIT 3`, none},
		{"values_window_corr", `SELECT * FROM user WHERE id IN (SELECT VALUE author FROM thread WHERE score >= $parent.age ORDER BY author DESC LIMIT 1)`, none},
		// FROM a record id, and windows whose ties decide membership (ties by record id).
		{"from_record", `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY score LIMIT 2) AS top FROM thread:3`, none},
		{"from_record_odd", `SELECT * FROM thread:⟨a-b⟩ WHERE score > 1`, none},
		{"ties_bool", `SELECT * FROM thread ORDER BY pinned DESC LIMIT 2 START 1`, none},
		{"ties_sub", `SELECT *, (SELECT * FROM comment WHERE author = $parent.id ORDER BY body LIMIT 1 START 1) AS second FROM user`, none},
		{"ties_none", `SELECT * FROM comment ORDER BY nothing DESC LIMIT 3 START 2`, none},
	}
}

// world generates random changes over users, threads and comments with links, NULLs, missing
// fields, arrays, nested objects, datetimes and versions; values come from small domains so ties,
// equality hits and window boundaries are frequent.
type world struct {
	rng *rand.Rand
}

var (
	userKeys    = []any{1, 2, 3, 4, 10, "alice", "bob"}
	names       = []string{"ann", "bob", "cid", "Dan", "éva"}
	titles      = []string{"alpha", "Beta", "gamma", "beta", "delta"}
	tagPool     = []string{"go", "rust", "hot", "new"}
	bodies      = []string{"x", "y", "z"}
	cities      = []string{"paris", "rome"}
	baseTime    = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	threadCount = 9
	commentKeys = 24
)

func (w *world) pick(n int) int { return w.rng.Intn(n) }

func (w *world) maybe(p float64) bool { return w.rng.Float64() < p }

func (w *world) datetime() value.Value {
	return value.Datetime(baseTime.Add(time.Duration(w.pick(5)) * 24 * time.Hour))
}

func (w *world) user() value.Value { return rec("user", userKeys[w.pick(len(userKeys))]) }

func (w *world) thread() value.Value {
	if w.maybe(0.1) {
		return rec("thread", "a-b")
	}
	return rec("thread", 1+w.pick(threadCount))
}

func (w *world) comment() value.Value { return rec("comment", 1+w.pick(commentKeys)) }

func (w *world) tags() value.Value {
	var out []value.Value
	for i := w.pick(3); i > 0; i-- {
		out = append(out, value.String(tagPool[w.pick(len(tagPool))]))
	}
	return value.Array(out)
}

// field adds name=v to fs, sometimes leaving it out or setting NULL instead.
func (w *world) field(fs []value.Field, name string, v value.Value) []value.Field {
	switch {
	case w.maybe(0.08):
		return fs
	case w.maybe(0.06):
		return append(fs, value.Field{Key: name, Val: value.Null()})
	}
	return append(fs, value.Field{Key: name, Val: v})
}

func (w *world) row(table string) value.Value {
	var fs []value.Field
	switch table {
	case "user":
		fs = w.field(fs, "name", value.String(names[w.pick(len(names))]))
		var age value.Value
		switch w.pick(4) {
		case 0:
			age = value.Float(float64(w.pick(4)) + 0.5)
		default:
			age = value.Int(int64(w.pick(5)))
		}
		fs = w.field(fs, "age", age)
		fs = w.field(fs, "tags", w.tags())
		fs = w.field(fs, "profile", obj("city", value.String(cities[w.pick(2)]), "score", value.Int(int64(w.pick(3)))))
		fs = w.field(fs, "active", value.Bool(w.maybe(0.6)))
		fs = w.field(fs, "joined", w.datetime())
	case "thread":
		fs = w.field(fs, "author", w.user())
		fs = w.field(fs, "title", value.String(titles[w.pick(len(titles))]))
		fs = w.field(fs, "score", value.Int(int64(w.pick(5))))
		fs = w.field(fs, "tags", w.tags())
		var flags []value.Value
		if w.maybe(0.5) {
			flags = append(flags, value.String([]string{"hot", "new", "old"}[w.pick(3)]))
		}
		fs = w.field(fs, "meta", obj("views", value.Int(int64(w.pick(6))), "flags", value.Array(flags)))
		fs = w.field(fs, "created", w.datetime())
		fs = w.field(fs, "pinned", value.Bool(w.maybe(0.5)))
	case "comment":
		fs = w.field(fs, "thread", w.thread())
		fs = w.field(fs, "author", w.user())
		fs = w.field(fs, "body", value.String(bodies[w.pick(len(bodies))]))
		fs = w.field(fs, "score", value.Int(int64(w.pick(5))))
		fs = w.field(fs, "created", w.datetime())
		if w.maybe(0.4) {
			fs = append(fs, value.Field{Key: "parent", Val: w.comment()})
		}
	}
	if w.maybe(0.7) {
		fs = append(fs, value.Field{Key: "_00_rv", Val: value.Int(int64(1 + w.pick(4)))})
	}
	return value.ObjectOf(fs)
}

// step is one generated change in /ingest form.
type step struct {
	Table  string
	Op     string
	ID     string
	Record value.Value
}

func (s step) json() string {
	body := map[string]any{"table": s.Table, "op": s.Op, "id": s.ID}
	if !s.Record.IsNone() {
		body["record"] = s.Record.ToAny()
	}
	b, _ := json.Marshal(map[string]any{"ingest": body})
	return string(b)
}

func (w *world) next(last *step) step {
	if last != nil && w.maybe(0.05) {
		return *last // replayed ingest
	}
	tables := []string{"user", "thread", "thread", "comment", "comment", "comment"}
	tb := tables[w.pick(len(tables))]
	var id value.Value
	switch tb {
	case "user":
		id = w.user()
	case "thread":
		id = w.thread()
	default:
		id = w.comment()
	}
	s := step{Table: tb, ID: value.RecordString(id)}
	switch r := w.pick(20); {
	case r < 8:
		s.Op, s.Record = "CREATE", w.row(tb)
	case r < 13:
		s.Op, s.Record = "UPDATE", w.row(tb)
	case r < 17:
		var fs []value.Field
		full := w.row(tb).Fields()
		for _, f := range full {
			if w.maybe(0.35) {
				fs = append(fs, f)
			}
		}
		if w.maybe(0.3) {
			fs = append(fs, value.Field{Key: "meta", Val: obj("views", value.Int(int64(w.pick(6))))})
		}
		s.Op, s.Record = "merge", value.ObjectOf(fs)
	default:
		s.Op = "DELETE"
	}
	return s
}

// model applies steps to a naive.MemDB with its own (independent) upsert and merge rules.
type model struct {
	db *naive.MemDB
}

func deepMerge(base, patch value.Value) value.Value {
	if base.Kind() != value.KindObject || patch.Kind() != value.KindObject {
		return patch
	}
	m := map[string]value.Value{}
	for _, f := range base.Fields() {
		m[f.Key] = f.Val
	}
	for _, f := range patch.Fields() {
		if cur, ok := m[f.Key]; ok && cur.Kind() == value.KindObject && f.Val.Kind() == value.KindObject {
			m[f.Key] = deepMerge(cur, f.Val)
		} else {
			m[f.Key] = f.Val
		}
	}
	return value.ObjectFromMap(m)
}

func (m *model) apply(s step) {
	id, _ := value.ParseRecord(s.ID)
	switch strings.ToUpper(s.Op) {
	case "CREATE", "UPDATE":
		_ = m.db.Put(s.Record.With("id", id))
	case "MERGE":
		cur, ok := m.db.Record(id)
		row := s.Record
		if ok {
			row = deepMerge(cur, s.Record)
		}
		_ = m.db.Put(row.With("id", id))
	case "DELETE":
		m.db.Delete(id)
	}
}

type memberKey struct{ parent, rel, key string }

func keyOf(m engine.Member) memberKey { return memberKey{m.Parent, m.Rel, m.Key} }

// harness runs steps through an engine and the naive model and checks every view after each.
type harness struct {
	eng   *engine.Engine
	mdl   *model
	views []viewSpec
	sels  map[string]*surql.Select
	prev  map[string]map[memberKey]int64
}

func newHarness(t testing.TB, views []viewSpec, opts engine.Options) *harness {
	h := &harness{eng: engine.New(opts), mdl: &model{db: naive.NewMemDB()}, views: views,
		sels: map[string]*surql.Select{}, prev: map[string]map[memberKey]int64{}}
	for _, v := range views {
		sel, err := surql.ParseSelect(v.surql)
		if err != nil {
			t.Fatalf("corpus view %s: %v", v.id, err)
		}
		h.sels[v.id] = sel
		ms, err := h.eng.Register(v.id, v.surql, v.params)
		if err != nil {
			t.Fatalf("register %s: %v", v.id, err)
		}
		h.prev[v.id] = toSet(ms)
	}
	return h
}

func toSet(ms []engine.Member) map[memberKey]int64 {
	out := make(map[memberKey]int64, len(ms))
	for _, m := range ms {
		out[keyOf(m)] = m.Version
	}
	return out
}

// run applies s and returns a description of the first discrepancy per view (nil if none).
func (h *harness) run(s step) (map[string]string, error) {
	id, _ := value.ParseRecord(s.ID)
	var oldRow value.Value
	if r, ok := h.mdl.db.Record(id); ok {
		oldRow = r
	}
	c, err := engine.NewChange(s.Table, s.Op, s.ID, s.Record)
	if err != nil {
		return nil, fmt.Errorf("new change %s: %w", s.json(), err)
	}
	deltas, err := h.eng.Apply(c)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", s.json(), err)
	}
	h.mdl.apply(s)
	newRow, _ := h.mdl.db.Record(id)
	contentChanged := !sameRow(oldRow, newRow)
	byView := map[string]engine.Delta{}
	for i, d := range deltas {
		if i > 0 && deltas[i-1].View >= d.View {
			return nil, fmt.Errorf("deltas not sorted by view id: %q before %q", deltas[i-1].View, d.View)
		}
		byView[d.View] = d
	}
	bad := map[string]string{}
	for _, v := range h.views {
		got, ok := h.eng.Members(v.id)
		if !ok {
			return nil, fmt.Errorf("view %s vanished", v.id)
		}
		want, err := naive.Eval(h.sels[v.id], v.params, h.mdl.db)
		if err != nil {
			return nil, fmt.Errorf("naive %s: %w", v.id, err)
		}
		if msg := diffMembers(got, want); msg != "" {
			bad[v.id] = "members differ from naive.Eval:\n" + msg
			continue
		}
		cur := toSet(got)
		if msg := checkDelta(h.prev[v.id], cur, byView[v.id], s.ID, contentChanged); msg != "" {
			bad[v.id] = "delta inconsistent: " + msg
		}
		h.prev[v.id] = cur
	}
	if len(bad) == 0 {
		return nil, nil
	}
	return bad, nil
}

func sameRow(a, b value.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	x, _ := json.Marshal(a.ToAny())
	y, _ := json.Marshal(b.ToAny())
	return string(x) == string(y) && a.SurQL() == b.SurQL()
}

func diffMembers(got, want []engine.Member) string {
	var b strings.Builder
	gs, ws := toSet(got), toSet(want)
	for _, m := range want {
		if v, ok := gs[keyOf(m)]; !ok {
			fmt.Fprintf(&b, "  missing %+v\n", m)
		} else if v != m.Version {
			fmt.Fprintf(&b, "  version of %+v: engine has %d\n", m, v)
		}
	}
	for _, m := range got {
		if _, ok := ws[keyOf(m)]; !ok {
			fmt.Fprintf(&b, "  extra   %+v\n", m)
		}
	}
	if b.Len() == 0 {
		for i := range got {
			if got[i] != want[i] {
				return fmt.Sprintf("  order differs at %d: %+v vs %+v\n", i, got[i], want[i])
			}
		}
	}
	return b.String()
}

// checkDelta verifies prev + delta = cur and that Updated lists exactly the members of the
// changed record that stayed while its content changed.
func checkDelta(prev, cur map[memberKey]int64, d engine.Delta, changedID string, contentChanged bool) string {
	next := make(map[memberKey]int64, len(prev))
	for k, v := range prev {
		next[k] = v
	}
	for _, m := range d.Removed {
		if _, ok := next[keyOf(m)]; !ok {
			return fmt.Sprintf("removed %+v was not a member", m)
		}
		delete(next, keyOf(m))
	}
	for _, m := range d.Added {
		if _, ok := next[keyOf(m)]; ok {
			return fmt.Sprintf("added %+v was already a member", m)
		}
		next[keyOf(m)] = m.Version
	}
	updated := map[memberKey]bool{}
	for _, m := range d.Updated {
		k := keyOf(m)
		if _, ok := prev[k]; !ok {
			return fmt.Sprintf("updated %+v was not a member before", m)
		}
		if _, ok := cur[k]; !ok {
			return fmt.Sprintf("updated %+v is not a member after", m)
		}
		if m.Key != changedID {
			return fmt.Sprintf("updated %+v is not the changed record %s", m, changedID)
		}
		updated[k] = true
		next[k] = m.Version
	}
	for k, v := range cur {
		nv, ok := next[k]
		if !ok {
			return fmt.Sprintf("member %+v appeared without an Added entry", k)
		}
		if nv != v {
			return fmt.Sprintf("member %+v has version %d but the deltas say %d", k, v, nv)
		}
		if _, was := prev[k]; was && k.key == changedID && contentChanged && !updated[k] {
			return fmt.Sprintf("member %+v stayed while its row changed but is not in Updated", k)
		}
	}
	for k := range next {
		if _, ok := cur[k]; !ok {
			return fmt.Sprintf("member %+v disappeared without a Removed entry", k)
		}
	}
	return ""
}

// reregister drops view v and registers it again, so it is rebuilt from the current data, and
// compares the registration's result with naive.Eval.
func (h *harness) reregister(t testing.TB, v viewSpec) string {
	if !h.eng.Unregister(v.id) {
		return "view was not registered"
	}
	ms, err := h.eng.Register(v.id, v.surql, v.params)
	if err != nil {
		return err.Error()
	}
	want, err := naive.Eval(h.sels[v.id], v.params, h.mdl.db)
	if err != nil {
		return err.Error()
	}
	if msg := diffMembers(ms, want); msg != "" {
		return "registration result differs from naive.Eval:\n" + msg
	}
	h.prev[v.id] = toSet(ms)
	return ""
}

// replay runs steps against a single view and returns the first discrepancy (or "").
func replay(t testing.TB, v viewSpec, steps []step, opts engine.Options) string {
	h := newHarness(t, []viewSpec{v}, opts)
	for i, s := range steps {
		bad, err := h.run(s)
		if err != nil {
			return fmt.Sprintf("step %d: %v", i, err)
		}
		if msg, ok := bad[v.id]; ok {
			return fmt.Sprintf("step %d (%s): %s", i, s.json(), msg)
		}
	}
	return ""
}

// shrink reduces steps (ddmin-style chunk removal) while the view still fails.
func shrink(t testing.TB, v viewSpec, steps []step, opts engine.Options) []step {
	cur := steps
	deadline := time.Now().Add(20 * time.Second)
	for chunk := len(cur) / 2; chunk >= 1; chunk /= 2 {
		for i := 0; i+chunk <= len(cur) && time.Now().Before(deadline); {
			cand := append(append([]step(nil), cur[:i]...), cur[i+chunk:]...)
			if replay(t, v, cand, opts) != "" {
				cur = cand
			} else {
				i += chunk
			}
		}
	}
	return cur
}

func reproduction(v viewSpec, steps []step) string {
	var b strings.Builder
	reg := map[string]any{"id": v.id, "surql": v.surql}
	if !v.params.IsNone() {
		reg["params"] = v.params.ToAny()
	}
	j, _ := json.Marshal(map[string]any{"register": reg})
	b.Write(j)
	b.WriteByte('\n')
	for _, s := range steps {
		b.WriteString(s.json())
		b.WriteString("\n{\"check\":true}\n")
	}
	return b.String()
}

// TestPropertyEngineMatchesNaive is the core property: after every step of a seeded random
// workload, every view's incremental membership equals naive.Eval on the same data, and the
// emitted deltas add up to the membership change.
func TestPropertyEngineMatchesNaive(t *testing.T) {
	seeds := []int64{}
	if *flagSeed != 0 {
		seeds = append(seeds, *flagSeed)
	} else {
		for s := 1; s <= *flagSeeds; s++ {
			seeds = append(seeds, int64(s))
		}
	}
	views := corpus()
	for _, seed := range seeds {
		// Seeds alternate between the default buffer past LIMIT windows, none (every member
		// that leaves a window walks the index) and one row.
		opts := engine.Options{WindowSlack: []int{0, -1, 1}[seed%3]}
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			w := &world{rng: rand.New(rand.NewSource(seed))}
			h := newHarness(t, views, opts)
			var steps []step
			var last *step
			for i := 0; i < *flagSteps; i++ {
				s := w.next(last)
				last = &s
				steps = append(steps, s)
				bad, err := h.run(s)
				if err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
				// Now and then rebuild a view from the current data.
				if w.maybe(0.03) {
					v := views[w.pick(len(views))]
					if msg := h.reregister(t, v); msg != "" {
						t.Fatalf("seed %d step %d: re-registered view %s (%s): %s", seed, i, v.id, v.surql, msg)
					}
				}
				for _, v := range views {
					msg, ok := bad[v.id]
					if !ok {
						continue
					}
					min := shrink(t, v, steps, opts)
					t.Fatalf("seed %d step %d (window slack %d): view %s (%s): %s\nshrunk reproduction (%d of %d changes; `ssp replay` input):\n%s\nreplay of the shrunk input: %s",
						seed, i, opts.WindowSlack, v.id, v.surql, msg, len(min), len(steps), reproduction(v, min), replay(t, v, min, opts))
				}
			}
		})
	}
}
