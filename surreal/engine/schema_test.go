package engine_test

import (
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/schema"
	"github.com/sp00ky/ssp/surreal/value"
)

// TestSchemaHints: a string that spells a record id is a string where the schema says so, a
// record where the schema says so, and equals both where the schema says nothing (SurrealDB:
// 'user:1' = user:1 is false; the JSON wire cannot tell them apart).
func TestSchemaHints(t *testing.T) {
	e := engine.New(engine.Options{})
	views := []struct{ id, q string }{
		{"by_str", "SELECT * FROM t WHERE ref = 'user:1'"},
		{"by_rec", "SELECT * FROM t WHERE ref = user:1"},
		{"sub", "SELECT *, (SELECT * FROM user WHERE id = $parent.ref) AS u FROM t"},
	}
	for _, v := range views {
		if _, err := e.Register(v.id, v.q, value.None()); err != nil {
			t.Fatal(err)
		}
	}
	ingest(t, e, `{"table":"user","op":"CREATE","id":"user:1","record":{}}`)
	for _, id := range []string{"t:1", "t:2", "t:3"} {
		ingest(t, e, `{"table":"t","op":"CREATE","id":"`+id+`","record":{"ref":"user:1","other":"user:1"}}`)
	}
	check := func(when string, want map[string]string) {
		t.Helper()
		for id, w := range want {
			if got := members(t, e, id); got != w {
				t.Errorf("%s: %s = %s, want %s", when, id, got, w)
			}
		}
	}
	all := "t:1 t:2 t:3"
	subAll := "t:1 t:2 t:3 t:1>u>user:1 t:2>u>user:1 t:3>u>user:1"
	check("schemaless", map[string]string{"by_str": all, "by_rec": all, "sub": subAll})

	// The field becomes TYPE string: stored rows are resolved through ordinary steps.
	changes := e.SetSchema("t", schema.NewTable([]schema.Field{{Path: []string{"ref"}, Kind: schema.String}}))
	if len(changes) != 3 || changes[0].Op != engine.OpUpdate {
		t.Fatalf("SetSchema returned %d changes, want 3 updates", len(changes))
	}
	for _, c := range changes {
		if _, err := e.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	check("string", map[string]string{"by_str": all, "by_rec": "", "sub": "t:1 t:2 t:3"})
	if again := e.SetSchema("t", e.Schema("t")); again != nil {
		t.Errorf("setting the same hint again returned %d changes", len(again))
	}
	// Ingests are resolved by the hint too (the same place as bootstrap rows).
	ingest(t, e, `{"table":"t","op":"UPDATE","id":"t:2","record":{"ref":"user:1"}}`)
	ingest(t, e, `{"table":"t","op":"MERGE","id":"t:3","record":{"ref":"user:1"}}`)
	check("string ingests", map[string]string{"by_str": all, "by_rec": "", "sub": "t:1 t:2 t:3"})

	// TYPE record: rows already resolved keep their kind (SurrealDB does not convert stored
	// values); new writes are records.
	if c := e.SetSchema("t", schema.NewTable([]schema.Field{{Path: []string{"ref"}, Kind: schema.Record}})); len(c) != 0 {
		t.Errorf("re-typing resolved rows returned %d changes", len(c))
	}
	ingest(t, e, `{"table":"t","op":"UPDATE","id":"t:1","record":{"ref":"user:1"}}`)
	check("record", map[string]string{"by_str": "t:2 t:3", "by_rec": "t:1", "sub": "t:1 t:2 t:3 t:1>u>user:1"})

	// No hint any more: new writes are classified by their spelling again.
	e.SetSchema("t", schema.Table{})
	ingest(t, e, `{"table":"t","op":"UPDATE","id":"t:3","record":{"ref":"user:1"}}`)
	check("schemaless again", map[string]string{"by_str": "t:2 t:3", "by_rec": "t:1 t:3", "sub": "t:1 t:2 t:3 t:1>u>user:1 t:3>u>user:1"})
}
