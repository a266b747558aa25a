package surql

import (
	"errors"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

func TestParseValue(t *testing.T) {
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		src  string
		want value.Value
	}{
		{"{ user: user:abc, n: 5, tags: ['a'], auth: { id: user:abc } }", value.ObjectOf([]value.Field{
			{Key: "user", Val: value.Record("user", value.String("abc"))},
			{Key: "n", Val: value.Int(5)},
			{Key: "tags", Val: value.Array([]value.Value{value.String("a")})},
			{Key: "auth", Val: value.ObjectOf([]value.Field{{Key: "id", Val: value.Record("user", value.String("abc"))}})},
		})},
		{"  [1, -2, 3.5, 'x', \"y\", true, false, null, NONE, [], {}] ", value.Array([]value.Value{
			value.Int(1), value.Int(-2), value.Float(3.5), value.String("x"), value.String("y"), value.Bool(true),
			value.Bool(false), value.Null(), value.None(), value.Array(nil), value.ObjectOf(nil),
		})},
		{"'user:1'", value.String("user:1")},
		{"user:1", value.Record("user", value.Int(1))},
		{"thread:⟨a-b⟩", value.Record("thread", value.String("a-b"))},
		{"thread:`a b`", value.Record("thread", value.String("a b"))},
		{"r'user:x'", value.Record("user", value.String("x"))},
		{"d'2024-01-01T00:00:00Z'", value.Datetime(day)},
		{"d\"2024-01-01\"", value.Datetime(day)},
		{"1h30m", value.Duration(90 * time.Minute)},
		{"-9223372036854775808", value.Int(-9223372036854775808)},
		{"1.5dec", value.Float(1.5)},
		{"{ 'a b': 1, \"c\": 2, 3: 4, `d`: 5 }", value.ObjectOf([]value.Field{
			{Key: "a b", Val: value.Int(1)}, {Key: "c", Val: value.Int(2)}, {Key: "3", Val: value.Int(4)}, {Key: "d", Val: value.Int(5)},
		})},
		{"-- comment\n{ a: 1, } ", value.ObjectOf([]value.Field{{Key: "a", Val: value.Int(1)}})},
	}
	for _, tt := range tests {
		got, err := ParseValue(tt.src)
		if err != nil {
			t.Errorf("ParseValue(%q): %v", tt.src, err)
			continue
		}
		if got.Kind() != tt.want.Kind() || !value.Equal(got, tt.want) {
			t.Errorf("ParseValue(%q) = %s, want %s", tt.src, got.SurQL(), tt.want.SurQL())
		}
	}
}

func TestParseValueErrors(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{"", "expected an expression but found the end of the value at 1:1"},
		{"{ a: $x }", "expected a value but found the parameter $x at 1:6"},
		{"{ a: [1, b.c] }", "expected a value but found the field path b.c (quote text: 'b.c') at 1:10"},
		{"abc", "expected a value but found the field path abc (quote text: 'abc') at 1:1"},
		{"[(SELECT * FROM t)]", "expected a value but found a subquery at 1:2"},
		{"string::len('x')", "expected a value but found a call of string::len at 1:1"},
		{"1 + 2", "expected a value but found the expression 1 + 2 at 1:3"},
		{"{ a: 1 } x", `unexpected "x" after the value at 1:10`},
		{"{ a: 1", `expected "," or "}" to close the object at 1:1 but found the end of the value at 1:7`},
		{"{ a: time::now() }", "unsupported: time::now() (not deterministic; a view cannot depend on the clock) at 1:6"},
		{"u'0191f4c2-1b0c-7d3e-8f00-000000000000'", "unsupported: uuid literals (u'…') at 1:1"},
	}
	for _, tt := range tests {
		_, err := ParseValue(tt.src)
		if err == nil {
			t.Errorf("ParseValue(%q) succeeded, want error %q", tt.src, tt.want)
			continue
		}
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("ParseValue(%q) error %T is not *Error", tt.src, err)
		}
		if err.Error() != tt.want {
			t.Errorf("ParseValue(%q)\n got error: %s\nwant error: %s", tt.src, err, tt.want)
		}
	}
}
