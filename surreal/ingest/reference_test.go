package ingest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/ingest"
	"github.com/sp00ky/ssp/surreal/value"
)

// reference is the decoder Decode replaced — engine.ParseChange (encoding/json into any, then
// value.ObjectFromAny and engine.NewChange) followed by the job_assignee read of http's
// parseIngest — kept as the oracle of the differential tests. Two deliberate changes from that
// code: anything after the JSON value is an error (dec.More() let a trailing `}` or `]` pass),
// and job_assignee is the exact key, read from the same decoding (the old code decoded the body a
// second time into a struct, matching the key case-insensitively, and only when the text
// "job_assignee" occurred in the body).
func reference(body []byte) (ingest.Body, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return ingest.Body{}, fmt.Errorf("ingest body is not valid JSON: %w", err)
	}
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return ingest.Body{}, errors.New(dataAfter)
	}
	if key, ok := referenceRepeatedKey(body); ok {
		return ingest.Body{}, fmt.Errorf("ingest body repeats the key %q in one object; send each key once", key)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return ingest.Body{}, fmt.Errorf("ingest body must be a JSON object, got %s", value.JSONKind(raw))
	}
	table, err := referenceString(m, "table")
	if err != nil {
		return ingest.Body{}, err
	}
	op, err := referenceString(m, "op")
	if err != nil {
		return ingest.Body{}, err
	}
	id, err := referenceString(m, "id")
	if err != nil {
		return ingest.Body{}, err
	}
	record := value.None()
	if r, present := m["record"]; present && r != nil {
		obj, ok := r.(map[string]any)
		if !ok {
			return ingest.Body{}, fmt.Errorf("field \"record\" must be a JSON object, got %s", value.JSONKind(r))
		}
		record, err = value.ObjectFromAny(obj)
		if err != nil {
			return ingest.Body{}, fmt.Errorf("field \"record\": %w", err)
		}
	}
	c, err := engine.NewChange(table, op, id, record)
	if err != nil {
		return ingest.Body{}, err
	}
	var assignee string
	switch a := m["job_assignee"].(type) {
	case nil:
	case string:
		assignee = a
	default:
		return ingest.Body{}, fmt.Errorf("field \"job_assignee\" must be a string (an SSP id), got %s", value.JSONKind(a))
	}
	return ingest.Body{Change: c, JobAssignee: assignee}, nil
}

// referenceRepeatedKey finds a key sent twice, as Decode must: in the body's object (found at
// its second occurrence) or in any object of a "record" value (found when the object closes:
// its first key equal to an earlier one). body is valid JSON.
func referenceRepeatedKey(body []byte) (string, bool) {
	type frame struct {
		object, check bool
		keys          []string
		wantKey       bool
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // a number out of float64's range is no error here
	var stack []*frame
	lastTopKey := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if top.check {
					for i := 1; i < len(top.keys); i++ {
						for _, k := range top.keys[:i] {
							if k == top.keys[i] {
								return k, true
							}
						}
					}
				}
				if parent := last(stack); parent != nil && parent.object {
					parent.wantKey = true
				}
				if len(stack) == 0 {
					return "", false
				}
				continue
			}
			key := tok.(string)
			if len(stack) == 1 {
				for _, k := range top.keys {
					if k == key {
						return key, true
					}
				}
				lastTopKey = key
			}
			top.keys = append(top.keys, key)
			top.wantKey = false
			continue
		}
		// A value (of an object's key, or an array's element), or an array's end.
		check := top != nil && (top.check || len(stack) == 1 && lastTopKey == "record")
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &frame{object: true, check: check, wantKey: true})
				continue
			case '[':
				stack = append(stack, &frame{check: check})
				continue
			case ']':
				stack = stack[:len(stack)-1]
			}
		}
		if len(stack) == 0 {
			return "", false
		}
		if parent := stack[len(stack)-1]; parent.object {
			parent.wantKey = true
		}
	}
}

func last[T any](xs []T) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	return xs[len(xs)-1]
}

func referenceString(m map[string]any, name string) (string, error) {
	x, ok := m[name]
	if !ok || x == nil {
		return "", fmt.Errorf("field %q is required", name)
	}
	s, ok := x.(string)
	if !ok {
		return "", fmt.Errorf("field %q must be a string, got %s", name, value.JSONKind(x))
	}
	return s, nil
}

const (
	syntaxPrefix = "ingest body is not valid JSON: "
	dataAfter    = "ingest body has data after the JSON object"
)

// checkReference asserts that Decode and reference agree on body: the same change and assignee,
// or both an error with the same message. Where the reference's message cannot be Decode's, the
// kind of error must agree: a syntax error (encoding/json's messages carry no position and say
// "unexpected EOF" for a truncated body; Decode's say where), data after the object (Decode says
// where), or a number out of range in the record (with two such numbers, the reference names one
// at random: it walks a map).
func checkReference(t *testing.T, body []byte) (accepted bool) {
	t.Helper()
	got, gotErr := ingest.Decode(body)
	want, wantErr := reference(body)
	switch {
	case gotErr == nil && wantErr == nil:
		g, w := got.Change, want.Change
		if g.Table != w.Table || g.Op != w.Op || !value.Identical(g.ID, w.ID) || !value.Identical(g.Record, w.Record) ||
			got.JobAssignee != want.JobAssignee {
			t.Fatalf("Decode and the reference differ on\n%q\nDecode:    %s %s %s %s %q\nreference: %s %s %s %s %q", body,
				g.Table, g.Op, g.ID.SurQL(), g.Record.SurQL(), got.JobAssignee, w.Table, w.Op, w.ID.SurQL(), w.Record.SurQL(), want.JobAssignee)
		}
		return true
	case gotErr == nil:
		t.Fatalf("Decode accepts what the reference rejects (%v):\n%q", wantErr, body)
	case wantErr == nil:
		t.Fatalf("Decode rejects what the reference accepts (%v):\n%q", gotErr, body)
	}
	g, w := gotErr.Error(), wantErr.Error()
	switch {
	case g == w:
	case strings.HasPrefix(w, syntaxPrefix):
		if !strings.HasPrefix(g, syntaxPrefix) {
			t.Fatalf("reference: %s\nDecode:    %s\nbody: %q", w, g, body)
		}
	case w == dataAfter:
		if !strings.HasPrefix(g, dataAfter) {
			t.Fatalf("reference: %s\nDecode:    %s\nbody: %q", w, g, body)
		}
	case strings.HasPrefix(w, `field "record": `) && strings.HasSuffix(w, "value out of range"):
		if !strings.HasPrefix(g, `field "record": `) || !strings.HasSuffix(g, "value out of range") {
			t.Fatalf("reference: %s\nDecode:    %s\nbody: %q", w, g, body)
		}
	default:
		t.Fatalf("errors differ on %q\nreference: %s\nDecode:    %s", body, w, g)
	}
	return false
}
