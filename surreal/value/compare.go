package value

import (
	"math"
	"strconv"
	"strings"
)

// Rank is a kind's position in SurrealDB's cross-type order: NONE < NULL < bool < number < string
// < duration < datetime < array < object < record. Int and float share a rank.
func Rank(k Kind) int {
	switch k {
	case KindNone:
		return 0
	case KindNull:
		return 1
	case KindBool:
		return 2
	case KindInt, KindFloat:
		return 3
	case KindString:
		return 4
	case KindDuration:
		return 5
	case KindDatetime:
		return 6
	case KindArray:
		return 8
	case KindObject:
		return 9
	case KindRecord:
		return 12
	}
	return 99
}

// Compare orders a and b as SurrealDB's ORDER BY and comparison operators do: first by Rank, then
// within the kind (numbers by value, strings bytewise, arrays and objects element by element,
// records by table then key). It returns -1, 0 or +1.
func Compare(a, b Value) int {
	ra, rb := Rank(a.kind), Rank(b.kind)
	if ra != rb {
		if ra < rb {
			return -1
		}
		return 1
	}
	switch a.kind {
	case KindNone, KindNull:
		return 0
	case KindBool:
		return cmpU(a.n, b.n)
	case KindInt, KindFloat:
		return compareNumbers(a, b)
	case KindString:
		return strings.Compare(a.s, b.s)
	case KindDuration, KindDatetime:
		return cmpI(int64(a.n), int64(b.n))
	case KindArray:
		ea, eb := a.ref.([]Value), b.ref.([]Value)
		for i := 0; i < len(ea) && i < len(eb); i++ {
			if c := Compare(ea[i], eb[i]); c != 0 {
				return c
			}
		}
		return cmpI(int64(len(ea)), int64(len(eb)))
	case KindObject:
		fa, fb := a.ref.(*Object).fields, b.ref.(*Object).fields
		for i := 0; i < len(fa) && i < len(fb); i++ {
			if c := strings.Compare(fa[i].Key, fb[i].Key); c != 0 {
				return c
			}
			if c := Compare(fa[i].Val, fb[i].Val); c != 0 {
				return c
			}
		}
		return cmpI(int64(len(fa)), int64(len(fb)))
	case KindRecord:
		if c := strings.Compare(a.s, b.s); c != 0 {
			return c
		}
		return compareKeys(a.recKey(), b.recKey())
	}
	return 0
}

// compareKeys orders record keys: integers before strings before arrays before objects.
func compareKeys(a, b Value) int {
	ra, rb := keyRank(a.kind), keyRank(b.kind)
	if ra != rb {
		return cmpI(int64(ra), int64(rb))
	}
	return Compare(a, b)
}

func keyRank(k Kind) int {
	switch k {
	case KindInt, KindFloat:
		return 0
	case KindString:
		return 1
	case KindArray:
		return 3
	case KindObject:
		return 4
	}
	return 5
}

func compareNumbers(a, b Value) int {
	if a.kind == KindInt && b.kind == KindInt {
		return cmpI(int64(a.n), int64(b.n))
	}
	fa, fb := a.AsFloat(), b.AsFloat()
	switch {
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	case fa == fb:
		// Large ints lose precision as floats; fall back to exact comparison where possible.
		if a.kind == KindInt && b.kind == KindFloat && fb == math.Trunc(fb) && math.Abs(fb) < 9.2e18 {
			return cmpI(int64(a.n), int64(fb))
		}
		if a.kind == KindFloat && b.kind == KindInt && fa == math.Trunc(fa) && math.Abs(fa) < 9.2e18 {
			return cmpI(int64(fa), int64(b.n))
		}
		return 0
	}
	// NaN (from 1/0): SurrealDB orders it after every other number (a total order on floats).
	an, bn := math.IsNaN(fa), math.IsNaN(fb)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	default:
		return -1
	}
}

func cmpI(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Equal reports SurrealDB equality (`=`, `==`, and membership tests of CONTAINS/IN): numbers by
// value across int and float, structural for arrays and objects, NONE only equal to NONE and NULL
// only to NULL. A String equals a spelled Record or Datetime when it spells that value (see the
// package comment); a Record or Datetime of a known kind never equals a String.
func Equal(a, b Value) bool {
	if a.kind != b.kind {
		switch {
		case a.IsNumber() && b.IsNumber():
			return compareNumbers(a, b) == 0
		case a.kind == KindString && (b.kind == KindRecord || b.kind == KindDatetime):
			return equalSpelled(a.s, b)
		case b.kind == KindString && (a.kind == KindRecord || a.kind == KindDatetime):
			return equalSpelled(b.s, a)
		}
		return false
	}
	switch a.kind {
	case KindArray, KindObject:
		return elementwise(a, b, Equal)
	case KindRecord:
		ka, kb := a.recKey(), b.recKey()
		return a.s == b.s && Equal(ka, kb) && ka.kind == kb.kind
	}
	return Compare(a, b) == 0
}

func equalSpelled(s string, v Value) bool {
	if _, ok := v.Spelling(); !ok {
		return false
	}
	switch v.kind {
	case KindRecord:
		r, ok := ParseRecord(s)
		return ok && Equal(r, v)
	case KindDatetime:
		t, ok := ParseDatetime(s)
		return ok && t.n == v.n
	}
	return false
}

// Truthy reports whether v counts as true in a WHERE clause: false for NONE, NULL, false, zero,
// the empty string, the empty array and the empty object; true otherwise.
func Truthy(v Value) bool {
	switch v.kind {
	case KindNone, KindNull:
		return false
	case KindBool:
		return v.n == 1
	case KindInt:
		return v.n != 0
	case KindFloat:
		f := math.Float64frombits(v.n)
		return f != 0 && !math.IsNaN(f)
	case KindString:
		return v.s != ""
	case KindDuration:
		return v.n != 0
	case KindArray:
		return len(v.ref.([]Value)) > 0
	case KindObject:
		return len(v.ref.(*Object).fields) > 0
	}
	return true
}

// Contains implements `a CONTAINS b`: an array holding an element equal to b, or a string holding
// the string b as a substring.
func Contains(a, b Value) bool {
	switch a.kind {
	case KindArray:
		for _, e := range a.ref.([]Value) {
			if Equal(e, b) {
				return true
			}
		}
		return false
	case KindString:
		if b.kind == KindString {
			return strings.Contains(a.s, b.s)
		}
	}
	return false
}

// ContainsAll implements `a CONTAINSALL b`: every element of array b is contained in a.
func ContainsAll(a, b Value) bool {
	if b.kind != KindArray {
		return false
	}
	for _, e := range b.ref.([]Value) {
		if !Contains(a, e) {
			return false
		}
	}
	return true
}

// ContainsAny implements `a CONTAINSANY b`: some element of array b is contained in a.
func ContainsAny(a, b Value) bool {
	if b.kind != KindArray {
		return false
	}
	for _, e := range b.ref.([]Value) {
		if Contains(a, e) {
			return true
		}
	}
	return false
}

// ContainsNone implements `a CONTAINSNONE b`: no element of array b is contained in a.
func ContainsNone(a, b Value) bool {
	if b.kind != KindArray {
		return false
	}
	return !ContainsAny(a, b)
}

// Identical reports whether a and b are the same value down to their kinds: unlike Equal, 1 and
// 1.0 differ, and so do a string and the record or datetime it spells, and a spelled record or
// datetime and one of a known kind (or one spelled differently). It compares row content (did an
// update change anything?) and decoded values in tests. NaN is identical to NaN.
func Identical(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KindArray, KindObject:
		return elementwise(a, b, Identical)
	case KindRecord:
		ta, _ := a.Spelling()
		tb, _ := b.Spelling()
		return a.s == b.s && ta == tb && Identical(a.recKey(), b.recKey())
	case KindFloat:
		fa, fb := math.Float64frombits(a.n), math.Float64frombits(b.n)
		return fa == fb || (math.IsNaN(fa) && math.IsNaN(fb))
	}
	return a.n == b.n && a.s == b.s
}

// elementwise reports whether a and b, two arrays or two objects, hold elements that eq finds
// equal pairwise (objects: under the same keys).
func elementwise(a, b Value, eq func(x, y Value) bool) bool {
	if a.kind == KindArray {
		ea, eb := a.ref.([]Value), b.ref.([]Value)
		if len(ea) != len(eb) {
			return false
		}
		for i := range ea {
			if !eq(ea[i], eb[i]) {
				return false
			}
		}
		return true
	}
	fa, fb := a.ref.(*Object).fields, b.ref.(*Object).fields
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i].Key != fb[i].Key || !eq(fa[i].Val, fb[i].Val) {
			return false
		}
	}
	return true
}

// IdentityKey returns a string that is equal for two values exactly when Identical holds for
// them: kinds, spellings and float bits included. Use it to key state by a value's identity.
func IdentityKey(v Value) string {
	var b strings.Builder
	writeIdentity(&b, v)
	return b.String()
}

func writeIdentity(b *strings.Builder, v Value) {
	b.WriteByte(byte('a' + v.kind))
	switch v.kind {
	case KindBool, KindInt, KindDuration:
		b.WriteString(strconv.FormatUint(v.n, 36))
	case KindFloat:
		f := math.Float64frombits(v.n)
		switch {
		case math.IsNaN(f):
			b.WriteString("nan")
		case f == 0: // -0 and +0 are identical
			b.WriteString("0")
		default:
			b.WriteString(strconv.FormatUint(v.n, 36))
		}
	case KindString:
		writeCounted(b, v.s)
	case KindDatetime:
		b.WriteString(strconv.FormatUint(v.n, 36))
		writeCounted(b, v.s)
	case KindRecord:
		writeCounted(b, v.s)
		text, _ := v.Spelling()
		writeCounted(b, text)
		writeIdentity(b, v.recKey())
	case KindArray:
		es := v.ref.([]Value)
		b.WriteString(strconv.Itoa(len(es)))
		for _, e := range es {
			b.WriteByte(',')
			writeIdentity(b, e)
		}
	case KindObject:
		fs := v.ref.(*Object).fields
		b.WriteString(strconv.Itoa(len(fs)))
		for _, f := range fs {
			b.WriteByte(',')
			writeCounted(b, f.Key)
			writeIdentity(b, f.Val)
		}
	}
}

// writeCounted writes s prefixed by its length, so that concatenations stay unambiguous.
func writeCounted(b *strings.Builder, s string) {
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
}
