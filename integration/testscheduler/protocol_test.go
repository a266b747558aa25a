package testscheduler

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The upstream scheduler's own acceptance cases (scheduler-protocol.md §4), plus the answers
// of §2 they imply.

func TestCloningAnswers503(t *testing.T) {
	s, _ := start(t, "CREATE thread:1 SET title = 'a'", Options{HoldCloning: true})
	if got := s.Status(); got != StatusCloning {
		t.Fatalf("status %s, want cloning", got)
	}
	for _, c := range []struct{ path, body string }{
		{"/ingest", `{"table":"thread","op":"CREATE","id":"thread:2","record":{}}`},
		{"/ssp/register", `{"ssp_id":"a","url":"http://127.0.0.1:1","version":"1"}`},
	} {
		st, body := post(t, s.URL()+c.path, c.body)
		if st != http.StatusServiceUnavailable || strings.HasPrefix(body, "{") {
			t.Errorf("%s while cloning: %d %q, want 503 text", c.path, st, body)
		}
	}
	if len(s.Log()) != 0 {
		t.Errorf("an ingest refused while cloning was logged: %v", s.Log())
	}
	s.ReleaseCloning()
	if err := s.WaitCloned(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := s.Status(); got != StatusReady {
		t.Fatalf("status after clone %s, want ready", got)
	}
	if rows := proxyRows(t, s, "SELECT * FROM thread"); len(rows) != 1 {
		t.Errorf("replica after clone: %v", rows)
	}
	ingest(t, s, "thread", "CREATE", "thread:2", map[string]any{"title": "b"})
}

func TestIngest(t *testing.T) {
	s, _ := start(t, "", Options{})
	tests := []struct {
		name   string
		body   string
		status int
		text   string
	}{
		{"create", `{"table":"t","op":"CREATE","id":"t:1","record":{"a":1}}`, 200, ""},
		{"lower case", `{"table":"t","op":"create","id":"t:2","record":{}}`, 200, ""},
		{"mixed case", `{"table":"t","op":"Update","id":"t:2","record":{"b":2}}`, 200, ""},
		{"delete without record", `{"table":"t","op":"Delete","id":"t:2"}`, 200, ""},
		{"unknown keys kept", `{"table":"t","op":"UPDATE","id":"t:1","record":{"a":2},"hash":"x"}`, 200, ""},
		{"merge refused", `{"table":"t","op":"MERGE","id":"t:1","record":{"a":3}}`, 400, "Invalid operation: MERGE"},
		{"unknown op", `{"table":"t","op":"UPSERT","id":"t:1","record":{}}`, 400, "Invalid operation: UPSERT"},
		{"missing op", `{"table":"t","id":"t:1","record":{}}`, 422, "missing field `op`"},
		{"missing table", `{"op":"CREATE","id":"t:1","record":{}}`, 422, "missing field `table`"},
		{"not an object", `[1]`, 422, "expected a struct"},
		{"bad JSON", `{"table":`, 400, "Failed to parse"},
	}
	want := uint64(0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := post(t, s.URL()+"/ingest", tc.body)
			if st != tc.status || !strings.Contains(body, tc.text) {
				t.Fatalf("got %d %q, want %d containing %q", st, body, tc.status, tc.text)
			}
			if st == 200 {
				want++
			}
			if got := s.Seq(); got != want {
				t.Fatalf("seq %d after, want %d (refused ingests take no seq)", got, want)
			}
		})
	}
	resp, err := http.Post(s.URL()+"/ingest", "text/plain", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: %d, want 415", resp.StatusCode)
	}
}

func TestIngestSeqsAndLog(t *testing.T) {
	s, _ := start(t, "", Options{})
	for i := 1; i <= 5; i++ {
		ingest(t, s, "t", "CREATE", "t:"+itoa(i), map[string]any{"n": i})
	}
	log := s.Log()
	if len(log) != 5 {
		t.Fatalf("log has %d events, want 5", len(log))
	}
	for i, e := range log {
		if e.Seq != uint64(i+1) || e.ID != "t:"+itoa(i+1) || e.Table != "t" || e.Op != "CREATE" {
			t.Errorf("log[%d] = %+v, want seq %d of t:%d", i, e, i+1, i+1)
		}
	}
	if got := s.GlobalBuffer(); !slices.Equal(got, seqList(1, 2, 3, 4, 5)) {
		t.Errorf("global buffer %v, want 1..5", got)
	}

	// HistoryLimit bounds the log kept for inspection, not the seqs nor the buffer.
	s, _ = start(t, "", Options{HistoryLimit: 2})
	for i := 1; i <= 5; i++ {
		ingest(t, s, "t", "CREATE", "t:"+itoa(i), map[string]any{"n": i})
	}
	var kept []uint64
	for _, e := range s.Log() {
		kept = append(kept, e.Seq)
	}
	if !slices.Equal(kept, seqList(4, 5)) || s.Seq() != 5 || len(s.GlobalBuffer()) != 5 {
		t.Errorf("with HistoryLimit 2: log %v, seq %d, buffer %v", kept, s.Seq(), s.GlobalBuffer())
	}
}

func TestConcurrentIngestsGetDistinctSeqs(t *testing.T) {
	s, _ := start(t, "", Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := `{"table":"t","op":"CREATE","id":"t:` + itoa(i) + `","record":{}}`
			resp, err := http.Post(s.URL()+"/ingest", "application/json", strings.NewReader(b))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- errors.New(resp.Status)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, e := range s.Log() {
		seen[e.Seq] = true
	}
	for seq := uint64(1); seq <= 20; seq++ {
		if !seen[seq] {
			t.Errorf("seq %d missing; log %v", seq, s.Log())
		}
	}
	if len(seen) != 20 {
		t.Errorf("%d distinct seqs, want 20", len(seen))
	}
}

func TestIngestWhileFrozenAndFanOut(t *testing.T) {
	s, _ := start(t, "", Options{Secret: "s3cret"})
	a := newFakeSSP(t, "ssp-a")
	b := newFakeSSP(t, "ssp-b")
	a.readyUp(t, s)
	b.register(t, s) // stays bootstrapping: the replica is frozen
	if got := s.Status(); got != StatusFrozen {
		t.Fatalf("status %s, want frozen", got)
	}
	ingest(t, s, "thread", "create", "thread:1", map[string]any{"title": "x"})

	got := a.received()
	if len(got) != 1 {
		t.Fatalf("ready SSP received %d ingests, want 1", len(got))
	}
	r := got[0]
	if r.Auth != "Bearer s3cret" || r.Assignee != "ssp-a" || r.Op != "create" || r.Body["record"].(map[string]any)["title"] != "x" {
		t.Errorf("ready SSP received %+v; want the body with job_assignee ssp-a and the bearer", r)
	}
	if p, _ := s.SSP("ssp-b"); !slices.Equal(p.Buffered, seqList(1)) {
		t.Errorf("bootstrapping SSP's buffer %v, want [1]", p.Buffered)
	}
	if len(b.received()) != 0 {
		t.Errorf("bootstrapping SSP was sent %d ingests", len(b.received()))
	}
	for _, auth := range append(a.healthAuths(), b.healthAuths()...) {
		if auth != "" {
			t.Errorf("a health poll carried Authorization %q; polls carry none", auth)
		}
	}
	if reqs := s.Requests("ssp-a"); len(reqs) != 1 || reqs[0].Kind != KindFanout || reqs[0].Seq != 1 || reqs[0].Status != 200 {
		t.Errorf("requests to ssp-a: %+v", reqs)
	}
}

func TestRegistration(t *testing.T) {
	s, _ := start(t, "", Options{})
	ingest(t, s, "t", "CREATE", "t:1", map[string]any{"a": 1})
	ingest(t, s, "t", "CREATE", "t:2", map[string]any{"a": 2})
	if seq, err := s.ApplyNow(testCtx(t)); err != nil || seq != 2 {
		t.Fatalf("ApplyNow = %d, %v; want 2", seq, err)
	}
	tests := []struct {
		name   string
		body   string
		status int
		text   string
	}{
		{"empty id", `{"ssp_id":"","url":"http://127.0.0.1:1","version":"1"}`, 400, "SSP ID cannot be empty"},
		{"blank id", `{"ssp_id":"  \t","url":"http://127.0.0.1:1","version":"1"}`, 400, "SSP ID cannot be empty"},
		{"ftp url", `{"ssp_id":"x","url":"ftp://127.0.0.1:1","version":"1"}`, 400, "SSP URL must start with http:// or https://"},
		{"ws url", `{"ssp_id":"x","url":"ws://127.0.0.1:1","version":"1"}`, 400, "SSP URL must start with http:// or https://"},
		{"bare host", `{"ssp_id":"x","url":"example.com","version":"1"}`, 400, "SSP URL must start with http:// or https://"},
		{"missing url", `{"ssp_id":"x","version":"1"}`, 422, "missing field `url`"},
		{"missing version", `{"ssp_id":"x","url":"http://127.0.0.1:1"}`, 422, "missing field `version`"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := post(t, s.URL()+"/ssp/register", tc.body)
			if st != tc.status || !strings.Contains(body, tc.text) {
				t.Fatalf("got %d %q, want %d %q", st, body, tc.status, tc.text)
			}
			if len(s.SSPs()) != 0 {
				t.Fatalf("a refused registration entered the pool: %+v", s.SSPs())
			}
		})
	}

	f := newFakeSSP(t, "ssp-a")
	st, body := post(t, s.URL()+"/ssp/register", map[string]any{"ssp_id": "ssp-a", "url": f.url(), "version": "1.2.3", "env": map[string]string{"SPKY_SSP_REF_MODE": "dedicated"}})
	if st != http.StatusAccepted {
		t.Fatalf("register: %d %s", st, body)
	}
	var a registerAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil || a.SnapshotSeq != 2 || a.TableHashes["t"] == "" {
		t.Fatalf("202 body %s (%v): want snapshot_seq 2 and a hash of t", body, err)
	}
	p, ok := s.SSP("ssp-a")
	if !ok || p.Status != SSPBootstrapping || p.SnapshotSeq != 2 || p.Version != "1.2.3" || !strings.Contains(string(p.Env), "dedicated") {
		t.Fatalf("pool entry %+v, want a bootstrapping SSP at snapshot 2", p)
	}
	if got := s.Status(); got != StatusFrozen {
		t.Errorf("status %s after a registration, want frozen", got)
	}
	ingest(t, s, "t", "CREATE", "t:3", nil)
	if _, err := s.ApplyNow(testCtx(t)); !errors.Is(err, ErrFrozen) {
		t.Errorf("ApplyNow while frozen: %v, want ErrFrozen", err)
	}
	if got := s.SnapshotSeq(); got != 2 {
		t.Errorf("snapshot_seq moved to %d while frozen", got)
	}
	if st, _ := get(t, s.URL()+"/health"); st != http.StatusServiceUnavailable {
		t.Errorf("health with only a bootstrapping SSP: %d, want 503", st)
	}
}

func TestHeartbeat(t *testing.T) {
	s, _ := start(t, "", Options{})
	f := newFakeSSP(t, "ssp-a")
	if st, body := f.heartbeat(t, s, 0); st != http.StatusNotFound || body != "SSP not registered. Please re-register." {
		t.Fatalf("unknown SSP: %d %q", st, body)
	}
	f.readyUp(t, s)
	if st, body := f.heartbeat(t, s, 7); st != http.StatusOK {
		t.Fatalf("known SSP: %d %q", st, body)
	}
	p, _ := s.SSP("ssp-a")
	if p.ReportedViews != 7 || p.CPU == nil || *p.CPU != 12.5 || p.Memory == nil || *p.Memory != 256 {
		t.Errorf("stored heartbeat: views %d cpu %v mem %v", p.ReportedViews, p.CPU, p.Memory)
	}
	st, body := post(t, s.URL()+"/ssp/heartbeat", `{"ssp_id":"ssp-a","timestamp":1,"views":0,"cpu_usage":null,"memory_usage":null,"version":"1"}`)
	if st != 200 {
		t.Fatalf("null cpu/memory: %d %s", st, body)
	}
	if p, _ := s.SSP("ssp-a"); p.CPU != nil || p.Memory != nil {
		t.Errorf("null cpu/memory stored as %v %v", p.CPU, p.Memory)
	}
	if st, body := post(t, s.URL()+"/ssp/heartbeat", `{"ssp_id":"ssp-a","views":0,"version":"1"}`); st != 422 {
		t.Errorf("missing timestamp: %d %s, want 422", st, body)
	}
	if hbs := s.Heartbeats("ssp-a"); len(hbs) != 3 || hbs[0].Answer != 404 || hbs[1].Answer != 200 {
		t.Errorf("heartbeats recorded: %+v", hbs)
	}
}

func TestProxy(t *testing.T) {
	s, _ := start(t, `
		CREATE thread:abc SET title = 'Hi', author = user:⟨a-b⟩, at = d'2026-01-01T00:00:00Z', score = 1.0, n = 2;
		CREATE _00_query:v1 SET surql = 'SELECT * FROM thread', ssp_id = 'ssp-a';
		CREATE _00_list_ref:x SET in = _00_query:v1;`, Options{})
	for _, path := range []string{"/proxy/signin", "/proxy/use"} {
		if st, _ := post(t, s.URL()+path, `{"user":"root","pass":"root"}`); st != 200 {
			t.Errorf("%s: %d, want 200", path, st)
		}
	}
	tests := []struct {
		query  string
		status int
		want   string // exact body, or a prefix for 500
	}{
		{"SELECT * FROM nonexistent", 200, `[]`},
		{"SELECT * FROM thread", 200, `[{"at":"2026-01-01T00:00:00Z","author":"user:` + "`a-b`" + `","id":"thread:abc","n":2,"score":1.0,"title":"Hi"}]`},
		{"SELECT VALUE surql FROM _00_query", 200, `["SELECT * FROM thread"]`},
		{"SELECT * FROM _00_list_ref", 200, `[]`}, // other _00_ tables are not cloned
		{"SELECT * FROM thread; SELECT FROM WHERE", 500, "Query failed: "},
		{"THIS IS NOT VALID SURQL !!!", 500, "Query failed: "},
		{"RETURN 1", 200, `[1]`},
	}
	for _, tc := range tests {
		st, body := post(t, s.URL()+"/proxy/query", map[string]string{"query": tc.query})
		if st != tc.status || (st == 200 && body != tc.want) || (st != 200 && !strings.HasPrefix(body, tc.want)) {
			t.Errorf("%q: %d %s, want %d %s", tc.query, st, body, tc.status, tc.want)
		}
	}
	st, body := post(t, s.URL()+"/proxy/query", map[string]string{"query": "INFO FOR DB"})
	var arr []map[string]any
	if st != 200 || json.Unmarshal([]byte(body), &arr) != nil || len(arr) != 1 || arr[0]["tables"].(map[string]any)["thread"] == nil {
		t.Errorf("INFO FOR DB: %d %s, want a one-element array with tables.thread", st, body)
	}
	s.SetDefects(Defects{InfoObject: true})
	st, body = post(t, s.URL()+"/proxy/query", map[string]string{"query": "INFO FOR DB"})
	var obj map[string]any
	if st != 200 || json.Unmarshal([]byte(body), &obj) != nil || obj["tables"] == nil {
		t.Errorf("INFO FOR DB (object defect): %d %s, want an object", st, body)
	}
	if st, _ := post(t, s.URL()+"/proxy/query", `{}`); st != 422 {
		t.Errorf("missing query: %d, want 422", st)
	}
}

func TestViews(t *testing.T) {
	s, _ := start(t, "", Options{Secret: "k"})
	reg := map[string]any{"id": "_00_query:v1", "surql": "SELECT * FROM thread", "clientId": "c", "ttl": "10m"}
	if st, body := post(t, s.URL()+"/view/register", reg); st != 503 || body != "No SSP available" {
		t.Fatalf("no SSP: %d %q", st, body)
	}

	// An SSP that is ready but unreachable: 500 and no assignment.
	gone := newFakeSSP(t, "ssp-gone")
	gone.readyUp(t, s)
	gone.srv.Close()
	if st, body := post(t, s.URL()+"/view/register", reg); st != 500 || !strings.Contains(body, "ssp-gone") {
		t.Fatalf("unreachable SSP: %d %q", st, body)
	}
	if got := s.Assignments(); len(got) != 0 {
		t.Fatalf("assignment kept after a failure: %v", got)
	}
	s.DropSSP("ssp-gone")

	// An SSP that refuses: 500 and no assignment.
	f := newFakeSSP(t, "ssp-a")
	f.readyUp(t, s)
	f.set(func(f *fakeSSP) { f.viewStatus = 400 })
	if st, _ := post(t, s.URL()+"/view/register", reg); st != 500 || len(s.Assignments()) != 0 {
		t.Fatalf("refusing SSP: %d, assignments %v", st, s.Assignments())
	}
	f.set(func(f *fakeSSP) { f.viewStatus = 200 })
	st, body := post(t, s.URL()+"/view/register", reg)
	var ans map[string]string
	if st != 200 || json.Unmarshal([]byte(body), &ans) != nil || ans["query_id"] != "_00_query:v1" || ans["ssp_id"] != "ssp-a" || ans["assigned_at"] == "" {
		t.Fatalf("register: %d %s", st, body)
	}
	if got := s.Assignments(); got["v1"] != "ssp-a" {
		t.Errorf("assignments %v, want v1 → ssp-a", got)
	}
	last := f.views()[len(f.views())-1]
	if last.Path != "/view/register" || last.Auth != "Bearer k" || last.Body["surql"] != "SELECT * FROM thread" {
		t.Errorf("forwarded %+v", last)
	}

	if st, _ := post(t, s.URL()+"/view/unregister", map[string]string{"id": "nope"}); st != 404 {
		t.Errorf("unregister unknown: %d, want 404", st)
	}
	if st, body := post(t, s.URL()+"/view/unregister", map[string]string{"id": "v1"}); st != 200 {
		t.Fatalf("unregister: %d %s", st, body)
	}
	if last := f.views()[len(f.views())-1]; last.Path != "/view/unregister" || last.Body["id"] != "v1" {
		t.Errorf("unregister forwarded as %+v", last)
	}
	if len(s.Assignments()) != 0 {
		t.Errorf("assignment kept after unregister: %v", s.Assignments())
	}
}

func TestHealth(t *testing.T) {
	s, _ := start(t, "", Options{})
	check := func(want int, status string) {
		t.Helper()
		st, body := get(t, s.URL()+"/health")
		if st != want || body != `{"status":"`+status+`"}` {
			t.Errorf("health: %d %s, want %d %s", st, body, want, status)
		}
	}
	check(503, "unavailable")
	f := newFakeSSP(t, "ssp-a")
	f.register(t, s)
	check(503, "unavailable") // only a bootstrapping SSP
	f.set(func(f *fakeSSP) { f.health = "ready" })
	waitFor(t, "ssp-a ready", func() bool { p, _ := s.SSP("ssp-a"); return p.Status == SSPReady })
	check(200, "healthy")
}
