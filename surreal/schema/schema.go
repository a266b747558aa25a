// Package schema is what the SSP knows of SurrealDB's field types: a hint per table that says,
// for field paths whose `DEFINE FIELD … TYPE` settles it, whether a JSON string there is text or
// a record link. Rows reach the SSP as JSON, where the string "user:1" may be the string or the
// record SurrealDB holds; value.ClassifyString reads such a string as a spelled record (see
// package value), which equals both. A Table resolves spelled values on its paths: a field typed
// `string` (or `option<string>`, `string | null`) holds the String it was read from, a field typed
// `record<…>` (or `option<record<…>>`, `record`) holds the record, without its spelling. Fields of
// any other type, and every field the schema does not define, keep today's classification.
// Values of a known kind (read from SurrealDB's typed wire format) are never changed.
//
// The hint comes from `INFO FOR TABLE … STRUCTURE` (FromInfo); the SSP reads it at every
// bootstrap and re-reads it periodically while it runs (package actors), and the engine applies
// it to every change and, when it changes, to the rows it stores (engine.SetSchema).
//
// Limitation: a schema change is seen at the next read. A field newly typed resolves, at that
// read, the spelled values that ingests between the change and the read left (so nothing written
// then is lost), but also those of rows written before the change, whose stored kind SurrealDB
// does not convert (it rejects their next write until they conform). A field whose type changes
// between string and record, or is removed, keeps the kind the old type gave the rows ingested
// between the change and the read until they are written again.
package schema

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sp00ky/ssp/surreal/value"
)

// Kind is what the schema says a field path holds.
type Kind uint8

// The kinds of a field path.
const (
	// Unknown: the schema does not settle it (no definition, or a type that is neither text nor
	// a record link alone): strings are classified by their spelling.
	Unknown Kind = iota
	// Record: a record link (`record`, `record<a | b>`, optionally NONE or NULL).
	Record
	// String: text (`string`, optionally NONE or NULL), even when it spells a record id or a
	// datetime.
	String
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Record:
		return "record"
	case String:
		return "string"
	}
	return "unknown"
}

// Elem is the path step that stands for every element of an array (or set), as `tags.*`.
const Elem = "*"

// Field is the hint of one field path: Path names the steps from the row (Elem for array
// elements), Kind what the value there holds.
type Field struct {
	Path []string
	Kind Kind
}

// Table is the hint of one table: its field paths whose kind is Record or String. The zero Table
// knows nothing (every path Unknown). A Table is immutable.
type Table struct {
	fields []Field // sorted by path text, kinds Record or String only
}

// NewTable returns the hint holding fields; Unknown fields are dropped, and of two fields with
// the same path the later wins.
func NewTable(fields []Field) Table {
	byPath := map[string]Field{}
	for _, f := range fields {
		if len(f.Path) == 0 {
			continue
		}
		byPath[pathText(f.Path)] = Field{Path: append([]string(nil), f.Path...), Kind: f.Kind}
	}
	keys := make([]string, 0, len(byPath))
	for k, f := range byPath {
		if f.Kind != Unknown {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := Table{}
	for _, k := range keys {
		out.fields = append(out.fields, byPath[k])
	}
	return out
}

// Fields returns the table's hinted paths (Record or String), sorted by path.
func (t Table) Fields() []Field {
	return append([]Field(nil), t.fields...)
}

// IsZero reports whether the table settles no path.
func (t Table) IsZero() bool { return len(t.fields) == 0 }

// Equal reports whether t and o hint the same paths with the same kinds.
func (t Table) Equal(o Table) bool {
	if len(t.fields) != len(o.fields) {
		return false
	}
	for i := range t.fields {
		if t.fields[i].Kind != o.fields[i].Kind || pathText(t.fields[i].Path) != pathText(o.fields[i].Path) {
			return false
		}
	}
	return true
}

// String renders the hint as `path: kind` pairs, e.g. `{author: record, handle: string}`.
func (t Table) String() string {
	parts := make([]string, len(t.fields))
	for i, f := range t.fields {
		parts[i] = strings.Join(f.Path, ".") + ": " + f.Kind.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func pathText(p []string) string { return strings.Join(p, "\x00") }

// Apply returns row (an object) with the spelled values on the table's paths resolved as their
// kind says: under String the text they were read from, under Record the record itself.
// Everything else is returned as it is (the row itself when nothing needs resolving): a String
// under Record (a record id the JSON classification does not read, such as an array key) stays
// a String.
func (t Table) Apply(row value.Value) value.Value {
	if len(t.fields) == 0 || row.Kind() != value.KindObject {
		return row
	}
	for _, f := range t.fields {
		row = resolvePath(row, f.Path, f.Kind)
	}
	return row
}

// resolvePath resolves the values at path under v (the steps below an object, or Elem across an
// array), rebuilding only what changes.
func resolvePath(v value.Value, path []string, k Kind) value.Value {
	if len(path) == 0 {
		return resolve(v, k)
	}
	switch {
	case path[0] == Elem && v.Kind() == value.KindArray:
		elems := v.Elems()
		var out []value.Value
		for i, e := range elems {
			r := resolvePath(e, path[1:], k)
			if out == nil && !value.Identical(r, e) {
				out = make([]value.Value, len(elems))
				copy(out, elems[:i])
			}
			if out != nil {
				out[i] = r
			}
		}
		if out == nil {
			return v
		}
		return value.Array(out)
	case path[0] != Elem && v.Kind() == value.KindObject:
		cur := v.Get(path[0])
		if cur.IsNone() {
			return v
		}
		r := resolvePath(cur, path[1:], k)
		if value.Identical(r, cur) {
			return v
		}
		return v.With(path[0], r)
	}
	return v
}

func resolve(v value.Value, k Kind) value.Value {
	text, spelled := v.Spelling()
	switch {
	case k == String && spelled:
		return value.String(text)
	case k == Record && spelled && v.Kind() == value.KindRecord:
		return v.Unspelled()
	}
	return v
}

// KindOf reads a SurrealQL type as `INFO FOR TABLE … STRUCTURE` spells it (`string`,
// `none | record<user>`, `option<string>`, …): String or Record when every alternative but NONE
// and NULL is that, else Unknown.
func KindOf(typ string) Kind {
	alts := splitTop(strings.TrimSpace(typ), '|')
	kind := Unknown
	for _, a := range alts {
		a = strings.TrimSpace(a)
		var k Kind
		switch lower := strings.ToLower(a); {
		case lower == "none" || lower == "null":
			continue
		case strings.HasPrefix(lower, "option<") && strings.HasSuffix(lower, ">"):
			k = KindOf(a[len("option<") : len(a)-1])
		case lower == "string":
			k = String
		case lower == "record" || strings.HasPrefix(lower, "record<") && strings.HasSuffix(lower, ">"):
			k = Record
		default:
			return Unknown
		}
		if k == Unknown || (kind != Unknown && k != kind) {
			return Unknown
		}
		kind = k
	}
	return kind
}

// elemType returns the element type of an array or set type (also inside option<…> or next to
// NONE and NULL), e.g. `record<user>` for `none | array<record<user>>`.
func elemType(typ string) (string, bool) {
	var elem string
	found := false
	for _, a := range splitTop(strings.TrimSpace(typ), '|') {
		a = strings.TrimSpace(a)
		lower := strings.ToLower(a)
		switch {
		case lower == "none" || lower == "null":
			continue
		case strings.HasPrefix(lower, "option<") && strings.HasSuffix(lower, ">"):
			e, ok := elemType(a[len("option<") : len(a)-1])
			if !ok {
				return "", false
			}
			elem, found = e, true
		case (strings.HasPrefix(lower, "array<") || strings.HasPrefix(lower, "set<")) && strings.HasSuffix(lower, ">"):
			inner := a[strings.IndexByte(a, '<')+1 : len(a)-1]
			// array<T, n>: drop the length.
			if parts := splitTop(inner, ','); len(parts) > 1 {
				inner = parts[0]
			}
			if found && strings.TrimSpace(inner) != elem {
				return "", false
			}
			elem, found = strings.TrimSpace(inner), true
		default:
			return "", false
		}
	}
	return elem, found
}

// splitTop splits s at sep outside <…>.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			depth++
		case '>':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// FromInfo builds a table's hint from the result of `INFO FOR TABLE … STRUCTURE`: an object (or a
// one-element array holding it) whose `fields` lists `{name, kind}`. Names are field paths as
// SurrealDB prints them (`profile.handle`, `tags.*`, “ `odd name` “). An array or set field also
// hints its elements when SurrealDB does not list them itself.
func FromInfo(info value.Value) (Table, error) {
	if info.Kind() == value.KindArray && info.Len() == 1 {
		info = info.Elems()[0]
	}
	if info.Kind() != value.KindObject {
		return Table{}, fmt.Errorf("table info of kind %s, want an object", info.Kind())
	}
	list := info.Get("fields")
	switch list.Kind() {
	case value.KindNone, value.KindNull:
		return Table{}, nil
	case value.KindArray:
	default:
		return Table{}, fmt.Errorf("table info `fields` of kind %s, want an array (read it with INFO FOR TABLE … STRUCTURE)", list.Kind())
	}
	var fields []Field
	listed := map[string]bool{}
	type arr struct {
		path []string
		elem string
	}
	var arrays []arr
	for i, f := range list.Elems() {
		name, typ := f.Get("name").AsString(), f.Get("kind").AsString()
		if name == "" {
			return Table{}, fmt.Errorf("table info field %d has no name", i)
		}
		path, err := ParsePath(name)
		if err != nil {
			return Table{}, fmt.Errorf("table info field %q: %w", name, err)
		}
		listed[pathText(path)] = true
		fields = append(fields, Field{Path: path, Kind: KindOf(typ)})
		if e, ok := elemType(typ); ok {
			arrays = append(arrays, arr{path: path, elem: e})
		}
	}
	// Element types SurrealDB did not list as `field.*` of their own (nested ones too).
	for len(arrays) > 0 {
		a := arrays[0]
		arrays = arrays[1:]
		p := append(append([]string(nil), a.path...), Elem)
		if listed[pathText(p)] {
			continue
		}
		listed[pathText(p)] = true
		fields = append(fields, Field{Path: p, Kind: KindOf(a.elem)})
		if e, ok := elemType(a.elem); ok {
			arrays = append(arrays, arr{path: p, elem: e})
		}
	}
	return NewTable(fields), nil
}

// ParsePath reads a field path as SurrealDB prints defined fields: names separated by dots,
// each bare or quoted with backticks or ⟨…⟩, `*` (or `[*]`) for array elements.
func ParsePath(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		if len(out) > 0 {
			switch {
			case strings.HasPrefix(s[i:], "[*]"):
				out = append(out, Elem)
				i += 3
				continue
			case s[i] == '.':
				i++
			default:
				return nil, fmt.Errorf("expected . or [*] at offset %d", i)
			}
		}
		switch {
		case i >= len(s):
			return nil, fmt.Errorf("path ends with a dot")
		case s[i] == '*':
			out = append(out, Elem)
			i++
		case s[i] == '`' || strings.HasPrefix(s[i:], "⟨"):
			closer, open := "`", 1
			if s[i] != '`' {
				closer, open = "⟩", len("⟨")
			}
			var b strings.Builder
			j := i + open
			for ; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					b.WriteByte(s[j])
					continue
				}
				if strings.HasPrefix(s[j:], closer) {
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated quoted name at offset %d", i)
			}
			out = append(out, b.String())
			i = j + len(closer)
		default:
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("empty name at offset %d", i)
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	return out, nil
}
