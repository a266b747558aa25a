package conn

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/sp00ky/ssp/surreal/value"
)

// The request encoder of the query path: it writes the CBOR of a `query` RPC request straight
// from value.Value and plain Go values, in the spelling the SDK's reflection-based encoder
// gives the same variables after ToDB (SurrealDB's CBOR tags: 6 NONE, 8 record id [table, key],
// 12 datetime [seconds, nanoseconds], 14 duration [seconds, nanoseconds]). It exists for cost:
// the SDK's encoder took a third of the edge writer's CPU (issue 10). A variable of a type it
// does not know makes it decline, and the caller uses the SDK.

// CBOR major types and simple values.
const (
	cborUint   = 0 << 5
	cborNeg    = 1 << 5
	cborText   = 3 << 5
	cborArray  = 4 << 5
	cborMap    = 5 << 5
	cborTag    = 6 << 5
	cborFalse  = 0xf4
	cborTrue   = 0xf5
	cborNull   = 0xf6
	cborDouble = 0xfb
)

// appendQueryRequest appends the request {"id": id, "method": "query", "params": [surql,
// vars]} to buf; false when vars hold a value it cannot encode (buf is then of no use).
func appendQueryRequest(buf []byte, id, surql string, vars map[string]any) ([]byte, bool) {
	buf = appendHead(buf, cborMap, 3)
	buf = appendText(buf, "id")
	buf = appendText(buf, id)
	buf = appendText(buf, "method")
	buf = appendText(buf, "query")
	buf = appendText(buf, "params")
	buf = appendHead(buf, cborArray, 2)
	buf = appendText(buf, surql)
	if vars == nil {
		return append(buf, cborNull), true
	}
	return appendVars(buf, vars)
}

func appendVars(buf []byte, vars map[string]any) ([]byte, bool) {
	buf = appendHead(buf, cborMap, uint64(len(vars)))
	for k, x := range vars {
		buf = appendText(buf, k)
		var ok bool
		if buf, ok = appendAny(buf, x); !ok {
			return buf, false
		}
	}
	return buf, true
}

// appendAny encodes a variable as bindAny and the SDK would.
func appendAny(buf []byte, x any) ([]byte, bool) {
	switch t := x.(type) {
	case value.Value:
		return appendValue(buf, t), true
	case CBORAppender:
		return t.AppendCBOR(buf), true
	case nil:
		return append(buf, cborNull), true
	case string:
		return appendText(buf, t), true
	case bool:
		if t {
			return append(buf, cborTrue), true
		}
		return append(buf, cborFalse), true
	case int:
		return appendInt(buf, int64(t)), true
	case int64:
		return appendInt(buf, t), true
	case float64:
		return appendFloat(buf, t), true
	case []string:
		buf = appendHead(buf, cborArray, uint64(len(t)))
		for _, s := range t {
			buf = appendText(buf, s)
		}
		return buf, true
	case []value.Value:
		buf = appendHead(buf, cborArray, uint64(len(t)))
		for _, e := range t {
			buf = appendValue(buf, e)
		}
		return buf, true
	case []any:
		buf = appendHead(buf, cborArray, uint64(len(t)))
		for _, e := range t {
			var ok bool
			if buf, ok = appendAny(buf, e); !ok {
				return buf, false
			}
		}
		return buf, true
	case map[string]any:
		return appendVars(buf, t)
	}
	return buf, false
}

// appendValue encodes v as the SDK encodes ToDB(v).
func appendValue(buf []byte, v value.Value) []byte {
	switch v.Kind() {
	case value.KindNone:
		return append(appendHead(buf, cborTag, tagNone), cborNull)
	case value.KindNull:
		return append(buf, cborNull)
	case value.KindBool:
		if v.AsBool() {
			return append(buf, cborTrue)
		}
		return append(buf, cborFalse)
	case value.KindInt:
		return appendInt(buf, v.AsInt())
	case value.KindFloat:
		return appendFloat(buf, v.AsFloat())
	case value.KindString:
		return appendText(buf, v.AsString())
	case value.KindDuration:
		d := v.AsDuration()
		return appendPair(appendHead(buf, cborTag, tagDuration), int64(d/time.Second), int64(d%time.Second))
	case value.KindDatetime:
		t := v.AsTime()
		if t.IsZero() {
			return append(appendHead(buf, cborTag, tagNone), cborNull)
		}
		return appendPair(appendHead(buf, cborTag, tagDatetime), t.Unix(), int64(t.Nanosecond()))
	case value.KindArray:
		es := v.Elems()
		buf = appendHead(buf, cborArray, uint64(len(es)))
		for _, e := range es {
			buf = appendValue(buf, e)
		}
		return buf
	case value.KindObject:
		fs := v.Fields()
		n := 0
		for _, f := range fs {
			if f.Val.Kind() != value.KindNone {
				n++
			}
		}
		buf = appendHead(buf, cborMap, uint64(n))
		for _, f := range fs {
			if f.Val.Kind() == value.KindNone {
				continue // ToDB drops NONE fields
			}
			buf = appendText(buf, f.Key)
			buf = appendValue(buf, f.Val)
		}
		return buf
	case value.KindRecord:
		buf = appendHead(appendHead(buf, cborTag, tagRecordID), cborArray, 2)
		buf = appendText(buf, v.Table())
		return appendValue(buf, v.Key())
	}
	return append(buf, cborNull)
}

func appendPair(buf []byte, a, b int64) []byte {
	return appendInt(appendInt(appendHead(buf, cborArray, 2), a), b)
}

func appendText(buf []byte, s string) []byte {
	return append(appendHead(buf, cborText, uint64(len(s))), s...)
}

func appendInt(buf []byte, n int64) []byte {
	if n >= 0 {
		return appendHead(buf, cborUint, uint64(n))
	}
	return appendHead(buf, cborNeg, uint64(-(n + 1)))
}

func appendFloat(buf []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(buf, cborDouble), math.Float64bits(f))
}

// appendHead appends a CBOR item head: the major type and the argument n, shortest form.
func appendHead(buf []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(buf, major|byte(n))
	case n <= math.MaxUint8:
		return append(buf, major|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(buf, major|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(buf, major|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(buf, major|27), n)
}

// CBORAppender is a query variable that writes its own CBOR, in SurrealDB's spelling (use
// CBOR): the query path appends it as it is. It must also satisfy the SDK's encoder, which
// calls MarshalCBOR when a query goes through it.
type CBORAppender interface {
	AppendCBOR(buf []byte) []byte
	MarshalCBOR() ([]byte, error)
}

// CBOR appends SurrealDB CBOR data items to B, for a CBORAppender.
type CBOR struct{ B []byte }

// Map starts a map of n pairs (n keys, each followed by its value).
func (c *CBOR) Map(n int) { c.B = appendHead(c.B, cborMap, uint64(n)) }

// Array starts an array of n items.
func (c *CBOR) Array(n int) { c.B = appendHead(c.B, cborArray, uint64(n)) }

// Text appends a string.
func (c *CBOR) Text(s string) { c.B = appendText(c.B, s) }

// Int appends an integer.
func (c *CBOR) Int(n int64) { c.B = appendInt(c.B, n) }

// Value appends v as a bound value.Value variable is sent.
func (c *CBOR) Value(v value.Value) { c.B = appendValue(c.B, v) }

// Record starts a record id of table: its key (one item) follows.
func (c *CBOR) Record(table string) {
	c.B = appendText(appendHead(appendHead(c.B, cborTag, tagRecordID), cborArray, 2), table)
}
