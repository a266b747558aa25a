package engine

import (
	"math"

	"github.com/sp00ky/ssp/surreal/value"
)

// prefix maps a sort-key value to 64 bits whose unsigned order agrees with value.Compare: if
// prefix(a) < prefix(b) then a orders before b; equal prefixes decide nothing (the full keys
// are compared then). The top byte is the kind's rank in SurrealDB's type order, the rest an
// order-preserving truncation of the value. With textOpaque (COLLATE/NUMERIC terms, whose string
// order is not bytewise) strings carry no payload.
func prefix(v value.Value, textOpaque bool) uint64 {
	r := uint64(value.Rank(v.Kind())) << 56
	switch v.Kind() {
	case value.KindBool:
		if v.AsBool() {
			return r | 1
		}
		return r
	case value.KindInt, value.KindFloat:
		return r | numberBits(v)>>8
	case value.KindString:
		if textOpaque {
			return r
		}
		return r | stringBits(v.AsString())
	case value.KindDuration:
		return r | (uint64(int64(v.AsDuration()))^1<<63)>>8
	case value.KindDatetime:
		return r | (uint64(v.AsTime().UnixNano())^1<<63)>>8
	}
	return r
}

// numberBits is an order-preserving encoding of a number as a float64 (monotone for ints too;
// NaN orders after every number, as value.Compare has it).
func numberBits(v value.Value) uint64 {
	f := v.AsFloat()
	if math.IsNaN(f) {
		return math.MaxUint64
	}
	if f == 0 {
		f = 0 // -0 and +0 are equal
	}
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		return ^b
	}
	return b | 1<<63
}

// stringBits is the first 7 bytes of s, big-endian (bytewise order).
func stringBits(s string) uint64 {
	var b uint64
	for i := 0; i < 7; i++ {
		b <<= 8
		if i < len(s) {
			b |= uint64(s[i])
		}
	}
	return b
}

// idPrefix orders record ids of one table by key (ints, then strings, then arrays, then
// objects), as value.Compare does.
func idPrefix(id value.Value) uint64 {
	k := id.Key()
	switch k.Kind() {
	case value.KindInt, value.KindFloat:
		return numberBits(k) >> 8
	case value.KindString:
		return 1<<56 | stringBits(k.AsString())
	case value.KindArray:
		return 3 << 56
	case value.KindObject:
		return 4 << 56
	}
	return 5 << 56
}
