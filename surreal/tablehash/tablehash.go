// Package tablehash computes the per-table content hash of SPEC §6.4, which the SSP reports in
// /info (`circuit_hashes`) and compares with the scheduler's `table_hashes` after a bootstrap.
// Both sides must produce it byte for byte, so the encoding is fixed here in detail:
//
//   - Each row is reduced to (raw id, canonical JSON). The raw id is the row's `id` spelled as
//     SurrealDB 3 prints it (`thread:abc`, “thread:`a-b`”, `thread:⟨a-b⟩` from older
//     senders) without the `table:` prefix and with every `⟨`, `⟩` and backtick removed.
//   - The row loses its top-level keys starting with `_00_` and its top-level keys whose value is
//     NULL or NONE; its `id` field is written as `table:rawid` (the same normalisation).
//   - Rows are sorted by raw id bytes; BLAKE3 runs over, per row: raw id bytes, 0x00, canonical
//     JSON, 0x00. The result is "b3:" + the 32-byte digest in lowercase hex.
//
// Canonical JSON is what serde_json prints for the row: no whitespace, object keys sorted
// bytewise, integers as digits, floats in shortest round-trip form as the ryu crate writes them
// (`1.0`, `0.1`, `1e20`, `1.5e-7`, `0.0001`), non-finite floats as null, strings escaped as
// serde_json escapes them (only `"`, `\` and control characters; `\b \t \n \f \r` short,
// others `\u00xx` with lowercase hex; non-ASCII bytes raw, no HTML escaping).
// Values that JSON lacks are written as SurrealDB serialises them to JSON: record ids as their
// SurrealDB 3 text (“table:`key`” for keys that are not plain), datetimes as RFC 3339 in UTC
// with 0, 3, 6 or 9 fractional digits (chrono's AutoSi, as SurrealDB prints them), durations in
// SurrealDB's compact form (`1h30m`). Inside objects NONE fields are absent; inside arrays NONE
// is null.
package tablehash

import (
	"bytes"
	"encoding/hex"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/sp00ky/ssp/surreal/value"
)

// Prefix starts every hash this package returns.
const Prefix = "b3:"

// Hash returns the table hash of rows (objects of table; SPEC §6.4). Rows may come in any order.
// A row whose `id` is not a record id nor a string keeps the raw id "" (such rows cannot come
// from SurrealDB; they are hashed rather than dropped so that a difference still shows).
func Hash(table string, rows []value.Value) string {
	type entry struct {
		raw  string
		body []byte
	}
	entries := make([]entry, 0, len(rows))
	for _, row := range rows {
		raw := RawID(table, row.Get("id"))
		entries = append(entries, entry{raw: raw, body: CanonicalRow(table, row)})
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].raw != entries[j].raw {
			return entries[i].raw < entries[j].raw
		}
		return bytes.Compare(entries[i].body, entries[j].body) < 0
	})
	h := blake3.New()
	sep := []byte{0}
	for _, e := range entries {
		_, _ = h.Write([]byte(e.raw))
		_, _ = h.Write(sep)
		_, _ = h.Write(e.body)
		_, _ = h.Write(sep)
	}
	return Prefix + hex.EncodeToString(h.Sum(nil))
}

// RawID returns the raw id of a row id (a record id or its text form): the id without its
// `table:` prefix, with `⟨`, `⟩` and backticks removed. A record of another table, or text
// without the prefix, loses everything up to the first `:` after its table part.
func RawID(table string, id value.Value) string {
	var text string
	switch id.Kind() {
	case value.KindRecord:
		text = recordText(id)
	case value.KindString:
		text = id.AsString()
	default:
		return ""
	}
	for _, prefix := range []string{table + ":", "`" + table + "`:", "⟨" + table + "⟩:"} {
		if table != "" && strings.HasPrefix(text, prefix) {
			return stripQuotes(text[len(prefix):])
		}
	}
	if i := strings.IndexByte(text, ':'); i >= 0 {
		text = text[i+1:]
	}
	return stripQuotes(text)
}

func stripQuotes(s string) string {
	if !strings.ContainsAny(s, "⟨⟩`") {
		return s
	}
	return strings.NewReplacer("⟨", "", "⟩", "", "`", "").Replace(s)
}

// CanonicalRow returns the canonical JSON of one row as hashed: top-level `_00_*`, NULL and NONE
// fields dropped, `id` normalised to `table:rawid`. A row that is not an object is encoded as is.
func CanonicalRow(table string, row value.Value) []byte {
	var b []byte
	if row.Kind() != value.KindObject {
		return appendJSON(b, row)
	}
	b = append(b, '{')
	first := true
	for _, f := range row.Fields() { // sorted bytewise by key
		if strings.HasPrefix(f.Key, "_00_") || f.Val.IsNullish() {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, f.Key)
		b = append(b, ':')
		if f.Key == "id" && (f.Val.Kind() == value.KindRecord || f.Val.Kind() == value.KindString) {
			tb := table
			if f.Val.Kind() == value.KindRecord {
				tb = f.Val.Table()
			}
			b = appendString(b, tb+":"+RawID(tb, f.Val))
			continue
		}
		b = appendJSON(b, f.Val)
	}
	return append(b, '}')
}

// CanonicalJSON returns v encoded as the package comment describes (no top-level stripping).
func CanonicalJSON(v value.Value) []byte { return appendJSON(nil, v) }

func appendJSON(b []byte, v value.Value) []byte {
	switch v.Kind() {
	case value.KindNone, value.KindNull:
		return append(b, "null"...)
	case value.KindBool:
		return strconv.AppendBool(b, v.AsBool())
	case value.KindInt:
		return strconv.AppendInt(b, v.AsInt(), 10)
	case value.KindFloat:
		return AppendFloat(b, v.AsFloat())
	case value.KindString:
		return appendString(b, v.AsString())
	case value.KindDuration:
		return appendString(b, value.FormatDuration(v.AsDuration()))
	case value.KindDatetime:
		return appendString(b, FormatDatetime(v.AsTime()))
	case value.KindRecord:
		return appendString(b, recordText(v))
	case value.KindArray:
		b = append(b, '[')
		for i, e := range v.Elems() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case value.KindObject:
		b = append(b, '{')
		first := true
		for _, f := range v.Fields() {
			if f.Val.IsNone() {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, f.Key)
			b = append(b, ':')
			b = appendJSON(b, f.Val)
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

// AppendFloat appends f as serde_json prints an f64 (ryu's shortest round-trip format): a
// decimal point always present in plain notation (`1.0`, `12.5`, `0.001`), plain notation for
// magnitudes in [1e-5, 1e16), otherwise `de±x`/`d.ddde±x` without a `+` (`1e16`, `1.5e-7`);
// `-0.0` keeps its sign; NaN and ±Inf as `null`.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	// Shortest digits and exponent from Go (same shortest-round-trip digits as ryu).
	e := strconv.FormatFloat(f, 'e', -1, 64) // "-d.ddde±XX"
	if e[0] == '-' {
		b = append(b, '-')
		e = e[1:]
	}
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	length := len(digits)
	kk := exp + 1 // the decimal point sits after kk digits: 10^(kk-1) <= |f| < 10^kk
	k := kk - length
	switch {
	case k >= 0 && kk <= 16: // 1234e7 -> 12340000000.0
		b = append(b, digits...)
		for i := length; i < kk; i++ {
			b = append(b, '0')
		}
		return append(b, ".0"...)
	case kk > 0 && kk <= 16: // 1234e-2 -> 12.34
		b = append(b, digits[:kk]...)
		b = append(b, '.')
		return append(b, digits[kk:]...)
	case kk > -5 && kk <= 0: // 1234e-6 -> 0.001234
		b = append(b, "0."...)
		for i := kk; i < 0; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	case length == 1: // 1e30
		b = append(b, digits[0], 'e')
		return strconv.AppendInt(b, int64(kk-1), 10)
	default: // 1234e30 -> 1.234e33
		b = append(b, digits[0], '.')
		b = append(b, digits[1:]...)
		b = append(b, 'e')
		return strconv.AppendInt(b, int64(kk-1), 10)
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string with serde_json's escaping.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\f':
			b = append(b, `\f`...)
		case '\r':
			b = append(b, `\r`...)
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// FormatDatetime renders t as SurrealDB prints a datetime: RFC 3339 in UTC with `Z` and 0, 3, 6
// or 9 fractional digits, the fewest that hold the value exactly.
func FormatDatetime(t time.Time) string {
	t = t.UTC()
	layout := "2006-01-02T15:04:05Z07:00"
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1_000_000 == 0:
		layout = "2006-01-02T15:04:05.000Z07:00"
	case ns%1_000 == 0:
		layout = "2006-01-02T15:04:05.000000Z07:00"
	default:
		layout = "2006-01-02T15:04:05.000000000Z07:00"
	}
	return t.Format(layout)
}

// recordText spells a record id as SurrealDB 3 prints it: `table:key` with an integer key as
// digits, a key of only letters, digits and `_` (not all digits) bare, and any other key (or
// table name) between backticks with “\” and “`” escaped. Array and object keys use their
// SurrealQL literal.
func recordText(v value.Value) string {
	tb := v.Table()
	if !isPlain(tb) || isDigits(tb) {
		tb = quote(tb)
	}
	k := v.Key()
	switch k.Kind() {
	case value.KindInt:
		return tb + ":" + strconv.FormatInt(k.AsInt(), 10)
	case value.KindString:
		s := k.AsString()
		if isPlain(s) && !isDigits(s) {
			return tb + ":" + s
		}
		return tb + ":" + quote(s)
	}
	return tb + ":" + k.SurQL()
}

func quote(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

func isPlain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
