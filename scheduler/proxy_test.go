package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/ingest"
	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// proxySetup is a source database of 50 users and 1000 threads (996 integer ids, one of them
// negative, and 4 string ids that need quoting), with record links, datetimes, floats with and
// without a fraction, strings that spell a record id or a datetime, an object shaped like a
// record id, plus Sp00ky's `_00_version` and `_00_query` tables.
const proxySetup = `
DEFINE TABLE user SCHEMALESS; DEFINE TABLE thread SCHEMALESS;
DEFINE TABLE _00_version SCHEMALESS; DEFINE TABLE _00_query SCHEMALESS;
FOR $i IN 1..=50 { CREATE type::record('user', $i) SET name = 'user ' + <string>$i; };
FOR $i IN 1..=995 {
	CREATE type::record('thread', $i) SET author = type::record('user', $i % 50 + 1),
		created_at = d'2026-01-01T00:00:00Z' + <duration>(<string>$i + 's'),
		title = "say \"hi\" \\ it's " + <string>$i, score = $i * 1.5, n = $i, tags = ['a', $i],
		alias = 'user:7', when = '2026-02-03T04:05:06Z', meta = { tb: 'x', id: 'y' }, gone = NULL;
	CREATE _00_version SET record_id = type::record('thread', $i), version = 3;
};
CREATE type::record('thread', -7) SET title = 'negative', author = user:1;
CREATE type::record('thread', '123') SET title = 'digits';
CREATE type::record('thread', "it's \"odd\" ⟩ key") SET title = 'odd';
CREATE type::record('thread', 'ünï cödé') SET title = 'unicode';
CREATE type::record('thread', 'zz` + "`" + `tick') SET title = 'tick';
CREATE _00_query:v1 SET surql = 'SELECT * FROM thread', ssp_id = 'ssp-x';
`

// frozenScheduler starts a scheduler on proxySetup and registers an SSP with it, so that the
// replica stays frozen at the clone.
func frozenScheduler(t *testing.T) (*testscheduler.Scheduler, *conn.Conn) {
	t.Helper()
	s, src := startScheduler(t, proxySetup, testscheduler.Options{})
	body := fmt.Sprintf(`{"ssp_id":"ssp-frozen","url":%q,"version":"t"}`, "http://127.0.0.1:1")
	resp, err := http.Post(s.URL()+"/ssp/register", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("register: %v %v", resp, err)
	}
	resp.Body.Close()
	if s.Status() != testscheduler.StatusFrozen {
		t.Fatalf("scheduler status %s, want frozen", s.Status())
	}
	return s, src
}

// expected returns the source's rows of table as an SSP must hold them: the source's own
// rows, spelt as the scheduler's proxy spells them and decoded by /ingest's decoder.
func expected(t *testing.T, src *conn.Conn, table string) []value.Value {
	t.Helper()
	rs := exec(t, src, "SELECT * FROM type::table($tb) ORDER BY id", map[string]any{"tb": table})
	var out []value.Value
	for _, row := range rs[0].Value.Elems() {
		rec := testscheduler.PlainJSON(row).(map[string]any)
		b, err := json.Marshal(map[string]any{"table": table, "op": "CREATE", "id": rec["id"], "record": rec})
		if err != nil {
			t.Fatal(err)
		}
		in, err := ingest.Decode(b)
		if err != nil {
			t.Fatalf("ingest.Decode(%s): %v", b, err)
		}
		out = append(out, in.Change.Record)
	}
	return out
}

// TestProxyLoadsFrozenSnapshot: the loader on a ProxySource lists the replica's tables and
// pages every row of the frozen snapshot, whatever the page boundaries (string ids that need
// quoting included), classified exactly as /ingest classifies records; changes after the
// freeze are not in it. The replica has no `_00_version` while the source has, so this also
// pins the unversioned paging that the scheduler mode relies on: listing the tables through
// the proxy keeps the loader off its versioned query, which the proxy would answer with [].
func TestProxyLoadsFrozenSnapshot(t *testing.T) {
	s, src := frozenScheduler(t)
	// After the freeze: a scheduler ingest (buffered, not applied) and a direct write.
	resp, err := http.Post(s.URL()+"/ingest", "application/json",
		strings.NewReader(`{"table":"thread","op":"UPDATE","id":"thread:1","record":{"title":"changed"}}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := s.ApplyNow(testCtx(t)); !errors.Is(err, testscheduler.ErrFrozen) {
		t.Fatalf("ApplyNow = %v, want ErrFrozen", err)
	}
	want := map[string][]value.Value{"thread": expected(t, src, "thread"), "user": expected(t, src, "user")}
	exec(t, src, "CREATE thread:6000 SET title = 'after the clone'", nil)

	l := loader.New(&ProxySource{SchedulerURL: s.URL()})
	ctx := testCtx(t)
	defs, err := l.TableDefinitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := defs["_00_query"]; !ok {
		t.Errorf("the replica lists no _00_query: %v", defs)
	}
	if _, ok := defs[membership.VersionTable]; ok {
		t.Fatalf("the replica lists %s: %v", membership.VersionTable, defs)
	}
	tables, err := l.Tables(ctx)
	if err != nil || !reflect.DeepEqual(tables, []string{"thread", "user"}) {
		t.Fatalf("Tables = %v, %v", tables, err)
	}
	if n := len(want["thread"]); n != 1000 {
		t.Fatalf("source has %d threads", n)
	}
	for _, pageSize := range []int{333, 97, 1000} {
		for _, tb := range tables {
			var rows []value.Value
			pages := 0
			err := l.LoadTable(ctx, tb, pageSize, func(page []value.Value) error {
				pages++
				rows = append(rows, page...)
				return nil
			})
			if err != nil {
				t.Fatalf("LoadTable(%s, %d): %v", tb, pageSize, err)
			}
			if len(rows) != len(want[tb]) {
				t.Fatalf("LoadTable(%s, %d): %d rows in %d pages, want %d", tb, pageSize, len(rows), pages, len(want[tb]))
			}
			for i := range rows {
				if !value.Identical(rows[i], want[tb][i]) {
					t.Fatalf("LoadTable(%s, %d) row %d:\n got %s\nwant %s", tb, pageSize, i, rows[i].SurQL(), want[tb][i].SurQL())
				}
			}
		}
	}
	// The classification, checked on a few rows: ids, links and datetimes are typed, strings
	// that spell one too (as /ingest does), the object shaped like a record id becomes one.
	row := want["thread"][1] // thread:1
	if id := row.Get("id"); id.Kind() != value.KindRecord || id.Key().AsInt() != 1 {
		t.Fatalf("row %s", row.SurQL())
	}
	for field, kind := range map[string]value.Kind{"author": value.KindRecord, "created_at": value.KindDatetime,
		"alias": value.KindRecord, "when": value.KindDatetime, "meta": value.KindRecord, "n": value.KindInt,
		"score": value.KindFloat, "title": value.KindString, "gone": value.KindNull} {
		if k := row.Get(field).Kind(); k != kind {
			t.Errorf("thread:1 %s is %s, want %s (%s)", field, k, kind, row.SurQL())
		}
	}
	if row.Get("title").AsString() != `say "hi" \ it's 1` {
		t.Errorf("thread:1 title %q: the ingest after the freeze leaked in?", row.Get("title").AsString())
	}

	// The same rows straight off the wire, each decoded by /ingest's decoder.
	raw := proxyRaw(t, s.URL(), "SELECT * FROM thread ORDER BY id")
	var wire []json.RawMessage
	if err := json.Unmarshal(raw, &wire); err != nil || len(wire) != 1000 {
		t.Fatalf("raw answer: %d rows, %v", len(wire), err)
	}
	for i, rec := range wire {
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(rec, &id)
		in, err := ingest.Decode([]byte(fmt.Sprintf(`{"table":"thread","op":"CREATE","id":%q,"record":%s}`, id.ID, rec)))
		if err != nil {
			t.Fatalf("ingest.Decode row %d: %v", i, err)
		}
		if !value.Identical(in.Change.Record, want["thread"][i]) {
			t.Fatalf("wire row %d decoded by /ingest: %s, the loader got %s", i, in.Change.Record.SurQL(), want["thread"][i].SurQL())
		}
	}
}

// proxyRaw POSTs a query to /proxy/query and returns the 200 answer.
func proxyRaw(t *testing.T, base, q string) []byte {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"query": q})
	resp, err := http.Post(base+"/proxy/query", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("proxy %q: %d %s", q, resp.StatusCode, out)
	}
	return out
}

// splitSource lists the tables from SurrealDB itself and runs every other query through the
// proxy: the combination that makes the loader page with its versioned query.
type splitSource struct {
	db    loader.Source
	proxy loader.Source
}

func (s splitSource) QueryValue(ctx context.Context, q string, vars map[string]value.Value) (value.Value, error) {
	if q == loader.QueryInfo {
		return s.db.QueryValue(ctx, q, vars)
	}
	return s.proxy.QueryValue(ctx, q, vars)
}

// TestProxyRefusesVersionedPages: when the table list comes from SurrealDB (which has
// `_00_version`) and the rows from the proxy, the loader's versioned page query would be
// answered [] (the replica has no `_00_version`) and every table would load empty. The
// ProxySource refuses that query with an error instead of losing the rows silently.
func TestProxyRefusesVersionedPages(t *testing.T) {
	s, src := frozenScheduler(t)
	// The hazard: the versioned page query, sent as text, is answered 200 [].
	q := strings.ReplaceAll(strings.ReplaceAll(loader.QueryFirstPageVersioned, "$tb", `"thread"`), "$n", "10")
	if raw := strings.TrimSpace(string(proxyRaw(t, s.URL(), q))); raw != "[]" {
		t.Logf("the proxy answered the versioned page with %s (no longer []?)", raw)
	}
	l := loader.New(splitSource{db: loader.QuerierSource{Q: src}, proxy: &ProxySource{SchedulerURL: s.URL()}})
	ctx := testCtx(t)
	if _, err := l.Tables(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := l.LoadTable(ctx, "thread", 100, func(rows []value.Value) error { n += len(rows); return nil })
	if err == nil || !strings.Contains(err.Error(), membership.VersionTable) || !strings.Contains(err.Error(), "list the tables through the proxy") {
		t.Fatalf("LoadTable with versioned pages through the proxy: %d rows, error %v; want a refusal", n, err)
	}
}

// TestProxyInfoForDBBothForms: INFO FOR DB comes back as a one-element array (the real
// scheduler) or as an object (older ones); the table list is the same.
func TestProxyInfoForDBBothForms(t *testing.T) {
	s, _ := startScheduler(t, "DEFINE TABLE a SCHEMALESS; DEFINE TABLE b SCHEMALESS; CREATE a:1; CREATE b:1; DEFINE TABLE _00_query SCHEMALESS", testscheduler.Options{})
	src := &ProxySource{SchedulerURL: s.URL()}
	for _, object := range []bool{false, true} {
		s.SetDefects(testscheduler.Defects{InfoObject: object})
		raw := strings.TrimSpace(string(proxyRaw(t, s.URL(), "INFO FOR DB")))
		if object != strings.HasPrefix(raw, "{") {
			t.Fatalf("InfoObject %v: answer %s", object, raw)
		}
		v, err := src.QueryValue(testCtx(t), loader.QueryInfo, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]value.Kind{false: value.KindArray, true: value.KindObject}[object]; v.Kind() != want {
			t.Errorf("InfoObject %v: result of kind %s", object, v.Kind())
		}
		tables, err := loader.New(src).Tables(testCtx(t))
		if err != nil || !reflect.DeepEqual(tables, []string{"a", "b"}) {
			t.Errorf("InfoObject %v: Tables = %v, %v", object, tables, err)
		}
	}
}

// TestProxyErrors: a refusal quotes the proxy's status and body; unreadable answers and
// transport errors are errors too.
func TestProxyErrors(t *testing.T) {
	s, _ := startScheduler(t, "DEFINE TABLE a SCHEMALESS", testscheduler.Options{})
	ctx := testCtx(t)
	_, err := (&ProxySource{SchedulerURL: s.URL()}).QueryValue(ctx, "THIS IS NOT VALID SURQL !!!", nil)
	if !errors.Is(err, ErrProxyQuery) || !strings.Contains(err.Error(), "500 Internal Server Error") || !strings.Contains(err.Error(), `"Query failed: `) {
		t.Errorf("invalid query: %v", err)
	}
	if v, err := (&ProxySource{SchedulerURL: s.URL()}).QueryValue(ctx, "SELECT * FROM nonexistent", nil); err != nil || v.Kind() != value.KindArray || v.Len() != 0 {
		t.Errorf("missing table: %s, %v", v.SurQL(), err)
	}

	answers := map[string]struct {
		status int
		body   string
	}{
		"/503/proxy/query":     {503, "Scheduler is restoring"},
		"/text/proxy/query":    {200, "not json"},
		"/two/proxy/query":     {200, "[] []"},
		"/404/proxy/query":     {404, ""},
		"/objects/proxy/query": {200, `[1, {"x": "y"}]`},
	}
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.URL.Path]
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	defer stub.Close()
	tests := []struct {
		path string
		want []string
	}{
		{"/503", []string{"503 Service Unavailable", `"Scheduler is restoring"`, "SELECT 1"}},
		{"/text", []string{"decode the answer", `"not json"`}},
		{"/two", []string{"more than one JSON value"}},
		{"/404", []string{"404 Not Found", "(empty body)"}},
	}
	for _, tt := range tests {
		_, err := (&ProxySource{SchedulerURL: stub.URL + tt.path}).QueryValue(ctx, "SELECT 1", nil)
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v lacks %q", tt.path, err, w)
			}
		}
	}
	if v, err := (&ProxySource{SchedulerURL: stub.URL + "/objects"}).QueryValue(ctx, "SELECT 1", nil); err != nil || v.SurQL() != `[1, { x: "y" }]` {
		t.Errorf("mixed answer %s, %v", v.SurQL(), err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := (&ProxySource{SchedulerURL: closed.URL}).QueryValue(ctx, "SELECT 1", nil); err == nil || !strings.Contains(err.Error(), "POST "+closed.URL) {
		t.Errorf("transport error: %v", err)
	}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	start := time.Now()
	if _, err := (&ProxySource{SchedulerURL: slow.URL, Timeout: 100 * time.Millisecond}).QueryValue(ctx, "SELECT 1", nil); err == nil ||
		!errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("timeout: %v after %s", err, time.Since(start))
	}
	if _, err := (&ProxySource{SchedulerURL: stub.URL}).QueryValue(ctx, "SELECT * FROM $x", map[string]value.Value{"x": value.String("\xff")}); err == nil ||
		!strings.Contains(err.Error(), "$x") {
		t.Errorf("invalid UTF-8 variable: %v", err)
	}
}

// TestLiteralRoundTrip: every literal the proxy source writes into a query reads back in
// SurrealDB as the value it stands for.
func TestLiteralRoundTrip(t *testing.T) {
	c, _ := source(t, "")
	dt, _ := value.ParseDatetime("2026-03-04T05:06:07.123456789Z")
	vals := []value.Value{
		value.None(), value.Null(), value.Bool(true), value.Bool(false),
		value.Int(0), value.Int(-42), value.Int(math.MaxInt64), value.Int(math.MinInt64),
		value.Float(1.5), value.Float(-0.1), value.Float(3), value.Float(1e300), value.Float(5e-324), value.Float(math.Copysign(0, -1)),
		value.Float(math.Inf(1)), value.Float(math.Inf(-1)), value.Float(math.NaN()),
		value.String(""), value.String(`say "hi"`), value.String(`it's`), value.String(`back\slash \n not a newline`),
		value.String("new\nline\ttab\rcr\x00nul\x1besc\x7fdel\u2028ls"), value.String("ünïcödé ⟨⟩ ` 😀"),
		value.String("user:1"), value.String("2026-01-01T00:00:00Z"), value.String("$tb"),
		dt, value.Duration(90 * time.Minute), value.Duration(0),
		value.Record("thread", value.Int(1)), value.Record("thread", value.Int(-7)), value.Record("thread", value.String("123")),
		value.Record("thread", value.String(`it's "odd" ⟩ key`)), value.Record("a b⟩", value.String("x`y\\z")),
		value.Record("thread", value.String("ünï cödé")),
		value.Array([]value.Value{value.Int(1), value.String("x"), value.Record("t", value.Int(2))}),
		value.ObjectOf([]value.Field{{Key: "a b", Val: value.Int(1)}, {Key: `q"k`, Val: value.String("v")}, {Key: "plain", Val: value.Null()}}),
	}
	for _, v := range vals {
		lit, err := literal(v)
		if err != nil {
			t.Errorf("literal(%s): %v", v.SurQL(), err)
			continue
		}
		rs, err := c.Query(testCtx(t), "RETURN "+lit, nil)
		if err == nil {
			err = conn.StatementErr(rs)
		}
		if err != nil {
			t.Errorf("RETURN %s: %v", lit, err)
			continue
		}
		if got := rs[0].Value; !value.Identical(got, v) {
			t.Errorf("RETURN %s = %s (%s), want %s (%s)", lit, got.SurQL(), got.Kind(), v.SurQL(), v.Kind())
		}
	}
	for _, bad := range []value.Value{value.String("\xff"), value.Duration(-time.Second), value.Record("t\xff", value.Int(1))} {
		if lit, err := literal(bad); err == nil {
			t.Errorf("literal(%s) = %s, want an error", bad.SurQL(), lit)
		}
	}
}

// TestRenderQuery: variables are replaced where they are parameters, not inside strings or
// quoted identifiers, not when only a prefix matches, and unknown ones stay.
func TestRenderQuery(t *testing.T) {
	vars := map[string]value.Value{"tb": value.String(`th"read`), "n": value.Int(5), "last": value.Record("thread", value.Int(9))}
	tests := []struct{ in, want string }{
		{loader.QueryFirstPage, `SELECT * FROM type::table("th\"read") ORDER BY id LIMIT 5`},
		{loader.QueryNextPage, `SELECT * FROM type::table("th\"read") WHERE id > type::record("thread", 9) ORDER BY id LIMIT 5`},
		{`SELECT '$tb', "$n \" $n", ` + "`$tb`" + `, ⟨$n⟩, $tbx, $parent.id, $ FROM $tb`,
			`SELECT '$tb', "$n \" $n", ` + "`$tb`" + `, ⟨$n⟩, $tbx, $parent.id, $ FROM "th\"read"`},
		{`RETURN 'unclosed $tb`, `RETURN 'unclosed $tb`},
	}
	for _, tt := range tests {
		got, err := renderQuery(tt.in, vars)
		if err != nil || got != tt.want {
			t.Errorf("renderQuery(%q) =\n %q, %v\nwant %q", tt.in, got, err, tt.want)
		}
	}
	if got, err := renderQuery("RETURN $n", nil); err != nil || got != "RETURN $n" {
		t.Errorf("no vars: %q, %v", got, err)
	}
}

// TestDecodeResultAsIngest: any record JSON, as a proxy row, is classified exactly as /ingest
// classifies it; the answer's top level follows the same rules.
func TestDecodeResultAsIngest(t *testing.T) {
	records := []string{
		`{"id": "t:1"}`,
		`{"id": "t:1", "tb": "x", "key": "y"}`,
		`{"id": "t:1", "table": "user", "key": "1"}`,
		`{"id": "t:1", "link": "user:⟨a b⟩", "at": "2026-01-01T00:00:00.5+02:00", "bad_at": "2026-13-01T00:00:00Z"}`,
		`{"id": "t:1", "n": 1, "f": 1.0, "e": 1e3, "big": 18446744073709551616, "neg": -0}`,
		`{"id": "t:1", "nested": {"tb": "user", "id": 7}, "arr": [{"table": "a", "key": "b"}, "x:y", null], "o": {"k": {"tb": "q"}}}`,
		`{"id": "t:1", "s": "esc \u00e9 \ud83d\ude00 \n"}`,
		// (A key twice: /ingest refuses it, a client's ambiguous body; a database answer never
		// has one.)
	}
	for _, rec := range records {
		v, err := decodeResult([]byte("[" + rec + "]"))
		if err != nil || v.Len() != 1 {
			t.Fatalf("decodeResult([%s]) = %s, %v", rec, v.SurQL(), err)
		}
		in, err := ingest.Decode([]byte(`{"table":"t","op":"CREATE","id":"t:1","record":` + rec + `}`))
		if err != nil {
			t.Fatalf("ingest.Decode(%s): %v", rec, err)
		}
		// The change's id is the record of the body's id (the row's own is read from JSON).
		row := v.Elems()[0].With("id", in.Change.ID)
		if !value.Identical(row, in.Change.Record) {
			t.Errorf("record %s:\n proxy  %s\n ingest %s", rec, row.SurQL(), in.Change.Record.SurQL())
		}
		one, err := decodeResult([]byte(rec))
		if err != nil || !value.Identical(one.With("id", in.Change.ID), in.Change.Record) {
			t.Errorf("record %s alone: %s, %v", rec, one.SurQL(), err)
		}
	}
	for in, want := range map[string]string{`3`: `3`, `"user:1"`: `user:1`, `null`: `NULL`, `[]`: `[]`, `[[{"tb":"a","id":"b"}]]`: `[[a:b]]`,
		`{"tb":"a","id":"b"}`: `{ id: "b", tb: "a" }`} {
		if v, err := decodeResult([]byte(in)); err != nil || v.SurQL() != want {
			t.Errorf("decodeResult(%s) = %s, %v; want %s", in, v.SurQL(), err, want)
		}
	}
}
