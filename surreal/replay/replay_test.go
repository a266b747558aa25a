package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/engine"
)

// anyMessage in an expected line matches any error message: the wording of errors that come
// from the parser or the engine belongs to those packages.
const anyMessage = `"message":"*"`

func TestRunGolden(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{
			name: "empty input",
			in:   nil,
			want: nil,
		},
		{
			name: "check without views",
			in:   []string{`{"check":true}`},
			want: []string{`{"views":{}}`},
		},
		{
			name: "filter view follows creates, updates and deletes",
			in: []string{
				`{"register":{"id":"adults","surql":"SELECT * FROM user WHERE age >= 18"}}`,
				`{"ingest":{"table":"user","op":"CREATE","id":"user:2","record":{"age":30}}}`,
				`{"ingest":{"table":"user","op":"CREATE","id":"user:1","record":{"age":20,"_00_rv":3}}}`,
				`{"ingest":{"table":"user","op":"CREATE","id":"user:3","record":{"age":10}}}`,
				`{"check":true}`,
				`{"ingest":{"table":"user","op":"UPDATE","id":"user:2","record":{"age":12,"_00_rv":2}}}`,
				`{"ingest":{"table":"user","op":"UPDATE","id":"user:3","record":{"age":40,"_00_rv":2}}}`,
				`{"ingest":{"table":"user","op":"DELETE","id":"user:1"}}`,
				`{"check":true}`,
			},
			want: []string{
				`{"views":{"adults":[{"key":"user:1","version":3},{"key":"user:2","version":1}]}}`,
				`{"views":{"adults":[{"key":"user:3","version":2}]}}`,
			},
		},
		{
			name: "schema lines: a string is text where the field is typed string",
			in: []string{
				`{"register":{"id":"s","surql":"SELECT * FROM t WHERE ref = 'user:1'"}}`,
				`{"register":{"id":"r","surql":"SELECT * FROM t WHERE ref = user:1"}}`,
				`{"ingest":{"table":"t","op":"CREATE","id":"t:1","record":{"ref":"user:1"}}}`,
				`{"check":true}`,
				`{"schema":{"table":"t","fields":{"ref":"string"}}}`,
				`{"check":true}`,
				`{"schema":{"table":"t","fields":{"ref":"record"}}}`,
				`{"ingest":{"table":"t","op":"CREATE","id":"t:2","record":{"ref":"user:1"}}}`,
				`{"check":true}`,
				`{"schema":{"table":"t","fields":{"ref":"text"}}}`,
				`{"schema":{"fields":{}}}`,
			},
			want: []string{
				`{"views":{"r":[{"key":"t:1","version":1}],"s":[{"key":"t:1","version":1}]}}`,
				`{"views":{"r":[],"s":[{"key":"t:1","version":1}]}}`,
				`{"views":{"r":[{"key":"t:2","version":1}],"s":[{"key":"t:1","version":1}]}}`,
				`{"error":{"line":10,"message":"schema: field \"ref\": kind \"text\" is not string, record or unknown"}}`,
				`{"error":{"line":11,"message":"schema: missing \"table\""}}`,
			},
		},
		{
			name: "changes of the SSP's own tables are ignored",
			in: []string{
				`{"register":{"id":"q","surql":"SELECT * FROM _00_query"}}`,
				`{"ingest":{"table":"_00_query","op":"CREATE","id":"_00_query:x","record":{"n":1}}}`,
				`{"check":true}`,
			},
			want: []string{`{"views":{"q":[]}}`},
		},
		{
			name: "rows ingested before registration are in the initial result",
			in: []string{
				`{"ingest":{"table":"thread","op":"create","id":"thread:b","record":{"score":9}}}`,
				`{"ingest":{"table":"thread","op":"CREATE","id":"thread:a","record":{"score":1}}}`,
				`{"register":{"id":"all","surql":"SELECT * FROM thread"}}`,
				`{"check":true}`,
			},
			want: []string{
				`{"views":{"all":[{"key":"thread:a","version":1},{"key":"thread:b","version":1}]}}`,
			},
		},
		{
			name: "view ids are reduced to their key and sorted",
			in: []string{
				`{"register":{"id":"_00_query:⟨zeta⟩","surql":"SELECT * FROM user"}}`,
				`{"register":{"id":"query:alpha","surql":"SELECT * FROM user"}}`,
				`{"register":{"id":"mid","surql":"SELECT * FROM user"}}`,
				`{"ingest":{"table":"user","op":"CREATE","id":"user:1","record":{}}}`,
				`{"check":true}`,
			},
			want: []string{
				`{"views":{"alpha":[{"key":"user:1","version":1}],"mid":[{"key":"user:1","version":1}],"zeta":[{"key":"user:1","version":1}]}}`,
			},
		},
		{
			name: "params as JSON object and as SurrealQL object literal",
			in: []string{
				`{"register":{"id":"json","surql":"SELECT * FROM thread WHERE author = $user","params":{"user":"user:1"}}}`,
				`{"register":{"id":"surql","surql":"SELECT * FROM thread WHERE author = $user","params":"{ user: user:2, n: 5, tags: ['a'] }"}}`,
				`{"ingest":{"table":"thread","op":"CREATE","id":"thread:1","record":{"author":"user:1"}}}`,
				`{"ingest":{"table":"thread","op":"CREATE","id":"thread:2","record":{"author":"user:2"}}}`,
				`{"check":true}`,
			},
			want: []string{
				`{"views":{"json":[{"key":"thread:1","version":1}],"surql":[{"key":"thread:2","version":1}]}}`,
			},
		},
		{
			name: "subquery members are sorted by parent, rel and key",
			in: []string{
				`{"register":{"id":"detail","surql":"SELECT *, (SELECT * FROM comment WHERE thread = $parent.id) AS comments FROM thread"}}`,
				`{"ingest":{"table":"thread","op":"CREATE","id":"thread:2","record":{}}}`,
				`{"ingest":{"table":"thread","op":"CREATE","id":"thread:1","record":{}}}`,
				`{"ingest":{"table":"comment","op":"CREATE","id":"comment:9","record":{"thread":"thread:1"}}}`,
				`{"ingest":{"table":"comment","op":"CREATE","id":"comment:3","record":{"thread":"thread:2"}}}`,
				`{"ingest":{"table":"comment","op":"CREATE","id":"comment:4","record":{"thread":"thread:1"}}}`,
				`{"check":true}`,
			},
			want: []string{
				`{"views":{"detail":[{"key":"thread:1","version":1},{"key":"thread:2","version":1},` +
					`{"key":"comment:4","version":1,"parent":"thread:1","rel":"comments"},` +
					`{"key":"comment:9","version":1,"parent":"thread:1","rel":"comments"},` +
					`{"key":"comment:3","version":1,"parent":"thread:2","rel":"comments"}]}}`,
			},
		},
		{
			name: "unregister removes the view; unknown ids are fine",
			in: []string{
				`{"register":{"id":"a","surql":"SELECT * FROM user"}}`,
				`{"register":{"id":"b","surql":"SELECT * FROM user"}}`,
				`{"unregister":{"id":"query:a"}}`,
				`{"unregister":{"id":"never"}}`,
				`{"check":true}`,
			},
			want: []string{`{"views":{"b":[]}}`},
		},
		{
			name: "rejected registrations print the view id and leave other views alone",
			in: []string{
				`{"register":{"id":"ok","surql":"SELECT * FROM user"}}`,
				`{"register":{"id":"bad","surql":"SELECT * FROM user WHERE"}}`,
				`{"register":{"id":"_00_query:nosurql"}}`,
				`{"register":{"id":"p","surql":"SELECT * FROM user","params":[1]}}`,
				`{"register":{"id":"q","surql":"SELECT * FROM user","params":"{ broken"}}`,
				`{"ingest":{"table":"user","op":"CREATE","id":"user:1","record":{}}}`,
				`{"check":true}`,
			},
			want: []string{
				`{"error":{"id":"bad",` + anyMessage + `}}`,
				`{"error":{"id":"nosurql","message":"missing \"surql\""}}`,
				`{"error":{"id":"p","message":"params: must be an object, got array"}}`,
				`{"error":{"id":"q",` + anyMessage + `}}`,
				`{"views":{"ok":[{"key":"user:1","version":1}]}}`,
			},
		},
		{
			name: "a rejected replacement keeps the registered view",
			in: []string{
				`{"register":{"id":"v","surql":"SELECT * FROM user"}}`,
				`{"ingest":{"table":"user","op":"CREATE","id":"user:1","record":{}}}`,
				`{"register":{"id":"v","surql":"SELECT * FROM user LIMIT"}}`,
				`{"check":true}`,
			},
			want: []string{
				`{"error":{"id":"v",` + anyMessage + `}}`,
				`{"views":{"v":[{"key":"user:1","version":1}]}}`,
			},
		},
		{
			name: "rejected ingests print their line number and change nothing",
			in: []string{
				`{"register":{"id":"v","surql":"SELECT * FROM user"}}`,
				``,
				`{"ingest":{"table":"user","op":"EXPLODE","id":"user:1","record":{}}}`,
				`{"ingest":{"table":"user","op":"CREATE","id":"thread:1","record":{}}}`,
				`   `,
				`{"ingest":{"table":"user","op":"CREATE","id":"user:2","record":{"id":"user:3"}}}`,
				`{"check":true}`,
			},
			want: []string{
				`{"error":{"line":3,` + anyMessage + `}}`,
				`{"error":{"line":4,` + anyMessage + `}}`,
				`{"error":{"line":6,` + anyMessage + `}}`,
				`{"views":{"v":[]}}`,
			},
		},
		{
			name: "malformed lines",
			in: []string{
				`{"check":true`,
				`[1,2]`,
				`null`,
				`{}`,
				`{"check":true,"register":{}}`,
				`{"explode":{}}`,
				`{"check":false}`,
				`{"register":"v1"}`,
				`{"register":{"surql":"SELECT * FROM user"}}`,
				`{"unregister":{}}`,
				`{"unregister":5}`,
				`{"check":true}`,
			},
			want: []string{
				`{"error":{"line":1,"message":"invalid JSON: unexpected end of JSON input"}}`,
				`{"error":{"line":2,"message":"a line must be a JSON object with one key (register, ingest, unregister, schema or check), got a JSON array"}}`,
				`{"error":{"line":3,"message":"a line must be a JSON object with one key: register, ingest, unregister, schema or check"}}`,
				`{"error":{"line":4,"message":"a line must have exactly one key (register, ingest, unregister, schema or check), got 0: "}}`,
				`{"error":{"line":5,"message":"a line must have exactly one key (register, ingest, unregister, schema or check), got 2: check, register"}}`,
				`{"error":{"line":6,"message":"unknown line kind \"explode\": want register, ingest, unregister, schema or check"}}`,
				`{"error":{"line":7,"message":"check: the value must be true, got false"}}`,
				`{"error":{"line":8,"message":"register: invalid body: json: cannot unmarshal string into Go value of type replay.registerIn"}}`,
				`{"error":{"line":9,"message":"register: missing \"id\""}}`,
				`{"error":{"line":10,"message":"unregister: missing \"id\""}}`,
				`{"error":{"line":11,"message":"unregister: invalid body: json: cannot unmarshal number into Go value of type replay.unregisterIn"}}`,
				`{"views":{}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Join(tt.in, "\n")
			var out strings.Builder
			if err := Run(context.Background(), strings.NewReader(in), &out, engine.New(engine.Options{})); err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := splitLines(out.String())
			if len(got) != len(tt.want) {
				t.Fatalf("got %d output lines, want %d:\n%s", len(got), len(tt.want), out.String())
			}
			for i := range got {
				if g := maskMessage(got[i], tt.want[i]); g != tt.want[i] {
					t.Errorf("output line %d:\n got  %s\n want %s", i+1, got[i], tt.want[i])
				}
			}
		})
	}
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// maskMessage replaces the message of an error line by "*" when want expects any message and
// the line holds a non-empty one.
func maskMessage(got, want string) string {
	if !strings.Contains(want, anyMessage) {
		return got
	}
	var line struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal([]byte(got), &line); err != nil || line.Error == nil {
		return got
	}
	var msg string
	if err := json.Unmarshal(line.Error["message"], &msg); err != nil || msg == "" {
		return got
	}
	i := strings.Index(got, `"message":`)
	j := strings.LastIndex(got, `}}`)
	if i < 0 || j < i {
		return got
	}
	return got[:i] + anyMessage + got[j:]
}

func TestRunLastLineWithoutNewline(t *testing.T) {
	in := "{\"register\":{\"id\":\"v\",\"surql\":\"SELECT * FROM user\"}}\n{\"check\":true}"
	var out strings.Builder
	if err := Run(context.Background(), strings.NewReader(in), &out, engine.New(engine.Options{})); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "{\"views\":{\"v\":[]}}\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// TestRunAnswersEachCheckAtOnce drives Run through a pipe the way a harness does: it must see
// each check's answer before it sends the next line.
func TestRunAnswersEachCheckAtOnce(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), inR, outW, engine.New(engine.Options{}))
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	deadline := time.After(10 * time.Second)
	next := func() string {
		got := make(chan string, 1)
		go func() {
			if lines.Scan() {
				got <- lines.Text()
			} else {
				got <- "<eof>"
			}
		}()
		select {
		case s := <-got:
			return s
		case <-deadline:
			t.Fatal("no output line before the deadline")
			return ""
		}
	}
	// One write per batch: io.Pipe's Write returns once Run has read all of it, so batches
	// arrive in order.
	send := func(lines ...string) {
		go func() { _, _ = io.WriteString(inW, strings.Join(lines, "\n")+"\n") }()
	}
	send(`{"register":{"id":"v","surql":"SELECT * FROM user"}}`, `{"check":true}`)
	if got, want := next(), `{"views":{"v":[]}}`; got != want {
		t.Fatalf("first check: got %s, want %s", got, want)
	}
	send(`{"ingest":{"table":"user","op":"CREATE","id":"user:1","record":{}}}`, `{"check":true}`)
	if got, want := next(), `{"views":{"v":[{"key":"user:1","version":1}]}}`; got != want {
		t.Fatalf("second check: got %s, want %s", got, want)
	}
	inW.Close()
	if got := next(); got != "<eof>" {
		t.Fatalf("unexpected output %s", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out strings.Builder
	err := Run(ctx, strings.NewReader("{\"check\":true}\n"), &out, engine.New(engine.Options{}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if out.Len() != 0 {
		t.Fatalf("output after cancel: %q", out.String())
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestRunIOErrors(t *testing.T) {
	err := Run(context.Background(), failingReader{}, io.Discard, engine.New(engine.Options{}))
	if err == nil || !strings.Contains(err.Error(), "read line 1: disk on fire") {
		t.Fatalf("read error: got %v", err)
	}
	err = Run(context.Background(), strings.NewReader("{\"check\":true}\n"), failingWriter{}, engine.New(engine.Options{}))
	if err == nil || !strings.Contains(err.Error(), "write output: pipe closed") {
		t.Fatalf("write error: got %v", err)
	}
}
