package eval

import (
	"strings"
	"unicode"
)

// This file implements the string orders of ORDER BY … COLLATE / NUMERIC as SurrealDB 3 applies
// them (it uses the lexicmp crate): verified against SurrealDB on mixed-case, accented, Greek,
// Cyrillic, punctuated and digit-bearing strings.

// lexRunes is the comparison form of s for COLLATE: ASCII lower-cased, other letters and digits
// transliterated to lower-case ASCII (translit; unknown ones kept), combining diacritical marks
// dropped, everything else kept.
func lexRunes(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		switch {
		case c < utf8RuneSelf:
			out = append(out, unicode.ToLower(c))
		case isAlnum(c):
			if t, ok := translit[c]; ok {
				for _, b := range t {
					out = append(out, b)
				}
			} else {
				out = append(out, c)
			}
		case c >= 0x300 && c <= 0x36F:
			// combining diacritical mark: ignored
		default:
			out = append(out, c)
		}
	}
	return out
}

const utf8RuneSelf = 0x80

func isAlnum(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsNumber(c)
}

func isDigit(c rune) bool { return c >= '0' && c <= '9' }

// runeOrder compares two differing characters of the lexical forms: alphanumeric characters
// sort after all others; within a class, by code point.
func runeOrder(a, b rune) int {
	aa, ba := isAlnum(a), isAlnum(b)
	switch {
	case aa == ba:
		return cmpRune(a, b)
	case aa:
		return 1
	}
	return -1
}

func cmpRune(a, b rune) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// digitRun returns the end of the run of ASCII digits in r starting at i.
func digitRun(r []rune, i int) int {
	for i < len(r) && isDigit(r[i]) {
		i++
	}
	return i
}

// compareRuns compares two runs of digits as numbers the way SurrealDB does: a longer run is
// larger (so "01" > "2"), runs of equal length compare digit by digit.
func compareRuns(a, b []rune) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(string(a), string(b))
}

// compareForms walks two comparison forms: natural enables numeric digit runs, lexical selects
// runeOrder (else plain code point order) for differing characters. It returns 0 when the forms
// are equal.
func compareForms(a, b []rune, natural, lexical bool) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if natural && isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := digitRun(a, i), digitRun(b, j)
			if c := compareRuns(a[i:ei], b[j:ej]); c != 0 {
				return c
			}
			i, j = ei, ej
			continue
		}
		if a[i] != b[j] {
			if lexical {
				return runeOrder(a[i], b[j])
			}
			return cmpRune(a[i], b[j])
		}
		i++
		j++
	}
	switch {
	case i < len(a):
		return 1
	case j < len(b):
		return -1
	}
	return 0
}

// lexicalCmp is COLLATE: compare the lexical forms, then the original strings bytewise.
func lexicalCmp(a, b string) int {
	if c := compareForms(lexRunes(a), lexRunes(b), false, true); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// naturalLexicalCmp is COLLATE NUMERIC.
func naturalLexicalCmp(a, b string) int {
	if c := compareForms(lexRunes(a), lexRunes(b), true, true); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// naturalCmp is NUMERIC: the original characters, digit runs compared as numbers.
func naturalCmp(a, b string) int {
	return compareForms([]rune(a), []rune(b), true, false)
}
