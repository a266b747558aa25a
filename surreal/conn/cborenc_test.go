package conn

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/surrealdb/surrealdb.go/pkg/connection"

	"github.com/sp00ky/ssp/surreal/value"
)

// The query request encoder writes what the SDK's encoder writes for the same variables after
// bindVars: both decode to the same CBOR data item (map order aside).
func TestQueryRequestEncodingMatchesTheSDK(t *testing.T) {
	u, _ := url.Parse("ws://127.0.0.1:1")
	conf := connection.NewConfig(u)
	when := time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC)
	rec := func(tb string, k value.Value) value.Value { return value.Record(tb, k) }
	for _, tt := range []struct {
		name string
		vars map[string]any
	}{
		{"no vars", nil},
		{"empty", map[string]any{}},
		{"scalars", map[string]any{"none": value.None(), "null": value.Null(), "t": value.Bool(true), "f": value.Bool(false),
			"small": value.Int(23), "byte": value.Int(24), "neg": value.Int(-1), "neg25": value.Int(-25), "u16": value.Int(65535),
			"u32": value.Int(1 << 31), "big": value.Int(1 << 62), "min": value.Int(-1 << 63), "float": value.Float(0.1), "negf": value.Float(-2.5)}},
		{"strings", map[string]any{"s": value.String(""), "u": value.String("it's ⟩ `x` ünïcode"),
			"long": value.String(strings.Repeat("x", 300)), "longer": value.String(strings.Repeat("y", 70000))}},
		{"time", map[string]any{"dt": value.Datetime(when), "old": value.Datetime(time.Date(1950, 1, 2, 3, 4, 5, 6, time.UTC)),
			"d": value.Duration(36*time.Hour + 5*time.Millisecond + 7), "zero": value.Duration(0), "negd": value.Duration(-1500 * time.Millisecond)}},
		{"records", map[string]any{"int": rec("thread", value.Int(1)), "str": rec("thread", value.String("a b ⟩ c")),
			"arr": rec("_00_list_ref", value.Array([]value.Value{value.String("v"), value.String(""), value.String("thread:1")})),
			"obj": rec("t", value.ObjectOf([]value.Field{{Key: "a", Val: value.Int(1)}}))}},
		{"nested", map[string]any{"row": value.ObjectOf([]value.Field{{Key: "in", Val: rec("_00_query", value.String("v1"))},
			{Key: "gone", Val: value.None()}, {Key: "version", Val: value.Int(3)},
			{Key: "list", Val: value.Array([]value.Value{value.None(), value.Null(), value.Int(1)})}})}},
		{"plain Go", map[string]any{"tb": "_00_list_ref", "n": 5, "n64": int64(-7), "f": 1.5, "b": true, "nil": nil,
			"ss": []string{"a", "b"}, "vs": []value.Value{value.Int(1), value.String("x")},
			"any": []any{"a", value.Int(2), map[string]any{"k": value.String("v")}}, "m": map[string]any{"x": value.Bool(true)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ours, ok := appendQueryRequest(nil, "42", "RETURN $v", tt.vars)
			if !ok {
				t.Fatal("the encoder declined")
			}
			var params []any
			if tt.vars != nil {
				params = []any{"RETURN $v", bindVars(tt.vars)}
			} else {
				params = []any{"RETURN $v", nil}
			}
			sdk, err := conf.Marshaler.Marshal(&connection.RPCRequest{ID: "42", Method: "query", Params: params})
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := cbor.Unmarshal(ours, &got); err != nil {
				t.Fatalf("ours is not CBOR: %v", err)
			}
			if err := cbor.Unmarshal(sdk, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("ours\n%#v\nthe SDK's\n%#v", got, want)
			}
		})
	}
}

// A variable of a type the encoder does not know makes it decline (the SDK then encodes it).
func TestQueryRequestEncodingDeclinesUnknownTypes(t *testing.T) {
	for _, x := range []any{struct{ A int }{1}, time.Now(), []int{1}, map[string]string{"a": "b"}, []any{uint8(1)}} {
		if _, ok := appendQueryRequest(nil, "1", "RETURN $v", map[string]any{"v": x}); ok {
			t.Errorf("%T: encoded, want declined", x)
		}
	}
}
