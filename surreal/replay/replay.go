// Package replay runs the SSP's offline replay (SPEC §10): a script of JSON lines that registers
// views, ingests changes and unregisters views through the same engine the service uses, printing
// every view's membership at each check. It needs no database; it is a debugging tool and the
// entry point of the differential test harness.
//
// Input, one JSON object per line (blank lines are ignored):
//
//	{"register":{"id":"v1","surql":"SELECT * FROM user","params":{"x":1}}}
//	{"ingest":{"table":"user","op":"CREATE","id":"user:1","record":{"name":"a"}}}
//	{"unregister":{"id":"v1"}}
//	{"schema":{"table":"user","fields":{"handle":"string","best_friend":"record","tags.*":"string"}}}
//	{"check":true}
//
// An ingest line holds an /ingest body, decoded as the HTTP route decodes it (ingest.Decode; a
// job_assignee is checked but has no effect here). params is a JSON object or a string holding a
// SurrealQL object literal, as /view/register accepts; view ids are reduced to their view key
// (engine.ViewKey). A schema line sets a table's schema hint (package schema; field paths as
// `INFO FOR TABLE` prints them, kinds string, record or unknown; no fields removes it) as the
// SSP reads it from SurrealDB, and re-resolves the table's stored rows. Output, one line each:
//
//	{"views":{"v1":[{"key":"user:1","version":1}]}}   for each check
//	{"error":{"id":"v1","message":"..."}}              for a rejected registration
//	{"error":{"line":3,"message":"..."}}               for any other rejected line
//
// Members are sorted by parent, rel and key; view ids are sorted. A rejected line changes
// nothing and the replay continues.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/ingest"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/surql"
	"github.com/sp00ky/ssp/surreal/value"
)

// Run reads the replay script from in until EOF, applies it to eng and writes the results to out,
// flushing after every output line so a driving process can wait for each check's answer. It
// returns nil at EOF, the context's error when ctx is done, or an error reading in or writing out.
func Run(ctx context.Context, in io.Reader, out io.Writer, eng *engine.Engine) error {
	r := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	emit := func(v any) error {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if out := step(eng, n, line); out != nil {
				if werr := emit(out); werr != nil {
					return werr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", n, err)
		}
	}
}

// The output lines.
type (
	viewsOut struct {
		Views map[string][]engine.Member `json:"views"`
	}
	errorOut struct {
		Error errorBody `json:"error"`
	}
	errorBody struct {
		ID      *string `json:"id,omitempty"`
		Line    int     `json:"line,omitempty"`
		Message string  `json:"message"`
	}
)

func lineError(n int, format string, args ...any) *errorOut {
	return &errorOut{Error: errorBody{Line: n, Message: fmt.Sprintf(format, args...)}}
}

// The input line kinds.
type (
	registerIn struct {
		ID       *string         `json:"id"`
		SurQL    *string         `json:"surql"`
		SurrealQ *string         `json:"surreal_ql"` // alias accepted by /view/register
		Params   json.RawMessage `json:"params"`
	}
	unregisterIn struct {
		ID *string `json:"id"`
	}
)

var kinds = "register, ingest, unregister, schema or check"

// step runs line number n and returns what to print, or nil.
func step(eng *engine.Engine, n int, line []byte) any {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return lineError(n, "a line must be a JSON object with one key (%s), got a JSON %s", kinds, typeErr.Value)
		}
		return lineError(n, "invalid JSON: %v", err)
	}
	if obj == nil {
		return lineError(n, "a line must be a JSON object with one key: %s", kinds)
	}
	if len(obj) != 1 {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return lineError(n, "a line must have exactly one key (%s), got %d: %s", kinds, len(keys), strings.Join(keys, ", "))
	}
	for kind, body := range obj {
		switch kind {
		case "register":
			return register(eng, n, body)
		case "ingest":
			in, err := ingest.Decode(body)
			if err != nil {
				return lineError(n, "ingest: %v", err)
			}
			if membership.IsInternal(in.Change.Table) {
				return nil // the SSP's own tables are never base data (SPEC §1.1)
			}
			if _, err := eng.Apply(in.Change); err != nil {
				return lineError(n, "ingest: %v", err)
			}
			return nil
		case "schema":
			if err := setSchema(eng, body); err != nil {
				return lineError(n, "schema: %v", err)
			}
			return nil
		case "unregister":
			var u unregisterIn
			if err := decodeBody(body, &u); err != nil {
				return lineError(n, "unregister: %v", err)
			}
			if u.ID == nil || *u.ID == "" {
				return lineError(n, "unregister: missing \"id\"")
			}
			eng.Unregister(engine.ViewKey(*u.ID))
			return nil
		case "check":
			var b bool
			if err := json.Unmarshal(body, &b); err != nil || !b {
				return lineError(n, "check: the value must be true, got %s", bytes.TrimSpace(body))
			}
			return check(eng)
		default:
			return lineError(n, "unknown line kind %q: want %s", kind, kinds)
		}
	}
	return nil // unreachable: obj has one key
}

// schemaIn is a schema line's body.
type schemaIn struct {
	Table  *string           `json:"table"`
	Fields map[string]string `json:"fields"`
}

// setSchema sets a table's schema hint and applies the changes that re-resolve its rows.
func setSchema(eng *engine.Engine, body []byte) error {
	var in schemaIn
	if err := decodeBody(body, &in); err != nil {
		return err
	}
	if in.Table == nil || *in.Table == "" {
		return errors.New("missing \"table\"")
	}
	var fields []schema.Field
	for name, kind := range in.Fields {
		path, err := schema.ParsePath(name)
		if err != nil {
			return fmt.Errorf("field %q: %w", name, err)
		}
		var k schema.Kind
		switch kind {
		case "string":
			k = schema.String
		case "record":
			k = schema.Record
		case "unknown":
		default:
			return fmt.Errorf("field %q: kind %q is not string, record or unknown", name, kind)
		}
		fields = append(fields, schema.Field{Path: path, Kind: k})
	}
	for _, c := range eng.SetSchema(*in.Table, schema.NewTable(fields)) {
		if _, err := eng.Apply(c); err != nil {
			return err
		}
	}
	return nil
}

// decodeBody decodes a line's JSON object into v. Unknown keys are ignored, as the HTTP routes
// ignore them, so a /view/register body can be pasted as is.
func decodeBody(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("invalid body: %w", err)
	}
	return nil
}

func register(eng *engine.Engine, n int, body []byte) any {
	var req registerIn
	if err := decodeBody(body, &req); err != nil {
		return lineError(n, "register: %v", err)
	}
	if req.ID == nil || *req.ID == "" {
		return lineError(n, "register: missing \"id\"")
	}
	id := engine.ViewKey(*req.ID)
	fail := func(format string, args ...any) any {
		return &errorOut{Error: errorBody{ID: &id, Message: fmt.Sprintf(format, args...)}}
	}
	if id == "" {
		return fail("view id %q has an empty key", *req.ID)
	}
	src := req.SurQL
	if src == nil {
		src = req.SurrealQ
	}
	if src == nil || strings.TrimSpace(*src) == "" {
		return fail("missing \"surql\"")
	}
	params, err := parseParams(req.Params)
	if err != nil {
		return fail("params: %v", err)
	}
	if _, err := eng.Register(id, *src, params); err != nil {
		return fail("%v", err)
	}
	return nil
}

// parseParams accepts absent/null params (NONE), a JSON object, or a string holding a SurrealQL
// object literal.
func parseParams(raw json.RawMessage) (value.Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return value.None(), nil
	}
	var v value.Value
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return value.None(), fmt.Errorf("invalid JSON string: %w", err)
		}
		pv, err := surql.ParseValue(s)
		if err != nil {
			return value.None(), fmt.Errorf("invalid SurrealQL object literal: %w", err)
		}
		v = pv
	} else {
		jv, err := value.FromJSON(raw)
		if err != nil {
			return value.None(), err
		}
		v = jv
	}
	if v.Kind() != value.KindObject {
		return value.None(), fmt.Errorf("must be an object, got %s", v.Kind())
	}
	return v, nil
}

// check renders every view's membership.
func check(eng *engine.Engine) any {
	out := viewsOut{Views: map[string][]engine.Member{}}
	for _, id := range eng.Views() {
		ms, ok := eng.Members(id)
		if !ok {
			continue
		}
		sorted := make([]engine.Member, len(ms))
		copy(sorted, ms)
		engine.SortMembers(sorted)
		out.Views[id] = sorted
	}
	return out
}
