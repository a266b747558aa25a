package schema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/sp00ky/ssp/surreal/value"
)

func TestKindOf(t *testing.T) {
	for _, tt := range []struct {
		typ  string
		want Kind
	}{
		{"string", String},
		{"none | string", String},
		{"none | string | null", String},
		{"option<string>", String},
		{"record", Record},
		{"record<user>", Record},
		{"none | record<user>", Record},
		{"option<record<user | org>>", Record},
		{"record<user> | null", Record},
		{"string | record<user>", Unknown},
		{"array<record<user>>", Unknown},
		{"datetime", Unknown},
		{"any", Unknown},
		{"'a' | 'b'", Unknown},
		{"object", Unknown},
		{"none", Unknown},
		{"", Unknown},
	} {
		if got := KindOf(tt.typ); got != tt.want {
			t.Errorf("KindOf(%q) = %s, want %s", tt.typ, got, tt.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"a.b.c", []string{"a", "b", "c"}},
		{"tags.*", []string{"tags", Elem}},
		{"tags[*]", []string{"tags", Elem}},
		{"items.*.ref", []string{"items", Elem, "ref"}},
		{"`x y`.`p\\`q`", []string{"x y", "p`q"}},
		{"⟨a.b⟩.c", []string{"a.b", "c"}},
	} {
		got, err := ParsePath(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "a.", "`a", "a..b"} {
		if got, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) = %q, want an error", bad, got)
		}
	}
}

// info is an `INFO FOR TABLE … STRUCTURE` answer as SurrealDB 3 gives it (measured on the dev
// database: array fields list their elements as `field.*` themselves).
const info = `{"events":[],"fields":[
	{"kind":"string","name":"handle","table":"t"},
	{"kind":"none | record<user>","name":"owner","table":"t"},
	{"kind":"object","name":"profile","table":"t"},
	{"kind":"string","name":"profile.link","table":"t"},
	{"kind":"array<record<user>>","name":"members","table":"t"},
	{"kind":"record<user>","name":"members.*","table":"t"},
	{"kind":"none | array<array<string>>","name":"nest","table":"t"},
	{"kind":"datetime","name":"at","table":"t"},
	{"kind":"string | record<user>","name":"either","table":"t"},
	{"kind":"string","name":"` + "`odd name`" + `","table":"t"},
	{"kind":"set<string>","name":"labels","table":"t"}
],"indexes":[],"lives":[],"tables":[]}`

func TestFromInfo(t *testing.T) {
	v, err := value.FromJSON([]byte(info))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := FromInfo(value.Array([]value.Value{v}))
	if err != nil {
		t.Fatal(err)
	}
	want := "{handle: string, labels.*: string, members.*: record, nest.*.*: string, odd name: string, owner: record, profile.link: string}"
	if got := tbl.String(); got != want {
		t.Errorf("FromInfo = %s\nwant       %s", got, want)
	}
	if !tbl.Equal(tbl) || tbl.Equal(Table{}) || !(Table{}).IsZero() || tbl.IsZero() {
		t.Error("Equal/IsZero")
	}
	if _, err := FromInfo(value.String("x")); err == nil {
		t.Error("FromInfo of a string must fail")
	}
	empty, err := FromInfo(value.ObjectOf(nil))
	if err != nil || !empty.IsZero() {
		t.Errorf("FromInfo({}) = %s, %v", empty, err)
	}
}

func row(t *testing.T, js string) value.Value {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	v, err := value.ObjectFromAny(m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestApply(t *testing.T) {
	tbl := NewTable([]Field{
		{Path: []string{"handle"}, Kind: String},
		{Path: []string{"owner"}, Kind: Record},
		{Path: []string{"profile", "link"}, Kind: String},
		{Path: []string{"members", Elem}, Kind: Record},
		{Path: []string{"names", Elem}, Kind: String},
		{Path: []string{"at"}, Kind: String},
		{Path: []string{"ignored"}, Kind: Unknown},
	})
	in := row(t, `{"handle":"user:⟨1⟩","owner":"user:1","profile":{"link":"thread:9","other":"thread:9"},
		"members":["user:1","user:ann"],"names":["user:2","plain"],"at":"2024-01-01T00:00:00+01:00",
		"free":"user:3","ignored":"user:4"}`)
	got := tbl.Apply(in)
	spelled := func(v value.Value) bool { _, ok := v.Spelling(); return ok }
	checks := []struct {
		name string
		v    value.Value
		want value.Value
		sp   bool
	}{
		{"handle", got.Get("handle"), value.String("user:⟨1⟩"), false},
		{"owner", got.Get("owner"), value.Record("user", value.Int(1)), false},
		{"profile.link", got.Get("profile").Get("link"), value.String("thread:9"), false},
		{"profile.other", got.Get("profile").Get("other"), value.Spelled(value.Record("thread", value.Int(9)), "thread:9"), true},
		{"members[1]", got.Get("members").Elems()[1], value.Record("user", value.String("ann")), false},
		{"names[0]", got.Get("names").Elems()[0], value.String("user:2"), false},
		{"names[1]", got.Get("names").Elems()[1], value.String("plain"), false},
		{"at", got.Get("at"), value.String("2024-01-01T00:00:00+01:00"), false},
		{"free", got.Get("free"), value.Spelled(value.Record("user", value.Int(3)), "user:3"), true},
		{"ignored", got.Get("ignored"), value.Spelled(value.Record("user", value.Int(4)), "user:4"), true},
	}
	for _, c := range checks {
		if !value.Identical(c.v, c.want) || spelled(c.v) != c.sp {
			t.Errorf("%s = %s (spelled %v), want %s (spelled %v)", c.name, c.v.SurQL(), spelled(c.v), c.want.SurQL(), c.sp)
		}
	}
	// Idempotent, and a row with nothing to resolve is returned as it is.
	if again := tbl.Apply(got); !value.Identical(again, got) {
		t.Errorf("Apply is not idempotent: %s", again.SurQL())
	}
	// Values of a known kind (typed wire format) stay as they are, whatever the hint.
	typed := value.ObjectOf([]value.Field{{Key: "handle", Val: value.Record("user", value.Int(1))}, {Key: "owner", Val: value.String("user:1")}})
	if out := tbl.Apply(typed); !value.Identical(out, typed) {
		t.Errorf("Apply changed values of a known kind: %s", out.SurQL())
	}
	if out := (Table{}).Apply(in); !value.Identical(out, in) {
		t.Error("the zero Table changes nothing")
	}
}
