package difftest

import (
	"encoding/json"
	"fmt"

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
