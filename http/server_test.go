package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/sp00ky/ssp/actors"
	"github.com/sp00ky/ssp/scheduler"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// fakeAPI is a hand-written actors.API for the status-code mapping tests only; the end-to-end
// test in e2e_test.go runs the real actors.Service.
type fakeAPI struct {
	mu           sync.Mutex
	status       actors.Status
	err          error // returned by Ingest, Register, Unregister and Reset when set
	panicMsg     string
	ingested     []engine.Change
	assignees    []string
	registered   []actors.RegisterRequest
	result       actors.RegisterResult
	unregistered []string
	resets       int
	views        map[string]actors.ViewDebug
	deps         actors.DepsDebug
	health       actors.Health
	info         actors.Info
	tree         actors.ActorTree
	sched        *scheduler.State
	detail       string
	jobErr       error    // returned by RetryJob and KillJob when set
	jobCalls     []string // "retry job:1", "kill job:2"
	jobs         actors.JobsDebug
}

func (f *fakeAPI) StatusDetail() (actors.Status, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.detail
}

func (f *fakeAPI) Status() actors.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeAPI) Ingest(_ context.Context, c engine.Change, jobAssignee string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	if f.err != nil {
		return f.err
	}
	if f.status != actors.StatusReady {
		// As the real service does: its coordinator refuses ingests unless ready.
		return fmt.Errorf("%w: SSP is %s", actors.ErrNotReady, f.status)
	}
	f.ingested = append(f.ingested, c)
	f.assignees = append(f.assignees, jobAssignee)
	return nil
}

func (f *fakeAPI) Register(_ context.Context, req actors.RegisterRequest) (actors.RegisterResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return actors.RegisterResult{}, f.err
	}
	f.registered = append(f.registered, req)
	res := f.result
	res.ViewID = req.Key
	return res, nil
}

func (f *fakeAPI) Unregister(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.unregistered = append(f.unregistered, key)
	return nil
}

func (f *fakeAPI) Reset(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.resets++
	return nil
}

func (f *fakeAPI) DebugView(_ context.Context, key string) (actors.ViewDebug, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.views[key]
	return v, ok
}

func (f *fakeAPI) Health(context.Context) actors.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health
}

func (f *fakeAPI) DebugDeps(context.Context) actors.DepsDebug {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deps
}

func (f *fakeAPI) DebugActors(context.Context) (actors.ActorTree, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tree, f.err
}

func (f *fakeAPI) DebugScheduler(context.Context) (*scheduler.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sched == nil {
		return nil, actors.ErrStandalone
	}
	return f.sched, nil
}

func (f *fakeAPI) Info(context.Context) actors.Info {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info
}

func (f *fakeAPI) RetryJob(_ context.Context, id string) (actors.JobAction, error) {
	return f.jobAction("retry", id, "pending")
}

func (f *fakeAPI) KillJob(_ context.Context, id string) (actors.JobAction, error) {
	return f.jobAction("kill", id, "failed")
}

func (f *fakeAPI) jobAction(op, id, status string) (actors.JobAction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobCalls = append(f.jobCalls, op+" "+id)
	if f.jobErr != nil {
		return actors.JobAction{}, f.jobErr
	}
	return actors.JobAction{ID: id, Status: status, Cancelled: op == "kill"}, nil
}

func (f *fakeAPI) DebugJobs(context.Context) (actors.JobsDebug, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jobs, nil
}

const secret = "s3cret"

var fixedNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

type fixture struct {
	api  *fakeAPI
	h    nethttp.Handler
	logs *logtest.Hook
	reg  *prometheus.Registry
}

func newFixture(t *testing.T, mutate func(*Options)) *fixture {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.TraceLevel)
	reg := prometheus.NewRegistry()
	api := &fakeAPI{status: actors.StatusReady, views: map[string]actors.ViewDebug{}}
	opts := Options{AuthSecret: secret, Log: log, Registry: reg, Version: "1.2.3", Now: func() time.Time { return fixedNow }}
	if mutate != nil {
		mutate(&opts)
	}
	return &fixture{api: api, h: New(api, opts), logs: hook, reg: reg}
}

type req struct {
	method, path, body string
	header             map[string]string // nil: JSON content type and the right token
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.header == nil {
		r.header = map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + secret}
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, hr)
	return w
}

// errorOf decodes an error answer and checks its shape.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q, want application/json; body %s", ct, w.Body)
	}
	var e errorBody
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body is not {code, message}: %v", err)
	}
	if e.Code == "" || e.Message == "" {
		t.Fatalf("error body %+v lacks code or message", e)
	}
	return e
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		dev    bool
		header map[string]string
		status int
		msg    string
	}{
		{"missing header", false, map[string]string{}, 401, "missing Authorization header"},
		{"basic scheme", false, map[string]string{"Authorization": "Basic czNjcmV0"}, 401, "Bearer scheme"},
		{"bare token", false, map[string]string{"Authorization": secret}, 401, "Bearer scheme"},
		{"empty bearer", false, map[string]string{"Authorization": "Bearer "}, 401, "empty bearer token"},
		{"wrong token", false, map[string]string{"Authorization": "Bearer nope"}, 401, "does not match SPKY_AUTH_SECRET"},
		{"token prefix only", false, map[string]string{"Authorization": "Bearer s3cre"}, 401, "does not match"},
		{"right token", false, map[string]string{"Authorization": "Bearer " + secret}, 200, ""},
		{"scheme any case", false, map[string]string{"Authorization": "bearer " + secret}, 200, ""},
		{"dev mode any token", true, map[string]string{"Authorization": "Bearer anything"}, 200, ""},
		{"dev mode missing header", true, map[string]string{}, 401, "missing Authorization header"},
		{"dev mode empty token", true, map[string]string{"Authorization": "Bearer"}, 401, "empty bearer token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				if tt.dev {
					o.AuthSecret = ""
				}
			})
			for _, path := range []string{"/reset", "/debug/deps", "/debug/actors"} {
				method := nethttp.MethodPost
				if strings.HasPrefix(path, "/debug") {
					method = nethttp.MethodGet
				}
				w := f.do(req{method: method, path: path, header: tt.header})
				if w.Code != tt.status {
					t.Fatalf("%s: status %d, want %d; body %s", path, w.Code, tt.status, w.Body)
				}
				if tt.status == 401 {
					e := errorOf(t, w)
					if e.Code != "UNAUTHORIZED" || !strings.Contains(e.Message, tt.msg) {
						t.Fatalf("%s: error %+v, want UNAUTHORIZED containing %q", path, e, tt.msg)
					}
					if w.Header().Get("WWW-Authenticate") == "" {
						t.Errorf("%s: 401 without WWW-Authenticate", path)
					}
				}
			}
			if tt.status == 401 && f.api.resets != 0 {
				t.Fatal("an unauthorized /reset reached the service")
			}
		})
	}
}

func TestPublicRoutes(t *testing.T) {
	f := newFixture(t, nil)
	f.api.deps = actors.DepsDebug{ViewCount: 2, TablesInStore: []string{"thread"}}
	f.api.health = actors.Health{Views: 2, Tables: 1, EdgeBacklog: 3, DB: actors.DBStatus{Status: "up"}}
	f.api.info = actors.Info{Entity: "ssp", ID: "ssp-1", Status: actors.StatusReady, Views: 2, RefMode: "dedicated",
		Version: "1.2.3", UptimeSeconds: 5, SurrealDBVersion: "3.0.0",
		CircuitTables: map[string]int{"thread": 1}, CircuitHashes: map[string]string{"thread": "b3:00"}}
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ssp_views", Help: "views"})
	gauge.Set(2)
	f.reg.MustRegister(gauge)

	tests := []struct {
		path   string
		status int
		want   string // JSON the body must equal, or a substring for /metrics
	}{
		{"/health", 200, `{"status":"ready","views":2,"tables":1,"db":"up","edge_backlog":3}`},
		{"/version", 200, `{"version":"1.2.3","mode":"streaming"}`},
		{"/info", 200, `[{"entity":"ssp","id":"ssp-1","status":"ready","views":2,"ref_mode":"dedicated","version":"1.2.3",` +
			`"uptime_seconds":5,"surrealdb_version":"3.0.0","circuit_tables":{"thread":1},"circuit_hashes":{"thread":"b3:00"}}]`},
		{"/metrics", 200, "ssp_views 2"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := f.do(req{method: "GET", path: tt.path, header: map[string]string{}})
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" {
				t.Fatalf("Access-Control-Allow-Origin = %q, want *", got)
			}
			if tt.path == "/metrics" {
				if !strings.Contains(w.Body.String(), tt.want) || !strings.Contains(w.Body.String(), "ssp_http_requests_total") {
					t.Fatalf("metrics lack %q or ssp_http_requests_total:\n%s", tt.want, w.Body)
				}
				return
			}
			assertJSON(t, w.Body.String(), tt.want)
		})
	}
}

func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("body\n got %s\nwant %s", gb, wb)
	}
}

func TestHealthAndInfoWhileNotReady(t *testing.T) {
	for _, st := range []actors.Status{actors.StatusBootstrapping, actors.StatusFailed} {
		f := newFixture(t, nil)
		f.api.status = st
		f.api.info = actors.Info{Entity: "ssp", Status: st}
		w := f.do(req{method: "GET", path: "/health", header: map[string]string{}})
		if w.Code != 503 {
			t.Fatalf("%s: /health status %d, want 503", st, w.Code)
		}
		assertJSON(t, w.Body.String(), fmt.Sprintf(`{"status":%q}`, st))
		w = f.do(req{method: "GET", path: "/info", header: map[string]string{}})
		var infos []map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &infos); err != nil || w.Code != 200 || len(infos) != 1 {
			t.Fatalf("%s: /info %d %s, want 200 and a one-element array", st, w.Code, w.Body)
		}
		if infos[0]["status"] != string(st) {
			t.Fatalf("%s: /info status %v", st, infos[0]["status"])
		}
		for _, k := range []string{"circuit_tables", "circuit_hashes"} {
			if _, ok := infos[0][k].(map[string]any); !ok {
				t.Fatalf("%s: /info %s = %v, want an object", st, k, infos[0][k])
			}
		}
	}
	// A failure says why.
	f := newFixture(t, nil)
	f.api.status, f.api.detail = actors.StatusFailed, "scheduler registration: 400 SSP URL must start with http://"
	w := f.do(req{method: "GET", path: "/health", header: map[string]string{}})
	assertJSON(t, w.Body.String(), `{"status":"failed","detail":"scheduler registration: 400 SSP URL must start with http://"}`)
}

// During a database outage /health stays 200 while the SSP is ready and says so: the database
// is down, since how long, why, and how many view changes wait for their edge rows.
func TestHealthDuringDatabaseOutage(t *testing.T) {
	f := newFixture(t, nil)
	f.api.health = actors.Health{Views: 1, Tables: 1, EdgeBacklog: 42,
		DB: actors.DBStatus{Status: "down", DownSeconds: 7.5, LastError: "surrealdb ping: connection refused", Outages: 1}}
	w := f.do(req{method: "GET", path: "/health", header: map[string]string{}})
	if w.Code != 200 {
		t.Fatalf("/health %d, want 200", w.Code)
	}
	assertJSON(t, w.Body.String(), `{"status":"ready","views":1,"tables":1,"db":"down","edge_backlog":42,`+
		`"db_down_seconds":7.5,"db_error":"surrealdb ping: connection refused"}`)
}

func TestReadyGate(t *testing.T) {
	bodies := map[string]string{
		"/ingest":          `{"table":"t","op":"CREATE","id":"t:1","record":{}}`,
		"/view/register":   `{"id":"a","surql":"SELECT * FROM t","clientId":"c","ttl":"1m"}`,
		"/view/unregister": `{"id":"a"}`,
	}
	for _, st := range []actors.Status{actors.StatusBootstrapping, actors.StatusFailed} {
		f := newFixture(t, nil)
		f.api.status = st
		for path, body := range bodies {
			w := f.do(req{method: "POST", path: path, body: body})
			if w.Code != 503 {
				t.Fatalf("%s %s: status %d, want 503", st, path, w.Code)
			}
			assertJSON(t, w.Body.String(), fmt.Sprintf(`{"code":"SSP_NOT_READY","message":"SSP is %s"}`, st))
		}
		// Not gated.
		for _, r := range []req{
			{method: "POST", path: "/reset"},
			{method: "POST", path: "/log", body: `{"message":"hi"}`},
			{method: "GET", path: "/debug/deps"},
		} {
			if w := f.do(r); w.Code != 200 {
				t.Fatalf("%s %s while %s: status %d, want 200; %s", r.method, r.path, st, w.Code, w.Body)
			}
		}
		if len(f.api.ingested)+len(f.api.registered)+len(f.api.unregistered) != 0 {
			t.Fatalf("gated requests changed the service while %s", st)
		}
	}
}

func TestServiceErrors(t *testing.T) {
	ingest := req{method: "POST", path: "/ingest", body: `{"table":"t","op":"CREATE","id":"t:1","record":{}}`}
	register := req{method: "POST", path: "/view/register", body: `{"id":"a","surql":"SELECT * FROM t","clientId":"c","ttl":"1m"}`}
	tests := []struct {
		name       string
		err        error
		r          req
		status     int
		code       string
		msg        string
		retryAfter string
	}{
		{"busy", actors.ErrBusy, ingest, 503, "SSP_BUSY", "queue full", "1"},
		{"deadline", context.DeadlineExceeded, ingest, 503, "SSP_BUSY", "deadline", "1"},
		{"not ready", actors.ErrNotReady, ingest, 503, "SSP_NOT_READY", "SSP is not ready", ""},
		{"shutting down", fmt.Errorf("%w: shutting down", actors.ErrNotReady), ingest, 503, "SSP_NOT_READY", "SSP is not ready: shutting down", ""},
		{"invalid", fmt.Errorf("%w: ORDER BY rand() is not supported (line 1, column 22)", actors.ErrInvalid), register, 400,
			"BAD_REQUEST", "ORDER BY rand() is not supported (line 1, column 22)", ""},
		{"internal", fmt.Errorf("disk on fire"), register, 500, "INTERNAL", "disk on fire", ""},
		{"reset internal", fmt.Errorf("db gone"), req{method: "POST", path: "/reset"}, 500, "INTERNAL", "db gone", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.api.err = tt.err
			w := f.do(tt.r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.status, w.Body)
			}
			e := errorOf(t, w)
			if e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("error %+v, want %s containing %q", e, tt.code, tt.msg)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tt.retryAfter)
			}
		})
	}
}

func TestBodyLimitAndContentType(t *testing.T) {
	big := `{"message":"` + strings.Repeat("x", 200) + `"}`
	tests := []struct {
		name   string
		r      req
		chunk  bool
		status int
		code   string
	}{
		{"over limit with length", req{method: "POST", path: "/log", body: big}, false, 413, "PAYLOAD_TOO_LARGE"},
		{"over limit chunked", req{method: "POST", path: "/log", body: big}, true, 413, "PAYLOAD_TOO_LARGE"},
		{"ingest over limit", req{method: "POST", path: "/ingest", body: `{"table":"t","op":"CREATE","id":"t:1","record":{"x":"` +
			strings.Repeat("y", 200) + `"}}`}, false, 413, "PAYLOAD_TOO_LARGE"},
		{"under limit", req{method: "POST", path: "/log", body: `{"message":"ok"}`}, false, 200, ""},
		{"text/plain", req{method: "POST", path: "/log", body: `{"message":"ok"}`,
			header: map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "text/plain"}}, false, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"curl form default", req{method: "POST", path: "/ingest", body: `{}`,
			header: map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "application/x-www-form-urlencoded"}}, false, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"register text", req{method: "POST", path: "/view/register", body: `{}`,
			header: map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "text/json"}}, false, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"unregister garbage type", req{method: "POST", path: "/view/unregister", body: `{"id":"a"}`,
			header: map[string]string{"Authorization": "Bearer " + secret, "Content-Type": ";;"}}, false, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"charset parameter", req{method: "POST", path: "/log", body: `{"message":"ok"}`,
			header: map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "Application/JSON; charset=utf-8"}}, false, 200, ""},
		{"no content type", req{method: "POST", path: "/log", body: `{"message":"ok"}`,
			header: map[string]string{"Authorization": "Bearer " + secret}}, false, 200, ""},
		{"reset ignores type", req{method: "POST", path: "/reset", body: `x`,
			header: map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "text/plain"}}, false, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.BodyLimit = 128 })
			hr := httptest.NewRequest(tt.r.method, tt.r.path, strings.NewReader(tt.r.body))
			if tt.chunk {
				hr.ContentLength = -1
			}
			h := tt.r.header
			if h == nil {
				h = map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + secret}
			}
			for k, v := range h {
				hr.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, hr)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.status, w.Body)
			}
			if tt.code != "" {
				if e := errorOf(t, w); e.Code != tt.code {
					t.Fatalf("code %s, want %s (%s)", e.Code, tt.code, e.Message)
				}
			}
		})
	}
}

// Every route applies the body limit before it acts: /reset, which takes no body, with one over
// the limit answers 413 and resets nothing (issue 9: a 10 MB body ran the reset), announced or
// chunked; the limit comes before authentication too.
func TestBodyLimitOnEveryRoute(t *testing.T) {
	big := strings.Repeat("x", 1000)
	for _, c := range []struct {
		name, path string
		chunk      bool
		auth       bool
	}{
		{"reset announced", "/reset", false, true},
		{"reset chunked", "/reset", true, true},
		{"unauthenticated", "/reset", false, false},
		{"job retry chunked", "/job/retry", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.BodyLimit = 128 })
			hr := httptest.NewRequest("POST", c.path, strings.NewReader(big))
			if c.chunk {
				hr.ContentLength = -1
			}
			if c.auth {
				hr.Header.Set("Authorization", "Bearer "+secret)
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, hr)
			if w.Code != 413 || errorOf(t, w).Code != "PAYLOAD_TOO_LARGE" {
				t.Fatalf("status %d, want 413: %s", w.Code, w.Body)
			}
			if f.api.resets != 0 || len(f.api.jobCalls) != 0 {
				t.Fatalf("the route acted: %d resets, job calls %v", f.api.resets, f.api.jobCalls)
			}
		})
	}
}

func TestDefaultBodyLimitIs8MiB(t *testing.T) {
	f := newFixture(t, nil)
	msg := strings.Repeat("x", 8<<20)
	w := f.do(req{method: "POST", path: "/log", body: `{"message":"` + msg + `"}`})
	if w.Code != 413 {
		t.Fatalf("8 MiB + JSON: status %d, want 413", w.Code)
	}
	w = f.do(req{method: "POST", path: "/log", body: `{"message":"` + msg[:8<<20-20] + `"}`})
	if w.Code != 200 {
		t.Fatalf("just under 8 MiB: status %d, want 200", w.Code)
	}
}

func TestIngest(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		status   int
		msg      string
		assignee string
	}{
		{"create", `{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"a","_00_rv":2},"hash":""}`, 200, "", ""},
		{"lower-case op and delete without record", `{"table":"thread","op":"delete","id":"thread:1"}`, 200, "", ""},
		{"job assignee", `{"table":"job","op":"CREATE","id":"job:1","record":{"status":"pending"},"job_assignee":"ssp-2"}`, 200, "", "ssp-2"},
		{"null job assignee", `{"table":"job","op":"CREATE","id":"job:1","record":{},"job_assignee":null}`, 200, "", ""},
		{"empty body", ``, 400, "not valid JSON", ""},
		{"not JSON", `{"table":`, 400, "not valid JSON", ""},
		{"array", `[1]`, 400, "must be a JSON object", ""},
		{"missing table", `{"op":"CREATE","id":"t:1","record":{}}`, 400, `field "table" is required`, ""},
		{"table not string", `{"table":1,"op":"CREATE","id":"t:1","record":{}}`, 400, `field "table" must be a string`, ""},
		{"missing op", `{"table":"t","id":"t:1","record":{}}`, 400, `field "op" is required`, ""},
		{"bad op", `{"table":"t","op":"UPSERT","id":"t:1","record":{}}`, 400, `op "UPSERT" is not one of CREATE, UPDATE, MERGE, DELETE`, ""},
		{"missing id", `{"table":"t","op":"CREATE","record":{}}`, 400, `field "id" is required`, ""},
		{"bad id", `{"table":"t","op":"CREATE","id":"nocolon","record":{}}`, 400, `is not a record id`, ""},
		{"id of other table", `{"table":"t","op":"CREATE","id":"u:1","record":{}}`, 400, `is not a record of table "t"`, ""},
		{"record not object", `{"table":"t","op":"CREATE","id":"t:1","record":[1]}`, 400, `field "record" must be a JSON object`, ""},
		{"record missing on create", `{"table":"t","op":"CREATE","id":"t:1"}`, 400, `"record" (an object) is required for CREATE`, ""},
		{"record id mismatch", `{"table":"t","op":"UPDATE","id":"t:1","record":{"id":"t:2"}}`, 400, `does not name the change's record`, ""},
		{"assignee not string", `{"table":"t","op":"CREATE","id":"t:1","record":{},"job_assignee":5}`, 400, `"job_assignee" must be a string`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			w := f.do(req{method: "POST", path: "/ingest", body: tt.body})
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				e := errorOf(t, w)
				if e.Code != "BAD_REQUEST" || !strings.Contains(e.Message, tt.msg) {
					t.Fatalf("error %+v, want BAD_REQUEST containing %q", e, tt.msg)
				}
				if len(f.api.ingested) != 0 {
					t.Fatal("a rejected ingest reached the service")
				}
				return
			}
			if w.Body.Len() != 0 {
				t.Fatalf("success body %q, want empty", w.Body)
			}
			if len(f.api.ingested) != 1 || f.api.assignees[0] != tt.assignee {
				t.Fatalf("ingested %v with assignees %q, want one with %q", f.api.ingested, f.api.assignees, tt.assignee)
			}
		})
	}
	// The decoded change is what ingest.Decode makes of the body.
	f := newFixture(t, nil)
	f.do(req{method: "POST", path: "/ingest", body: `{"table":"thread","op":"update","id":"thread:⟨a-b⟩","record":{"author":"user:x","n":1}}`})
	c := f.api.ingested[0]
	if c.Op != engine.OpUpdate || value.RecordString(c.ID) != "thread:⟨a-b⟩" || value.RecordString(c.Record.Get("author")) != "user:x" ||
		c.Record.Get("n").Kind() != value.KindInt {
		t.Fatalf("decoded change %+v", c)
	}
}

func TestRegister(t *testing.T) {
	valid := map[string]any{"id": "_00_query:abc", "surql": "SELECT * FROM thread", "clientId": "c1", "ttl": "30s"}
	with := func(kv ...any) string {
		m := map[string]any{}
		for k, v := range valid {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name  string
		body  string
		msg   string // "" = success
		check func(t *testing.T, r actors.RegisterRequest)
	}{
		{"minimal", with(), "", func(t *testing.T, r actors.RegisterRequest) {
			if r.Key != "abc" || r.SurQL != "SELECT * FROM thread" || r.ClientID != "c1" || r.TTL != 30*time.Second ||
				!r.LastActiveAt.Equal(fixedNow) || r.Params.Kind() != value.KindObject || r.Params.Len() != 0 || r.Format != "" {
				t.Fatalf("request %+v", r)
			}
		}},
		{"aliases", `{"id":"query:⟨x-y⟩","surreal_ql":"SELECT * FROM t","client_id":"c2","ttl":"1h30m",` +
			`"last_active_at":"2024-01-01T00:00:00Z","resultFormat":"flat"}`, "", func(t *testing.T, r actors.RegisterRequest) {
			if r.Key != "x-y" || r.SurQL != "SELECT * FROM t" || r.ClientID != "c2" || r.TTL != 90*time.Minute ||
				!r.LastActiveAt.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || r.Format != "flat" {
				t.Fatalf("request %+v", r)
			}
		}},
		{"params object", with("params", map[string]any{"auth": map[string]any{"id": "user:abc"}, "n": 5, "tb": "x", "id": "y"}), "",
			func(t *testing.T, r actors.RegisterRequest) {
				if got := value.RecordString(r.Params.Get("auth").Get("id")); got != "user:abc" || r.Params.Get("n").AsInt() != 5 ||
					r.Params.Get("tb").AsString() != "x" {
					t.Fatalf("params %s", r.Params.SurQL())
				}
			}},
		{"params SurrealQL string", with("params", "{ user: user:abc, n: 5, tags: ['a'], auth: { id: user:abc } }"), "",
			func(t *testing.T, r actors.RegisterRequest) {
				if value.RecordString(r.Params.Get("user")) != "user:abc" || r.Params.Get("n").AsInt() != 5 ||
					r.Params.Get("tags").Len() != 1 || value.RecordString(r.Params.Get("auth").Get("id")) != "user:abc" {
					t.Fatalf("params %s", r.Params.SurQL())
				}
			}},
		{"params empty string and null", with("params", ""), "", func(t *testing.T, r actors.RegisterRequest) {
			if r.Params.Kind() != value.KindObject || r.Params.Len() != 0 {
				t.Fatalf("params %s", r.Params.SurQL())
			}
		}},
		{"lastActiveAt literal", with("lastActiveAt", "d'2024-05-06T07:08:09.5+02:00'"), "", func(t *testing.T, r actors.RegisterRequest) {
			if !r.LastActiveAt.Equal(time.Date(2024, 5, 6, 5, 8, 9, 5e8, time.UTC)) {
				t.Fatalf("lastActiveAt %v", r.LastActiveAt)
			}
		}},
		{"missing id", with("id", nil), `field "id" is required`, nil},
		{"id not string", with("id", 5), `field "id" must be a string`, nil},
		{"id empty key", with("id", "_00_query:"), `has an empty view key`, nil},
		{"missing surql", with("surql", nil), `field "surql" (or "surreal_ql") is required`, nil},
		{"blank surql", with("surql", "  "), `field "surql" must not be empty`, nil},
		{"missing clientId", with("clientId", nil), `field "clientId" (or "client_id") is required`, nil},
		{"clientId number", with("clientId", 1), `field "clientId" must be a string`, nil},
		{"missing ttl", with("ttl", nil), `field "ttl" is required`, nil},
		{"ttl number", with("ttl", 30), `field "ttl" must be a string`, nil},
		{"bad ttl", with("ttl", "soon"), `field "ttl" "soon" is not a SurrealDB duration`, nil},
		{"zero ttl", with("ttl", "0s"), `must be longer than zero`, nil},
		{"params number", with("params", 5), `field "params" must be a JSON object or a string`, nil},
		{"params array", with("params", []any{1}), `field "params" must be a JSON object or a string`, nil},
		{"params bad literal", with("params", "{ user: }"), `field "params" is not a SurrealQL object literal`, nil},
		{"params literal not object", with("params", "[1, 2]"), `must hold an object literal`, nil},
		{"bad lastActiveAt", with("lastActiveAt", "yesterday"), `field "lastActiveAt" "yesterday" is not an RFC 3339 datetime`, nil},
		{"lastActiveAt number", with("lastActiveAt", 5), `field "lastActiveAt" must be a string`, nil},
		{"format number", with("format", 1), `field "format" must be a string`, nil},
		{"not an object", `"x"`, `must be a JSON object, got a string`, nil},
		{"empty body", ``, `body is empty`, nil},
		{"bad JSON", `{"id":`, `not valid JSON`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			w := f.do(req{method: "POST", path: "/view/register", body: tt.body})
			if tt.msg != "" {
				if w.Code != 400 {
					t.Fatalf("status %d, want 400; %s", w.Code, w.Body)
				}
				if e := errorOf(t, w); e.Code != "BAD_REQUEST" || !strings.Contains(e.Message, tt.msg) {
					t.Fatalf("error %+v, want BAD_REQUEST containing %q", e, tt.msg)
				}
				if len(f.api.registered) != 0 {
					t.Fatal("a rejected registration reached the service")
				}
				return
			}
			if w.Code != 200 {
				t.Fatalf("status %d, want 200; %s", w.Code, w.Body)
			}
			if len(f.api.registered) != 1 {
				t.Fatalf("registered %d, want 1", len(f.api.registered))
			}
			tt.check(t, f.api.registered[0])
		})
	}
}

func TestRegisterResponse(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{method: "POST", path: "/view/register", body: `{"id":"abc","surql":"SELECT * FROM t","clientId":"c","ttl":"1m"}`})
	assertJSON(t, w.Body.String(), `{"view_id":"abc","result_hash":"","records":[]}`)

	f.api.result = actors.RegisterResult{ResultHash: "h", Records: []engine.Member{
		{Key: "thread:1", Version: 3}, {Key: "comment:1", Version: 1, Parent: "thread:1", Rel: "comments"}}}
	w = f.do(req{method: "POST", path: "/view/register", body: `{"id":"abc","surql":"SELECT * FROM t","clientId":"c","ttl":"1m"}`})
	assertJSON(t, w.Body.String(), `{"view_id":"abc","result_hash":"h","records":[{"key":"thread:1","version":3},`+
		`{"key":"comment:1","version":1,"parent":"thread:1","rel":"comments"}]}`)
}

func TestUnregisterResetLog(t *testing.T) {
	tests := []struct {
		name   string
		r      req
		status int
		msg    string
	}{
		{"unregister", req{method: "POST", path: "/view/unregister", body: `{"id":"_00_query:⟨abc⟩"}`}, 200, ""},
		{"unregister missing id", req{method: "POST", path: "/view/unregister", body: `{}`}, 400, `field "id" is required`},
		{"unregister id number", req{method: "POST", path: "/view/unregister", body: `{"id":3}`}, 400, `field "id" must be a string`},
		{"reset", req{method: "POST", path: "/reset"}, 200, ""},
		{"log default level", req{method: "POST", path: "/log", body: `{"message":"hello"}`}, 200, ""},
		{"log missing message", req{method: "POST", path: "/log", body: `{"level":"info"}`}, 400, `field "message" is required`},
		{"log unknown level", req{method: "POST", path: "/log", body: `{"message":"m","level":"loud"}`}, 400,
			`field "level" "loud" is not one of error, warn, info, debug, trace`},
		{"log level not string", req{method: "POST", path: "/log", body: `{"message":"m","level":3}`}, 400, `field "level" must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			w := f.do(tt.r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 400 {
				if e := errorOf(t, w); e.Code != "BAD_REQUEST" || !strings.Contains(e.Message, tt.msg) {
					t.Fatalf("error %+v, want BAD_REQUEST containing %q", e, tt.msg)
				}
				return
			}
			if w.Body.Len() != 0 {
				t.Fatalf("success body %q, want empty", w.Body)
			}
		})
	}
	f := newFixture(t, nil)
	f.do(req{method: "POST", path: "/view/unregister", body: `{"id":"_00_query:⟨abc⟩"}`})
	f.do(req{method: "POST", path: "/reset"})
	if len(f.api.unregistered) != 1 || f.api.unregistered[0] != "abc" || f.api.resets != 1 {
		t.Fatalf("unregistered %q, resets %d; want [abc], 1", f.api.unregistered, f.api.resets)
	}
}

func TestLogLevels(t *testing.T) {
	for _, tt := range []struct {
		level string
		want  logrus.Level
	}{{"", logrus.InfoLevel}, {"error", logrus.ErrorLevel}, {"WARN", logrus.WarnLevel}, {"info", logrus.InfoLevel},
		{"debug", logrus.DebugLevel}, {"trace", logrus.TraceLevel}} {
		f := newFixture(t, nil)
		body := fmt.Sprintf(`{"message":"user clicked","level":%q,"data":{"user_id": "alice"}}`, tt.level)
		if w := f.do(req{method: "POST", path: "/log", body: body}); w.Code != 200 {
			t.Fatalf("level %q: status %d", tt.level, w.Code)
		}
		var found *logrus.Entry
		for _, e := range f.logs.AllEntries() {
			if e.Message == "user clicked" {
				found = e
			}
		}
		if found == nil {
			t.Fatalf("level %q: message not logged", tt.level)
		}
		if found.Level != tt.want || found.Data["remote"] != true || found.Data["data"] != `{"user_id":"alice"}` {
			t.Fatalf("level %q: logged at %s with %v", tt.level, found.Level, found.Data)
		}
	}
}

func TestDebugRoutes(t *testing.T) {
	f := newFixture(t, nil)
	f.api.views["abc"] = actors.ViewDebug{ViewID: "abc", CacheSize: 1, LastHash: "h", Format: "flat",
		Cache: []engine.Member{{Key: "thread:1", Version: 2}}, ContentGeneration: 4,
		Actor: actors.ActorState{PID: "view/abc", MailboxLen: 0, Restarts: 1, LastError: "boom"}}
	f.api.views["empty"] = actors.ViewDebug{ViewID: "empty"}
	f.api.deps = actors.DepsDebug{DependencyMap: map[string][]string{"thread": {"abc"}}, TablesInStore: []string{"thread"}, ViewCount: 1}

	for _, id := range []string{"abc", "_00_query:abc", "_00_query:%E2%9F%A8abc%E2%9F%A9", "query:abc"} {
		w := f.do(req{method: "GET", path: "/debug/view/" + id})
		if w.Code != 200 {
			t.Fatalf("%s: status %d; %s", id, w.Code, w.Body)
		}
		assertJSON(t, w.Body.String(), `{"view_id":"abc","cache_size":1,"last_hash":"h","format":"flat",`+
			`"cache":[{"key":"thread:1","version":2}],"subquery_tables":[],"referenced_tables":[],"content_generation":4,`+
			`"subquery_cache":{},"actor":{"pid":"view/abc","mailbox_len":0,"restarts":1,"last_error":"boom"}}`)
	}
	w := f.do(req{method: "GET", path: "/debug/view/empty"})
	assertJSON(t, w.Body.String(), `{"view_id":"empty","cache_size":0,"last_hash":"","format":"","cache":[],"subquery_tables":[],`+
		`"referenced_tables":[],"content_generation":0,"subquery_cache":{},"actor":{"pid":"","mailbox_len":0,"restarts":0,"last_error":""}}`)

	w = f.do(req{method: "GET", path: "/debug/view/_00_query:nope"})
	if w.Code != 404 {
		t.Fatalf("unknown view: status %d, want 404", w.Code)
	}
	if e := errorOf(t, w); e.Code != "NOT_FOUND" || !strings.Contains(e.Message, `"nope"`) {
		t.Fatalf("unknown view: %+v", e)
	}

	w = f.do(req{method: "GET", path: "/debug/deps"})
	assertJSON(t, w.Body.String(), `{"dependency_map":{"thread":["abc"]},"tables_in_store":["thread"],"view_count":1}`)
	f.api.deps = actors.DepsDebug{}
	w = f.do(req{method: "GET", path: "/debug/deps"})
	assertJSON(t, w.Body.String(), `{"dependency_map":{},"tables_in_store":[],"view_count":0}`)

	f.api.tree = actors.ActorTree{Count: 2, Actors: actors.ActorNode{Kind: "root", Name: "ssp", PID: "nonhost/ssp",
		State: map[string]any{"status": "ready"}, Children: []actors.ActorNode{
			{Kind: "view", Name: "abc", PID: "nonhost/ssp/views/view-1", Mailbox: 3, Restarts: 1, LastError: "boom", State: map[string]any{"members": 2}},
		}}}
	w = f.do(req{method: "GET", path: "/debug/actors"})
	assertJSON(t, w.Body.String(), `{"actors":{"kind":"root","name":"ssp","pid":"nonhost/ssp","mailbox":0,"restarts":0,"last_error":"",`+
		`"state":{"status":"ready"},"children":[{"kind":"view","name":"abc","pid":"nonhost/ssp/views/view-1","mailbox":3,"restarts":1,`+
		`"last_error":"boom","state":{"members":2}}]},"count":2}`)
	f.api.err = fmt.Errorf("%w: shutting down", actors.ErrNotReady)
	if w = f.do(req{method: "GET", path: "/debug/actors"}); w.Code != 503 {
		t.Errorf("debug actors while shutting down: status %d, want 503", w.Code)
	}
	f.api.err = nil

	w = f.do(req{method: "GET", path: "/debug/scheduler"})
	if e := errorOf(t, w); w.Code != 404 || !strings.Contains(e.Message, "standalone") {
		t.Errorf("debug scheduler standalone: %d %+v", w.Code, e)
	}
	f.api.sched = &scheduler.State{Link: scheduler.LinkRegistered, SSPID: "ssp-1", SchedulerURL: "http://sched", SnapshotSeq: 7,
		Heartbeats: map[string]uint64{"ok": 3}, Registrations: []scheduler.RegistrationInfo{}}
	w = f.do(req{method: "GET", path: "/debug/scheduler"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"snapshot_seq":7`) || !strings.Contains(w.Body.String(), `"link":"registered"`) {
		t.Errorf("debug scheduler: %d %s", w.Code, w.Body)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		method, path string
		status       int
		code         string
		allow        string
	}{
		{"GET", "/nope", 404, "NOT_FOUND", ""},
		{"POST", "/view", 404, "NOT_FOUND", ""},
		{"GET", "/ingest", 405, "METHOD_NOT_ALLOWED", "POST"},
		{"POST", "/health", 405, "METHOD_NOT_ALLOWED", "GET"},
		{"DELETE", "/debug/deps", 405, "METHOD_NOT_ALLOWED", "GET"},
	}
	for _, tt := range tests {
		w := f.do(req{method: tt.method, path: tt.path, header: map[string]string{}})
		if w.Code != tt.status {
			t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, w.Code, tt.status)
		}
		if e := errorOf(t, w); e.Code != tt.code {
			t.Fatalf("%s %s: %+v", tt.method, tt.path, e)
		}
		if got := w.Header().Get("Allow"); got != tt.allow {
			t.Fatalf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

func TestPanicIsJSON500(t *testing.T) {
	f := newFixture(t, nil)
	f.api.panicMsg = "view actor exploded"
	w := f.do(req{method: "POST", path: "/ingest", body: `{"table":"t","op":"CREATE","id":"t:1","record":{}}`})
	if w.Code != 500 {
		t.Fatalf("status %d, want 500", w.Code)
	}
	if e := errorOf(t, w); e.Code != "INTERNAL" || !strings.Contains(e.Message, "view actor exploded") {
		t.Fatalf("error %+v", e)
	}
	var logged bool
	for _, e := range f.logs.AllEntries() {
		if e.Level == logrus.ErrorLevel && e.Data["panic"] == "view actor exploded" && e.Data["stack"] != "" {
			logged = true
		}
	}
	if !logged {
		t.Fatal("the panic was not logged with its stack")
	}
	// The handler keeps serving.
	f.api.mu.Lock()
	f.api.panicMsg = ""
	f.api.mu.Unlock()
	if w := f.do(req{method: "POST", path: "/ingest", body: `{"table":"t","op":"CREATE","id":"t:1","record":{}}`}); w.Code != 200 {
		t.Fatalf("after the panic: status %d", w.Code)
	}
}

func TestRequestLogAndMetrics(t *testing.T) {
	f := newFixture(t, nil)
	f.do(req{method: "GET", path: "/version", header: map[string]string{}})
	var entry *logrus.Entry
	for _, e := range f.logs.AllEntries() {
		if e.Message == "http request" {
			entry = e
		}
	}
	if entry == nil || entry.Level != logrus.DebugLevel || entry.Data["method"] != "GET" || entry.Data["path"] != "/version" ||
		entry.Data["status"] != 200 || entry.Data["latency"] == nil {
		t.Fatalf("request log entry %+v", entry)
	}
	w := f.do(req{method: "GET", path: "/metrics", header: map[string]string{}})
	if !strings.Contains(w.Body.String(), `ssp_http_requests_total{code="200",method="GET",route="/version"} 1`) {
		t.Fatalf("metrics:\n%s", w.Body)
	}
	// A second handler on the same registry shares the metrics instead of failing.
	New(f.api, Options{Registry: f.reg})
}

// TestJobRoutes: /job/retry and /job/kill need the bearer token, answer 400 naming the problem
// of a bad body (and never reach the service then), map the service's not found and conflict
// to 404 and 409, and answer the action as JSON; /debug/jobs is authenticated too.
func TestJobRoutes(t *testing.T) {
	for _, route := range []string{"/job/retry", "/job/kill"} {
		t.Run(route, func(t *testing.T) {
			f := newFixture(t, nil)
			bad := []struct{ body, want string }{
				{``, "body is empty"},
				{`{"id": `, "not valid JSON"},
				{`["job:1"]`, "body must be a JSON object, got an array"},
				{`{}`, `field "id" is required`},
				{`{"id": null}`, `field "id" is required`},
				{`{"id": 7}`, `field "id" must be a string`},
				{`{"id": "  "}`, `field "id" must not be empty`},
				{`{"id": "job"}`, `field "id" "job" is not a record id`},
			}
			for _, b := range bad {
				w := f.do(req{method: "POST", path: route, body: b.body})
				if w.Code != 400 {
					t.Fatalf("body %q: status %d, want 400; %s", b.body, w.Code, w.Body)
				}
				if e := errorOf(t, w); e.Code != "BAD_REQUEST" || !strings.Contains(e.Message, b.want) {
					t.Errorf("body %q: error %+v, want BAD_REQUEST with %q", b.body, e, b.want)
				}
			}
			w := f.do(req{method: "POST", path: route, body: `{"id":"job:1"}`, header: map[string]string{"Content-Type": "application/json"}})
			if w.Code != 401 {
				t.Fatalf("no token: status %d, want 401", w.Code)
			}
			w = f.do(req{method: "POST", path: route, body: `{"id":"job:1"}`, header: map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + secret}})
			if w.Code != 415 {
				t.Fatalf("text/plain: status %d, want 415", w.Code)
			}
			if len(f.api.jobCalls) != 0 {
				t.Fatalf("rejected requests reached the service: %v", f.api.jobCalls)
			}
			w = f.do(req{method: "POST", path: route, body: `{"id":"job:⟨a-1⟩"}`})
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var a actors.JobAction
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.ID != "job:⟨a-1⟩" {
				t.Fatalf("answer %s (%v)", w.Body, err)
			}
			for _, tt := range []struct {
				err    error
				status int
				code   string
			}{
				{fmt.Errorf("%w: job job:1 does not exist", actors.ErrNotFound), 404, "NOT_FOUND"},
				{fmt.Errorf("%w: thread is not a job table (configured: job)", actors.ErrNotFound), 404, "NOT_FOUND"},
				{fmt.Errorf("%w: job job:1 is success; only a failed job can be retried", actors.ErrConflict), 409, "CONFLICT"},
				{fmt.Errorf("%w: field \"id\" bad", actors.ErrInvalid), 400, "BAD_REQUEST"},
			} {
				f.api.jobErr = tt.err
				w := f.do(req{method: "POST", path: route, body: `{"id":"job:1"}`})
				if w.Code != tt.status {
					t.Fatalf("%v: status %d, want %d", tt.err, w.Code, tt.status)
				}
				if e := errorOf(t, w); e.Code != tt.code || strings.HasPrefix(e.Message, "not found") || strings.HasPrefix(e.Message, "conflict") ||
					!strings.Contains(tt.err.Error(), e.Message) {
					t.Errorf("%v: error %+v", tt.err, e)
				}
			}
		})
	}
	f := newFixture(t, nil)
	f.api.jobs = actors.JobsDebug{SSPID: "ssp-1", Mode: "standalone", Tables: []actors.JobTableDebug{{Table: "job"}}}
	if w := f.do(req{method: "GET", path: "/debug/jobs", header: map[string]string{}}); w.Code != 401 {
		t.Fatalf("/debug/jobs without token: %d", w.Code)
	}
	w := f.do(req{method: "GET", path: "/debug/jobs"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"table":"job"`) {
		t.Fatalf("/debug/jobs: %d %s", w.Code, w.Body)
	}
}
