package value

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FromJSON decodes JSON text into a Value: integers (no fraction or exponent) become Int, other
// numbers Float, null NULL, and strings are classified as Datetime or Record where they spell one
// (see the package comment). Objects of exactly {tb, id} or {table, key} become records.
func FromJSON(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return Value{}, fmt.Errorf("decode JSON: %w", err)
	}
	if dec.More() {
		return Value{}, fmt.Errorf("decode JSON: unexpected data after the value")
	}
	return FromAny(raw)
}

// FromAny converts a decoded JSON value (as produced by encoding/json with or without UseNumber)
// into a Value, with the same rules as FromJSON.
func FromAny(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return Null(), nil
	case bool:
		return Bool(t), nil
	case json.Number:
		s := string(t)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Int(i), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Value{}, fmt.Errorf("number %s: %w", s, err)
		}
		return Float(f), nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return Int(int64(t)), nil
		}
		return Float(t), nil
	case int:
		return Int(int64(t)), nil
	case int64:
		return Int(t), nil
	case string:
		return ClassifyString(t), nil
	case []any:
		out := make([]Value, len(t))
		for i, e := range t {
			v, err := FromAny(e)
			if err != nil {
				return Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return Array(out), nil
	case map[string]any:
		if rec, ok := recordObject(t); ok {
			return rec, nil
		}
		fs := make([]Field, 0, len(t))
		for k, e := range t {
			v, err := FromAny(e)
			if err != nil {
				return Value{}, fmt.Errorf("%s: %w", k, err)
			}
			fs = append(fs, Field{Key: k, Val: v})
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
		return Value{kind: KindObject, ref: &Object{fields: fs}}, nil
	case Value:
		return t, nil
	}
	return Value{}, fmt.Errorf("unsupported JSON value of type %T", x)
}

// ClassifyString turns a string from JSON into the spelled Datetime or Record it spells (see
// Spelled), or keeps it a String.
func ClassifyString(s string) Value {
	if len(s) >= 20 && s[4] == '-' {
		if v, ok := ParseDatetime(s); ok {
			return Spelled(v, s)
		}
	}
	if v, ok := ParseRecord(s); ok {
		return Spelled(v, s)
	}
	return String(s)
}

// recordObject recognises the JSON shapes {tb, id} and {table, key} that some serializers use for
// record ids: spelled as the string "tb:id" they stand for (SPEC §1.1).
func recordObject(m map[string]any) (Value, bool) {
	if len(m) != 2 {
		return Value{}, false
	}
	for _, names := range [][2]string{{"tb", "id"}, {"table", "key"}} {
		tb, ok1 := m[names[0]].(string)
		idv, ok2 := m[names[1]]
		if !ok1 || !ok2 || tb == "" {
			continue
		}
		switch id := idv.(type) {
		case string:
			return Spelled(Record(tb, RecordKey(id)), tb+":"+id), true
		case json.Number:
			if i, err := strconv.ParseInt(string(id), 10, 64); err == nil {
				return Spelled(Record(tb, Int(i)), tb+":"+strconv.FormatInt(i, 10)), true
			}
		case float64:
			if id == math.Trunc(id) {
				return Spelled(Record(tb, Int(int64(id))), tb+":"+strconv.FormatInt(int64(id), 10)), true
			}
		}
	}
	return Value{}, false
}

// ToAny converts v into plain Go values for encoding/json: records as `table:key` strings,
// datetimes as RFC 3339 strings, durations as SurrealDB duration strings, NONE as nil.
func (v Value) ToAny() any { return v.ConvertTo(nil) }

// ConvertTo converts v into plain Go values like ToAny, but asks leaf first for every value of
// the tree: when it answers ok, its result stands for that value; otherwise arrays become []any,
// objects map[string]any (NONE fields left out) and other values as ToAny spells them. Use it to
// encode values for another consumer (a database driver, another JSON spelling) without
// repeating the walk.
func (v Value) ConvertTo(leaf func(Value) (any, bool)) any {
	if leaf != nil {
		if x, ok := leaf(v); ok {
			return x
		}
	}
	switch v.kind {
	case KindNone, KindNull:
		return nil
	case KindBool:
		return v.n == 1
	case KindInt:
		return int64(v.n)
	case KindFloat:
		return math.Float64frombits(v.n)
	case KindString:
		return v.s
	case KindDuration:
		return FormatDuration(time.Duration(int64(v.n)))
	case KindDatetime:
		return v.AsTime().Format(time.RFC3339Nano)
	case KindArray:
		out := make([]any, 0, v.Len())
		for _, e := range v.Elems() {
			out = append(out, e.ConvertTo(leaf))
		}
		return out
	case KindObject:
		out := make(map[string]any, v.Len())
		for _, f := range v.Fields() {
			if f.Val.kind == KindNone {
				continue
			}
			out[f.Key] = f.Val.ConvertTo(leaf)
		}
		return out
	case KindRecord:
		return RecordString(v)
	}
	return nil
}

// MarshalJSON encodes v as ToAny describes.
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.ToAny()) }

// HashKey returns a string that is equal for two values exactly when Equal holds for them on the
// kinds used as index keys (numbers by value, strings that spell records as those records). Use it
// to route and index by value.
func HashKey(v Value) string {
	switch v.kind {
	case KindNone:
		return "\x00"
	case KindNull:
		return "\x01"
	case KindBool:
		if v.n == 1 {
			return "\x02t"
		}
		return "\x02f"
	case KindInt:
		return "\x03" + strconv.FormatInt(int64(v.n), 10)
	case KindFloat:
		f := math.Float64frombits(v.n)
		if f == math.Trunc(f) && math.Abs(f) < 9.2e18 {
			return "\x03" + strconv.FormatInt(int64(f), 10)
		}
		return "\x03" + strconv.FormatFloat(f, 'g', -1, 64)
	case KindString:
		if r, ok := ParseRecord(v.s); ok {
			return HashKey(r)
		}
		if d, ok := ParseDatetime(v.s); ok {
			return HashKey(d)
		}
		return "\x04" + v.s
	case KindRecord:
		return "\x0c" + RecordString(v)
	case KindArray:
		var b strings.Builder
		b.WriteString("\x08[")
		for _, e := range v.Elems() {
			b.WriteString(HashKey(e))
			b.WriteByte(0xff)
		}
		return b.String()
	case KindObject:
		var b strings.Builder
		b.WriteString("\x09{")
		for _, f := range v.Fields() {
			b.WriteString(f.Key)
			b.WriteByte(0xfe)
			b.WriteString(HashKey(f.Val))
			b.WriteByte(0xff)
		}
		return b.String()
	}
	return "\x0f" + v.SurQL()
}

// ObjectFromAny converts a decoded JSON object into an object value field by field, so that an
// object which happens to have exactly the fields {tb, id} or {table, key} stays an object (a row
// or a params object; FromAny would read it as a record id).
func ObjectFromAny(m map[string]any) (Value, error) {
	fs := make([]Field, 0, len(m))
	for k, x := range m {
		v, err := FromAny(x)
		if err != nil {
			return Value{}, fmt.Errorf("%s: %w", k, err)
		}
		fs = append(fs, Field{Key: k, Val: v})
	}
	return ObjectOf(fs), nil
}

// JSONKind names the JSON type of a decoded JSON value for error messages ("a string", "an
// object", …).
func JSONKind(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", x)
}
