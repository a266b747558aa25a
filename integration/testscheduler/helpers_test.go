package testscheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/devdb/devdbtest"
	"github.com/sp00ky/ssp/internal/wait"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	sspingest "github.com/sp00ky/ssp/surreal/ingest"
	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/tablehash"
	"github.com/sp00ky/ssp/surreal/value"
)

var db *devdb.Server

func TestMain(m *testing.M) {
	devdbtest.RunTests(m, devdb.Options{}, func(s *devdb.Server) { db = s })
}

const testNS = "ts"

var dbSeq atomic.Int64

func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// source opens a fresh source database and runs setup (SurrealQL) in it.
func source(t *testing.T, setup string) (*conn.Conn, string) {
	t.Helper()
	ctx := testCtx(t)
	name := fmt.Sprintf("src%d", dbSeq.Add(1))
	c, err := conn.Dial(ctx, conn.Config{URL: db.URL(), User: db.User, Pass: db.Pass, NS: testNS, DB: name, Log: quietLog()})
	if err != nil {
		t.Fatalf("dial source: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	if setup != "" {
		exec(t, c, setup)
	}
	return c, name
}

func exec(t *testing.T, c *conn.Conn, q string) []conn.Result {
	t.Helper()
	rs, err := c.Query(testCtx(t), q, nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	return rs
}

// start starts a scheduler on a fresh source database (setup run in it first). Tests get fast
// polling and no periodic updater unless opts say otherwise.
func start(t *testing.T, setup string, opts Options) (*Scheduler, *conn.Conn) {
	t.Helper()
	src, name := source(t, setup)
	opts.URL, opts.User, opts.Pass, opts.NS, opts.DB = db.URL(), db.User, db.Pass, testNS, name
	if opts.PollInterval == 0 {
		opts.PollInterval = 5 * time.Millisecond
	}
	if opts.UpdateInterval == 0 {
		opts.UpdateInterval = -1
	}
	if opts.Log == nil {
		opts.Log = quietLog()
	}
	s, err := Start(testCtx(t), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, src
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	wait.For(t, 10*time.Second, 2*time.Millisecond, func() (bool, string) { return cond(), "waiting for " + what })
}

// post sends a JSON body (a string as is, anything else encoded) and returns status and body.
// A transport error fails the test (with Errorf: post also runs in other goroutines) and
// returns status 0.
func post(t *testing.T, url string, body any) (int, string) {
	t.Helper()
	var b []byte
	switch x := body.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		var err error
		if b, err = json.Marshal(x); err != nil {
			t.Error(err)
			return 0, err.Error()
		}
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0, err.Error()
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// ingest posts one event; a refusal fails the test (Errorf: it also runs in other goroutines).
func ingest(t *testing.T, s *Scheduler, table, op, id string, record map[string]any) {
	t.Helper()
	body := map[string]any{"table": table, "op": op, "id": id}
	if record != nil {
		body["record"] = record
	}
	if st, msg := post(t, s.URL()+"/ingest", body); st != http.StatusOK {
		t.Errorf("ingest %s %s: %d %s", op, id, st, msg)
	}
}

type registerAnswer struct {
	SnapshotSeq uint64            `json:"snapshot_seq"`
	TableHashes map[string]string `json:"table_hashes"`
}

// fakeSSP is a stand-in SSP: it answers /health with a settable status, keeps the rows it is
// sent through /ingest (idempotently, as SPEC §1.1 wants) and serves them as /info
// circuit_hashes, records every request, and can bootstrap itself through /proxy/query with the
// SSP's own loader.
type fakeSSP struct {
	t   *testing.T
	id  string
	srv *httptest.Server

	mu           sync.Mutex
	health       string
	viewStatus   int
	ingestStatus int
	skipApply    bool                              // receive ingests but do not apply them
	onIngest     func(ingestReq)                   // called (unlocked) for every /ingest
	store        map[string]map[string]value.Value // table → hash key → row
	ingests      []ingestReq
	viewReqs     []viewReq
	healthAuth   []string
}

type ingestReq struct {
	ID, Table, Op, Assignee, Auth string
	Body                          map[string]any
}

type viewReq struct {
	Path, Auth string
	Body       map[string]any
}

func newFakeSSP(t *testing.T, id string) *fakeSSP {
	f := &fakeSSP{t: t, id: id, health: "bootstrapping", viewStatus: 200, ingestStatus: 200, store: map[string]map[string]value.Value{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h := f.health
		f.healthAuth = append(f.healthAuth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		st := http.StatusOK
		if h != "ready" {
			st = http.StatusServiceUnavailable
		}
		w.WriteHeader(st)
		_, _ = fmt.Fprintf(w, `{"status":%q}`, h)
	})
	mux.HandleFunc("POST /ingest", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		req := ingestReq{Auth: r.Header.Get("Authorization"), Body: m}
		req.ID, _ = m["id"].(string)
		req.Table, _ = m["table"].(string)
		req.Op, _ = m["op"].(string)
		req.Assignee, _ = m["job_assignee"].(string)
		f.mu.Lock()
		f.ingests = append(f.ingests, req)
		hook, st, skip := f.onIngest, f.ingestStatus, f.skipApply
		if !skip && st == 200 {
			f.applyLocked(b)
		}
		f.mu.Unlock()
		if hook != nil {
			hook(req)
		}
		w.WriteHeader(st)
	})
	view := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f.mu.Lock()
		f.viewReqs = append(f.viewReqs, viewReq{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: m})
		st := f.viewStatus
		f.mu.Unlock()
		w.WriteHeader(st)
		_, _ = io.WriteString(w, `{"view_id":"x","result_hash":"","records":[]}`)
	}
	mux.HandleFunc("POST /view/register", view)
	mux.HandleFunc("POST /view/unregister", view)
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode([]any{map[string]any{"entity": "ssp", "id": f.id, "circuit_hashes": f.hashes()}})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSSP) url() string { return f.srv.URL }

func (f *fakeSSP) set(fn func(f *fakeSSP)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// applyLocked applies an /ingest body as the SSP does: CREATE/UPDATE upsert the row, DELETE
// removes it; `_00_` tables are ignored.
func (f *fakeSSP) applyLocked(body []byte) {
	b, err := sspingest.Decode(body)
	ch := b.Change
	if err != nil {
		f.t.Errorf("fake SSP %s: bad ingest %s: %v", f.id, body, err)
		return
	}
	if strings.HasPrefix(ch.Table, "_00_") {
		return
	}
	m := f.store[ch.Table]
	if m == nil {
		m = map[string]value.Value{}
		f.store[ch.Table] = m
	}
	if ch.Op == engine.OpDelete {
		delete(m, value.HashKey(ch.ID))
		return
	}
	m[value.HashKey(ch.ID)] = ch.Record
}

// hashes returns the §6.4 hash of every table the fake holds.
func (f *fakeSSP) hashes() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for tb, m := range f.store {
		out[tb] = tablehash.Hash(tb, rowsOf(m))
	}
	return out
}

func rowsOf(m map[string]value.Value) []value.Value {
	out := make([]value.Value, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	return out
}

// received returns a copy of the /ingest requests received.
func (f *fakeSSP) received() []ingestReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ingestReq(nil), f.ingests...)
}

// views returns a copy of the view requests received.
func (f *fakeSSP) views() []viewReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]viewReq(nil), f.viewReqs...)
}

// healthAuths returns the Authorization headers of the health polls received.
func (f *fakeSSP) healthAuths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.healthAuth...)
}

func (f *fakeSSP) receivedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.ingests))
	for i, r := range f.ingests {
		out[i] = r.ID
	}
	return out
}

// register registers the fake with the scheduler and returns the 202 answer.
func (f *fakeSSP) register(t *testing.T, s *Scheduler) registerAnswer {
	t.Helper()
	st, body := post(t, s.URL()+"/ssp/register", map[string]any{"ssp_id": f.id, "url": f.url(), "version": "0.0.0-test"})
	if st != http.StatusAccepted {
		t.Fatalf("register %s: %d %s", f.id, st, body)
	}
	var a registerAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("register answer %s: %v", body, err)
	}
	return a
}

func (f *fakeSSP) heartbeat(t *testing.T, s *Scheduler, views int) (int, string) {
	t.Helper()
	return post(t, s.URL()+"/ssp/heartbeat", map[string]any{
		"ssp_id": f.id, "timestamp": time.Now().Unix(), "views": views, "cpu_usage": 12.5, "memory_usage": 256.0, "version": "0.0.0-test",
	})
}

// readyUp registers the fake, turns its health ready and waits until the scheduler has it ready.
func (f *fakeSSP) readyUp(t *testing.T, s *Scheduler) registerAnswer {
	t.Helper()
	a := f.register(t, s)
	f.set(func(f *fakeSSP) { f.health = "ready" })
	waitFor(t, f.id+" ready", func() bool { p, ok := s.SSP(f.id); return ok && p.Status == SSPReady })
	return a
}

// load bootstraps the fake through the scheduler's /proxy/query with the SSP's own loader,
// pageSize rows a page, and returns the rows per table.
func (f *fakeSSP) load(t *testing.T, s *Scheduler, pageSize int) map[string][]value.Value {
	t.Helper()
	l := loader.New(proxySource{t: t, url: s.URL()})
	ctx := testCtx(t)
	tables, err := l.Tables(ctx)
	if err != nil {
		t.Fatalf("load through the proxy: %v", err)
	}
	out := map[string][]value.Value{}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.store = map[string]map[string]value.Value{}
	for _, tb := range tables {
		m := map[string]value.Value{}
		err := l.LoadTable(ctx, tb, pageSize, func(rows []value.Value) error {
			for _, r := range rows {
				m[value.HashKey(r.Get("id"))] = r
			}
			out[tb] = append(out[tb], rows...)
			return nil
		})
		if err != nil {
			t.Fatalf("load %s through the proxy: %v", tb, err)
		}
		f.store[tb] = m
	}
	return out
}

// proxySource is a loader.Source on /proxy/query: variables are rendered as SurrealQL
// literals and rows classified as /ingest bodies are, as the SSP's scheduler mode will.
type proxySource struct {
	t   *testing.T
	url string
}

func (p proxySource) QueryValue(_ context.Context, surql string, vars map[string]value.Value) (value.Value, error) {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, k := range names {
		surql = strings.ReplaceAll(surql, "$"+k, vars[k].SurQL())
	}
	st, body := post(p.t, p.url+"/proxy/query", map[string]string{"query": surql})
	if st != http.StatusOK {
		return value.Value{}, fmt.Errorf("proxy %q: %d %s", surql, st, body)
	}
	return decodeProxy(body)
}

// decodeProxy classifies a /proxy/query answer: objects field by field, so that rows stay rows.
func decodeProxy(body string) (value.Value, error) {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return value.Value{}, err
	}
	return classify(x)
}

func classify(x any) (value.Value, error) {
	switch t := x.(type) {
	case []any:
		out := make([]value.Value, len(t))
		for i, e := range t {
			v, err := classify(e)
			if err != nil {
				return value.Value{}, err
			}
			out[i] = v
		}
		return value.Array(out), nil
	case map[string]any:
		return value.ObjectFromAny(t)
	}
	return value.FromAny(x)
}

// proxyRows runs a query through the proxy and returns the rows.
func proxyRows(t *testing.T, s *Scheduler, q string) []value.Value {
	t.Helper()
	st, body := post(t, s.URL()+"/proxy/query", map[string]string{"query": q})
	if st != http.StatusOK {
		t.Fatalf("proxy %q: %d %s", q, st, body)
	}
	v, err := decodeProxy(body)
	if err != nil || v.Kind() != value.KindArray {
		t.Fatalf("proxy %q: %s (%v)", q, body, err)
	}
	return v.Elems()
}

// canon returns the canonical JSON of rows (as hashed), sorted, for comparisons with readable
// failures.
func canon(table string, rows []value.Value) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = string(tablehash.CanonicalRow(table, r))
	}
	sort.Strings(out)
	return out
}

func seqList(n ...uint64) []uint64 { return n }

func itoa(i int) string { return strconv.Itoa(i) }
