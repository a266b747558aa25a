package engine

import (
	"fmt"
	"testing"

	"github.com/sp00ky/ssp/surreal/value"
)

// offered returns the keys of the pipelines a change of record id (old → new row) is offered to.
func offered(e *Engine, tbl, id string, old, new value.Value) map[string]bool {
	e.step++
	out := map[string]bool{}
	for _, v := range e.rtr.collect(&change{table: tbl, key: id, old: old, new: new}, e.step, nil) {
		for _, name := range v.names {
			out[name] = true
		}
	}
	return out
}

func mustApply(t *testing.T, e *Engine, tbl, op, id string, rec value.Value) {
	t.Helper()
	c, err := NewChange(tbl, op, id, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(c); err != nil {
		t.Fatal(err)
	}
}

func row(kv ...any) value.Value {
	var fs []value.Field
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, value.Field{Key: kv[i].(string), Val: kv[i+1].(value.Value)})
	}
	return value.ObjectOf(fs)
}

func TestRoutingByValue(t *testing.T) {
	e := New(Options{})
	user := func(i int) value.Value { return value.Record("user", value.Int(int64(i))) }
	for i := 1; i <= 3; i++ {
		mustApply(t, e, "thread", "CREATE", fmt.Sprintf("thread:%d", i), row("author", user(i)))
		mustApply(t, e, "comment", "CREATE", fmt.Sprintf("comment:%d", i), row("thread", value.Record("thread", value.Int(int64(i)))))
	}
	for i := 1; i <= 50; i++ {
		p := row("user", user(i))
		if _, err := e.Register(fmt.Sprintf("u%d", i), `SELECT * FROM thread WHERE author = $user ORDER BY id LIMIT 5`, p); err != nil {
			t.Fatal(err)
		}
		d := row("id", value.Record("thread", value.Int(int64(i))))
		if _, err := e.Register(fmt.Sprintf("d%d", i), `SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread WHERE id = $id`, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Register("all", `SELECT * FROM thread WHERE score > 1`, value.None()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Register("link", `SELECT * FROM thread WHERE author.name = 'x'`, value.None()); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		tbl, id  string
		old, new value.Value
		want     []string
	}{
		{"thread moves from user 2 to user 7", "thread", "thread:2", row("author", user(2), "id", value.Record("thread", value.Int(2))),
			row("author", user(7), "id", value.Record("thread", value.Int(2))),
			[]string{"u2", "u7", "d2", "all", "link"}},
		{"new thread of user 9", "thread", "thread:9", value.None(), row("author", user(9), "id", value.Record("thread", value.Int(9))),
			[]string{"u9", "d9", "all", "link"}},
		// Comments route to the detail view whose thread is a member (a partition exists).
		{"comment of thread 3", "comment", "comment:3", row("thread", value.Record("thread", value.Int(3))), row("thread", value.Record("thread", value.Int(3))),
			[]string{"d3"}},
		{"comment moves to thread 40 (no comments partition: the thread row is absent)", "comment", "comment:1",
			row("thread", value.Record("thread", value.Int(1))), row("thread", value.Record("thread", value.Int(40))), []string{"d1"}},
		// Users are read only through links: only the records the `link` view dereferenced.
		{"linked user", "user", "user:1", value.None(), row("name", value.String("x")), []string{"link"}},
		{"unlinked user", "user", "user:77", value.None(), row("name", value.String("x")), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := offered(e, tc.tbl, tc.id, tc.old, tc.new)
			if len(got) != len(tc.want) {
				t.Fatalf("offered to %v, want %v", got, tc.want)
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Fatalf("offered to %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestIdenticalQueriesSharePipelines(t *testing.T) {
	e := New(Options{})
	a := row("user", value.Record("user", value.Int(1)), "auth", row("id", value.String("user:a")))
	b := row("user", value.Record("user", value.Int(1)), "auth", row("id", value.String("user:b")))
	for i, p := range []value.Value{a, b} {
		if _, err := e.Register(fmt.Sprintf("v%d", i), `SELECT * FROM thread WHERE author = $user`, p); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.byQuery) != 1 {
		t.Fatalf("views differing only in unused params must share one pipeline, got %d", len(e.byQuery))
	}
	if _, err := e.Register("v2", `SELECT * FROM thread WHERE author = $user`, row("user", value.Record("user", value.Int(2)))); err != nil {
		t.Fatal(err)
	}
	if len(e.byQuery) != 2 {
		t.Fatalf("different params must not share, got %d pipelines", len(e.byQuery))
	}
	e.Unregister("v0")
	e.Unregister("v1")
	e.Unregister("v2")
	if len(e.byQuery) != 0 || len(e.rtr.tables["thread"].fields) != 0 || len(e.st.tables["thread"].idx) != 0 {
		t.Fatalf("unregistering every view must release pipelines, routes and indexes: %d %v %v",
			len(e.byQuery), e.rtr.tables["thread"].fields, e.st.tables["thread"].idx)
	}
}
