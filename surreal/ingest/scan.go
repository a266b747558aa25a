package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sp00ky/ssp/surreal/value"
)

// maxDepth is encoding/json's limit of nested objects and arrays (the body's object counts).
const maxDepth = 10000

// kind is the JSON type of a value; absent is the zero kind.
type kind uint8

const (
	absent kind = iota
	jsonNull
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// String names the kind as value.JSONKind names a decoded value ("a string", "an object", …).
func (k kind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonBool:
		return "a boolean"
	case jsonNumber:
		return "a number"
	case jsonString:
		return "a string"
	case jsonArray:
		return "an array"
	case jsonObject:
		return "an object"
	}
	return "nothing"
}

// kindAt is the kind of the value that starts with c (absent: no value starts so).
func kindAt(c byte) kind {
	switch {
	case c == '"':
		return jsonString
	case c == '{':
		return jsonObject
	case c == '[':
		return jsonArray
	case c == 't' || c == 'f':
		return jsonBool
	case c == 'n':
		return jsonNull
	case c == '-' || c >= '0' && c <= '9':
		return jsonNumber
	}
	return absent
}

// decoder reads JSON text b from i. A syntax error stops it (err); a value that is valid JSON but
// has no value.Value (a number beyond float64) is a conversion error returned with the value, so
// that a later equal key can still replace it and a syntax error further on still takes
// precedence, as with encoding/json followed by value.FromAny. Decoders are pooled with their
// scratch stacks.
type decoder struct {
	b     []byte
	i     int
	depth int
	err   error
	fs    []value.Field // fields of the objects being read, innermost last
	vs    []value.Value // elements of the arrays being read, innermost last
	buf   []byte        // an unquoted string
	// dup is the first key found twice in one object (the body's, or one in the record);
	// hasDup says there is one.
	dup    string
	hasDup bool
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// release drops every reference into the body and the values read, and pools d.
func (d *decoder) release() {
	clear(d.fs)
	clear(d.vs)
	d.fs, d.vs = d.fs[:0], d.vs[:0]
	if cap(d.fs) > 1024 || cap(d.vs) > 1024 || cap(d.buf) > 64<<10 {
		return // let a decoder that read a huge body go
	}
	d.b, d.i, d.depth, d.err = nil, 0, 0, nil
	d.dup, d.hasDup = "", false
	decoders.Put(d)
}

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// fail records a syntax error at d.i in encoding/json's words: the byte there and what was
// expected, or the end of the input.
func (d *decoder) fail(context string) {
	if d.err != nil {
		return
	}
	if d.i >= len(d.b) {
		d.err = errors.New("unexpected end of JSON input " + context)
		return
	}
	d.err = fmt.Errorf("invalid character %s %s at offset %d", quoteChar(d.b[d.i]), context, d.i)
}

// quoteChar renders byte c of an error message as encoding/json does: in single quotes, escaped
// as a Go rune literal.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

// push enters an object or array.
func (d *decoder) push() bool {
	d.depth++
	if d.depth > maxDepth {
		d.err = fmt.Errorf("exceeded max depth (%d nested objects and arrays) at offset %d", maxDepth, d.i)
		return false
	}
	return true
}

// trailing reports whether anything but white space follows the top-level value.
func (d *decoder) trailing() bool {
	if d.err != nil {
		return false
	}
	d.space()
	return d.i < len(d.b)
}

// value reads any value as value.FromAny converts encoding/json's reading of it.
func (d *decoder) value() (value.Value, error) {
	switch c := d.peek(); {
	case c == '"':
		return value.ClassifyString(string(d.rawString())), nil
	case c == '{':
		return d.object(false)
	case c == '[':
		return d.array()
	case c == 't':
		d.literal("true")
		return value.Bool(true), nil
	case c == 'f':
		d.literal("false")
		return value.Bool(false), nil
	case c == 'n':
		d.literal("null")
		return value.Null(), nil
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	d.fail("looking for beginning of value")
	return value.Value{}, nil
}

// Indexes of the fields of the record-id shapes {tb, id} and {table, key} in recordParts.
const (
	partTb = iota
	partID
	partTable
	partKey
	noPart = -1
)

func partOf(key string) int {
	switch key {
	case "tb":
		return partTb
	case "id":
		return partID
	case "table":
		return partTable
	case "key":
		return partKey
	}
	return noPart
}

// recordParts holds, for each field name of the record-id shapes, whether its last value was a
// JSON string and which (strings are classified on reading, so the text is kept here).
type recordParts [4]struct {
	isString bool
	s        string
}

// badField is a field whose value has a conversion error.
type badField struct {
	at  int // index among the object's fields
	err error
}

// object reads the object at d.i. The ingest's record (top) stays an object, as
// value.ObjectFromAny keeps it; a nested object of exactly the fields {tb, id} or {table, key} is
// the record id it spells, as value.FromAny reads it. The error is the conversion error of the
// first field (in the text) that no later equal key replaces.
func (d *decoder) object(top bool) (value.Value, error) {
	if !d.push() {
		return value.Value{}, nil
	}
	d.i++
	base := len(d.fs)
	var parts recordParts
	var bad []badField
	d.space()
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			d.space()
			if d.peek() != '"' {
				d.fail("looking for beginning of object key string")
				return value.Value{}, nil
			}
			key := string(d.rawString())
			if d.err != nil {
				return value.Value{}, nil
			}
			d.space()
			if d.peek() != ':' {
				d.fail("after object key")
				return value.Value{}, nil
			}
			d.i++
			d.space()
			var v value.Value
			var err error
			p := noPart
			if !top {
				p = partOf(key)
			}
			if p != noPart && d.peek() == '"' {
				parts[p].isString = true
				parts[p].s = string(d.rawString())
				v = value.ClassifyString(parts[p].s)
			} else {
				if p != noPart {
					parts[p].isString = false
				}
				v, err = d.value()
			}
			if d.err != nil {
				return value.Value{}, nil
			}
			if err != nil {
				bad = append(bad, badField{at: len(d.fs) - base, err: err})
			}
			d.fs = append(d.fs, value.Field{Key: key, Val: v})
			d.space()
			if c := d.peek(); c == ',' {
				d.i++
				continue
			} else if c == '}' {
				d.i++
				break
			}
			d.fail("after object key:value pair")
			return value.Value{}, nil
		}
	}
	d.depth--
	fs := d.fs[base:]
	if !d.hasDup {
		d.dup, d.hasDup = repeatedKey(fs)
	}
	v, err := objectValue(fs, top, &parts, bad)
	clear(fs)
	d.fs = d.fs[:base]
	return v, err
}

// repeatedKey returns a key that two of fs have.
func repeatedKey(fs []value.Field) (string, bool) {
	if len(fs) > 32 {
		seen := make(map[string]struct{}, len(fs))
		for _, f := range fs {
			if _, ok := seen[f.Key]; ok {
				return f.Key, true
			}
			seen[f.Key] = struct{}{}
		}
		return "", false
	}
	for i := 1; i < len(fs); i++ {
		for _, g := range fs[:i] {
			if g.Key == fs[i].Key {
				return fs[i].Key, true
			}
		}
	}
	return "", false
}

// objectValue is the value of an object with fields fs in the order of the text.
func objectValue(fs []value.Field, top bool, parts *recordParts, bad []badField) (value.Value, error) {
	if !top {
		if rec, ok := parts.record(fs); ok {
			return rec, nil
		}
	}
	for _, b := range bad {
		replaced := false
		for _, f := range fs[b.at+1:] {
			replaced = replaced || f.Key == fs[b.at].Key
		}
		if !replaced {
			return value.Value{}, fmt.Errorf("%s: %w", fs[b.at].Key, b.err)
		}
	}
	return value.ObjectOf(fs), nil
}

// record returns the record id that an object with fields fs spells when its keys are exactly
// {tb, id} or {table, key} (equal keys counted once): tb a non-empty string and id a string (the
// key it spells, value.RecordKey) or an integer, as value.FromAny reads these shapes.
func (p *recordParts) record(fs []value.Field) (value.Value, bool) {
	if len(fs) < 2 {
		return value.Value{}, false
	}
	tb, id := partTb, partID
	if fs[0].Key == "table" || fs[0].Key == "key" {
		tb, id = partTable, partKey
	}
	names := [...]string{partTb: "tb", partID: "id", partTable: "table", partKey: "key"}
	var seenTb, seenID bool
	last := -1 // index of the last id field
	for j, f := range fs {
		switch f.Key {
		case names[tb]:
			seenTb = true
		case names[id]:
			seenID, last = true, j
		default:
			return value.Value{}, false
		}
	}
	if !seenTb || !seenID || !p[tb].isString || p[tb].s == "" {
		return value.Value{}, false
	}
	if p[id].isString {
		return value.Spelled(value.Record(p[tb].s, value.RecordKey(p[id].s)), p[tb].s+":"+p[id].s), true
	}
	if k := fs[last].Val; k.Kind() == value.KindInt { // a JSON number that strconv.ParseInt reads
		return value.Spelled(value.Record(p[tb].s, k), p[tb].s+":"+strconv.FormatInt(k.AsInt(), 10)), true
	}
	return value.Value{}, false
}

// array reads the array at d.i. The error is the conversion error of the first element that has
// one.
func (d *decoder) array() (value.Value, error) {
	if !d.push() {
		return value.Value{}, nil
	}
	d.i++
	base := len(d.vs)
	var first error
	d.space()
	if d.peek() == ']' {
		d.i++
	} else {
		for {
			d.space()
			v, err := d.value()
			if d.err != nil {
				return value.Value{}, nil
			}
			if err != nil && first == nil {
				first = fmt.Errorf("[%d]: %w", len(d.vs)-base, err)
			}
			d.vs = append(d.vs, v)
			d.space()
			if c := d.peek(); c == ',' {
				d.i++
				continue
			} else if c == ']' {
				d.i++
				break
			}
			d.fail("after array element")
			return value.Value{}, nil
		}
	}
	d.depth--
	vs := d.vs[base:]
	var out value.Value
	if first == nil {
		out = value.Array(append([]value.Value(nil), vs...))
	}
	clear(vs)
	d.vs = d.vs[:base]
	return out, first
}

// literal reads true, false or null, whose first byte is at d.i.
func (d *decoder) literal(lit string) {
	for j := 0; j < len(lit); j++ {
		if d.i >= len(d.b) || d.b[d.i] != lit[j] {
			d.fail("in literal " + lit + " (expecting " + quoteChar(lit[j]) + ")")
			return
		}
		d.i++
	}
}

// number reads a number and converts it as value.FromAny converts a json.Number: an Int when
// strconv.ParseInt reads it, else a Float; a number beyond float64's range is a conversion error.
func (d *decoder) number() (value.Value, error) {
	start := d.i
	n, small := d.scanNumber()
	if d.err != nil {
		return value.Value{}, nil
	}
	if small {
		if d.b[start] == '-' {
			return value.Int(-int64(n)), nil
		}
		return value.Int(int64(n)), nil
	}
	text := d.b[start:d.i]
	if i, err := strconv.ParseInt(string(text), 10, 64); err == nil {
		return value.Int(i), nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return value.Value{}, fmt.Errorf("number %s: %w", text, err)
	}
	return value.Float(f), nil
}

// scanNumber passes over a number with JSON's grammar. When it is an integer of at most 18 digits
// (small), n is its absolute value.
func (d *decoder) scanNumber() (n uint64, small bool) {
	if d.b[d.i] == '-' {
		d.i++
	}
	switch c := d.peek(); {
	case c == '0':
		d.i++
		small = true
	case c >= '1' && c <= '9':
		start := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			n = n*10 + uint64(d.b[d.i]-'0')
			d.i++
		}
		small = d.i-start <= 18
	default:
		d.fail("in numeric literal")
		return 0, false
	}
	integer := true
	if d.peek() == '.' {
		d.i++
		if !d.digits() {
			d.fail("after decimal point in numeric literal")
			return 0, false
		}
		integer = false
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if !d.digits() {
			d.fail("in exponent of numeric literal")
			return 0, false
		}
		integer = false
	}
	if !integer {
		return 0, false
	}
	return n, small
}

func (d *decoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// rawString reads the string whose opening quote is at d.i and returns its value, unquoted as
// encoding/json unquotes: escapes decoded (a \u surrogate pair as one rune, any other surrogate as
// U+FFFD) and each byte of invalid UTF-8 replaced by U+FFFD. The bytes are the body's or d.buf's:
// valid until the next string is read.
func (d *decoder) rawString() []byte {
	d.i++
	start := d.i
	for d.i < len(d.b) && plain[d.b[d.i]] {
		d.i++
	}
	if d.i < len(d.b) && d.b[d.i] == '"' {
		d.i++
		return d.b[start : d.i-1]
	}
	return d.unquote(start)
}

// plain tells the bytes that stand for themselves inside a string: printable ASCII but '"' and
// '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// unquote continues rawString from the first byte that is not plain ASCII, writing the value
// into d.buf.
func (d *decoder) unquote(start int) []byte {
	d.buf = append(d.buf[:0], d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.buf
		case c == '\\':
			d.i++
			switch e := d.peek(); e {
			case '"', '\\', '/':
				d.buf = append(d.buf, e)
			case 'b':
				d.buf = append(d.buf, '\b')
			case 'f':
				d.buf = append(d.buf, '\f')
			case 'n':
				d.buf = append(d.buf, '\n')
			case 'r':
				d.buf = append(d.buf, '\r')
			case 't':
				d.buf = append(d.buf, '\t')
			case 'u':
				d.i++
				r := d.hex4()
				if r < 0 {
					return nil
				}
				if utf16.IsSurrogate(r) {
					if r2 := escapedRune(d.b[d.i:]); r2 >= 0 {
						if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
							d.i += 6
							d.buf = utf8.AppendRune(d.buf, pair)
							continue
						}
					}
					r = utf8.RuneError
				}
				d.buf = utf8.AppendRune(d.buf, r)
				continue
			default:
				d.fail("in string escape code")
				return nil
			}
			d.i++
		case c < 0x20:
			d.fail("in string literal")
			return nil
		case c < utf8.RuneSelf:
			d.buf = append(d.buf, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				d.buf = utf8.AppendRune(d.buf, utf8.RuneError)
			} else {
				d.buf = append(d.buf, d.b[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	d.fail("in string literal")
	return nil
}

// hex4 reads the four hex digits of a \u escape.
func (d *decoder) hex4() rune {
	var r rune
	for range 4 {
		h := hexValue(d.peek())
		if h < 0 {
			d.fail(`in \u hexadecimal character escape`)
			return -1
		}
		r = r<<4 | h
		d.i++
	}
	return r
}

// escapedRune is the rune of the \uXXXX escape b starts with, or -1.
func escapedRune(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		h := hexValue(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | h
	}
	return r
}

func hexValue(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// skip passes over any value, checking only its syntax.
func (d *decoder) skip() {
	switch c := d.peek(); {
	case c == '"':
		d.skipString()
	case c == '{':
		if !d.push() {
			return
		}
		d.i++
		d.space()
		if d.peek() == '}' {
			d.i++
			d.depth--
			return
		}
		for {
			d.space()
			if d.peek() != '"' {
				d.fail("looking for beginning of object key string")
				return
			}
			d.skipString()
			if d.err != nil {
				return
			}
			d.space()
			if d.peek() != ':' {
				d.fail("after object key")
				return
			}
			d.i++
			d.space()
			d.skip()
			if d.err != nil {
				return
			}
			d.space()
			if c := d.peek(); c == ',' {
				d.i++
				continue
			} else if c == '}' {
				d.i++
				d.depth--
				return
			}
			d.fail("after object key:value pair")
			return
		}
	case c == '[':
		if !d.push() {
			return
		}
		d.i++
		d.space()
		if d.peek() == ']' {
			d.i++
			d.depth--
			return
		}
		for {
			d.space()
			d.skip()
			if d.err != nil {
				return
			}
			d.space()
			if c := d.peek(); c == ',' {
				d.i++
				continue
			} else if c == ']' {
				d.i++
				d.depth--
				return
			}
			d.fail("after array element")
			return
		}
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		d.scanNumber()
	default:
		d.fail("looking for beginning of value")
	}
}

// skipString passes over the string whose opening quote is at d.i, checking its syntax.
func (d *decoder) skipString() {
	d.i++
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			return
		case c == '\\':
			d.i++
			switch d.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				d.i++
				if d.hex4() < 0 {
					return
				}
			default:
				d.fail("in string escape code")
				return
			}
		case c < 0x20:
			d.fail("in string literal")
			return
		default:
			d.i++
		}
	}
	d.fail("in string literal")
}
