package http

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// fastIngest decodes the common shape of an /ingest body straight into values, without the
// generic map[string]any step of engine.ParseChange (which dominated the allocations of the
// ingest path). It returns ok=false whenever the body is anything but a plain, well-formed
// ingest — invalid JSON, a field of the wrong type, an unusual top-level key layout — and the
// caller then uses parseIngest, so that every error message and every corner of the JSON
// semantics stays exactly that of the slow path: for the bodies it accepts, the result equals
// parseIngest's (TestFastIngestMatchesParseIngest checks this).
func fastIngest(body []byte) (engine.Change, string, bool) {
	d := jsonScanner{b: body}
	d.space()
	if !d.consume('{') {
		return engine.Change{}, "", false
	}
	var table, op, id, assignee string
	var seen [5]bool
	record := value.None()
	d.space()
	if !d.consume('}') {
		for {
			d.space()
			key, ok := d.plainString()
			if !ok {
				return engine.Change{}, "", false
			}
			d.space()
			if !d.consume(':') {
				return engine.Change{}, "", false
			}
			d.space()
			slot := -1
			switch key {
			case "table":
				slot = 0
				table, ok = d.stringValue()
			case "op":
				slot = 1
				op, ok = d.stringValue()
			case "id":
				slot = 2
				id, ok = d.stringValue()
			case "record":
				slot = 3
				if d.peek() == 'n' {
					ok = d.literal("null")
				} else if d.peek() == '{' {
					record, ok = d.object(0, true)
				} else {
					ok = false
				}
			case "job_assignee":
				slot = 4
				if d.peek() == 'n' {
					ok = d.literal("null")
				} else {
					assignee, ok = d.stringValue()
				}
			default:
				if strings.EqualFold(key, "job_assignee") { // encoding/json matches struct keys case-insensitively
					return engine.Change{}, "", false
				}
				ok = d.skip(0)
			}
			if !ok {
				return engine.Change{}, "", false
			}
			if slot >= 0 {
				if seen[slot] { // a repeated key: the slow path knows which one wins
					return engine.Change{}, "", false
				}
				seen[slot] = true
			}
			d.space()
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				break
			}
			return engine.Change{}, "", false
		}
	}
	d.space()
	if d.i != len(d.b) || !seen[0] || !seen[1] || !seen[2] {
		return engine.Change{}, "", false
	}
	c, err := engine.NewChange(table, op, id, record)
	if err != nil {
		return engine.Change{}, "", false
	}
	return c, assignee, true
}

// maxFastDepth bounds the nesting fastIngest decodes itself.
const maxFastDepth = 64

// jsonScanner reads JSON text from b at i.
type jsonScanner struct {
	b []byte
	i int
}

func (d *jsonScanner) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *jsonScanner) consume(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *jsonScanner) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonScanner) literal(lit string) bool {
	if bytes.HasPrefix(d.b[d.i:], []byte(lit)) {
		d.i += len(lit)
		return true
	}
	return false
}

// rawString returns the bytes between the quotes of the string at i and whether it is plain
// (printable ASCII without escapes, so the bytes are its value).
func (d *jsonScanner) rawString() (raw []byte, plain, ok bool) {
	if !d.consume('"') {
		return nil, false, false
	}
	start := d.i
	plain = true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			raw = d.b[start:d.i]
			d.i++
			return raw, plain, true
		case c == '\\':
			plain = false
			d.i += 2
			continue
		case c < 0x20 || c >= 0x80:
			plain = false
		}
		d.i++
	}
	return nil, false, false
}

// plainString reads a string without escapes or non-ASCII bytes (object keys).
func (d *jsonScanner) plainString() (string, bool) {
	raw, plain, ok := d.rawString()
	if !ok || !plain {
		return "", false
	}
	return string(raw), true
}

// stringValue reads any string, unescaping it as encoding/json does.
func (d *jsonScanner) stringValue() (string, bool) {
	start := d.i
	raw, plain, ok := d.rawString()
	if !ok {
		return "", false
	}
	if plain {
		return string(raw), true
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return "", false
	}
	return s, true
}

// number reads a number literal with JSON's grammar and converts it as value.FromAny converts
// a json.Number.
func (d *jsonScanner) number() (value.Value, bool) {
	start := d.i
	d.consume('-')
	switch {
	case d.consume('0'):
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return value.Value{}, false
	}
	if d.consume('.') && !d.digits() {
		return value.Value{}, false
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if !d.digits() {
			return value.Value{}, false
		}
	}
	s := string(d.b[start:d.i])
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return value.Int(i), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return value.Value{}, false
	}
	return value.Float(f), true
}

func (d *jsonScanner) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// value reads any JSON value as value.FromAny would convert encoding/json's result.
func (d *jsonScanner) value(depth int) (value.Value, bool) {
	if depth > maxFastDepth {
		return value.Value{}, false
	}
	switch c := d.peek(); {
	case c == '"':
		s, ok := d.stringValue()
		if !ok {
			return value.Value{}, false
		}
		return value.ClassifyString(s), true
	case c == '{':
		return d.object(depth, false)
	case c == '[':
		d.i++
		var out []value.Value
		d.space()
		if d.consume(']') {
			return value.Array([]value.Value{}), true
		}
		for {
			d.space()
			v, ok := d.value(depth + 1)
			if !ok {
				return value.Value{}, false
			}
			out = append(out, v)
			d.space()
			if d.consume(',') {
				continue
			}
			if d.consume(']') {
				return value.Array(out), true
			}
			return value.Value{}, false
		}
	case c == 't':
		return value.Bool(true), d.literal("true")
	case c == 'f':
		return value.Bool(false), d.literal("false")
	case c == 'n':
		return value.Null(), d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return value.Value{}, false
}

// object reads an object. The ingest's record (top) keeps every field as an object, as
// engine.ParseChange does; a nested object that may be a record id in the {tb, id} or
// {table, key} shape is converted by value.FromJSON itself.
func (d *jsonScanner) object(depth int, top bool) (value.Value, bool) {
	start := d.i
	if !d.consume('{') {
		return value.Value{}, false
	}
	var fs []value.Field
	d.space()
	if !d.consume('}') {
		for {
			d.space()
			key, ok := d.plainString()
			if !ok {
				return value.Value{}, false
			}
			d.space()
			if !d.consume(':') {
				return value.Value{}, false
			}
			d.space()
			v, ok := d.value(depth + 1)
			if !ok {
				return value.Value{}, false
			}
			fs = append(fs, value.Field{Key: key, Val: v})
			d.space()
			if d.consume(',') {
				continue
			}
			if d.consume('}') {
				break
			}
			return value.Value{}, false
		}
	}
	if !top && (hasDuplicateKey(fs) || len(fs) == 2 && mayBeRecordObject(fs[0].Key, fs[1].Key)) {
		// value.FromAny's own rules (record shapes, which duplicate wins) on this object.
		v, err := value.FromJSON(d.b[start:d.i])
		return v, err == nil
	}
	return value.ObjectOf(fs), true
}

func mayBeRecordObject(a, b string) bool {
	if a > b {
		a, b = b, a
	}
	return a == "id" && b == "tb" || a == "key" && b == "table"
}

func hasDuplicateKey(fs []value.Field) bool {
	if len(fs) > 16 {
		seen := make(map[string]bool, len(fs))
		for _, f := range fs {
			if seen[f.Key] {
				return true
			}
			seen[f.Key] = true
		}
		return false
	}
	for i := range fs {
		for j := i + 1; j < len(fs); j++ {
			if fs[i].Key == fs[j].Key {
				return true
			}
		}
	}
	return false
}

// skip passes over any JSON value, checking its syntax.
func (d *jsonScanner) skip(depth int) bool {
	_, ok := d.value(depth)
	return ok
}
