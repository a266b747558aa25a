package engine

import (
	"fmt"
	"math"
	"strings"

	"github.com/sp00ky/ssp/surreal/value"
)

// String names the operation as /ingest spells it.
func (o Op) String() string {
	switch o {
	case OpCreate:
		return "CREATE"
	case OpUpdate:
		return "UPDATE"
	case OpMerge:
		return "MERGE"
	case OpDelete:
		return "DELETE"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// ParseOp parses an /ingest operation name, case-insensitively.
func ParseOp(s string) (Op, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CREATE":
		return OpCreate, nil
	case "UPDATE":
		return OpUpdate, nil
	case "MERGE":
		return OpMerge, nil
	case "DELETE":
		return OpDelete, nil
	}
	return 0, fmt.Errorf("op %q is not one of CREATE, UPDATE, MERGE, DELETE", s)
}

// NewChange validates the decoded parts of a change: op is CREATE, UPDATE, MERGE or DELETE (any
// case); id is a record id of table in SurrealQL text form (`user:1`, `thread:⟨a-b⟩`); record is
// an object (required for CREATE/UPDATE/MERGE; for DELETE it may be NONE, NULL or an object and is
// dropped). If record.id is a string or a record id it must name the same record. record._00_rv,
// the record's version (SPEC §1.1, §2.4), is absent, NULL or a non-negative integer. The
// returned Change's Record has `id` set to the record id value.
func NewChange(table, op, id string, record value.Value) (Change, error) {
	o, err := ParseOp(op)
	if err != nil {
		return Change{}, err
	}
	if table == "" {
		return Change{}, fmt.Errorf("field \"table\" must not be empty")
	}
	rid, ok := value.ParseRecord(strings.TrimSpace(id))
	if !ok {
		return Change{}, fmt.Errorf("id %q is not a record id (expected table:key, e.g. %s)", id, exampleID(table))
	}
	if o != OpDelete && record.Kind() == value.KindObject {
		if err := checkVersion(record.Get("_00_rv")); err != nil {
			return Change{}, err
		}
	}
	return validate(Change{Table: table, Op: o, ID: rid, Record: record})
}

// exampleID is a record id of table for an error's hint: table:1 when table is a plain
// identifier, else a made-up one (the sent name is quoted elsewhere in the message, never
// echoed raw).
func exampleID(table string) string {
	for i, r := range table {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return "thread:1"
		}
	}
	if table == "" {
		return "thread:1"
	}
	return table + ":1"
}

// checkVersion checks a sent `_00_rv`: NONE, NULL, or an integer ≥ 0 (a JSON number without a
// fractional part).
func checkVersion(rv value.Value) error {
	switch rv.Kind() {
	case value.KindNone, value.KindNull:
		return nil
	case value.KindInt:
		if rv.AsInt() >= 0 {
			return nil
		}
	case value.KindFloat:
		if f := rv.AsFloat(); f >= 0 && f == math.Trunc(f) && f < 9e18 {
			return nil
		}
	}
	return fmt.Errorf("field \"record._00_rv\" (the record's version) must be a non-negative integer, got %s %s", rv.Kind(), rv.SurQL())
}

// validate checks a Change (also one built by hand) and returns it normalised: the record's id
// set to ID for writes, NONE for deletes.
func validate(c Change) (Change, error) {
	switch c.Op {
	case OpCreate, OpUpdate, OpMerge, OpDelete:
	default:
		return Change{}, fmt.Errorf("op %s is not one of CREATE, UPDATE, MERGE, DELETE", c.Op)
	}
	if c.Table == "" {
		return Change{}, fmt.Errorf("change table must not be empty")
	}
	if c.ID.Kind() != value.KindRecord {
		return Change{}, fmt.Errorf("change id %s is not a record id", c.ID.SurQL())
	}
	if c.ID.Table() != c.Table {
		return Change{}, fmt.Errorf("id %s is not a record of table %q", value.RecordString(c.ID), c.Table)
	}
	switch c.Record.Kind() {
	case value.KindObject:
		if rid := c.Record.Get("id"); rid.Kind() == value.KindString || rid.Kind() == value.KindRecord {
			if !sameRecord(rid, c.ID) {
				return Change{}, fmt.Errorf("record.id %s does not name the change's record %s", rid.SurQL(), value.RecordString(c.ID))
			}
		}
	case value.KindNone, value.KindNull:
		if c.Op != OpDelete {
			return Change{}, fmt.Errorf("field \"record\" (an object) is required for %s", c.Op)
		}
	default:
		return Change{}, fmt.Errorf("record must be an object, got %s", c.Record.Kind())
	}
	if c.Op == OpDelete {
		c.Record = value.None()
		return c, nil
	}
	if cur := c.Record.Get("id"); cur.Kind() != value.KindRecord || !value.Identical(cur, c.ID) {
		c.Record = c.Record.With("id", c.ID)
	}
	return c, nil
}

// ViewKey returns the view key of a view id (SPEC §1.2): the text after the last `:` with `⟨⟩`
// and backticks removed, so `query:abc`, `_00_query:abc`, `_00_query:⟨abc⟩` and `abc` are the same
// view `abc`.
func ViewKey(id string) string {
	id = strings.TrimSpace(id)
	for _, q := range [][2]string{{"⟨", "⟩"}, {"`", "`"}} {
		if strings.HasSuffix(id, q[1]) {
			if i := strings.LastIndex(id[:len(id)-len(q[1])], q[0]); i >= 0 {
				return id[i+len(q[0]) : len(id)-len(q[1])]
			}
		}
	}
	if i := strings.LastIndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	return strings.NewReplacer("⟨", "", "⟩", "", "`", "").Replace(id)
}

// sameRecord reports whether v, a record or the text of one, names record id.
func sameRecord(v, id value.Value) bool {
	if v.Kind() == value.KindString {
		r, ok := value.ParseRecord(strings.TrimSpace(v.AsString()))
		if !ok {
			return false
		}
		v = r
	}
	return value.Equal(v, id)
}
