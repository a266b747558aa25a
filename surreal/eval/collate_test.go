package eval

import (
	"sort"
	"strings"
	"testing"
)

// TestCollateOrders checks the string orders against what SurrealDB 3.0 returned for
// `ORDER BY s COLLATE` / `COLLATE NUMERIC` on the same strings.
func TestCollateOrders(t *testing.T) {
	in := []string{"e\u0301x", "éa", "ex", "Жук", "zhuk", "zhua", "T-20", "T-5", "ё", "io", "a!", "a€", "aa"}
	cases := []struct {
		name string
		cmp  func(a, b string) int
		want []string
	}{
		{"COLLATE", lexicalCmp, []string{"a!", "a€", "aa", "éa", "ex", "e\u0301x", "io", "ё", "T-20", "T-5", "zhua", "zhuk", "Жук"}},
		{"COLLATE NUMERIC", naturalLexicalCmp, []string{"a!", "a€", "aa", "éa", "ex", "e\u0301x", "io", "ё", "T-5", "T-20", "zhua", "zhuk", "Жук"}},
	}
	for _, c := range cases {
		got := append([]string(nil), in...)
		sort.SliceStable(got, func(i, j int) bool { return c.cmp(got[i], got[j]) < 0 })
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestNaturalCmp(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"a2", "a10", -1}, {"a01", "a2", 1}, {"a1", "a01", -1}, {"a10", "a10", 0}, {"x9y", "x9z", -1},
		{"B2", "a1", -1}, {"1", "", 1}, {"", "", 0}, {"T-27", "T5", -1},
	}
	for _, c := range cases {
		if got := naturalCmp(c.a, c.b); got != c.want {
			t.Errorf("naturalCmp(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := naturalCmp(c.b, c.a); got != -c.want {
			t.Errorf("naturalCmp(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}
