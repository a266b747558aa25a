package naive_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sp00ky/ssp/internal/naive"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

func mustJSON(t *testing.T, s string) value.Value {
	t.Helper()
	v, err := value.FromJSON([]byte(s))
	if err != nil {
		t.Fatalf("FromJSON(%s): %v", s, err)
	}
	return v
}

// forumDB is the dataset the expectations below were measured on with SurrealDB 3.0.
func forumDB(t *testing.T) *naive.MemDB {
	t.Helper()
	db := naive.NewMemDB()
	for _, r := range []string{
		`{"id":"user:1","name":"Ann","age":30}`,
		`{"id":"user:2","name":"Bob","age":25}`,
		`{"id":"user:3","name":"cy","age":30}`,
		`{"id":"thread:1","title":"A","author":"user:1","score":3,"_00_rv":2,"tags":["x"]}`,
		`{"id":"thread:2","title":"B","author":"user:2","score":1,"tags":["x","y"]}`,
		`{"id":"thread:3","title":"C","author":"user:1","score":3}`,
		`{"id":"thread:10","title":"D","score":2,"author":"user:9"}`,
		`{"id":"comment:1","thread":"thread:1","author":"user:2","n":1}`,
		`{"id":"comment:2","thread":"thread:1","author":"user:1","n":2,"_00_rv":5}`,
		`{"id":"comment:3","thread":"thread:2","author":"user:1","n":3}`,
		`{"id":"comment:4","thread":"thread:1","author":"user:3","n":2}`,
	} {
		if err := db.Put(mustJSON(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

var versions = map[string]int64{"thread:1": 2, "comment:2": 5}

// members parses "parent|rel|key" lines into members with the dataset's versions.
func members(spec ...string) []engine.Member {
	out := []engine.Member{}
	for _, s := range spec {
		p := strings.Split(s, "|")
		v := versions[p[2]]
		if v == 0 {
			v = 1
		}
		out = append(out, engine.Member{Parent: p[0], Rel: p[1], Key: p[2], Version: v})
	}
	engine.SortMembers(out)
	return out
}

func render(ms []engine.Member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Parent + "|" + m.Rel + "|" + m.Key + "@" + fmt.Sprint(m.Version)
	}
	return strings.Join(parts, " ")
}

func TestEvalForum(t *testing.T) {
	db := forumDB(t)
	cases := []struct {
		q      string
		params string
		want   []engine.Member
	}{
		{"SELECT * FROM thread", "", members("||thread:1", "||thread:10", "||thread:2", "||thread:3")},
		{"SELECT * FROM thread WHERE score >= 2", "", members("||thread:1", "||thread:10", "||thread:3")},
		{"SELECT * FROM thread WHERE author.name = 'Ann'", "", members("||thread:1", "||thread:3")},
		// ties (score 3) keep record-id order, for DESC too
		{"SELECT * FROM thread ORDER BY score DESC LIMIT 2", "", members("||thread:1", "||thread:3")},
		{"SELECT * FROM thread ORDER BY score DESC LIMIT 2 START 1", "", members("||thread:10", "||thread:3")},
		{"SELECT * FROM thread ORDER BY score LIMIT 2", "", members("||thread:10", "||thread:2")},
		// without ORDER BY a window takes the smallest ids (thread:10 sorts after thread:3)
		{"SELECT * FROM thread LIMIT 2 START 1", "", members("||thread:2", "||thread:3")},
		{"SELECT * FROM thread START 3", "", members("||thread:10")},
		{"SELECT * FROM thread ORDER BY author.name, score DESC", "", members("||thread:1", "||thread:10", "||thread:2", "||thread:3")},
		{"SELECT id, author.name AS an FROM thread ORDER BY an DESC LIMIT 3", "", members("||thread:1", "||thread:2", "||thread:3")},
		{"SELECT * FROM thread WHERE tags CONTAINS 'x' ORDER BY title DESC", "", members("||thread:1", "||thread:2")},
		{"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY n DESC) AS comments FROM thread", "",
			members("thread:1|comments|comment:1", "thread:1|comments|comment:2", "thread:1|comments|comment:4",
				"thread:2|comments|comment:3", "||thread:1", "||thread:10", "||thread:2", "||thread:3")},
		{"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY n DESC LIMIT 1) AS top FROM thread WHERE score > 1", "",
			members("thread:1|top|comment:2", "||thread:1", "||thread:10", "||thread:3")},
		{"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY n DESC)[0] AS top FROM thread", "",
			members("thread:1|top|comment:2", "thread:2|top|comment:3", "||thread:1", "||thread:10", "||thread:2", "||thread:3")},
		{"SELECT *, (SELECT * FROM user WHERE id = $parent.author)[0] AS author_row, (SELECT * FROM comment WHERE thread = $parent.id AND n >= 2) AS cs FROM thread ORDER BY score LIMIT 3", "",
			members("thread:1|author_row|user:1", "thread:1|cs|comment:2", "thread:1|cs|comment:4", "thread:2|author_row|user:2",
				"thread:2|cs|comment:3", "||thread:1", "||thread:10", "||thread:2")},
		{"SELECT *, (SELECT *, (SELECT * FROM user WHERE id = $parent.author) AS who FROM comment WHERE thread = $parent.id) AS comments FROM thread", "",
			members("comment:1|who|user:2", "comment:2|who|user:1", "comment:3|who|user:1", "comment:4|who|user:3",
				"thread:1|comments|comment:1", "thread:1|comments|comment:2", "thread:1|comments|comment:4",
				"thread:2|comments|comment:3", "||thread:1", "||thread:10", "||thread:2", "||thread:3")},
		// subqueries inside expressions give arrays of projected rows and no members
		{"SELECT * FROM thread WHERE (SELECT * FROM comment WHERE thread = $parent.id AND n = 3)", "", members("||thread:2")},
		{"SELECT * FROM thread WHERE array::len((SELECT * FROM comment WHERE thread = $parent.id)) >= 2", "", members("||thread:1")},
		{"SELECT * FROM thread WHERE author IN (SELECT id FROM user WHERE age = 30)", "", members()},
		{"SELECT * FROM thread WHERE (SELECT name FROM user WHERE id = $parent.author)[0] = { name: 'Bob' }", "", members("||thread:2")},
		{"SELECT * FROM user WHERE id = $auth.id", `{"auth":{"id":"user:2"}}`, members("||user:2")},
		{"SELECT * FROM thread WHERE score > $min ORDER BY score LIMIT $n", `{"min":1,"n":2}`, members("||thread:1", "||thread:10")},
		{"SELECT * FROM thread LIMIT $unset", "", members()},
		{"SELECT * FROM user ORDER BY age DESC, name COLLATE", "", members("||user:1", "||user:2", "||user:3")},
		{"SELECT *, (SELECT * FROM thread WHERE author = $parent.id ORDER BY score DESC LIMIT 1 START 1) AS second FROM user", "",
			members("user:1|second|thread:3", "||user:1", "||user:2", "||user:3")},
		{"SELECT * FROM comment WHERE thread.author.name = 'Ann' AND author != thread.author", "", members("||comment:1", "||comment:4")},
		{"SELECT * FROM thread WHERE string::lowercase(title) = 'a' OR score = 1", "", members("||thread:1", "||thread:2")},
		{"SELECT * FROM nothing", "", members()},
		// projection of expression subqueries: nested field paths, aliases, subquery fields
		{"SELECT * FROM comment WHERE (SELECT author.name FROM thread WHERE id = $parent.thread)[0] = { author: { name: 'Ann' } }", "",
			members("||comment:1", "||comment:2", "||comment:4")},
		{"SELECT * FROM comment WHERE (SELECT title AS t, score FROM thread WHERE id = $parent.thread)[0] = { t: 'A', score: 3 }", "",
			members("||comment:1", "||comment:2", "||comment:4")},
		{"SELECT * FROM comment WHERE (SELECT *, (SELECT name FROM user WHERE id = $parent.author) AS us FROM thread WHERE id = $parent.thread)[0] CONTAINS 'us'", "",
			members("||comment:1", "||comment:2", "||comment:3", "||comment:4")},
		{"SELECT * FROM comment WHERE (SELECT * FROM thread WHERE id = $parent.thread)[0] = (SELECT * FROM thread WHERE title = 'B')[0]", "",
			members("||comment:3")},
		// FROM one record; SELECT VALUE subqueries in WHERE ($parent is the filtered row); ties
		// on every key ordered by record id in a START window.
		{"SELECT * FROM thread:1", "", members("||thread:1")},
		{"SELECT * FROM thread:9", "", members()},
		{"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id ORDER BY n DESC) AS c FROM thread:2 WHERE score = 1", "",
			members("thread:2|c|comment:3", "||thread:2")},
		{"SELECT * FROM comment WHERE thread IN (SELECT VALUE id FROM thread WHERE score = 3)", "", members("||comment:1", "||comment:2", "||comment:4")},
		{"SELECT * FROM comment WHERE author IN (SELECT VALUE author FROM thread WHERE id = $parent.thread)", "", members("||comment:2")},
		{"SELECT * FROM thread WHERE (SELECT VALUE n FROM comment WHERE thread = $parent.id ORDER BY n DESC LIMIT 1)[0] = 2", "", members("||thread:1")},
		{"SELECT * FROM user ORDER BY age DESC LIMIT 1 START 1", "", members("||user:3")},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			sel, err := surql.ParseSelect(c.q)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			params := value.None()
			if c.params != "" {
				params = mustJSON(t, c.params)
			}
			got, err := naive.Eval(sel, params, db)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if render(got) != render(c.want) {
				t.Fatalf("members\n got %s\nwant %s", render(got), render(c.want))
			}
		})
	}
}

// TestEvalDeduplicates: the same (parent, rel, record) reached twice — here user:1 is the parent
// of its threads under two parents' subqueries — appears once; a record under different parents
// appears once per parent.
func TestEvalDeduplicates(t *testing.T) {
	db := forumDB(t)
	q := "SELECT *, (SELECT *, (SELECT * FROM thread WHERE author = $parent.id) AS ts FROM user WHERE id = $parent.author) AS who FROM thread"
	sel, err := surql.ParseSelect(q)
	if err != nil {
		t.Fatal(err)
	}
	got, err := naive.Eval(sel, value.None(), db)
	if err != nil {
		t.Fatal(err)
	}
	want := members(
		"thread:1|who|user:1", "thread:2|who|user:2", "thread:3|who|user:1",
		"user:1|ts|thread:1", "user:1|ts|thread:3", "user:2|ts|thread:2",
		"||thread:1", "||thread:10", "||thread:2", "||thread:3")
	if render(got) != render(want) {
		t.Fatalf("members\n got %s\nwant %s", render(got), render(want))
	}
}

func TestEvalErrors(t *testing.T) {
	db := forumDB(t)
	for _, q := range []string{
		"SELECT * FROM thread LIMIT $neg",
		"SELECT *, (SELECT * FROM comment LIMIT $s) AS c FROM thread",
	} {
		sel, err := surql.ParseSelect(q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := naive.Eval(sel, mustJSON(t, `{"neg":-1,"s":"x"}`), db); err == nil {
			t.Errorf("Eval(%s): want an error for an invalid LIMIT", q)
		}
	}
	if _, err := naive.Eval(nil, value.None(), db); err == nil {
		t.Error("Eval(nil): want an error")
	}
}

func TestMemDB(t *testing.T) {
	db := naive.NewMemDB()
	for _, bad := range []string{`1`, `{"name":"x"}`, `{"id":5}`, `{"id":"not a record"}`} {
		if err := db.Put(mustJSON(t, bad)); err == nil {
			t.Errorf("Put(%s): want an error", bad)
		}
	}
	for _, r := range []string{`{"id":"t:b"}`, `{"id":"t:10"}`, `{"id":"t:2"}`, `{"id":"t:a","v":1}`, `{"id":"u:1"}`} {
		if err := db.Put(mustJSON(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Put(mustJSON(t, `{"id":"t:a","v":2}`)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range db.Scan("t") {
		ids = append(ids, value.RecordString(r.Get("id")))
	}
	if got := strings.Join(ids, " "); got != "t:2 t:10 t:a t:b" {
		t.Errorf("Scan(t) ids = %s, want t:2 t:10 t:a t:b", got)
	}
	if r, ok := db.Record(value.String("t:a")); !ok || r.Get("v").AsInt() != 2 {
		t.Errorf("Record(\"t:a\") = %s, %v; want the replaced row", r.SurQL(), ok)
	}
	db.Delete(mustJSON(t, `"t:a"`))
	db.Delete(value.String("t:missing"))
	db.Delete(value.Int(3))
	if _, ok := db.Record(value.Record("t", value.String("a"))); ok {
		t.Error("Record(t:a) after Delete: still present")
	}
	if n := len(db.Scan("t")); n != 3 {
		t.Errorf("Scan(t) after Delete has %d rows, want 3", n)
	}
	if n := len(db.Scan("none")); n != 0 {
		t.Errorf("Scan(none) has %d rows, want 0", n)
	}
}
