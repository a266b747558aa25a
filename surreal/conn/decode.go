package conn

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/surrealdb/surrealdb.go/pkg/models"

	"github.com/sp00ky/ssp/surreal/value"
)

// SurrealDB's CBOR tags (https://surrealdb.com/docs/surrealdb/integration/cbor).
const (
	tagDatetimeString = 0
	tagNone           = 6
	tagTable          = 7
	tagRecordID       = 8
	tagUUIDString     = 9
	tagDecimalString  = 10
	tagDatetime       = 12
	tagDurationString = 13
	tagDuration       = 14
	tagFuture         = 15
	tagUUIDBinary     = 37
)

// Decode converts one CBOR-encoded SurrealDB value (a statement's result as the RPC protocol
// sends it) into a value.Value: NONE stays NONE (and fields holding NONE are dropped), NULL
// becomes NULL, record ids become records with Int/String/Array/Object keys, datetimes and
// durations keep their kinds, every integer becomes Int and every float Float. Decimals become
// Float, UUIDs and table names String.
func Decode(raw []byte) (value.Value, error) {
	if len(raw) == 0 {
		return value.None(), nil
	}
	var x any
	if err := cbor.Unmarshal(raw, &x); err != nil {
		return value.Value{}, fmt.Errorf("decode surrealdb result: %w", err)
	}
	v, err := fromCBOR(x)
	if err != nil {
		return value.Value{}, fmt.Errorf("decode surrealdb result: %w", err)
	}
	return v, nil
}

func fromCBOR(x any) (value.Value, error) {
	switch t := x.(type) {
	case cbor.Tag:
		return fromTag(t)
	case map[any]any:
		fs := make([]value.Field, 0, len(t))
		for k, e := range t {
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(k)
			}
			if tg, ok := e.(cbor.Tag); ok && tg.Number == tagNone {
				continue
			}
			v, err := fromCBOR(e)
			if err != nil {
				return value.Value{}, fmt.Errorf("field %s: %w", ks, err)
			}
			fs = append(fs, value.Field{Key: ks, Val: v})
		}
		return value.ObjectOf(fs), nil
	case []any:
		out := make([]value.Value, len(t))
		for i, e := range t {
			v, err := fromCBOR(e)
			if err != nil {
				return value.Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return value.Array(out), nil
	}
	return fromScalar(x)
}

// fromScalar converts the plain Go scalars both decoders produce.
func fromScalar(x any) (value.Value, error) {
	switch t := x.(type) {
	case nil:
		return value.Null(), nil
	case bool:
		return value.Bool(t), nil
	case uint64:
		if t > math.MaxInt64 {
			return value.Float(float64(t)), nil
		}
		return value.Int(int64(t)), nil
	case int64:
		return value.Int(t), nil
	case int:
		return value.Int(int64(t)), nil
	case uint32:
		return value.Int(int64(t)), nil
	case int32:
		return value.Int(int64(t)), nil
	case float64:
		return value.Float(t), nil
	case float32:
		return value.Float(float64(t)), nil
	case string:
		return value.String(t), nil
	case []byte:
		return value.String(string(t)), nil
	case time.Time:
		return value.Datetime(t), nil
	case big.Int:
		f, _ := new(big.Float).SetInt(&t).Float64()
		return value.Float(f), nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(t).Float64()
		return value.Float(f), nil
	}
	return value.Value{}, fmt.Errorf("unsupported value of Go type %T", x)
}

func fromTag(t cbor.Tag) (value.Value, error) {
	switch t.Number {
	case tagNone:
		return value.None(), nil
	case tagRecordID:
		return recordFromCBOR(t.Content)
	case tagDatetime:
		secs, nanos, err := pair(t.Content)
		if err != nil {
			return value.Value{}, fmt.Errorf("datetime: %w", err)
		}
		return value.Datetime(time.Unix(secs, nanos).UTC()), nil
	case tagDuration:
		secs, nanos, err := pair(t.Content)
		if err != nil {
			return value.Value{}, fmt.Errorf("duration: %w", err)
		}
		return value.Duration(time.Duration(secs)*time.Second + time.Duration(nanos)), nil
	case tagDatetimeString:
		s, _ := t.Content.(string)
		if v, ok := value.ParseDatetime(s); ok {
			return v, nil
		}
		return value.String(s), nil
	case tagDurationString:
		s, _ := t.Content.(string)
		d, err := value.ParseDuration(s)
		if err != nil {
			return value.String(s), nil
		}
		return value.Duration(d), nil
	case tagDecimalString:
		s, _ := t.Content.(string)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return value.Float(f), nil
		}
		return value.String(s), nil
	case tagTable, tagUUIDString:
		s, _ := t.Content.(string)
		return value.String(s), nil
	case tagUUIDBinary:
		b, ok := t.Content.([]byte)
		if !ok || len(b) != 16 {
			return value.Value{}, fmt.Errorf("uuid: unexpected content %T", t.Content)
		}
		h := hex.EncodeToString(b)
		return value.String(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]), nil
	}
	// Futures, ranges, geometries and unknown tags: keep the content.
	return fromCBOR(t.Content)
}

// pair reads SurrealDB's [seconds, nanoseconds] encoding (either element may be omitted).
func pair(x any) (int64, int64, error) {
	arr, ok := x.([]any)
	if !ok || len(arr) > 2 {
		return 0, 0, fmt.Errorf("want [seconds, nanoseconds], got %T", x)
	}
	var out [2]int64
	for i, e := range arr {
		v, err := fromScalar(e)
		if err != nil || v.Kind() != value.KindInt {
			return 0, 0, fmt.Errorf("want integer, got %T", e)
		}
		out[i] = v.AsInt()
	}
	return out[0], out[1], nil
}

func recordFromCBOR(x any) (value.Value, error) {
	switch t := x.(type) {
	case []any:
		if len(t) != 2 {
			return value.Value{}, fmt.Errorf("record id: want [table, key], got %d elements", len(t))
		}
		tb, ok := t[0].(string)
		if !ok {
			if tg, isTag := t[0].(cbor.Tag); isTag && tg.Number == tagTable {
				tb, ok = tg.Content.(string)
			}
		}
		if !ok {
			return value.Value{}, fmt.Errorf("record id: table of type %T", t[0])
		}
		key, err := fromCBOR(t[1])
		if err != nil {
			return value.Value{}, fmt.Errorf("record id key: %w", err)
		}
		return value.Record(tb, key), nil
	case string:
		if v, ok := value.ParseRecord(t); ok {
			return v, nil
		}
		return value.Value{}, fmt.Errorf("record id: cannot parse %q", t)
	}
	return value.Value{}, fmt.Errorf("record id: unexpected content %T", x)
}

// FromSDK converts a value the SDK decoded itself (surrealdb.Query[any], live notifications)
// into a value.Value. The SDK decodes NONE as nil, so NONE arrives as NULL here.
func FromSDK(x any) (value.Value, error) {
	switch t := x.(type) {
	case value.Value:
		return t, nil
	case models.RecordID:
		key, err := FromSDK(t.ID)
		if err != nil {
			return value.Value{}, fmt.Errorf("record id key: %w", err)
		}
		return value.Record(t.Table, key), nil
	case *models.RecordID:
		if t == nil {
			return value.Null(), nil
		}
		return FromSDK(*t)
	case models.CustomDateTime:
		return value.Datetime(t.Time), nil
	case *models.CustomDateTime:
		if t == nil {
			return value.Null(), nil
		}
		return value.Datetime(t.Time), nil
	case models.CustomDuration:
		return value.Duration(t.Duration), nil
	case *models.CustomDuration:
		if t == nil {
			return value.Null(), nil
		}
		return value.Duration(t.Duration), nil
	case models.CustomDurationString:
		return fromTag(cbor.Tag{Number: tagDurationString, Content: string(t)})
	case models.DecimalString:
		return fromTag(cbor.Tag{Number: tagDecimalString, Content: string(t)})
	case models.Table:
		return value.String(string(t)), nil
	case models.UUIDString:
		return value.String(string(t)), nil
	case models.UUID:
		return value.String(t.String()), nil
	case models.CustomNil, *models.CustomNil:
		return value.None(), nil
	case cbor.Tag:
		return fromTag(t)
	case map[string]any:
		fs := make([]value.Field, 0, len(t))
		for k, e := range t {
			v, err := FromSDK(e)
			if err != nil {
				return value.Value{}, fmt.Errorf("field %s: %w", k, err)
			}
			fs = append(fs, value.Field{Key: k, Val: v})
		}
		return value.ObjectOf(fs), nil
	case map[any]any:
		return fromCBOR(t)
	case []any:
		out := make([]value.Value, len(t))
		for i, e := range t {
			v, err := FromSDK(e)
			if err != nil {
				return value.Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return value.Array(out), nil
	}
	return fromScalar(x)
}
