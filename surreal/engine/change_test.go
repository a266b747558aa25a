package engine_test

import (
	"strings"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

func TestParseChange(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string // substring; empty: valid
		check   func(t *testing.T, c engine.Change)
	}{
		{name: "create", body: `{"table":"user","op":"CREATE","id":"user:1","record":{"id":"user:1","name":"ann","_00_rv":2}}`,
			check: func(t *testing.T, c engine.Change) {
				if c.Op != engine.OpCreate || c.Table != "user" || value.RecordString(c.ID) != "user:1" {
					t.Errorf("got %+v", c)
				}
				if c.Record.Get("name").AsString() != "ann" || c.Record.Get("id").Kind() != value.KindRecord {
					t.Errorf("record %s", c.Record.SurQL())
				}
			}},
		{name: "op is case-insensitive", body: `{"table":"user","op":"update","id":"user:1","record":{}}`,
			check: func(t *testing.T, c engine.Change) {
				if c.Op != engine.OpUpdate {
					t.Errorf("op %v", c.Op)
				}
			}},
		{name: "merge", body: `{"table":"user","op":"Merge","id":"user:1","record":{"a":1}}`,
			check: func(t *testing.T, c engine.Change) {
				if c.Op != engine.OpMerge {
					t.Errorf("op %v", c.Op)
				}
			}},
		{name: "delete without record", body: `{"table":"user","op":"DELETE","id":"user:1"}`,
			check: func(t *testing.T, c engine.Change) {
				if c.Op != engine.OpDelete || !c.Record.IsNone() {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "delete with empty record", body: `{"table":"user","op":"DELETE","id":"user:1","record":{}}`},
		{name: "delete with the pre-delete row", body: `{"table":"user","op":"DELETE","id":"user:1","record":{"id":"user:1","name":"x"}}`},
		{name: "unknown keys are ignored", body: `{"table":"user","op":"CREATE","id":"user:1","record":{},"hash":"","job_assignee":"ssp-1","x":[1]}`},
		{name: "angle-quoted id", body: `{"table":"thread","op":"CREATE","id":"thread:⟨a-b⟩","record":{"id":"thread:⟨a-b⟩"}}`,
			check: func(t *testing.T, c engine.Change) {
				if c.ID.Key().AsString() != "a-b" {
					t.Errorf("id %s", c.ID.SurQL())
				}
			}},
		{name: "backtick-quoted id", body: "{\"table\":\"thread\",\"op\":\"CREATE\",\"id\":\"thread:`a b`\",\"record\":{}}",
			check: func(t *testing.T, c engine.Change) {
				if c.ID.Key().AsString() != "a b" || value.RecordString(c.Record.Get("id")) != "thread:⟨a b⟩" {
					t.Errorf("id %s record %s", c.ID.SurQL(), c.Record.SurQL())
				}
			}},
		{name: "record normalisation", body: `{"table":"thread","op":"CREATE","id":"thread:1","record":{"author":{"tb":"user","id":"x"},"other":{"table":"user","key":7},"json":"{\"a\":1}","at":"2024-01-01T00:00:00Z"}}`,
			check: func(t *testing.T, c engine.Change) {
				if got := c.Record.Get("author"); got.Kind() != value.KindRecord || value.RecordString(got) != "user:x" {
					t.Errorf("author %s", got.SurQL())
				}
				if got := c.Record.Get("other"); value.RecordString(got) != "user:7" {
					t.Errorf("other %s", got.SurQL())
				}
				if got := c.Record.Get("json"); got.Kind() != value.KindString {
					t.Errorf("a JSON-looking string must stay a string, got %s", got.SurQL())
				}
				if got := c.Record.Get("at"); got.Kind() != value.KindDatetime {
					t.Errorf("at %s", got.SurQL())
				}
			}},
		{name: "a row that is exactly {tb, id} stays a row", body: `{"table":"t","op":"CREATE","id":"t:1","record":{"tb":"x","id":"t:1"}}`,
			check: func(t *testing.T, c engine.Change) {
				if c.Record.Get("tb").AsString() != "x" {
					t.Errorf("record %s", c.Record.SurQL())
				}
			}},
		{name: "id set when the record has none", body: `{"table":"user","op":"CREATE","id":"user:1","record":{"a":1}}`,
			check: func(t *testing.T, c engine.Change) {
				if value.RecordString(c.Record.Get("id")) != "user:1" {
					t.Errorf("record %s", c.Record.SurQL())
				}
			}},
		{name: "numeric record.id is replaced", body: `{"table":"user","op":"CREATE","id":"user:1","record":{"id":5}}`},

		{name: "invalid JSON", body: `{"table":`, wantErr: "not valid JSON"},
		{name: "trailing data", body: `{"table":"a"} {}`, wantErr: "after the JSON object"},
		{name: "not an object", body: `[1]`, wantErr: "must be a JSON object, got an array"},
		{name: "missing table", body: `{"op":"CREATE","id":"user:1","record":{}}`, wantErr: `field "table" is required`},
		{name: "empty table", body: `{"table":"","op":"CREATE","id":"user:1","record":{}}`, wantErr: `"table" must not be empty`},
		{name: "missing op", body: `{"table":"user","id":"user:1","record":{}}`, wantErr: `field "op" is required`},
		{name: "missing id", body: `{"table":"user","op":"CREATE","record":{}}`, wantErr: `field "id" is required`},
		{name: "non-string table", body: `{"table":1,"op":"CREATE","id":"user:1","record":{}}`, wantErr: `field "table" must be a string, got a number`},
		{name: "non-string id", body: `{"table":"user","op":"CREATE","id":{"tb":"user","id":1},"record":{}}`, wantErr: `field "id" must be a string, got an object`},
		{name: "unknown op", body: `{"table":"user","op":"UPSERT","id":"user:1","record":{}}`, wantErr: `op "UPSERT" is not one of CREATE, UPDATE, MERGE, DELETE`},
		{name: "id not a record", body: `{"table":"user","op":"CREATE","id":"123","record":{}}`, wantErr: `id "123" is not a record id`},
		{name: "id of another table", body: `{"table":"user","op":"CREATE","id":"thread:1","record":{}}`, wantErr: `id thread:1 is not a record of table "user"`},
		{name: "record required for create", body: `{"table":"user","op":"CREATE","id":"user:1"}`, wantErr: `"record" (an object) is required for CREATE`},
		{name: "record required for merge", body: `{"table":"user","op":"MERGE","id":"user:1","record":null}`, wantErr: `required for MERGE`},
		{name: "record not an object", body: `{"table":"user","op":"UPDATE","id":"user:1","record":[1]}`, wantErr: `field "record" must be a JSON object, got an array`},
		{name: "record.id names another record", body: `{"table":"user","op":"UPDATE","id":"user:1","record":{"id":"user:2"}}`, wantErr: `record.id user:2 does not name the change's record user:1`},
		{name: "record.id is not a record", body: `{"table":"user","op":"UPDATE","id":"user:1","record":{"id":"nope"}}`, wantErr: `record.id "nope" does not name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := engine.ParseChange([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseChange(%s) error = %v, want it to contain %q", tc.body, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseChange(%s): %v", tc.body, err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestNewChange(t *testing.T) {
	row := value.ObjectOf([]value.Field{{Key: "n", Val: value.Int(1)}})
	tests := []struct {
		name, table, op, id string
		record              value.Value
		wantErr             string
	}{
		{"ok", "user", "CREATE", "user:1", row, ""},
		{"ok delete none", "user", "delete", "user:1", value.None(), ""},
		{"ok delete null", "user", "DELETE", "user:1", value.Null(), ""},
		{"spaces around id", "user", "CREATE", " user:1 ", row, ""},
		{"bad op", "user", "PATCH", "user:1", row, `op "PATCH" is not one of`},
		{"empty table", "", "CREATE", "user:1", row, `"table" must not be empty`},
		{"bad id", "user", "CREATE", "user", row, `id "user" is not a record id (expected table:key, e.g. user:1)`},
		{"other table", "user", "CREATE", "post:1", row, `id post:1 is not a record of table "user"`},
		{"missing record", "user", "UPDATE", "user:1", value.None(), `required for UPDATE`},
		{"record not object", "user", "UPDATE", "user:1", value.Int(1), `record must be an object, got int`},
		{"delete record not object", "user", "DELETE", "user:1", value.String("x"), `record must be an object, got string`},
		{"record id mismatch", "user", "CREATE", "user:1", row.With("id", value.Record("user", value.Int(2))), `record.id user:2 does not name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := engine.NewChange(tc.table, tc.op, tc.id, tc.record)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Op != engine.OpDelete && value.RecordString(c.Record.Get("id")) != value.RecordString(c.ID) {
				t.Errorf("record id not set: %s", c.Record.SurQL())
			}
		})
	}
}

func TestViewKey(t *testing.T) {
	for in, want := range map[string]string{
		"abc":                 "abc",
		"query:abc":           "abc",
		"_00_query:abc":       "abc",
		"_00_query:⟨abc⟩":     "abc",
		"_00_query:`abc`":     "abc",
		"_00_query:⟨a:b⟩":     "a:b",
		"a:b:c":               "c",
		" _00_query:abc ":     "abc",
		"_00_query:⟨a-b-c-d⟩": "a-b-c-d",
		"":                    "",
	} {
		if got := engine.ViewKey(in); got != want {
			t.Errorf("ViewKey(%q) = %q, want %q", in, got, want)
		}
	}
}
