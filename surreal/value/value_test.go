package value

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func rec(tb string, key Value) Value { return Record(tb, key) }

func TestCompareTypeOrder(t *testing.T) {
	ordered := []Value{
		None(), Null(), Bool(false), Bool(true), Int(-5), Float(-1.5), Int(0), Float(0.5), Int(1),
		String(""), String("A"), String("a"), String("ab"), Duration(time.Second), Duration(time.Minute),
		Datetime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), Datetime(time.Date(2024, 1, 1, 0, 0, 0, 5, time.UTC)),
		Array(nil), Array([]Value{Int(1)}), Array([]Value{Int(1), Int(0)}), Array([]Value{Int(2)}),
		ObjectOf(nil), ObjectOf([]Field{{"a", Int(1)}}), ObjectOf([]Field{{"b", Int(0)}}),
		rec("a", String("z")), rec("user", Int(2)), rec("user", Int(10)), rec("user", String("10")), rec("user", String("b")),
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(ordered[i], ordered[j]); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", ordered[i].SurQL(), ordered[j].SurQL(), got, want)
			}
		}
	}
}

func TestCompareNaN(t *testing.T) {
	nan := Float(math.NaN())
	if Compare(nan, Int(5)) != 1 || Compare(Float(math.Inf(1)), nan) != -1 || Compare(nan, nan) != 0 {
		t.Error("NaN must order after every number and equal itself")
	}
	if Compare(nan, String("")) != -1 {
		t.Error("NaN is still a number: before strings")
	}
}

func TestEqual(t *testing.T) {
	dt, _ := ParseDatetime("2024-01-02T03:04:05Z")
	tests := []struct {
		a, b Value
		want bool
	}{
		{Int(1), Float(1), true},
		{Int(1), Float(1.5), false},
		{None(), Null(), false},
		{None(), None(), true},
		{Null(), Null(), true},
		// A string equals a record or datetime read from a JSON string (spelled), whose kind in
		// SurrealDB is unknown, when it spells it; never one of a known kind (SurrealDB:
		// 'user:1' = user:1 is false).
		{String("user:1"), Spelled(rec("user", Int(1)), "user:1"), true},
		{Spelled(rec("user", Int(1)), "user:1"), String("user:1"), true},
		{String("user:1"), rec("user", Int(1)), false},
		{rec("user", Int(1)), String("user:1"), false},
		{String("user:⟨1⟩"), Spelled(rec("user", Int(1)), "user:1"), false},
		{String("user:⟨1⟩"), Spelled(rec("user", String("1")), "user:⟨1⟩"), true},
		{String("user:1"), Spelled(rec("user", String("1")), "user:⟨1⟩"), false},
		{rec("user", Int(1)), rec("user", String("1")), false},
		{Spelled(rec("user", Int(1)), "user:1"), rec("user", Int(1)), true},
		{String("2024-01-02T03:04:05Z"), Spelled(dt, "2024-01-02T03:04:05Z"), true},
		{String("2024-01-02T03:04:05Z"), dt, false},
		{String("2024-01-02T03:04:06Z"), Spelled(dt, "2024-01-02T03:04:05Z"), false},
		{Array([]Value{Int(1), String("a")}), Array([]Value{Float(1), String("a")}), true},
		{ObjectOf([]Field{{"a", Int(1)}}), ObjectOf([]Field{{"a", Int(1)}, {"b", None()}}), false},
		{String("a"), String("A"), false},
		{Bool(true), Int(1), false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", tt.a.SurQL(), tt.b.SurQL(), got, tt.want)
		}
		if tt.want && HashKey(tt.a) != HashKey(tt.b) {
			t.Errorf("HashKey(%s) != HashKey(%s) although equal", tt.a.SurQL(), tt.b.SurQL())
		}
	}
}

func TestFromJSONClassifies(t *testing.T) {
	v, err := FromJSON([]byte(`{"n":3,"f":2.5,"e":1e2,"s":"hello","r":"user:42","q":"thread:⟨a-b⟩","d":"2024-01-01T00:00:00.5Z",
		"colon":"10:30","url":"http://x","nul":null,"arr":[1,"x"],"obj":{"tb":"user","id":"7"},"nested":{"a":{"b":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		field string
		kind  Kind
		text  string
	}{
		{"n", KindInt, "3"}, {"f", KindFloat, "2.5"}, {"e", KindFloat, "100f"}, {"s", KindString, `"hello"`},
		{"r", KindRecord, "user:42"}, {"q", KindRecord, "thread:⟨a-b⟩"}, {"d", KindDatetime, "d'2024-01-01T00:00:00.5Z'"},
		{"colon", KindString, `"10:30"`}, {"url", KindString, `"http://x"`}, {"nul", KindNull, "NULL"},
		{"obj", KindRecord, "user:7"}, {"missing", KindNone, "NONE"},
	}
	for _, c := range checks {
		got := v.Get(c.field)
		if got.Kind() != c.kind || got.SurQL() != c.text {
			t.Errorf("field %s = %s (%s), want %s (%s)", c.field, got.SurQL(), got.Kind(), c.text, c.kind)
		}
	}
	if got := v.Get("nested").Get("a").Get("b"); !got.AsBool() {
		t.Errorf("nested.a.b = %s", got.SurQL())
	}
	if _, err := FromJSON([]byte(`{"a":1} x`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func TestParseRecord(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		text string
		key  Kind
	}{
		{"user:1", true, "user:1", KindInt},
		{"user:abc", true, "user:abc", KindString},
		{"user:⟨a b⟩", true, "user:⟨a b⟩", KindString},
		{"user:`a b`", true, "user:⟨a b⟩", KindString},
		{"user:⟨10⟩", true, "user:⟨10⟩", KindString},
		{"user:-3", true, "user:-3", KindInt},
		{"user:", false, "", 0},
		{":1", false, "", 0},
		{"1a:b", false, "", 0},
		{"user:a-b", false, "", 0},
		{"plain", false, "", 0},
	}
	for _, tt := range tests {
		v, ok := ParseRecord(tt.in)
		if ok != tt.ok {
			t.Errorf("ParseRecord(%q) ok = %v", tt.in, ok)
			continue
		}
		if ok && (RecordString(v) != tt.text || v.Key().Kind() != tt.key) {
			t.Errorf("ParseRecord(%q) = %s key %s, want %s key %s", tt.in, RecordString(v), v.Key().Kind(), tt.text, tt.key)
		}
	}
}

func TestRecordKey(t *testing.T) {
	tests := []struct {
		in   string
		want Value
	}{
		{"1", Int(1)},
		{"-3", Int(-3)},
		{"99999999999999999999", String("99999999999999999999")},
		{"abc", String("abc")},
		{"⟨a b⟩", String("a b")},
		{"`a b`", String("a b")},
		{"a b", String("a b")}, // spells no key: kept as text
		{"", String("")},
	}
	for _, tt := range tests {
		if got := RecordKey(tt.in); !Identical(got, tt.want) {
			t.Errorf("RecordKey(%q) = %s, want %s", tt.in, got.SurQL(), tt.want.SurQL())
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30s", 30 * time.Second, false}, {"10m", 10 * time.Minute, false}, {"1h30m", 90 * time.Minute, false},
		{"1d", 24 * time.Hour, false}, {"500ms", 500 * time.Millisecond, false}, {"2w", 14 * 24 * time.Hour, false},
		{"1m30s", 90 * time.Second, false}, {"", 0, true}, {"5", 0, true}, {"5x", 0, true}, {"s", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if s := FormatDuration(90 * time.Minute); s != "1h30m" {
		t.Errorf("FormatDuration = %s", s)
	}
}

func TestTruthyAndContains(t *testing.T) {
	arr := Array([]Value{Int(1), String("go"), Spelled(rec("user", Int(1)), "user:1"), rec("user", Int(2))})
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"none", Truthy(None()), false}, {"zero", Truthy(Int(0)), false}, {"empty string", Truthy(String("")), false},
		{"string", Truthy(String("x")), true}, {"empty array", Truthy(Array(nil)), false}, {"record", Truthy(rec("a", Int(1))), true},
		{"contains float", Contains(arr, Float(1)), true}, {"contains string record", Contains(arr, String("user:1")), true},
		{"contains string of a known record", Contains(arr, String("user:2")), false},
		{"contains missing", Contains(arr, String("rust")), false}, {"substring", Contains(String("golang"), String("lan")), true},
		{"containsall", ContainsAll(arr, Array([]Value{Int(1), String("go")})), true},
		{"containsall miss", ContainsAll(arr, Array([]Value{Int(1), String("x")})), false},
		{"containsany", ContainsAny(arr, Array([]Value{Int(9), String("go")})), true},
		{"containsnone", ContainsNone(arr, Array([]Value{Int(9)})), true},
		{"containsnone non-array", ContainsNone(arr, Int(9)), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestWith(t *testing.T) {
	o := ObjectOf([]Field{{"b", Int(2)}, {"d", Int(4)}})
	o = o.With("c", Int(3)).With("a", Int(1)).With("d", Int(5)).With("e", Int(6))
	if got := o.SurQL(); got != "{ a: 1, b: 2, c: 3, d: 5, e: 6 }" {
		t.Errorf("With = %s", got)
	}
}

func TestIdentical(t *testing.T) {
	r1, _ := ParseRecord("user:1")
	tests := []struct {
		a, b Value
		want bool
	}{
		{Int(1), Int(1), true},
		{Int(1), Float(1), false},
		{Float(0), Float(math.Copysign(0, -1)), true},
		{Float(math.NaN()), Float(math.NaN()), true},
		{String("user:1"), r1, false},
		{r1, Record("user", Int(1)), true},
		{Record("user", Int(1)), Record("user", String("1")), false},
		{Array([]Value{Int(1), Null()}), Array([]Value{Int(1), Null()}), true},
		{Array([]Value{Int(1), Null()}), Array([]Value{Int(1), None()}), false},
		{ObjectOf([]Field{{"a", Int(1)}}), ObjectOf([]Field{{"a", Int(1)}}), true},
		{ObjectOf([]Field{{"a", Int(1)}}), ObjectOf([]Field{{"a", Float(1)}}), false},
		{String("a"), String("a"), true},
		{None(), Null(), false},
	}
	for _, tt := range tests {
		if got := Identical(tt.a, tt.b); got != tt.want {
			t.Errorf("Identical(%s, %s) = %v, want %v", tt.a.SurQL(), tt.b.SurQL(), got, tt.want)
		}
	}
}

func TestObjectFromAnyKeepsRecordShapedObjects(t *testing.T) {
	v, err := ObjectFromAny(map[string]any{"tb": "user", "id": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind() != KindObject || v.Get("tb").AsString() != "user" {
		t.Errorf("ObjectFromAny({tb, id}) = %s, want the object kept", v.SurQL())
	}
	if v, _ := FromAny(map[string]any{"tb": "user", "id": "7"}); v.Kind() != KindRecord {
		t.Errorf("FromAny({tb, id}) = %s, want a record", v.SurQL())
	}
	if _, err := ObjectFromAny(map[string]any{"bad": struct{}{}}); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("error %v does not name the field", err)
	}
	for x, want := range map[any]string{nil: "null", true: "a boolean", "s": "a string", 1.5: "a number"} {
		if got := JSONKind(x); got != want {
			t.Errorf("JSONKind(%v) = %s, want %s", x, got, want)
		}
	}
}

func TestConvertToLeafHook(t *testing.T) {
	r, _ := ParseRecord("user:1")
	v := ObjectOf([]Field{{"a", Array([]Value{r, Int(2)})}, {"gone", None()}, {"r", r}})
	got := v.ConvertTo(func(x Value) (any, bool) {
		if x.Kind() == KindRecord {
			return "REC", true
		}
		return nil, false
	})
	want := map[string]any{"a": []any{"REC", int64(2)}, "r": "REC"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ConvertTo = %v, want %v", got, want)
	}
	if fmt.Sprint(v.ToAny()) != fmt.Sprint(map[string]any{"a": []any{"user:1", int64(2)}, "r": "user:1"}) {
		t.Errorf("ToAny = %v", v.ToAny())
	}
}

func TestSpelled(t *testing.T) {
	r := ClassifyString("user:⟨a b⟩")
	if r.Kind() != KindRecord {
		t.Fatalf("ClassifyString(user:⟨a b⟩) = %s, want a record", r.SurQL())
	}
	if text, ok := r.Spelling(); !ok || text != "user:⟨a b⟩" {
		t.Errorf("Spelling() = %q, %v; want the JSON text", text, ok)
	}
	if _, ok := Record("user", String("a b")).Spelling(); ok {
		t.Error("a record built from its parts is not spelled")
	}
	u := r.Unspelled()
	if _, ok := u.Spelling(); ok || !Equal(u, r) || RecordString(u) != "user:⟨a b⟩" {
		t.Errorf("Unspelled() = %s, want the same record without its spelling", u.SurQL())
	}
	if Identical(u, r) {
		t.Error("a spelled record is not identical to the same record of a known kind")
	}
	if !Identical(r, ClassifyString("user:⟨a b⟩")) || Identical(r, ClassifyString("user:`a b`")) {
		t.Error("spelled records are identical exactly when their records and texts are")
	}
	d := ClassifyString("2024-01-02T03:04:05+01:00")
	if text, ok := d.Spelling(); d.Kind() != KindDatetime || !ok || text != "2024-01-02T03:04:05+01:00" {
		t.Errorf("ClassifyString(datetime) = %s spelled %q", d.SurQL(), text)
	}
	if !Equal(d, String("2024-01-02T02:04:05Z")) || Equal(d.Unspelled(), String("2024-01-02T02:04:05Z")) {
		t.Error("a string equals a spelled datetime it spells, not a datetime of a known kind")
	}
	if Compare(d, d.Unspelled()) != 0 || HashKey(d) != HashKey(d.Unspelled()) || HashKey(r) != HashKey(u) {
		t.Error("spelling does not change order or hash keys")
	}
	if v := ObjectOf([]Field{{"x", r}}); Identical(v, ObjectOf([]Field{{"x", u}})) {
		t.Error("Identical compares spellings inside objects")
	}
}

func TestIdentityKey(t *testing.T) {
	vals := []Value{None(), Null(), Bool(true), Bool(false), Int(1), Float(1), Float(0), Float(math.Copysign(0, -1)), Float(math.NaN()),
		String("user:1"), String(""), rec("user", Int(1)), Spelled(rec("user", Int(1)), "user:1"), Spelled(rec("user", Int(1)), "user:⟨1⟩"),
		rec("user", String("1")), Duration(1), Array([]Value{String("a,b")}), Array([]Value{String("a"), String("b")}),
		ObjectOf([]Field{{"a", Int(1)}}), ObjectOf([]Field{{"a", Int(1)}, {"b", None()}})}
	for _, a := range vals {
		for _, b := range vals {
			if (IdentityKey(a) == IdentityKey(b)) != Identical(a, b) {
				t.Errorf("IdentityKey(%s) == IdentityKey(%s) is %v, Identical is %v", a.SurQL(), b.SurQL(), IdentityKey(a) == IdentityKey(b), Identical(a, b))
			}
		}
	}
}
