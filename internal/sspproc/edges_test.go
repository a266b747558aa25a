package sspproc

import (
	"strings"
	"testing"

	"github.com/sp00ky/ssp/surreal/value"
)

// TestDiffEdges checks the checker: a correct edge set passes, and each kind of fault is named.
func TestDiffEdges(t *testing.T) {
	rec := func(s string) value.Value {
		v, ok := value.ParseRecord(s)
		if !ok {
			t.Fatalf("bad record %q", s)
		}
		return v
	}
	const tb = "_00_list_ref"
	edge := func(id string, out string, version int64, parent string, rel string) (string, value.Value) {
		fs := map[string]value.Value{
			"id": value.Record(tb, value.String(id)), "in": value.Record("_00_query", value.String("v")),
			"out": rec(out), "version": value.Int(version), "clientId": value.String("c"), "auth_id": value.String(""),
		}
		if parent != "" {
			fs["parent"] = value.Record(tb, value.String(parent))
			fs["parent_rel"] = value.String(rel)
		}
		r := value.ObjectFromMap(fs)
		return value.RecordString(r.Get("id")), r
	}
	exp := func() map[string]*Expected {
		return map[string]*Expected{"v": {
			Client: "c",
			Table:  tb,
			Members: map[Member]int64{
				{"", "", "thread:1"}:                  2,
				{"thread:1", "comments", "comment:1"}: 1,
			},
			Top: map[string]bool{"thread:1": true},
		}}
	}
	good := func() Snapshot {
		rows := map[string]value.Value{}
		id, r := edge("a", "thread:1", 2, "", "")
		rows[id] = r
		id, r = edge("b", "comment:1", 1, "a", "comments")
		rows[id] = r
		return Snapshot{tb: rows}
	}
	if d := DiffEdges(exp(), good()); len(d) != 0 {
		t.Fatalf("correct edges reported: %v", d)
	}
	cases := []struct {
		name  string
		apply func(s Snapshot)
		want  string
	}{
		{"missing", func(s Snapshot) { delete(s[tb], "_00_list_ref:b") }, "missing edge for comment:1"},
		{"extra", func(s Snapshot) { id, r := edge("x", "thread:9", 1, "", ""); s[tb][id] = r }, "extra edge"},
		{"duplicate", func(s Snapshot) { id, r := edge("y", "thread:1", 2, "", ""); s[tb][id] = r }, "duplicate edge"},
		{"version", func(s Snapshot) { s[tb]["_00_list_ref:a"] = s[tb]["_00_list_ref:a"].With("version", value.Int(1)) }, "has version 1, want 2"},
		{"client", func(s Snapshot) {
			s[tb]["_00_list_ref:a"] = s[tb]["_00_list_ref:a"].With("clientId", value.String("z"))
		}, "has clientId"},
		{"owner", func(s Snapshot) {
			s[tb]["_00_list_ref:a"] = s[tb]["_00_list_ref:a"].With("auth_id", value.String("user:x"))
		}, "has auth_id"},
		{"dangling parent", func(s Snapshot) {
			s[tb]["_00_list_ref:b"] = s[tb]["_00_list_ref:b"].With("parent", value.Record(tb, value.String("nope")))
		}, "does not exist"},
		{"wrong rel", func(s Snapshot) {
			s[tb]["_00_list_ref:b"] = s[tb]["_00_list_ref:b"].With("parent_rel", value.String("other"))
		}, "extra edge"},
		{"top-level comment", func(s Snapshot) {
			s[tb]["_00_list_ref:b"] = s[tb]["_00_list_ref:b"].With("parent", value.None()).With("parent_rel", value.None())
		}, "extra edge"},
		{"wrong table", func(s Snapshot) { s["_00_list_ref_user_x"] = s[tb]; delete(s, tb) }, "belongs in _00_list_ref"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := good()
			c.apply(s)
			d := DiffEdges(exp(), s)
			if !strings.Contains(strings.Join(d, "\n"), c.want) {
				t.Fatalf("differences %q do not mention %q", d, c.want)
			}
		})
	}
}
