// Package value is the SurrealDB value model of the SSP: the kinds a record field can hold, the
// conversion from the JSON that /ingest and params deliver, and SurrealDB's comparison rules
// (type order, numbers compared by value across int and float, NONE distinct from NULL).
//
// Records reach the SSP as JSON, where SurrealDB has already turned record links into strings
// ("user:1") and datetimes into ISO-8601 strings. FromJSON therefore classifies strings: a string
// in strict RFC 3339 form becomes a Datetime and a string of the form `table:key` (table an
// identifier, key an identifier, an integer or a ⟨…⟩/backtick-quoted text) becomes a Record.
// Such a value is *spelled*: it remembers the text it was read from (Spelling), because the JSON
// cannot tell whether SurrealDB held a string or a record there. Equal treats a String as equal to
// a spelled Record or Datetime that it spells, so a query literal 'user:1' still matches a field
// that may have held that string. A value whose kind is known — a SurrealQL literal, a value
// decoded from SurrealDB's typed wire format, or a spelled value resolved with a schema
// (Unspelled, or back to the String it was read from) — is never equal to a value of another
// kind, as in SurrealDB ('user:1' = user:1 is false).
package value

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Kind is the type of a Value. The numeric order of kinds is not SurrealDB's type order; see Rank.
type Kind uint8

// The kinds of Value.
const (
	KindNone Kind = iota
	KindNull
	KindBool
	KindInt
	KindFloat
	KindString
	KindDuration
	KindDatetime
	KindArray
	KindObject
	KindRecord
)

var kindNames = [...]string{"none", "null", "bool", "int", "float", "string", "duration", "datetime", "array", "object", "record"}

// String names the kind as SurrealQL's type names do.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Value is an immutable SurrealDB value. The zero Value is NONE.
type Value struct {
	kind Kind
	n    uint64 // int bits, float bits, bool, duration ns, datetime unix ns
	s    string // string content; record table; a spelled datetime's text
	ref  any    // []Value for arrays, *Object for objects, *Value (the key) or *spelledRecord for records
}

// spelledRecord is the ref of a record classified from a JSON string: its key and that string.
type spelledRecord struct {
	key  Value
	text string
}

// Field is one key/value pair of an Object.
type Field struct {
	Key string
	Val Value
}

// Object is a SurrealDB object: fields sorted by key (bytewise), keys unique.
type Object struct {
	fields []Field
}

// None is the absent value.
func None() Value { return Value{} }

// Null is SurrealDB's NULL.
func Null() Value { return Value{kind: KindNull} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, n: 1}
	}
	return Value{kind: KindBool}
}

// Int returns an integer value.
func Int(i int64) Value { return Value{kind: KindInt, n: uint64(i)} }

// Float returns a float value.
func Float(f float64) Value { return Value{kind: KindFloat, n: math.Float64bits(f)} }

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Duration returns a duration value.
func Duration(d time.Duration) Value { return Value{kind: KindDuration, n: uint64(d)} }

// Datetime returns a datetime value (nanosecond precision, UTC).
func Datetime(t time.Time) Value { return Value{kind: KindDatetime, n: uint64(t.UnixNano())} }

// Array returns an array value holding elems (not copied: callers must not modify it later).
func Array(elems []Value) Value {
	if elems == nil {
		elems = []Value{}
	}
	return Value{kind: KindArray, ref: elems}
}

// ObjectOf returns an object value from fields in any order; a later duplicate key wins.
func ObjectOf(fields []Field) Value {
	fs := make([]Field, len(fields))
	copy(fs, fields)
	slices.SortStableFunc(fs, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
	out := fs[:0]
	for _, f := range fs {
		if len(out) > 0 && out[len(out)-1].Key == f.Key {
			out[len(out)-1] = f
			continue
		}
		out = append(out, f)
	}
	return Value{kind: KindObject, ref: &Object{fields: out}}
}

// ObjectFromMap returns an object value from a map.
func ObjectFromMap(m map[string]Value) Value {
	fs := make([]Field, 0, len(m))
	for k, v := range m {
		fs = append(fs, Field{Key: k, Val: v})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
	return Value{kind: KindObject, ref: &Object{fields: fs}}
}

// Record returns a record id value `table:key`. key should be an Int, a String, an Array or an
// Object, as SurrealDB allows.
func Record(table string, key Value) Value {
	k := key
	return Value{kind: KindRecord, s: table, ref: &k}
}

// Spelled returns v (a Record or a Datetime) as read from the JSON string text: it stays what it
// is, but equals the String text too (see the package comment). Other kinds are returned as they
// are.
func Spelled(v Value, text string) Value {
	switch v.kind {
	case KindRecord:
		return Value{kind: KindRecord, s: v.s, ref: &spelledRecord{key: v.recKey(), text: text}}
	case KindDatetime:
		if text == "" {
			text = v.AsTime().Format(time.RFC3339Nano)
		}
		return Value{kind: KindDatetime, n: v.n, s: text}
	}
	return v
}

// Spelling returns the JSON string a spelled Record or Datetime was read from; ok is false for
// every other value.
func (v Value) Spelling() (text string, ok bool) {
	switch v.kind {
	case KindRecord:
		if sr, isSpelled := v.ref.(*spelledRecord); isSpelled {
			return sr.text, true
		}
	case KindDatetime:
		return v.s, v.s != ""
	}
	return "", false
}

// Unspelled returns v without its spelling: a Record or Datetime known to be one.
func (v Value) Unspelled() Value {
	switch v.kind {
	case KindRecord:
		if _, ok := v.ref.(*spelledRecord); ok {
			return Record(v.s, v.recKey())
		}
	case KindDatetime:
		v.s = ""
	}
	return v
}

// recKey is the key of a record value.
func (v Value) recKey() Value {
	if sr, ok := v.ref.(*spelledRecord); ok {
		return sr.key
	}
	return *v.ref.(*Value)
}

// Kind reports the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNone reports whether v is NONE.
func (v Value) IsNone() bool { return v.kind == KindNone }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.kind == KindNull }

// IsNullish reports whether v is NONE or NULL.
func (v Value) IsNullish() bool { return v.kind <= KindNull }

// IsNumber reports whether v is an int or a float.
func (v Value) IsNumber() bool { return v.kind == KindInt || v.kind == KindFloat }

// AsBool returns the boolean of a bool value (false for other kinds).
func (v Value) AsBool() bool { return v.kind == KindBool && v.n == 1 }

// AsInt returns the integer of an int value, or a float truncated toward zero.
func (v Value) AsInt() int64 {
	switch v.kind {
	case KindInt:
		return int64(v.n)
	case KindFloat:
		return int64(math.Float64frombits(v.n))
	}
	return 0
}

// AsFloat returns the number as a float64 (0 for non-numbers).
func (v Value) AsFloat() float64 {
	switch v.kind {
	case KindInt:
		return float64(int64(v.n))
	case KindFloat:
		return math.Float64frombits(v.n)
	}
	return 0
}

// AsString returns the content of a string value ("" for other kinds).
func (v Value) AsString() string {
	if v.kind == KindString {
		return v.s
	}
	return ""
}

// AsDuration returns the duration of a duration value.
func (v Value) AsDuration() time.Duration {
	if v.kind == KindDuration {
		return time.Duration(int64(v.n))
	}
	return 0
}

// AsTime returns the instant of a datetime value, in UTC.
func (v Value) AsTime() time.Time {
	if v.kind == KindDatetime {
		return time.Unix(0, int64(v.n)).UTC()
	}
	return time.Time{}
}

// Elems returns the elements of an array value (nil for other kinds). Do not modify them.
func (v Value) Elems() []Value {
	if v.kind == KindArray {
		return v.ref.([]Value)
	}
	return nil
}

// Fields returns the fields of an object value sorted by key (nil for other kinds). Do not modify.
func (v Value) Fields() []Field {
	if v.kind == KindObject {
		return v.ref.(*Object).fields
	}
	return nil
}

// Table returns the table of a record value ("" for other kinds).
func (v Value) Table() string {
	if v.kind == KindRecord {
		return v.s
	}
	return ""
}

// Key returns the key of a record value (NONE for other kinds).
func (v Value) Key() Value {
	if v.kind == KindRecord {
		return v.recKey()
	}
	return Value{}
}

// Get returns the field name of an object value, or NONE when v is not an object or lacks it.
func (v Value) Get(name string) Value {
	if v.kind != KindObject {
		return Value{}
	}
	fs := v.ref.(*Object).fields
	i := sort.Search(len(fs), func(i int) bool { return fs[i].Key >= name })
	if i < len(fs) && fs[i].Key == name {
		return fs[i].Val
	}
	return Value{}
}

// Len returns the number of elements of an array, fields of an object or bytes of a string.
func (v Value) Len() int {
	switch v.kind {
	case KindArray:
		return len(v.ref.([]Value))
	case KindObject:
		return len(v.ref.(*Object).fields)
	case KindString:
		return len(v.s)
	}
	return 0
}

// With returns a copy of object v with field name set to val (v must be an object or NONE).
func (v Value) With(name string, val Value) Value {
	var fs []Field
	if v.kind == KindObject {
		fs = v.ref.(*Object).fields
	}
	out := make([]Field, 0, len(fs)+1)
	done := false
	for _, f := range fs {
		if !done && f.Key >= name {
			if f.Key != name {
				out = append(out, Field{Key: name, Val: val})
			} else {
				out = append(out, Field{Key: name, Val: val})
				done = true
				continue
			}
			done = true
		}
		out = append(out, f)
	}
	if !done {
		out = append(out, Field{Key: name, Val: val})
	}
	return Value{kind: KindObject, ref: &Object{fields: out}}
}
