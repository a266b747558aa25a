package ingest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sp00ky/ssp/internal/workload"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/ingest"
	"github.com/sp00ky/ssp/surreal/value"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, b ingest.Body)
	}{
		{name: "create", body: `{"table":"user","op":"CREATE","id":"user:1","record":{"id":"user:1","name":"ann","_00_rv":2}}`,
			check: func(t *testing.T, b ingest.Body) {
				c := b.Change
				if c.Op != engine.OpCreate || c.Table != "user" || value.RecordString(c.ID) != "user:1" || b.JobAssignee != "" {
					t.Errorf("got %+v", b)
				}
				if c.Record.Get("name").AsString() != "ann" || c.Record.Get("id").Kind() != value.KindRecord ||
					!value.Identical(c.Record.Get("_00_rv"), value.Int(2)) {
					t.Errorf("record %s", c.Record.SurQL())
				}
			}},
		{name: "op is case-insensitive", body: `{"table":"user","op":"update","id":"user:1","record":{}}`,
			check: func(t *testing.T, b ingest.Body) {
				if b.Change.Op != engine.OpUpdate {
					t.Errorf("op %v", b.Change.Op)
				}
			}},
		{name: "merge", body: `{"table":"user","op":"Merge","id":"user:1","record":{"a":1}}`,
			check: func(t *testing.T, b ingest.Body) {
				if b.Change.Op != engine.OpMerge {
					t.Errorf("op %v", b.Change.Op)
				}
			}},
		{name: "delete without record", body: `{"table":"user","op":"DELETE","id":"user:1"}`,
			check: func(t *testing.T, b ingest.Body) {
				if b.Change.Op != engine.OpDelete || !b.Change.Record.IsNone() {
					t.Errorf("got %+v", b)
				}
			}},
		{name: "delete with null record", body: `{"table":"user","op":"DELETE","id":"user:1","record":null}`,
			check: func(t *testing.T, b ingest.Body) {
				if !b.Change.Record.IsNone() {
					t.Errorf("record %s", b.Change.Record.SurQL())
				}
			}},
		{name: "delete with empty record", body: `{"table":"user","op":"DELETE","id":"user:1","record":{}}`},
		{name: "delete with the pre-delete row", body: `{"table":"user","op":"DELETE","id":"user:1","record":{"id":"user:1","name":"x"}}`},
		{name: "unknown keys are ignored", body: `{"table":"user","op":"CREATE","id":"user:1","record":{},"hash":"","x":[1,{"y":1e999}],"JOB_ASSIGNEE":5}`,
			check: func(t *testing.T, b ingest.Body) {
				if b.JobAssignee != "" {
					t.Errorf("assignee %q", b.JobAssignee)
				}
			}},
		{name: "job assignee", body: `{"table":"job","op":"CREATE","id":"job:1","record":{"status":"pending"},"job_assignee":"ssp-2"}`,
			check: func(t *testing.T, b ingest.Body) {
				if b.JobAssignee != "ssp-2" {
					t.Errorf("assignee %q", b.JobAssignee)
				}
			}},
		{name: "null job assignee", body: `{"table":"job","op":"CREATE","id":"job:1","record":{},"job_assignee":null}`},
		{name: "escaped keys and values", body: `{"t\u0061ble":"user","op":"\u0043REATE","id":"user:\u0031","job_assignee":"ssp\/1","record":{"s":"tab\there \"q\" \u00e9 \ud83d\ude00 \\"}}`,
			check: func(t *testing.T, b ingest.Body) {
				if b.Change.Table != "user" || b.Change.Op != engine.OpCreate || b.JobAssignee != "ssp/1" ||
					b.Change.Record.Get("s").AsString() != "tab\there \"q\" é 😀 \\" {
					t.Errorf("got %+v, record %s", b, b.Change.Record.SurQL())
				}
			}},
		{name: "angle-quoted id", body: `{"table":"thread","op":"CREATE","id":"thread:⟨a-b⟩","record":{"id":"thread:⟨a-b⟩"}}`,
			check: func(t *testing.T, b ingest.Body) {
				if b.Change.ID.Key().AsString() != "a-b" {
					t.Errorf("id %s", b.Change.ID.SurQL())
				}
			}},
		{name: "backtick-quoted id", body: "{\"table\":\"thread\",\"op\":\"CREATE\",\"id\":\"thread:`a b`\",\"record\":{}}",
			check: func(t *testing.T, b ingest.Body) {
				c := b.Change
				if c.ID.Key().AsString() != "a b" || value.RecordString(c.Record.Get("id")) != "thread:⟨a b⟩" {
					t.Errorf("id %s record %s", c.ID.SurQL(), c.Record.SurQL())
				}
			}},
		{name: "record normalisation", body: `{"table":"thread","op":"CREATE","id":"thread:1","record":{"author":{"tb":"user","id":"x"},"other":{"table":"user","key":7},"json":"{\"a\":1}","at":"2024-01-01T00:00:00Z"}}`,
			check: func(t *testing.T, b ingest.Body) {
				c := b.Change
				if got := c.Record.Get("author"); got.Kind() != value.KindRecord || value.RecordString(got) != "user:x" {
					t.Errorf("author %s", got.SurQL())
				}
				if got := c.Record.Get("other"); value.RecordString(got) != "user:7" || got.Key().Kind() != value.KindInt {
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
			check: func(t *testing.T, b ingest.Body) {
				if b.Change.Record.Get("tb").AsString() != "x" {
					t.Errorf("record %s", b.Change.Record.SurQL())
				}
			}},
		{name: "record-id shapes that are no record id stay objects", body: `{"table":"t","op":"CREATE","id":"t:1","record":{"a":{"tb":"","id":"x"},"b":{"tb":"u","id":1.5},"c":{"tb":1,"id":"x"},"d":{"tb":"u","id":"x","n":1},"e":{"table":"u","id":1}}}`,
			check: func(t *testing.T, b ingest.Body) {
				for _, f := range b.Change.Record.Fields() {
					if f.Key != "id" && f.Val.Kind() != value.KindObject {
						t.Errorf("%s = %s, want an object", f.Key, f.Val.SurQL())
					}
				}
			}},
		{name: "numbers", body: `{"table":"t","op":"CREATE","id":"t:1","record":{"a":[0,-0,1.0,1e3,1E-2,-12,9223372036854775807,-9223372036854775808,9223372036854775808,123456789012345678,1234567890123456789,1e-400]}}`,
			check: func(t *testing.T, b ingest.Body) {
				want := []value.Value{value.Int(0), value.Int(0), value.Float(1), value.Float(1000), value.Float(0.01), value.Int(-12),
					value.Int(9223372036854775807), value.Int(-9223372036854775808), value.Float(9223372036854775808), value.Int(123456789012345678),
					value.Int(1234567890123456789), value.Float(0)}
				if got := b.Change.Record.Get("a"); !value.Identical(got, value.Array(want)) {
					t.Errorf("a = %s, want %s", got.SurQL(), value.Array(want).SurQL())
				}
			}},
		{name: "id set when the record has none", body: `{"table":"user","op":"CREATE","id":"user:1","record":{"a":1}}`,
			check: func(t *testing.T, b ingest.Body) {
				if value.RecordString(b.Change.Record.Get("id")) != "user:1" {
					t.Errorf("record %s", b.Change.Record.SurQL())
				}
			}},
		{name: "numeric record.id is replaced", body: `{"table":"user","op":"CREATE","id":"user:1","record":{"id":5}}`},
		{name: "white space around", body: " \t\r\n{ \"table\" : \"t\" , \"op\" : \"DELETE\" , \"id\" : \"t:1\" } \n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ingest.Decode([]byte(tc.body))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tc.body, err)
			}
			if tc.check != nil {
				tc.check(t, b)
			}
			checkReference(t, []byte(tc.body))
		})
	}
}

// TestDecodeErrors pins the messages: those of the decoders Decode replaced where they were
// precise (the field, the expected type, the one sent), and positions for syntax errors.
func manyFields(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"f%d":%d`, i, i)
	}
	return b.String()
}

func TestDecodeErrors(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name, body, want string
	}{
		{"empty", ``, `ingest body is not valid JSON: the body is empty; send a JSON object`},
		// encoding/json lets the later of equal keys win: an "op":"DELETE","op":"CREATE" would
		// be a CREATE. Ambiguous bodies are refused.
		{"a key twice", `{"table":"t","op":"DELETE","op":"CREATE","id":"t:1"}`, `ingest body repeats the key "op" in one object; send each key once`},
		{"a key twice in the record", `{"table":"t","op":"CREATE","id":"t:1","record":{"n":1,"o":{"tb":"a","id":"1","id":"b c"}}}`,
			`ingest body repeats the key "id" in one object; send each key once`},
		{"a negative version", `{"table":"t","op":"CREATE","id":"t:1","record":{"_00_rv":-5}}`,
			`field "record._00_rv" (the record's version) must be a non-negative integer, got int -5`},
		{"a version as text", `{"table":"t","op":"UPDATE","id":"t:1","record":{"_00_rv":"9"}}`,
			`field "record._00_rv" (the record's version) must be a non-negative integer, got string "9"`},
		{"a fractional version", `{"table":"t","op":"MERGE","id":"t:1","record":{"_00_rv":1.5}}`,
			`field "record._00_rv" (the record's version) must be a non-negative integer, got float 1.5`},
		{"record twice", `{"table":"t","op":"CREATE","id":"t:1","record":[1],"record":{}}`, `ingest body repeats the key "record" in one object; send each key once`},
		{"an unknown key twice", `{"table":"t","op":"CREATE","id":"t:1","x":1,"x":2}`, `ingest body repeats the key "x" in one object; send each key once`},
		{"a key twice in a big record", `{"table":"t","op":"CREATE","id":"t:1","record":{` + manyFields(40) + `,"f7":0}}`,
			`ingest body repeats the key "f7" in one object; send each key once`},
		{"white space only", " \n", `ingest body is not valid JSON: the body is empty; send a JSON object`},
		{"truncated", `{"table":`, `ingest body is not valid JSON: unexpected end of JSON input looking for beginning of value`},
		{"truncated string", `{"table":"t`, `ingest body is not valid JSON: unexpected end of JSON input in string literal`},
		{"bad value", `{"table":x}`, `ingest body is not valid JSON: invalid character 'x' looking for beginning of value at offset 9`},
		{"bad key", `{table:"t"}`, `ingest body is not valid JSON: invalid character 't' looking for beginning of object key string at offset 1`},
		{"trailing comma", `{"table":"t",}`, `ingest body is not valid JSON: invalid character '}' looking for beginning of object key string at offset 13`},
		{"missing colon", `{"table" "t"}`, `ingest body is not valid JSON: invalid character '"' after object key at offset 9`},
		{"missing comma", `{"table":"t" "op":"x"}`, `ingest body is not valid JSON: invalid character '"' after object key:value pair at offset 13`},
		{"array element", `{"record":{"a":[1 2]}}`, `ingest body is not valid JSON: invalid character '2' after array element at offset 18`},
		{"array trailing comma", `{"record":{"a":[1,]}}`, `ingest body is not valid JSON: invalid character ']' looking for beginning of value at offset 18`},
		{"literal", `{"record":{"a":tru}}`, `ingest body is not valid JSON: invalid character '}' in literal true (expecting 'e') at offset 18`},
		{"leading zero", `{"record":{"n":01}}`, `ingest body is not valid JSON: invalid character '1' after object key:value pair at offset 16`},
		{"minus alone", `{"record":{"n":-}}`, `ingest body is not valid JSON: invalid character '}' in numeric literal at offset 16`},
		{"decimal point", `{"record":{"n":1.}}`, `ingest body is not valid JSON: invalid character '}' after decimal point in numeric literal at offset 17`},
		{"exponent", `{"record":{"n":1e+}}`, `ingest body is not valid JSON: invalid character '}' in exponent of numeric literal at offset 18`},
		{"control character", "{\"record\":{\"s\":\"a\x01\"}}", `ingest body is not valid JSON: invalid character '\x01' in string literal at offset 17`},
		{"escape", `{"record":{"s":"\x"}}`, `ingest body is not valid JSON: invalid character 'x' in string escape code at offset 17`},
		{"hex escape", `{"record":{"s":"\u12g4"}}`, `ingest body is not valid JSON: invalid character 'g' in \u hexadecimal character escape at offset 20`},
		{"bad second half of a surrogate pair", `{"record":{"s":"\ud83d\u12g4"}}`, `ingest body is not valid JSON: invalid character 'g' in \u hexadecimal character escape at offset 26`},
		{"quote in message", `{"record":{"s":1'}}`, `ingest body is not valid JSON: invalid character '\'' after object key:value pair at offset 16`},
		{"non-ASCII byte", "{\xff}", `ingest body is not valid JSON: invalid character 'ÿ' looking for beginning of object key string at offset 1`},
		{"too deep", `{"x":` + deep(10000) + `}`, `ingest body is not valid JSON: exceeded max depth (10000 nested objects and arrays) at offset 10004`},
		{"too deep in the record", `{"record":{"a":` + deep(9999) + `}}`, `ingest body is not valid JSON: exceeded max depth (10000 nested objects and arrays) at offset 10013`},
		{"syntax error after a type error", `{"table":1,"x":tru}`, `ingest body is not valid JSON: invalid character '}' in literal true (expecting 'e') at offset 18`},
		{"trailing data", `{"table":"a"} {}`, `ingest body has data after the JSON object, at offset 14; send one object`},
		{"trailing brace", `{"table":"t","op":"CREATE","id":"t:1","record":{}}}`, `ingest body has data after the JSON object`},
		{"trailing bracket", `{"table":"t","op":"CREATE","id":"t:1","record":{}} ]`, `ingest body has data after the JSON object`},
		{"trailing data after an array", `[1] x`, `ingest body has data after the JSON object`},
		{"garbage right after a number", `1x`, `ingest body has data after the JSON object`},
		{"garbage right after a string", `"a"}`, `ingest body has data after the JSON object`},
		{"not an object", `[1]`, `ingest body must be a JSON object, got an array`},
		{"a string", `"x"`, `ingest body must be a JSON object, got a string`},
		{"null", ` null `, `ingest body must be a JSON object, got null`},
		{"a number", `-1.5e3`, `ingest body must be a JSON object, got a number`},
		{"a boolean", `false`, `ingest body must be a JSON object, got a boolean`},
		{"missing table", `{"op":"CREATE","id":"user:1","record":{}}`, `field "table" is required`},
		{"null table", `{"table":null,"op":"CREATE","id":"user:1","record":{}}`, `field "table" is required`},
		{"empty table", `{"table":"","op":"CREATE","id":"user:1","record":{}}`, `field "table" must not be empty`},
		{"missing op", `{"table":"user","id":"user:1","record":{}}`, `field "op" is required`},
		{"missing id", `{"table":"user","op":"CREATE","record":{}}`, `field "id" is required`},
		{"non-string table", `{"table":1,"op":"CREATE","id":"user:1","record":{}}`, `field "table" must be a string, got a number`},
		{"non-string op", `{"table":"user","op":["CREATE"],"id":"user:1","record":{}}`, `field "op" must be a string, got an array`},
		{"non-string id", `{"table":"user","op":"CREATE","id":{"tb":"user","id":1},"record":{}}`, `field "id" must be a string, got an object`},
		{"boolean id", `{"table":"user","op":"CREATE","id":true,"record":{}}`, `field "id" must be a string, got a boolean`},
		{"table before op", `{"op":1,"id":2,"record":3}`, `field "table" is required`},
		{"unknown op", `{"table":"user","op":"UPSERT","id":"user:1","record":{}}`, `op "UPSERT" is not one of CREATE, UPDATE, MERGE, DELETE`},
		{"id not a record", `{"table":"user","op":"CREATE","id":"123","record":{}}`, `id "123" is not a record id (expected table:key, e.g. user:1)`},
		{"id of another table", `{"table":"user","op":"CREATE","id":"thread:1","record":{}}`, `id thread:1 is not a record of table "user"`},
		{"record required for create", `{"table":"user","op":"CREATE","id":"user:1"}`, `field "record" (an object) is required for CREATE`},
		{"record required for merge", `{"table":"user","op":"MERGE","id":"user:1","record":null}`, `field "record" (an object) is required for MERGE`},
		{"record not an object", `{"table":"user","op":"UPDATE","id":"user:1","record":[1]}`, `field "record" must be a JSON object, got an array`},
		{"string record", `{"table":"user","op":"DELETE","id":"user:1","record":"user:1"}`, `field "record" must be a JSON object, got a string`},
		{"record type before the op", `{"table":"user","op":"FROB","id":"user:1","record":5}`, `field "record" must be a JSON object, got a number`},
		{"number out of range", `{"table":"t","op":"CREATE","id":"t:1","record":{"n":1e999}}`, `field "record": n: number 1e999: strconv.ParseFloat: parsing "1e999": value out of range`},
		{"number out of range, nested", `{"table":"t","op":"CREATE","id":"t:1","record":{"a":{"b":[1,{"tb":"x","id":-1e400}]}}}`, `field "record": a: b: [1]: id: number -1e400: strconv.ParseFloat: parsing "-1e400": value out of range`},
		{"number out of range, before the op", `{"table":"t","op":"FROB","id":"t:1","record":{"n":1e999}}`, `field "record": n: number 1e999`},
		{"record.id names another record", `{"table":"user","op":"UPDATE","id":"user:1","record":{"id":"user:2"}}`, `record.id user:2 does not name the change's record user:1`},
		{"record.id is not a record", `{"table":"user","op":"UPDATE","id":"user:1","record":{"id":"nope"}}`, `record.id "nope" does not name the change's record user:1`},
		{"assignee not a string", `{"table":"t","op":"CREATE","id":"t:1","record":{},"job_assignee":5}`, `field "job_assignee" must be a string (an SSP id), got a number`},
		{"assignee after the change", `{"job_assignee":5,"table":"t","op":"CREATE","id":"u:1","record":{}}`, `id u:1 is not a record of table "t"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ingest.Decode([]byte(tc.body))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Decode(%.80s) error = %v, want %s", tc.body, err, tc.want)
			}
			checkReference(t, []byte(tc.body))
		})
	}
}

// TestDecodeMatchesReference runs corner cases of JSON and of the record's classification
// through Decode and the reference.
func TestDecodeMatchesReference(t *testing.T) {
	rec := func(record string) string { return `{"table":"t","op":"CREATE","id":"t:1","record":` + record + `}` }
	deep := func(n int) string { return strings.Repeat(`{"a":[`, n) + "1" + strings.Repeat(`]}`, n) }
	bodies := []string{
		`{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"Hi","n":1}}`,
		` { "table" : "thread" , "op" : "update" , "id" : "thread:1" , "record" : { } } `,
		`{"table":"thread","op":"MERGE","id":"thread:⟨a b⟩","record":{"score":3}}`,
		`{"table":"user","op":"CREATE","id":"user:1","record":{"id":"user:1","at":"2025-01-02T03:04:05Z","friend":"user:2"}}`,
		`{"table":"user","op":"CREATE","id":" user:1 ","record":{"id":"user:1"}}`,
		`{"table":"user","op":" create ","id":"user:1","record":{}}`,
		`{"hash":"abc","table":"t","op":"CREATE","id":"t:1","record":{"a":[1,2.5,-0,-0.0,1e3,1E-2,true,false,null,"x",[],{}]}}`,
		rec(`{"o":{"b":1,"a":{"c":[{"d":null}]}}}`),
		rec(`{"link":{"tb":"user","id":"x"},"link2":{"table":"user","key":5},"link3":{"id":"⟨a b⟩","tb":"u"}}`),
		rec(`{"o":{"tb":"a","id":"1","id":"2"},"p":{"tb":"a","id":"x","id":7},"q":{"tb":"a","id":7,"id":"x"}}`),
		rec(`{"o":{"tb":"a","id":"a b"},"p":{"tb":"a","id":"-5"},"q":{"tb":"a","id":""},"r":{"tb":"user:1","id":"x"}}`),
		rec(`{"o":{"tb":"a","id":1e2},"p":{"tb":"a","id":12345678901234567890},"q":{"tb":"a","id":null},"r":{"tb":"a","id":{"x":1}}}`),
		rec(`{"o":{"tb":"a","tb":"b","id":1},"p":{"tb":"a","tb":1,"id":1},"q":{"tb":1,"tb":"a","id":1},"r":{"id":1,"tb":"a"}}`),
		rec(`{"o":{"table":"a","key":"k"},"p":{"table":"a","id":"k"},"q":{"tb":"a","key":"k"},"r":{"table":"","key":1},"s":{"key":1,"table":"x"}}`),
		rec(`{"o":{"tb":"a"},"p":{"id":"x"},"q":{"tb":"a","id":"x","tb":"a"},"r":{"id":"x","id":"y"}}`),
		rec(`{"tb":"a","id":"t:1"}`),
		rec(`{"table":"a","key":1}`),
		rec(`{"x":1,"x":2}`),
		rec(`{"x":1e999,"x":2}`),
		rec(`{"x":{"n":1e999},"x":{}}`),
		rec(`{"a":{"tb":"x","id":1e999,"id":1}}`),
		rec(`{"a":{"tb":"x","id":1e999}}`),
		rec(`{"a":[1,1e999,1e999]}`),
		rec(`{"a":[[1e999]]}`),
		rec(`{"big":12345678901234567890,"neg":-9223372036854775808,"over":-9223372036854775809,"tiny":1e-400,"long":1.00000000000000000000000000000000001}`),
		rec(`{"n":100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000}`),
		rec(`{"s":"tab\there \"q\" \u00e9 \ud83d\ude00 \/ \b\f\n\r"}`),
		rec(`{"s":"héllo wörld ⟨⟩ 😀"}`),
		rec(`{"s":"\ud83d","t":"\ude00","u":"\ud83d\u0041","v":"\ud83d\ud83d\ude00","w":"\uDBFF\uDFFF","x":"\u0000","y":"\uFFFD"}`),
		rec(`{"s":"\ud83dx","t":"\ud83d\","u":"a\ud83d"}`),
		rec("{\"s\":\"\xff\",\"t\":\"a\xc3\",\"u\":\"\xed\xa0\x80\",\"v\":\"\xe2\x82\xac\",\"w\":\"\xf4\x90\x80\x80\",\"x\":\"\xc0\xaf\"}"),
		rec("{\"\xff\":1,\"\xfe\":2,\"\xef\xbf\xbd\":3}"),
		rec(`{"k\u00e9y":1,"k\u00E9y":2,"ké\u0079":3}`),
		rec("{\"s\":\"a\x7f\"}"),
		rec(`{"d":"2025-01-02T03:04:05.123456789+02:00","e":"2025-13-02T03:04:05Z","f":"2025-01-02 03:04:05Z","g":"user:⟨x⟩","h":"user:` + "`a b`" + `","i":"a:b:c","j":"1a:b"}`),
		rec(`{"id":"t:1"}`),
		rec(`{"id":"t:⟨1⟩"}`),
		rec(`{"id":{"tb":"t","id":1}}`),
		rec(`{"id":{"tb":"t","id":2}}`),
		rec(`{"id":null}`),
		rec(`{"id":"t:2"}`),
		rec(`{"a":` + deep(4998) + `}`),
		rec(`{"a":` + deep(4999) + `}`),
		rec(`[]`),
		rec(`"x"`),
		rec(`null`),
		rec(`{"a":tru}`),
		rec(`{"a":[1,]}`),
		rec(`{"a":1,}`),
		rec(`{"n":01}`),
		rec(`{"n":-01}`),
		rec(`{"n":.5}`),
		rec(`{"n":+5}`),
		rec(`{"n":0x10}`),
		rec(`{"n":1.5e}`),
		rec(`{"n":NaN}`),
		rec("{\"s\":\"a\x01\"}"),
		rec("{\"s\":\"a\tb\"}"),
		rec(`{"s":"\a"}`),
		rec(`{"s":"\u00"}`),
		rec(`{"s":"\U0041"}`),
		rec(`{'s':1}`),
		`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_assignee":"ssp-1"}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_assignee":null}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{"job_assignee":5}}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_assignee":5}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_assignee":5, "job_assignee":"a"}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_assignee":"a", "job_assignee":[]}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_\u0061ssignee":"x"}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}, "JOB_ASSIGNEE":"x","x":"job_assignee"}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}}}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}}]`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}} x`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{}}` + "\n\n",
		`{"table":"t","op":"CREATE","id":"t:1","table":"u","record":{}}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{},"record":null}`,
		`{"table":"t","op":"DELETE","id":"t:1","record":5,"record":null}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{"n":1e999},"record":{}}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{"n":1e999},"table":1}`,
		`{"table":1,"op":"CREATE","id":"t:1"}`,
		`{"table":"t","op":"FROB","id":"t:1","record":{}}`,
		`{"table":"t","op":"CREATE","id":"u:1","record":{}}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{"id":"t:2"}}`,
		`{"table":"t","op":"CREATE","id":"t:1"}`,
		`{"op":"CREATE","id":"t:1","record":{}}`,
		`{"t\u0061ble":"t","op":"CREATE","id":"t:1","record":{}}`,
		`{"Table":"t","op":"CREATE","id":"t:1","record":{}}`,
		`{"table":"⟨a⟩","op":"CREATE","id":"⟨a⟩:1","record":{}}`,
		`{"table":"a b","op":"CREATE","id":"⟨a b⟩:1","record":{}}`,
		`{"table":"t","op":"CREATE","id":"t:9999999999999999999","record":{}}`,
		`{}`,
		`[]`,
		`""`,
		`1`,
		`1 `,
		`1x`,
		`1 x`,
		`[1]x`,
		`{"a":1}x`,
		`nul`,
		`-`,
		``,
		`   `,
		`{`,
		`{"`,
		`{"table"`,
		`{"table":"t"`,
		`{"table":"t",`,
		`{"record":{"a":[`,
		`{"record":{"a":"\`,
		`{"record":{"a":"\u12`,
		"\ufeff{}",
		"{\"table\":\"t\",\"op\":\"DELETE\",\"id\":\"t:1\"}\x00",
		"{\"table\":\"t\",\"op\":\"DELETE\",\"id\":\"t:1\"\x0b}",
		`{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `,"table":"t","op":"DELETE","id":"t:1"}`,
		`{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		`{"x":` + strings.Repeat("[", 20000) + `}`,
		rec(`{"a":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`),
		rec(`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`),
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	}
	for _, body := range bodies {
		checkReference(t, []byte(body))
	}
}

// TestDecodeWorkload decodes the benchmark workload's changes, as JSON, both ways.
func TestDecodeWorkload(t *testing.T) {
	w := workload.New(5, workload.Config{Views: 1, Rows: 300})
	changes := w.Initial()
	for range 2000 {
		changes = append(changes, w.Next())
	}
	for _, c := range changes {
		body := ingestBody(t, c)
		if !checkReference(t, body) {
			t.Fatalf("a workload body is rejected:\n%s", body)
		}
	}
}

func ingestBody(t testing.TB, c engine.Change) []byte {
	m := map[string]any{"table": c.Table, "op": c.Op.String(), "id": value.RecordString(c.ID)}
	if c.Op != engine.OpDelete {
		m["record"] = c.Record.ToAny()
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// FuzzDecode: whatever the body, Decode and the reference agree.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"Hi","n":1,"a":[1.5,"user:1",{"tb":"x","id":1}]}}`,
		`{"table":"t","op":"DELETE","id":"t:1","job_assignee":"s"}`,
		`{"table":"t","op":"MERGE","id":"t:1","record":{"d":"2025-01-01T00:00:00Z","e":"\u00e9\ud83d\ude00","f":{"table":"u","key":"⟨a⟩"}}}`,
		`{"table":"t","op":"UPDATE","id":"t:1","record":{"id":"t:1","n":-0.5e-3,"b":[true,false,null],"o":{"tb":"a","id":"1","id":2}},"x":{}}`,
		`{"table":"t","op":"CREATE","id":"t:1","record":{"n":1e999,"n":12345678901234567890}}`,
		"{\"table\":\"t\",\"op\":\"CREATE\",\"id\":\"t:1\",\"record\":{\"s\":\"\xff\\ud800\"}}",
		`[1] `,
		`{"a":1} }`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkReference(t, body)
	})
}

// BenchmarkDecode decodes a typical workload change (the body BenchmarkIngestDecode of the http
// package measured before this package replaced its fast path).
func BenchmarkDecode(b *testing.B) {
	w := workload.New(1, workload.Config{Views: 1, Rows: 1000})
	for range 100 {
		w.Next()
	}
	c := w.Next()
	for c.Op == engine.OpDelete {
		c = w.Next()
	}
	body := ingestBody(b, c)
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ingest.Decode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := reference(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
