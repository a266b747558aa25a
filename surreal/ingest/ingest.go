// Package ingest decodes the body of POST /ingest (SPEC §1.1):
// `{"table", "op", "id", "record"?, "job_assignee"?}`, unknown keys ignored. It is the one decoder
// of that body; the HTTP route, the offline replay and the differential test all use Decode.
//
// Decode reads the body in a single pass straight into values, without encoding/json's generic
// map[string]any step, and answers every body itself, errors included. What it accepts and how it
// reads JSON are encoding/json's: escapes (a \u surrogate pair as one rune, a lone surrogate as
// U+FFFD), each byte of invalid UTF-8 in a string as U+FFFD, at most 10000 nested objects and
// arrays — except that a key may not appear twice in the body's object or in any object of the
// record (encoding/json lets the later win, which would make `"op":"DELETE","op":"CREATE"` a
// CREATE: ambiguous input is refused). Only one JSON value may be sent: anything but
// white space after it is an error. The record is classified as value.ObjectFromAny classifies a
// decoded object: numbers without fraction or exponent that fit an int64 become ints and the
// others floats, strings that spell a record id or a datetime become a spelled one (package
// value: it still equals the string), nested objects of exactly the fields {tb, id} or {table,
// key} become record ids, and the record itself stays an object. engine.NewChange then
// validates the typed parts; the engine resolves spelled values by the table's schema hint when
// it applies the change (package schema), the one place that does it for ingests and bootstrap
// rows alike.
package ingest

import (
	"errors"
	"fmt"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// Body is a decoded /ingest body.
type Body struct {
	// Change is the change, validated by engine.NewChange.
	Change engine.Change
	// JobAssignee is "job_assignee", the id of the SSP that is to run the job a job-table row
	// describes (SPEC §8); empty when absent or null.
	JobAssignee string
}

// Decode decodes and validates an /ingest body. Its errors name the field, the expected JSON type
// and the one sent, or the position of a JSON syntax error. It is safe for concurrent use.
func Decode(body []byte) (Body, error) {
	d := decoders.Get().(*decoder)
	d.b = body
	out, err := d.body()
	d.release()
	return out, err
}

// repeatsPrefix begins the error of a key sent twice.
const repeatsPrefix = "ingest body repeats the key "

// topFields are the fields of the body's object as they came (the last of equal keys).
type topFields struct {
	table, op, id, assignee                 string
	tableKind, opKind, idKind, assigneeKind kind
	recordKind                              kind
	record                                  value.Value // NONE unless recordKind is jsonObject
	recordErr                               error       // conversion error inside the record
}

// body reads the whole body: the syntax first, then the fields in the order table, op, id,
// record, the change (engine.NewChange) and job_assignee.
func (d *decoder) body() (Body, error) {
	d.space()
	if d.i == len(d.b) {
		return Body{}, errors.New("ingest body is not valid JSON: the body is empty; send a JSON object")
	}
	if d.b[d.i] != '{' {
		k := kindAt(d.b[d.i])
		d.skip()
		after := d.trailing()
		if d.err != nil {
			return Body{}, fmt.Errorf("ingest body is not valid JSON: %w", d.err)
		}
		if after {
			return Body{}, fmt.Errorf("ingest body has data after the JSON object, at offset %d; send one object", d.i)
		}
		return Body{}, fmt.Errorf("ingest body must be a JSON object, got %s", k)
	}
	f := d.topFields()
	after := d.trailing()
	if d.err != nil {
		return Body{}, fmt.Errorf("ingest body is not valid JSON: %w", d.err)
	}
	if after {
		return Body{}, fmt.Errorf("ingest body has data after the JSON object, at offset %d; send one object", d.i)
	}
	if d.hasDup {
		return Body{}, fmt.Errorf("%s%q in one object; send each key once", repeatsPrefix, d.dup)
	}
	for _, s := range []struct {
		name string
		kind kind
	}{{"table", f.tableKind}, {"op", f.opKind}, {"id", f.idKind}} {
		switch s.kind {
		case absent, jsonNull:
			return Body{}, fmt.Errorf("field %q is required", s.name)
		case jsonString:
		default:
			return Body{}, fmt.Errorf("field %q must be a string, got %s", s.name, s.kind)
		}
	}
	switch f.recordKind {
	case absent, jsonNull, jsonObject:
	default:
		return Body{}, fmt.Errorf("field \"record\" must be a JSON object, got %s", f.recordKind)
	}
	if f.recordErr != nil {
		return Body{}, fmt.Errorf("field \"record\": %w", f.recordErr)
	}
	c, err := engine.NewChange(f.table, f.op, f.id, f.record)
	if err != nil {
		return Body{}, err
	}
	switch f.assigneeKind {
	case absent, jsonNull, jsonString:
	default:
		return Body{}, fmt.Errorf("field \"job_assignee\" must be a string (an SSP id), got %s", f.assigneeKind)
	}
	return Body{Change: c, JobAssignee: f.assignee}, nil
}

// topFields reads the body's object, whose '{' is at d.i. Values of unknown keys are only
// checked for syntax.
func (d *decoder) topFields() topFields {
	f := topFields{record: value.None()}
	if !d.push() {
		return f
	}
	var known uint8     // the known keys seen, by bit
	var others []string // the other keys seen
	seen := func(key []byte) {
		bit := uint8(0)
		switch string(key) {
		case "table":
			bit = 1
		case "op":
			bit = 2
		case "id":
			bit = 4
		case "job_assignee":
			bit = 8
		case "record":
			bit = 16
		}
		repeated := known&bit != 0
		if bit == 0 {
			for _, o := range others {
				repeated = repeated || o == string(key)
			}
			others = append(others, string(key))
		}
		known |= bit
		if repeated && !d.hasDup {
			d.dup, d.hasDup = string(key), true
		}
	}
	d.i++
	d.space()
	if d.peek() == '}' {
		d.i++
		return f
	}
	for {
		d.space()
		if d.peek() != '"' {
			d.fail("looking for beginning of object key string")
			return f
		}
		key := d.rawString()
		if d.err != nil {
			return f
		}
		seen(key)
		d.space()
		if d.peek() != ':' {
			d.fail("after object key")
			return f
		}
		d.i++
		d.space()
		var raw []byte
		switch string(key) {
		case "table":
			raw, f.tableKind = d.stringField()
			f.table = string(raw)
		case "op":
			raw, f.opKind = d.stringField()
			f.op = opName(raw)
		case "id":
			raw, f.idKind = d.stringField()
			f.id = string(raw)
		case "job_assignee":
			raw, f.assigneeKind = d.stringField()
			f.assignee = string(raw)
		case "record":
			f.recordKind = kindAt(d.peek())
			f.record, f.recordErr = value.None(), nil
			if f.recordKind == jsonObject {
				f.record, f.recordErr = d.object(true)
			} else {
				d.skip()
			}
		default:
			d.skip()
		}
		if d.err != nil {
			return f
		}
		d.space()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return f
		default:
			d.fail("after object key:value pair")
			return f
		}
	}
}

// stringField reads the value of a field that must be a string: the kind of the value sent and,
// for a string, its bytes (as rawString returns them; other values are only checked for syntax).
func (d *decoder) stringField() ([]byte, kind) {
	k := kindAt(d.peek())
	if k == jsonString {
		return d.rawString(), k
	}
	d.skip()
	return nil, k
}

// opName is op as a string, without a copy when it is spelled as engine.Op.String spells it.
func opName(op []byte) string {
	for _, o := range [...]engine.Op{engine.OpCreate, engine.OpUpdate, engine.OpMerge, engine.OpDelete} {
		if s := o.String(); string(op) == s {
			return s
		}
	}
	return string(op)
}
