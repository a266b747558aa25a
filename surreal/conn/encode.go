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
func ToDB(v value.Value) any { return v.ConvertTo(dbLeaf) }

// dbLeaf spells the kinds whose SDK type differs from value.ToAny's plain JSON spelling.
func dbLeaf(v value.Value) (any, bool) {
	switch v.Kind() {
	case value.KindNone:
		return models.None, true
	case value.KindDuration:
		return models.CustomDuration{Duration: v.AsDuration()}, true
	case value.KindDatetime:
		return models.CustomDateTime{Time: v.AsTime()}, true
	case value.KindRecord:
		return models.RecordID{Table: v.Table(), ID: ToDB(v.Key())}, true
	}
	return nil, false
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
