package conn

import (
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/surreal/value"
)

// ToDB converts v into the Go value the SDK sends as the matching SurrealDB type, for binding
// as a query variable: NONE → models.None, NULL → nil, Int → int64, Float → float64, records →
// models.RecordID (Int keys as int64, String keys as string, Array/Object keys converted),
// datetimes → models.CustomDateTime, durations → models.CustomDuration, arrays → []any,
// objects → map[string]any (NONE fields dropped).
func ToDB(v value.Value) any {
	switch v.Kind() {
	case value.KindNone:
		return models.None
	case value.KindNull:
		return nil
	case value.KindBool:
		return v.AsBool()
	case value.KindInt:
		return v.AsInt()
	case value.KindFloat:
		return v.AsFloat()
	case value.KindString:
		return v.AsString()
	case value.KindDuration:
		return models.CustomDuration{Duration: v.AsDuration()}
	case value.KindDatetime:
		return models.CustomDateTime{Time: v.AsTime()}
	case value.KindArray:
		out := make([]any, 0, v.Len())
		for _, e := range v.Elems() {
			out = append(out, ToDB(e))
		}
		return out
	case value.KindObject:
		out := make(map[string]any, v.Len())
		for _, f := range v.Fields() {
			if f.Val.IsNone() {
				continue
			}
			out[f.Key] = ToDB(f.Val)
		}
		return out
	case value.KindRecord:
		return models.RecordID{Table: v.Table(), ID: ToDB(v.Key())}
	}
	return nil
}

// bindVars returns vars with every value.Value converted by ToDB (recursively inside plain
// maps and slices); other values are passed through unchanged.
func bindVars(vars map[string]any) map[string]any {
	if vars == nil {
		return nil
	}
	out := make(map[string]any, len(vars))
	for k, x := range vars {
		out[k] = bindAny(x)
	}
	return out
}

func bindAny(x any) any {
	switch t := x.(type) {
	case value.Value:
		return ToDB(t)
	case map[string]any:
		return bindVars(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = bindAny(e)
		}
		return out
	case []value.Value:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = ToDB(e)
		}
		return out
	}
	return x
}
