package difftest

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/surreal/value"
)

// toSurreal converts v into the Go types the SurrealDB SDK encodes as SurrealDB's own types:
// records as *models.RecordID, datetimes as *models.CustomDateTime, durations as
// *models.CustomDuration, NONE as models.None. Object fields holding NONE are dropped, as
// SurrealDB drops them.
func toSurreal(v value.Value) (any, error) {
	switch v.Kind() {
	case value.KindNone:
		return models.None, nil
	case value.KindNull:
		return nil, nil
	case value.KindBool:
		return v.AsBool(), nil
	case value.KindInt:
		return v.AsInt(), nil
	case value.KindFloat:
		return v.AsFloat(), nil
	case value.KindString:
		return v.AsString(), nil
	case value.KindDuration:
		return &models.CustomDuration{Duration: v.AsDuration()}, nil
	case value.KindDatetime:
		return &models.CustomDateTime{Time: v.AsTime()}, nil
	case value.KindArray:
		out := make([]any, 0, v.Len())
		for i, e := range v.Elems() {
			x, err := toSurreal(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out = append(out, x)
		}
		return out, nil
	case value.KindObject:
		out := make(map[string]any, v.Len())
		for _, f := range v.Fields() {
			if f.Val.IsNone() {
				continue
			}
			x, err := toSurreal(f.Val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Key, err)
			}
			out[f.Key] = x
		}
		return out, nil
	case value.KindRecord:
		k := v.Key()
		switch k.Kind() {
		case value.KindInt:
			return &models.RecordID{Table: v.Table(), ID: k.AsInt()}, nil
		case value.KindString:
			return &models.RecordID{Table: v.Table(), ID: k.AsString()}, nil
		}
		return nil, fmt.Errorf("record %s: only integer and string keys are supported", value.RecordString(v))
	}
	return nil, fmt.Errorf("unsupported value kind %s", v.Kind())
}

// fromSurreal converts a value decoded by the SurrealDB SDK (surrealcbor into `any`) into a
// value.Value with SurrealDB's real types: records stay records, datetimes datetimes. NONE and
// NULL both decode to nil in the SDK; nil becomes NULL here.
func fromSurreal(x any) (value.Value, error) {
	switch t := x.(type) {
	case nil:
		return value.Null(), nil
	case models.CustomNil, *models.CustomNil:
		return value.None(), nil
	case bool:
		return value.Bool(t), nil
	case int:
		return value.Int(int64(t)), nil
	case int8:
		return value.Int(int64(t)), nil
	case int16:
		return value.Int(int64(t)), nil
	case int32:
		return value.Int(int64(t)), nil
	case int64:
		return value.Int(t), nil
	case uint8:
		return value.Int(int64(t)), nil
	case uint16:
		return value.Int(int64(t)), nil
	case uint32:
		return value.Int(int64(t)), nil
	case uint64:
		if t > math.MaxInt64 {
			return value.None(), fmt.Errorf("integer %d out of range", t)
		}
		return value.Int(int64(t)), nil
	case float32:
		return value.Float(float64(t)), nil
	case float64:
		return value.Float(t), nil
	case string:
		return value.String(t), nil
	case models.DecimalString:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return value.None(), fmt.Errorf("decimal %q: %w", string(t), err)
		}
		return value.Float(f), nil
	case time.Time:
		return value.Datetime(t), nil
	case models.CustomDateTime:
		return value.Datetime(t.Time), nil
	case *models.CustomDateTime:
		return value.Datetime(t.Time), nil
	case models.CustomDuration:
		return value.Duration(t.Duration), nil
	case *models.CustomDuration:
		return value.Duration(t.Duration), nil
	case models.CustomDurationString:
		d, err := value.ParseDuration(string(t))
		if err != nil {
			return value.None(), err
		}
		return value.Duration(d), nil
	case models.RecordID:
		return recordFromSurreal(t)
	case *models.RecordID:
		return recordFromSurreal(*t)
	case []any:
		out := make([]value.Value, len(t))
		for i, e := range t {
			v, err := fromSurreal(e)
			if err != nil {
				return value.None(), fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return value.Array(out), nil
	case map[string]any:
		fs := make([]value.Field, 0, len(t))
		for k, e := range t {
			v, err := fromSurreal(e)
			if err != nil {
				return value.None(), fmt.Errorf("%s: %w", k, err)
			}
			fs = append(fs, value.Field{Key: k, Val: v})
		}
		return value.ObjectOf(fs), nil
	case map[any]any:
		fs := make([]value.Field, 0, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				return value.None(), fmt.Errorf("object key %v of type %T is not a string", k, k)
			}
			v, err := fromSurreal(e)
			if err != nil {
				return value.None(), fmt.Errorf("%s: %w", ks, err)
			}
			fs = append(fs, value.Field{Key: ks, Val: v})
		}
		return value.ObjectOf(fs), nil
	}
	return value.None(), fmt.Errorf("unsupported SurrealDB value of type %T", x)
}

func recordFromSurreal(r models.RecordID) (value.Value, error) {
	k, err := fromSurreal(r.ID)
	if err != nil {
		return value.None(), fmt.Errorf("record key of %s: %w", r.Table, err)
	}
	switch k.Kind() {
	case value.KindInt, value.KindString:
		return value.Record(r.Table, k), nil
	}
	return value.None(), fmt.Errorf("record %s:%v: only integer and string keys are supported", r.Table, r.ID)
}

// toJSONAny renders v the way SurrealDB's JSON (and so Sp00ky's schema events) delivers it:
// records as `table:key` strings in SurrealDB 3's spelling (surrealRecordText), datetimes as
// RFC 3339 strings, NULL as null; NONE object fields are left out.
func toJSONAny(v value.Value) any {
	return v.ConvertTo(func(v value.Value) (any, bool) {
		if v.Kind() == value.KindRecord {
			return surrealRecordText(v), true
		}
		return nil, false
	})
}

// surrealRecordText spells a record id as SurrealDB 3 prints it (`<string> id`): an integer key as
// digits, a key of letters, digits and underscores that is not all digits bare, any other key
// inside backticks (SurrealDB 2 used ⟨…⟩; both parse).
func surrealRecordText(v value.Value) string {
	tb := v.Table()
	if !plainIdent(tb) {
		tb = "`" + escapeTicks(tb) + "`"
	}
	k := v.Key()
	switch k.Kind() {
	case value.KindInt:
		return tb + ":" + strconv.FormatInt(k.AsInt(), 10)
	case value.KindString:
		s := k.AsString()
		if plainIdent(s) || (plainKey(s) && !allDigits(s)) {
			return tb + ":" + s
		}
		return tb + ":`" + escapeTicks(s) + "`"
	}
	return value.RecordString(v)
}

func escapeTicks(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "`", "\\`")
}

func plainIdent(s string) bool {
	return plainKey(s) && (s[0] < '0' || s[0] > '9')
}

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
