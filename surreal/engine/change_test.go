package engine_test

import (
	"strings"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

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
		{"bad id of an odd table: the name is not echoed raw", "a b;DROP", "CREATE", "zz", row, `id "zz" is not a record id (expected table:key, e.g. thread:1)`},
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
