package surql

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParseSelect checks that no input panics, that every failure is an *Error pointing inside
// the text, and that printing a parsed statement gives text that parses to the same tree and
// prints identically again.
func FuzzParseSelect(f *testing.F) {
	for _, q := range validQueries {
		f.Add(q)
	}
	for _, q := range errorQueries() {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := ParseSelect(src)
		if err != nil {
			checkError(t, src, err)
			return
		}
		printed := s.String()
		again, err := ParseSelect(printed)
		if err != nil {
			t.Fatalf("re-parse of printed %q (from %q): %v", printed, src, err)
		}
		if p2 := again.String(); p2 != printed {
			t.Fatalf("printing is not stable:\n first: %s\nsecond: %s", printed, p2)
		}
		if !sameTree(s, again) {
			t.Fatalf("round trip changed the tree of %q:\n before: %s\n  after: %s", src, dumpSelect(s), dumpSelect(again))
		}
	})
}

// FuzzParseValue checks that values print to text that parses back to the same value.
func FuzzParseValue(f *testing.F) {
	for _, v := range []string{
		"{ user: user:abc, n: 5, tags: ['a'], auth: { id: user:abc } }", "[1, -2.5, 'x', d'2024-01-01', 1h, NONE, NULL]",
		"thread:⟨a-b⟩", "{ 'a b': { c: [true, false] } }", "$x", "a.b", "-0.0", "1e308",
	} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, src string) {
		v, err := ParseValue(src)
		if err != nil {
			checkError(t, src, err)
			return
		}
		printed := literalString(v)
		again, err := ParseValue(printed)
		if err != nil {
			t.Fatalf("re-parse of printed %q (from %q): %v", printed, src, err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("value changed in the round trip of %q: %s became %s", src, printed, literalString(again))
		}
	})
}

func checkError(t *testing.T, src string, err error) {
	t.Helper()
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %T (%v) is not *Error", err, err)
	}
	if perr.Pos.Offset < 0 || perr.Pos.Offset > len(src) || perr.Pos.Line < 1 || perr.Pos.Col < 1 {
		t.Fatalf("error position %+v outside the text of length %d: %v", perr.Pos, len(src), err)
	}
}

// errorQueries returns the invalid queries of the error table (fuzzer seeds).
func errorQueries() []string {
	return []string{
		"SELECT * FROM thread WHERE author = ORDER BY x", "SELECT * FROM t GROUP BY x", "SELECT * FROM t WHERE a ~ 'x'",
		"SELECT * FROM t WHERE a = 'abc", "SELECT * FROM t /* x", "SELECT * FROM t WHERE a = user:[1]",
		"SELECT * FROM t WHERE a = 1 = 2", "SELECT * FROM a, b", "SELECT * FROM t; SELECT * FROM u",
	}
}
