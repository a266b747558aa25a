package http

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
	"github.com/sp00ky/ssp/internal/workload"
)

// checkFast asserts that fastIngest either declines body or decodes it exactly as parseIngest.
func checkFast(t *testing.T, body string) (accepted bool) {
	t.Helper()
	fc, fa, ok := fastIngest([]byte(body))
	sc, sa, err := parseIngest([]byte(body))
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("fastIngest accepted a body parseIngest rejects (%v):\n%s", err, body)
	}
	if fc.Table != sc.Table || fc.Op != sc.Op || !value.Identical(fc.ID, sc.ID) || !value.Identical(fc.Record, sc.Record) || fa != sa {
		t.Fatalf("fastIngest and parseIngest differ on\n%s\nfast: %s %s %s %s %q\nslow: %s %s %s %s %q", body,
			fc.Table, fc.Op, fc.ID.SurQL(), fc.Record.SurQL(), fa, sc.Table, sc.Op, sc.ID.SurQL(), sc.Record.SurQL(), sa)
	}
	return true
}

func TestFastIngestMatchesParseIngest(t *testing.T) {
	tests := []struct {
		body   string
		accept bool // whether the fast path must take it (false: it may decline)
	}{
		{`{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"Hi","n":1}}`, true},
		{` { "table" : "thread" , "op" : "update" , "id" : "thread:1" , "record" : { } } `, true},
		{`{"table":"thread","op":"DELETE","id":"thread:1"}`, true},
		{`{"table":"thread","op":"DELETE","id":"thread:1","record":null}`, true},
		{`{"table":"thread","op":"MERGE","id":"thread:⟨a b⟩","record":{"score":3}}`, true},
		{`{"table":"user","op":"CREATE","id":"user:1","record":{"id":"user:1","at":"2025-01-02T03:04:05Z","friend":"user:2"}}`, true},
		{`{"hash":"abc","table":"t","op":"CREATE","id":"t:1","record":{"a":[1,2.5,-0,1e3,1E-2,true,false,null,"x",[],{}]}}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"o":{"b":1,"a":{"c":[{"d":null}]}}}}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"link":{"tb":"user","id":"x"},"link2":{"table":"user","key":5}}}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"o":{"tb":"a","id":"1","id":"2"}}}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"x":1,"x":2}}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"big":12345678901234567890,"neg":-9223372036854775808}}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"s":"tab\there \"q\" \u00e9 \ud83d\ude00"}}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"s":"héllo"}}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_assignee":"ssp-1"}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_assignee":null}`, true},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"job_assignee":5}}`, true},
		// Declined (the slow path answers, usually with an error).
		{`{"table":"t","op":"CREATE","id":"t:1","record":{}, "job_assignee":5}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{}, "JOB_ASSIGNEE":"x","x":"job_assignee"}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"n":1e999}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"n":01}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"s":"a` + "\x01" + `"}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"s":"` + "\xff" + `"}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":[]}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{}}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{}} x`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","table":"u","record":{}}`, false},
		{`{"table":1,"op":"CREATE","id":"t:1"}`, false},
		{`{"table":"t","op":"FROB","id":"t:1","record":{}}`, false},
		{`{"table":"t","op":"CREATE","id":"u:1","record":{}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"id":"t:2"}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1"}`, false},
		{`{"op":"CREATE","id":"t:1","record":{}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"a":tru}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"a":[1,]}}`, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"a":1,}}`, false},
		{`{"t\u0061ble":"t","op":"CREATE","id":"t:1","record":{}}`, false},
		{`[]`, false},
		{``, false},
		{`{"table":"t","op":"CREATE","id":"t:1","record":{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, false},
	}
	for _, tt := range tests {
		if got := checkFast(t, tt.body); tt.accept && !got {
			t.Errorf("fastIngest declined a plain body:\n%s", tt.body)
		}
	}
}

// TestFastIngestWorkload decodes the benchmark workload's changes both ways.
func TestFastIngestWorkload(t *testing.T) {
	w := workload.New(5, workload.Config{Views: 1, Rows: 300})
	changes := w.Initial()
	for range 2000 {
		changes = append(changes, w.Next())
	}
	for _, c := range changes {
		m := map[string]any{"table": c.Table, "op": c.Op.String(), "id": value.RecordString(c.ID)}
		if c.Op != engine.OpDelete {
			m["record"] = c.Record.ToAny()
		}
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !checkFast(t, string(body)) {
			t.Fatalf("fastIngest declined a workload body:\n%s", body)
		}
	}
}

// FuzzFastIngest: whatever the body, the fast path declines it or agrees with parseIngest.
func FuzzFastIngest(f *testing.F) {
	for _, s := range []string{
		`{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"Hi","n":1,"a":[1.5,"user:1",{"tb":"x","id":1}]}}`,
		`{"table":"t","op":"DELETE","id":"t:1","job_assignee":"s"}`,
		`{"table":"t","op":"MERGE","id":"t:1","record":{"d":"2025-01-01T00:00:00Z","e":"\u00e9"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkFast(t, body)
	})
}

func BenchmarkIngestDecode(b *testing.B) {
	w := workload.New(1, workload.Config{Views: 1, Rows: 1000})
	for range 100 {
		w.Next()
	}
	c := w.Next()
	for c.Op == engine.OpDelete {
		c = w.Next()
	}
	body, _ := json.Marshal(map[string]any{"table": c.Table, "op": c.Op.String(), "id": value.RecordString(c.ID), "record": c.Record.ToAny()})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := fastIngest(body); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("parseIngest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := parseIngest(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
