package difftest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// Ingest is an /ingest body (SPEC §1.1) as the test sends it to the engine and prints it in
// reproductions.
type Ingest struct {
	Table  string `json:"table"`
	Op     string `json:"op"`
	ID     string `json:"id"`
	Record any    `json:"record,omitempty"`
}

// ingestFor builds the change the engine sees for write w, from what SurrealDB stored: row is the
// row read back after the write (NONE when absent) and prev the row before it (NONE when absent).
// Rows travel as Sp00ky's schema events send them, as JSON. A MERGE reaches the engine as a MERGE
// of the top-level fields it changed, unless w.AsUpdate is set, the row did not exist before, or a
// field disappeared; then it is an UPDATE of the full row.
func ingestFor(w Write, prev, row value.Value) Ingest {
	in := Ingest{Table: w.Table, Op: w.Op.String(), ID: surrealRecordText(w.ID)}
	switch {
	case w.Op == OpDelete || row.IsNone():
		in.Op = OpDelete.String()
	case w.Op == OpMerge && !w.AsUpdate && !prev.IsNone() && !lostField(prev, row):
		patch := value.ObjectOf(nil)
		for _, f := range row.Fields() {
			if !value.Equal(prev.Get(f.Key), f.Val) || prev.Get(f.Key).Kind() != f.Val.Kind() {
				patch = patch.With(f.Key, f.Val)
			}
		}
		in.Record = toJSONAny(patch)
	case w.Op == OpMerge:
		in.Op = OpUpdate.String()
		if prev.IsNone() {
			in.Op = OpCreate.String()
		}
		in.Record = toJSONAny(row)
	default:
		in.Record = toJSONAny(row)
	}
	return in
}

func lostField(prev, row value.Value) bool {
	for _, f := range prev.Fields() {
		if row.Get(f.Key).IsNone() {
			return true
		}
	}
	return false
}

// JSON renders the ingest body.
func (in Ingest) JSON() []byte {
	b, err := json.Marshal(in)
	if err != nil {
		// Only plain JSON values are ever put into an Ingest.
		return []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	return b
}

// ParseIngest turns an /ingest body into an engine.Change the way SPEC §1.1 describes: the id is
// a record id in SurrealQL text form, the op is case-insensitive (MERGE included), and the record
// is JSON classified by value.FromJSON (records and datetimes spelled as strings become records
// and datetimes). It is the default of Options.ParseIngest; the test uses the engine's own parser
// when there is one.
func ParseIngest(body []byte) (engine.Change, error) {
	var raw struct {
		Table  string          `json:"table"`
		Op     string          `json:"op"`
		ID     string          `json:"id"`
		Record json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return engine.Change{}, fmt.Errorf("ingest: %w", err)
	}
	id, ok := value.ParseRecord(raw.ID)
	if !ok || id.Table() != raw.Table {
		return engine.Change{}, fmt.Errorf("ingest: id %q is not a record id of table %q", raw.ID, raw.Table)
	}
	c := engine.Change{Table: raw.Table, ID: id, Record: value.None()}
	switch strings.ToUpper(raw.Op) {
	case "CREATE":
		c.Op = engine.OpCreate
	case "UPDATE":
		c.Op = engine.OpUpdate
	case "MERGE":
		c.Op = engine.OpMerge
	case "DELETE":
		c.Op = engine.OpDelete
		return c, nil
	default:
		return engine.Change{}, fmt.Errorf("ingest: unknown op %q", raw.Op)
	}
	rec, err := value.FromJSON(raw.Record)
	if err != nil {
		return engine.Change{}, fmt.Errorf("ingest: record: %w", err)
	}
	if rec.Kind() != value.KindObject {
		return engine.Change{}, fmt.Errorf("ingest: record must be an object, got %s", rec.Kind())
	}
	c.Record = rec
	return c, nil
}
