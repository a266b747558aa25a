package engine_test

import (
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
)

func TestMemberKeyLess(t *testing.T) {
	k := func(parent, rel, key string) engine.MemberKey {
		return engine.MemberKey{Parent: parent, Rel: rel, Key: key}
	}
	tests := []struct {
		a, b engine.MemberKey
		want bool
	}{
		{k("", "", "a:1"), k("", "", "a:2"), true},
		{k("", "", "a:2"), k("", "", "a:1"), false},
		{k("", "", "a:1"), k("", "", "a:1"), false},
		{k("", "", "z:9"), k("p:1", "r", "a:1"), true}, // top level first
		{k("p:1", "r", "z:9"), k("p:2", "a", "a:1"), true},
		{k("p:1", "b", "a:1"), k("p:1", "a", "z:9"), false}, // rel before key
		{k("p:1", "a", "a:1"), k("p:1", "a", "a:10"), true},
		{k("", "", "B:1"), k("", "", "a:1"), true},    // byte order: upper case first
		{k("", "", "a:⟨é⟩"), k("", "", "a:z"), false}, // and multi-byte runes last
	}
	for _, tc := range tests {
		if got := tc.a.Less(tc.b); got != tc.want {
			t.Errorf("%+v.Less(%+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSortMembers(t *testing.T) {
	ms := []engine.Member{
		{Key: "c:1", Parent: "p:1", Rel: "r", Version: 3},
		{Key: "b:1", Version: 1},
		{Key: "a:1", Parent: "p:1", Rel: "r", Version: 2},
		{Key: "a:1", Parent: "p:0", Rel: "s", Version: 2},
		{Key: "a:2", Version: 4},
	}
	engine.SortMembers(ms)
	want := []engine.MemberKey{
		{Key: "a:2"}, {Key: "b:1"}, {Parent: "p:0", Rel: "s", Key: "a:1"}, {Parent: "p:1", Rel: "r", Key: "a:1"}, {Parent: "p:1", Rel: "r", Key: "c:1"},
	}
	for i, m := range ms {
		if m.ID() != want[i] {
			t.Fatalf("SortMembers: position %d is %+v, want %+v (all: %+v)", i, m.ID(), want[i], ms)
		}
	}
	if ms[0].Version != 4 {
		t.Fatalf("SortMembers lost a member's version: %+v", ms[0])
	}
}
