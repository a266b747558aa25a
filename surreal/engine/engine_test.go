package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	ingestbody "github.com/sp00ky/ssp/surreal/ingest"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// ingest applies an /ingest JSON body and renders the deltas as "view: +key -key ~key@v" lines;
// member keys of subquery rows are written parent>rel>key.
func ingest(t *testing.T, e *engine.Engine, body string) string {
	t.Helper()
	b, err := ingestbody.Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode(%s): %v", body, err)
	}
	ds, err := e.Apply(b.Change)
	if err != nil {
		t.Fatalf("Apply(%s): %v", body, err)
	}
	var lines []string
	for _, d := range ds {
		var parts []string
		for _, m := range d.Removed {
			parts = append(parts, "-"+mkey(m))
		}
		for _, m := range d.Added {
			parts = append(parts, fmt.Sprintf("+%s@%d", mkey(m), m.Version))
		}
		for _, m := range d.Updated {
			parts = append(parts, fmt.Sprintf("~%s@%d", mkey(m), m.Version))
		}
		lines = append(lines, d.View+": "+strings.Join(parts, " "))
	}
	return strings.Join(lines, "\n")
}

func mkey(m engine.Member) string {
	if m.Parent == "" && m.Rel == "" {
		return m.Key
	}
	return m.Parent + ">" + m.Rel + ">" + m.Key
}

func members(t *testing.T, e *engine.Engine, id string) string {
	t.Helper()
	ms, ok := e.Members(id)
	if !ok {
		t.Fatalf("view %s does not exist", id)
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = mkey(m)
	}
	return strings.Join(out, " ")
}

func register(t *testing.T, e *engine.Engine, id, q string, params value.Value) {
	t.Helper()
	if _, err := e.Register(id, q, params); err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

// script is a table-driven scenario: each step ingests a body and expects exact deltas and,
// optionally, the membership of one view afterwards.
type scriptStep struct {
	body    string
	deltas  string
	view    string
	members string
}

func runScript(t *testing.T, e *engine.Engine, steps []scriptStep) {
	t.Helper()
	for i, s := range steps {
		if got := ingest(t, e, s.body); got != s.deltas {
			t.Fatalf("step %d %s:\n got deltas %q\nwant deltas %q", i, s.body, got, s.deltas)
		}
		if s.view != "" {
			if got := members(t, e, s.view); got != s.members {
				t.Fatalf("step %d: members of %s = %q, want %q", i, s.view, got, s.members)
			}
		}
	}
}

func th(id string, fields string) string {
	return fmt.Sprintf(`{"table":"thread","op":"UPDATE","id":%q,"record":{%s}}`, id, fields)
}

func TestFilterSeesOldAndNewRow(t *testing.T) {
	e := engine.New(engine.Options{})
	register(t, e, "hot", `SELECT * FROM thread WHERE score > 2`, value.None())
	runScript(t, e, []scriptStep{
		{body: th("thread:1", `"score":1`), deltas: ""},
		{body: th("thread:1", `"score":5`), deltas: "hot: +thread:1@1"},
		{body: th("thread:1", `"score":6,"_00_rv":2`), deltas: "hot: ~thread:1@2"},
		{body: th("thread:1", `"score":6,"_00_rv":2`), deltas: ""}, // replay: no-op
		{body: th("thread:1", `"score":0,"_00_rv":3`), deltas: "hot: -thread:1"},
		{body: `{"table":"thread","op":"DELETE","id":"thread:1"}`, deltas: ""},
		{body: `{"table":"thread","op":"DELETE","id":"thread:1"}`, deltas: ""},
		{body: `{"table":"thread","op":"CREATE","id":"thread:2","record":{"score":9}}`, deltas: "hot: +thread:2@1"},
		{body: `{"table":"thread","op":"CREATE","id":"thread:2","record":{"score":9}}`, deltas: ""},
		{body: `{"table":"thread","op":"MERGE","id":"thread:2","record":{"title":"x"}}`, deltas: "hot: ~thread:2@1"},
		{body: `{"table":"thread","op":"DELETE","id":"thread:2"}`, deltas: "hot: -thread:2", view: "hot", members: ""},
	})
}

func TestWindowShiftsAtBoundaries(t *testing.T) {
	e := engine.New(engine.Options{})
	// Window [1, 3) of score DESC, ties by id ASC.
	register(t, e, "w", `SELECT * FROM thread ORDER BY score DESC LIMIT 2 START 1`, value.None())
	runScript(t, e, []scriptStep{
		{body: th("thread:1", `"score":5`), deltas: "", view: "w", members: ""},
		{body: th("thread:2", `"score":5`), deltas: "w: +thread:2@1", view: "w", members: "thread:2"}, // tie: 1 before 2
		{body: th("thread:3", `"score":7`), deltas: "w: +thread:1@1", view: "w", members: "thread:1 thread:2"},
		// Inserted before the window: 3,1,2 → 4,3,1,2.
		{body: th("thread:4", `"score":9`), deltas: "w: -thread:2 +thread:3@1", view: "w", members: "thread:1 thread:3"},
		// Inserted after the window (tie with thread:1 and 2, larger id): 4,3,1,2,5.
		{body: th("thread:5", `"score":5`), deltas: "", view: "w", members: "thread:1 thread:3"},
		// Inserted after the window.
		{body: th("thread:6", `"score":1`), deltas: "", view: "w", members: "thread:1 thread:3"},
		// Move from after the window to the front: 6,4,3,1,2,5 → window 4,3.
		{body: th("thread:6", `"score":10`), deltas: "w: -thread:1 +thread:4@1", view: "w", members: "thread:3 thread:4"},
		// Delete before the window: 4,3,1,2,5 → window 3,1.
		{body: `{"table":"thread","op":"DELETE","id":"thread:6"}`, deltas: "w: -thread:4 +thread:1@1", view: "w", members: "thread:1 thread:3"},
		// Delete inside the window: 4,1,2,5 (ties by id) → window 1,2.
		{body: `{"table":"thread","op":"DELETE","id":"thread:3"}`, deltas: "w: -thread:3 +thread:2@1", view: "w", members: "thread:1 thread:2"},
		// Move from after the window into it: 4,5,1,2 → window 5,1.
		{body: th("thread:5", `"score":6`), deltas: "w: -thread:2 +thread:5@1", view: "w", members: "thread:1 thread:5"},
		// Move within the window: 4,1,5,2? no: score 5 ties with 1 and 2, id 5 sorts last: 4,1,2,5.
		{body: th("thread:5", `"score":5,"x":1`), deltas: "w: -thread:5 +thread:2@1", view: "w", members: "thread:1 thread:2"},
		// A content change of a member that keeps its position is an update.
		{body: th("thread:1", `"score":5,"x":2`), deltas: "w: ~thread:1@1", view: "w", members: "thread:1 thread:2"},
	})
}

func TestOrderWithoutLimitAndIDOrder(t *testing.T) {
	e := engine.New(engine.Options{})
	register(t, e, "first2", `SELECT * FROM user LIMIT 2`, value.None())
	register(t, e, "skip1", `SELECT * FROM user START 1`, value.None())
	runScript(t, e, []scriptStep{
		{body: `{"table":"user","op":"CREATE","id":"user:10","record":{}}`, deltas: "first2: +user:10@1"},
		{body: `{"table":"user","op":"CREATE","id":"user:2","record":{}}`, deltas: "first2: +user:2@1\nskip1: +user:10@1"},
		// Record-id order is numeric for integer keys and puts integers before strings.
		{body: `{"table":"user","op":"CREATE","id":"user:a","record":{}}`, deltas: "skip1: +user:a@1"},
		{body: `{"table":"user","op":"CREATE","id":"user:1","record":{}}`, deltas: "first2: -user:10 +user:1@1\nskip1: +user:2@1", view: "first2", members: "user:1 user:2"},
	})
}

func TestNestedPerParentWindows(t *testing.T) {
	e := engine.New(engine.Options{})
	register(t, e, "d", `SELECT *, (SELECT *, (SELECT * FROM user WHERE id = $parent.author LIMIT 1)[0] AS author FROM comment WHERE thread = $parent.id ORDER BY score DESC LIMIT 2) AS comments FROM thread WHERE pinned = true`, value.None())
	cm := func(id, thread string, score int, author string) string {
		return fmt.Sprintf(`{"table":"comment","op":"UPDATE","id":%q,"record":{"thread":%q,"score":%d,"author":%q}}`, id, thread, score, author)
	}
	runScript(t, e, []scriptStep{
		{body: `{"table":"user","op":"CREATE","id":"user:1","record":{"name":"ann"}}`, deltas: ""},
		{body: cm("comment:1", "thread:1", 5, "user:1"), deltas: ""}, // thread:1 not a member yet
		{body: th("thread:1", `"pinned":true`), deltas: "d: +thread:1@1 +comment:1>author>user:1@1 +thread:1>comments>comment:1@1"},
		{body: cm("comment:2", "thread:1", 3, "user:2"), deltas: "d: +thread:1>comments>comment:2@1"},
		{body: `{"table":"user","op":"CREATE","id":"user:2","record":{}}`, deltas: "d: +comment:2>author>user:2@1"},
		// A third comment with a higher score pushes comment:2 out of thread:1's window.
		{body: cm("comment:3", "thread:1", 9, "user:1"), deltas: "d: -comment:2>author>user:2 -thread:1>comments>comment:2 +comment:3>author>user:1@1 +thread:1>comments>comment:3@1"},
		// Moving comment:3 to another thread: it leaves thread:1's window and comment:2 comes back.
		{body: cm("comment:3", "thread:2", 9, "user:1"), deltas: "d: -comment:3>author>user:1 -thread:1>comments>comment:3 +comment:2>author>user:2@1 +thread:1>comments>comment:2@1"},
		{body: th("thread:2", `"pinned":true`), deltas: "d: +thread:2@1 +comment:3>author>user:1@1 +thread:2>comments>comment:3@1",
			view: "d", members: "thread:1 thread:2 comment:1>author>user:1 comment:2>author>user:2 comment:3>author>user:1 thread:1>comments>comment:1 thread:1>comments>comment:2 thread:2>comments>comment:3"},
		// A parent leaving removes its whole subtree.
		{body: th("thread:1", `"pinned":false`), deltas: "d: -thread:1 -comment:1>author>user:1 -comment:2>author>user:2 -thread:1>comments>comment:1 -thread:1>comments>comment:2",
			view: "d", members: "thread:2 comment:3>author>user:1 thread:2>comments>comment:3"},
		// A change of a linked user updates the member row.
		{body: `{"table":"user","op":"UPDATE","id":"user:1","record":{"name":"bea","_00_rv":4}}`, deltas: "d: ~comment:3>author>user:1@4"},
	})
}

func TestLinkPathReevaluation(t *testing.T) {
	e := engine.New(engine.Options{})
	register(t, e, "ann", `SELECT * FROM thread WHERE author.name = 'ann'`, value.None())
	// ORDER BY does not follow links on plain paths; a computed projection does.
	register(t, e, "oldest", `SELECT *, author.age * 1 AS a FROM thread ORDER BY a DESC LIMIT 1`, value.None())
	runScript(t, e, []scriptStep{
		{body: th("thread:1", `"author":"user:1"`), deltas: "oldest: +thread:1@1"},
		{body: th("thread:2", `"author":"user:2"`), deltas: ""},
		// The linked row appears: thread:1 now matches.
		{body: `{"table":"user","op":"CREATE","id":"user:1","record":{"name":"ann","age":30}}`, deltas: "ann: +thread:1@1"},
		{body: `{"table":"user","op":"CREATE","id":"user:2","record":{"name":"bob","age":40}}`, deltas: "oldest: -thread:1 +thread:2@1"},
		{body: `{"table":"user","op":"MERGE","id":"user:2","record":{"name":"ann"}}`, deltas: "ann: +thread:2@1"},
		{body: `{"table":"user","op":"DELETE","id":"user:1"}`, deltas: "ann: -thread:1", view: "ann", members: "thread:2"},
		{body: `{"table":"user","op":"MERGE","id":"user:2","record":{"age":1}}`, deltas: "", view: "oldest", members: "thread:2"},
		{body: `{"table":"user","op":"CREATE","id":"user:1","record":{"age":5}}`, deltas: "oldest: -thread:2 +thread:1@1"},
	})
}

func TestDuplicatePathsAreCountedOnce(t *testing.T) {
	e := engine.New(engine.Options{})
	// thread:2's comments appear under thread:2 through the top-level field and through
	// thread:1's `related` subquery: one member, removed only when both paths are gone.
	register(t, e, "dup", `SELECT *, (SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread WHERE author = $parent.author AND id != $parent.id) AS related, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread WHERE score > 1`, value.None())
	runScript(t, e, []scriptStep{
		{body: th("thread:1", `"author":"user:1","score":2`), deltas: "dup: +thread:1@1"},
		{body: th("thread:2", `"author":"user:1","score":2`), deltas: "dup: +thread:2@1 +thread:1>related>thread:2@1 +thread:2>related>thread:1@1"},
		{body: `{"table":"comment","op":"CREATE","id":"comment:1","record":{"thread":"thread:2"}}`, deltas: "dup: +thread:2>comments>comment:1@1"},
		// thread:2 leaves the top level but stays related to thread:1: its comment stays.
		{body: th("thread:2", `"author":"user:1","score":0`), deltas: "dup: -thread:2 -thread:2>related>thread:1 ~thread:1>related>thread:2@1", view: "dup",
			members: "thread:1 thread:1>related>thread:2 thread:2>comments>comment:1"},
		{body: th("thread:1", `"author":"user:9","score":2`), deltas: "dup: -thread:1>related>thread:2 -thread:2>comments>comment:1 ~thread:1@1"},
	})
}

func TestSharedAndExpressionSubqueries(t *testing.T) {
	e := engine.New(engine.Options{})
	register(t, e, "s", `SELECT *, (SELECT * FROM user WHERE admin = true ORDER BY id LIMIT 1) AS admins FROM thread`, value.None())
	register(t, e, "x", `SELECT * FROM thread WHERE array::len((SELECT * FROM comment WHERE thread = $parent.id)) >= 2`, value.None())
	register(t, e, "u", `SELECT * FROM thread WHERE array::len((SELECT * FROM user WHERE admin = true)) > 0`, value.None())
	runScript(t, e, []scriptStep{
		{body: th("thread:1", ``), deltas: "s: +thread:1@1"},
		{body: th("thread:2", ``), deltas: "s: +thread:2@1"},
		{body: `{"table":"user","op":"CREATE","id":"user:5","record":{"admin":true}}`, deltas: "s: +thread:1>admins>user:5@1 +thread:2>admins>user:5@1\nu: +thread:1@1 +thread:2@1"},
		{body: `{"table":"user","op":"CREATE","id":"user:3","record":{"admin":true}}`, deltas: "s: -thread:1>admins>user:5 -thread:2>admins>user:5 +thread:1>admins>user:3@1 +thread:2>admins>user:3@1"},
		{body: `{"table":"comment","op":"CREATE","id":"comment:1","record":{"thread":"thread:2"}}`, deltas: ""},
		{body: `{"table":"comment","op":"CREATE","id":"comment:2","record":{"thread":"thread:2"}}`, deltas: "x: +thread:2@1"},
		{body: `{"table":"comment","op":"MERGE","id":"comment:2","record":{"thread":"thread:1"}}`, deltas: "x: -thread:2"},
		{body: `{"table":"user","op":"UPDATE","id":"user:3","record":{}}`, deltas: "s: -thread:1>admins>user:3 -thread:2>admins>user:3 +thread:1>admins>user:5@1 +thread:2>admins>user:5@1"},
		{body: `{"table":"user","op":"DELETE","id":"user:5"}`, deltas: "s: -thread:1>admins>user:5 -thread:2>admins>user:5\nu: -thread:1 -thread:2"},
	})
}

func TestParamsAndAuth(t *testing.T) {
	e := engine.New(engine.Options{})
	auth := value.ObjectOf([]value.Field{{Key: "auth", Val: value.ObjectOf([]value.Field{{Key: "id", Val: value.String("user:1")}})}})
	register(t, e, "mine", `SELECT * FROM thread WHERE author = $auth.id ORDER BY created DESC LIMIT $n`, auth.With("n", value.Int(1)))
	runScript(t, e, []scriptStep{
		{body: th("thread:1", `"author":"user:1","created":"2024-01-01T00:00:00Z"`), deltas: "mine: +thread:1@1"},
		{body: th("thread:2", `"author":"user:2","created":"2024-01-03T00:00:00Z"`), deltas: ""},
		{body: th("thread:3", `"author":"user:1","created":"2024-01-02T00:00:00Z"`), deltas: "mine: -thread:1 +thread:3@1"},
	})
}

func TestRegister(t *testing.T) {
	e := engine.New(engine.Options{})
	ingest(t, e, th("thread:1", `"score":3`))
	ingest(t, e, th("thread:2", `"score":1`))

	errs := []struct {
		name, q, want string
		params        value.Value
	}{
		{"syntax", `SELECT * FROM thread WHERE`, "register view v: ", value.None()},
		{"unsupported", `SELECT count() FROM thread GROUP BY x`, "unsupported", value.None()},
		{"not a select", `DELETE thread`, "unsupported", value.None()},
		{"params not an object", `SELECT * FROM thread`, "params must be an object, got array", value.Array(nil)},
		{"limit from $parent", `SELECT *, (SELECT * FROM comment LIMIT $parent.n) AS c FROM thread`, "unsupported: LIMIT/START depending on $parent", value.None()},
		{"bad limit param", `SELECT * FROM thread LIMIT $n`, "LIMIT must be a non-negative integer", value.ObjectOf([]value.Field{{Key: "n", Val: value.Int(-1)}})},
		{"value view", `SELECT VALUE id FROM thread`, "unsupported: SELECT VALUE as the view itself", value.None()},
		{"value field", `SELECT *, (SELECT VALUE id FROM comment WHERE thread = $parent.id) AS ids FROM thread`, "unsupported: SELECT VALUE as a projected field (ids)", value.None()},
		{"record range", `SELECT * FROM thread:1..3`, "unsupported: record id range", value.None()},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Register("v", tc.q, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if len(e.Views()) != 0 {
				t.Fatalf("a failed registration left views %v", e.Views())
			}
		})
	}
	t.Run("parser error carries the position", func(t *testing.T) {
		_, err := e.Register("v", `SELECT * FROM thread GROUP BY x`, value.None())
		var perr *surql.Error
		if !errors.As(err, &perr) || perr.Pos.Line != 1 || perr.Pos.Col == 0 || !strings.Contains(err.Error(), "at 1:") {
			t.Fatalf("error %v does not carry a *surql.Error position", err)
		}
	})
	t.Run("empty id", func(t *testing.T) {
		if _, err := e.Register("_00_query:", `SELECT * FROM thread`, value.None()); err == nil || !strings.Contains(err.Error(), "view id is empty") {
			t.Fatalf("error = %v", err)
		}
	})

	ms, err := e.Register("_00_query:⟨a⟩", `SELECT * FROM thread WHERE score > 2`, value.None())
	if err != nil || len(ms) != 1 || ms[0].Key != "thread:1" {
		t.Fatalf("register: %v %v", ms, err)
	}
	if got := e.Views(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("views %v", got)
	}
	// Same query again under another spelling of the id: a no-op.
	if ms, err := e.Register("query:a", `SELECT * FROM thread WHERE score > 2`, value.None()); err != nil || len(ms) != 1 {
		t.Fatalf("re-register: %v %v", ms, err)
	}
	// A failed replacement keeps the old view.
	if _, err := e.Register("a", `SELECT * FROM`, value.None()); err == nil {
		t.Fatal("want an error")
	}
	if got := members(t, e, "a"); got != "thread:1" {
		t.Fatalf("after failed replacement: %q", got)
	}
	// Replacement with another query.
	if ms, err := e.Register("a", `SELECT * FROM thread WHERE score < 2`, value.None()); err != nil || len(ms) != 1 || ms[0].Key != "thread:2" {
		t.Fatalf("replace: %v %v", ms, err)
	}
	// A second id with the same query shares the pipeline; both get deltas.
	register(t, e, "b", `SELECT * FROM thread WHERE score < 2`, value.None())
	if got := ingest(t, e, th("thread:3", `"score":0`)); got != "a: +thread:3@1\nb: +thread:3@1" {
		t.Fatalf("shared deltas %q", got)
	}
	if !e.Unregister("a") || e.Unregister("a") {
		t.Fatal("unregister must report whether the view existed")
	}
	if got := ingest(t, e, th("thread:4", `"score":0`)); got != "b: +thread:4@1" {
		t.Fatalf("after unregister %q", got)
	}
	if _, ok := e.Members("a"); ok {
		t.Fatal("members of an unregistered view")
	}
	if e.Rows("thread") != 4 || e.Rows("nope") != 0 {
		t.Fatalf("rows %d", e.Rows("thread"))
	}
	e.Reset()
	if len(e.Views()) != 0 || e.Rows("thread") != 0 {
		t.Fatal("reset kept state")
	}
}

func TestBadChangeChangesNothing(t *testing.T) {
	e := engine.New(engine.Options{})
	register(t, e, "all", `SELECT * FROM thread`, value.None())
	ingest(t, e, th("thread:1", `"a":1`))
	bad := []engine.Change{
		{Table: "thread", Op: engine.OpUpdate, ID: value.Record("user", value.Int(1)), Record: value.ObjectOf(nil)},
		{Table: "thread", Op: 0, ID: value.Record("thread", value.Int(1)), Record: value.ObjectOf(nil)},
		{Table: "thread", Op: engine.OpCreate, ID: value.String("thread:1"), Record: value.ObjectOf(nil)},
		{Table: "thread", Op: engine.OpCreate, ID: value.Record("thread", value.Int(2))},
		{Table: "", Op: engine.OpDelete, ID: value.Record("thread", value.Int(1))},
		{Table: "thread", Op: engine.OpUpdate, ID: value.Record("thread", value.Int(1)), Record: value.ObjectOf([]value.Field{{Key: "id", Val: value.String("thread:9")}})},
	}
	for i, c := range bad {
		if ds, err := e.Apply(c); err == nil || ds != nil {
			t.Errorf("bad change %d: deltas %v, error %v", i, ds, err)
		}
	}
	if got := members(t, e, "all"); got != "thread:1" || e.Rows("thread") != 1 {
		t.Fatalf("state changed: %q rows %d", got, e.Rows("thread"))
	}
}

func TestMergeIsDeep(t *testing.T) {
	e := engine.New(engine.Options{})
	register(t, e, "v", `SELECT * FROM thread WHERE meta.a = 1 AND meta.b = 2 AND t = 'x'`, value.None())
	runScript(t, e, []scriptStep{
		{body: `{"table":"thread","op":"MERGE","id":"thread:1","record":{"meta":{"a":1},"t":"x"}}`, deltas: ""},
		{body: `{"table":"thread","op":"MERGE","id":"thread:1","record":{"meta":{"b":2}}}`, deltas: "v: +thread:1@1"},
		{body: `{"table":"thread","op":"MERGE","id":"thread:1","record":{"meta":{"b":2}}}`, deltas: ""},
		{body: `{"table":"thread","op":"UPDATE","id":"thread:1","record":{"meta":{"b":2},"t":"x"}}`, deltas: "v: -thread:1"},
	})
}

// TestFromRecord: `FROM table:key` is a view of at most that one record; changes of other
// records of the table never reach it.
func TestFromRecord(t *testing.T) {
	e := engine.New(engine.Options{})
	ingest(t, e, th("thread:1", `"score":3`))
	ingest(t, e, th("thread:⟨a-b⟩", `"score":1`))
	for _, v := range []struct{ id, q string }{
		{"one", "SELECT * FROM thread:1"},
		{"odd", "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS c FROM thread:⟨a-b⟩ WHERE score > 0"},
		{"missing", "SELECT * FROM thread:9"},
	} {
		if _, err := e.Register(v.id, v.q, value.None()); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want map[string]string) {
		t.Helper()
		for id, w := range want {
			if got := members(t, e, id); got != w {
				t.Errorf("%s = %q, want %q", id, got, w)
			}
		}
	}
	check(map[string]string{"one": "thread:1", "odd": "thread:⟨a-b⟩", "missing": ""})
	if got := ingest(t, e, th("thread:2", `"score":5`)); got != "" {
		t.Errorf("a change of another record reached the views: %s", got)
	}
	ingest(t, e, `{"table":"comment","op":"CREATE","id":"comment:1","record":{"thread":"thread:⟨a-b⟩"}}`)
	ingest(t, e, th("thread:9", `"score":0`))
	ingest(t, e, th("thread:⟨a-b⟩", `"score":0`))
	check(map[string]string{"one": "thread:1", "odd": "", "missing": "thread:9"})
	ingest(t, e, th("thread:⟨a-b⟩", `"score":2`))
	ingest(t, e, `{"table":"thread","op":"DELETE","id":"thread:1"}`)
	check(map[string]string{"one": "", "odd": "thread:⟨a-b⟩ thread:⟨a-b⟩>c>comment:1", "missing": "thread:9"})
}

// TestTiesOrderedByRecordID: rows tied on every ORDER BY key are ordered by record id
// (integer keys numerically, then string keys), ASC and DESC alike, in every window: bounded
// LIMIT/START windows (with and without rows at hand past the window), full windows over computed
// keys, per-parent subquery windows, (…)[n], and SELECT VALUE subqueries in WHERE.
func TestTiesOrderedByRecordID(t *testing.T) {
	for _, slack := range []int{-1, 0, 1} {
		t.Run(fmt.Sprintf("slack%d", slack), func(t *testing.T) {
			e := engine.New(engine.Options{WindowSlack: slack})
			// In id order: thread:1, 2, 3, 10, ⟨10⟩, a, b (members print sorted as text).
			ids := []string{"thread:b", "thread:10", "thread:2", "thread:a", "thread:1", "thread:⟨10⟩", "thread:3"}
			for _, id := range ids {
				ingest(t, e, th(id, `"score":1,"tag":"x"`))
			}
			for _, id := range []string{"comment:5", "comment:1", "comment:c", "comment:3"} {
				ingest(t, e, fmt.Sprintf(`{"table":"comment","op":"CREATE","id":%q,"record":{"thread":"thread:1","score":0}}`, id))
			}
			views := []struct{ id, q, want string }{
				{"asc", "SELECT * FROM thread ORDER BY score LIMIT 2 START 1", "thread:2 thread:3"},
				{"desc", "SELECT * FROM thread ORDER BY score DESC, tag DESC LIMIT 3", "thread:1 thread:2 thread:3"},
				{"computed", "SELECT *, score * 2 AS s FROM thread ORDER BY s DESC LIMIT 2 START 3", "thread:10 thread:⟨10⟩"},
				{"strings", "SELECT * FROM thread ORDER BY tag LIMIT 2 START 5", "thread:a thread:b"},
				{"sub", "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY score DESC LIMIT 2 START 1) AS c FROM thread:1", "thread:1 thread:1>c>comment:3 thread:1>c>comment:5"},
				{"index", "SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY score)[0] AS c FROM thread:1", "thread:1 thread:1>c>comment:1"},
				{"value", "SELECT * FROM thread WHERE id IN (SELECT VALUE id FROM thread WHERE score = 1 ORDER BY id DESC LIMIT 2)", "thread:a thread:b"},
			}
			for _, v := range views {
				if _, err := e.Register(v.id, v.q, value.None()); err != nil {
					t.Fatal(err)
				}
				if got := members(t, e, v.id); got != v.want {
					t.Errorf("%s = %s, want %s", v.id, got, v.want)
				}
			}
			// A member leaves: the next id takes its place.
			ingest(t, e, `{"table":"thread","op":"DELETE","id":"thread:2"}`)
			ingest(t, e, `{"table":"comment","op":"DELETE","id":"comment:3"}`)
			for id, want := range map[string]string{
				"asc": "thread:10 thread:3", "desc": "thread:1 thread:10 thread:3", "computed": "thread:a thread:⟨10⟩",
				"sub": "thread:1 thread:1>c>comment:5 thread:1>c>comment:c",
			} {
				if got := members(t, e, id); got != want {
					t.Errorf("after deletes %s = %s, want %s", id, got, want)
				}
			}
		})
	}
}
