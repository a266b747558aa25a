package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/devdb/devdbtest"
	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/internal/wait"
	"github.com/sp00ky/ssp/surreal/conn"
)

var db *devdb.Server

func TestMain(m *testing.M) {
	devdbtest.RunTests(m, devdb.Options{}, func(s *devdb.Server) { db = s })
}

const testNS = "schedlink"

var dbSeq atomic.Int64

func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
		exec(t, c, setup, nil)
	}
	return c, name
}

func exec(t *testing.T, c *conn.Conn, q string, vars map[string]any) []conn.Result {
	t.Helper()
	rs, err := c.Query(testCtx(t), q, vars)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	return rs
}

// startScheduler starts the test scheduler on a fresh source database (setup run in it first),
// with fast health polling and no periodic updater unless opts say otherwise.
func startScheduler(t *testing.T, setup string, opts testscheduler.Options) (*testscheduler.Scheduler, *conn.Conn) {
	t.Helper()
	src, name := source(t, setup)
	opts.URL, opts.User, opts.Pass, opts.NS, opts.DB = db.URL(), db.User, db.Pass, testNS, name
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Millisecond
	}
	if opts.UpdateInterval == 0 {
		opts.UpdateInterval = -1
	}
	if opts.Log == nil {
		opts.Log = quietLog()
	}
	s, err := testscheduler.Start(testCtx(t), opts)
	if err != nil {
		t.Fatalf("start the test scheduler: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close the test scheduler: %v", err)
		}
	})
	return s, src
}

// sspStub is the HTTP side of the SSP the scheduler talks to: /health answers ready, /ingest
// and the view routes 200.
func sspStub(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"status":"ready"}`)
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// hit is one request that passed the front.
type hit struct {
	path string
	at   time.Time
	body []byte
	// status is the answer's status; 0 when the front dropped the connection.
	status int
}

// front stands between the link and the scheduler: it records every request (path, time,
// body, answer) and can drop the connection of chosen requests (a transport error).
type front struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []hit
	// drop answers true for requests whose connection is closed without an answer.
	drop func(path string, n int) bool
}

func newFront(t *testing.T, target string) *front {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &front{}
	rp := httputil.NewSingleHostReverseProxy(u)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		n := 0
		for _, h := range f.log {
			if h.path == r.URL.Path {
				n++
			}
		}
		i := len(f.log)
		f.log = append(f.log, hit{path: r.URL.Path, at: time.Now(), body: body})
		drop := f.drop
		f.mu.Unlock()
		if drop != nil && drop(r.URL.Path, n) {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		rec := &statusRecorder{ResponseWriter: w}
		rp.ServeHTTP(rec, r)
		f.mu.Lock()
		f.log[i].status = rec.status
		f.mu.Unlock()
	}))
	t.Cleanup(f.srv.Close)
	return f
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (f *front) url() string { return f.srv.URL }

func (f *front) setDrop(d func(path string, n int) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop = d
}

// hits returns the recorded requests to path.
func (f *front) hits(path string) []hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []hit
	for _, h := range f.log {
		if h.path == path {
			out = append(out, h)
		}
	}
	return out
}

// event is a message the link sent its parent, with when it arrived.
type event struct {
	msg any
	at  time.Time
}

// parent is the link's parent in the tests: it answers ProbeReq with the readiness and view
// count the test sets, records everything else the link sends, and forwards the test's
// messages to the link. autoRegister answers Resync with Register as the SSP's root does.
type parent struct {
	sys  *actor.ActorSystem
	pid  *actor.PID
	link *actor.PID

	ready        atomic.Bool
	views        atomic.Int64
	probes       atomic.Int64
	autoRegister atomic.Bool

	mu     sync.Mutex
	events []event
}

type (
	toLink     struct{ msg any }
	linkPIDReq struct{}
)

// linkTest is one link under test with its parent, scheduler front and metrics.
type linkTest struct {
	t      *testing.T
	cfg    LinkConfig
	p      *parent
	reg    *prometheus.Registry
	logs   *logtest.Hook
	sspID  string
	sspURL string
}

var sspSeq atomic.Int64

// newLinkConfig is a link configuration for schedulerURL with a fresh ssp id, the stub SSP's
// URL, quick heartbeats and a registry and log hook of its own.
func newLinkTest(t *testing.T, schedulerURL string, adjust func(*LinkConfig)) *linkTest {
	t.Helper()
	lt := &linkTest{t: t, reg: prometheus.NewRegistry(), sspID: fmt.Sprintf("ssp-test-%d", sspSeq.Add(1)), sspURL: sspStub(t)}
	log := quietLog()
	log.SetLevel(logrus.DebugLevel)
	lt.logs = logtest.NewLocal(log)
	lt.cfg = LinkConfig{
		SchedulerURL: schedulerURL, SSPID: lt.sspID, AdvertiseURL: lt.sspURL, Version: "9.9.9-test",
		Env:               map[string]string{"SPKY_SSP_ID": lt.sspID, "SPKY_DB_NS": "main"},
		HeartbeatInterval: 50 * time.Millisecond, Log: log, Metrics: lt.reg,
	}
	if adjust != nil {
		adjust(&lt.cfg)
	}
	return lt
}

// start spawns the parent, which spawns the link.
func (lt *linkTest) start(ready bool, views int) *parent {
	t := lt.t
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	p := &parent{sys: sys}
	p.ready.Store(ready)
	p.views.Store(int64(views))
	producer := NewLink(lt.cfg)
	p.pid = sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			p.link = ctx.Spawn(actor.PropsFromProducer(producer))
		case *ProbeReq:
			p.probes.Add(1)
			ctx.Respond(&ProbeReply{Ready: p.ready.Load(), Views: int(p.views.Load())})
		case *toLink:
			ctx.Send(p.link, m.msg)
		case *linkPIDReq:
			ctx.Respond(p.link)
		case *Registered, *RegisterFailed, *Resync:
			p.mu.Lock()
			p.events = append(p.events, event{msg: m, at: time.Now()})
			p.mu.Unlock()
			if r, ok := m.(*Resync); ok && p.autoRegister.Load() {
				ctx.Send(p.link, Register{Reason: r.Reason})
			}
		}
	}))
	t.Cleanup(func() {
		_ = sys.Root.StopFuture(p.pid).Wait()
		sys.Shutdown()
	})
	lt.p = p
	return p
}

// send hands msg to the link through its parent.
func (p *parent) send(msg any) { p.sys.Root.Send(p.pid, &toLink{msg: msg}) }

// state asks the link for its State.
func (p *parent) state(t *testing.T) *State {
	t.Helper()
	pid, err := p.sys.Root.RequestFuture(p.pid, &linkPIDReq{}, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("link pid: %v", err)
	}
	res, err := p.sys.Root.RequestFuture(pid.(*actor.PID), StateReq{}, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("StateReq: %v", err)
	}
	return res.(*State)
}

// got returns the messages of type T the link sent, in order.
func got[T any](p *parent) []T {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []T
	for _, e := range p.events {
		if m, ok := e.msg.(T); ok {
			out = append(out, m)
		}
	}
	return out
}

func (p *parent) allEvents() []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]event(nil), p.events...)
}

// waitFor polls cond until it holds, failing the test after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	wait.For(t, within, 5*time.Millisecond, func() (bool, string) { return cond(), "waiting for " + what })
}

// waitEvent waits until the link has sent n messages of type T and returns them.
func waitEvent[T any](t *testing.T, p *parent, n int, within time.Duration) []T {
	t.Helper()
	var out []T
	waitFor(t, within, fmt.Sprintf("%d %T from the link (events so far: %s)", n, *new(T), describe(p.allEvents())), func() bool {
		out = got[T](p)
		return len(out) >= n
	})
	return out
}

func describe(evs []event) string {
	var parts []string
	for _, e := range evs {
		b, _ := json.Marshal(e.msg)
		parts = append(parts, fmt.Sprintf("%T%s", e.msg, b))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// heartbeats returns the heartbeats the scheduler received from the SSP.
func (lt *linkTest) heartbeats(s *testscheduler.Scheduler) []testscheduler.Heartbeat {
	return s.Heartbeats(lt.sspID)
}

// waitHeartbeats waits until the scheduler has received n heartbeats from the SSP.
func (lt *linkTest) waitHeartbeats(s *testscheduler.Scheduler, n int) []testscheduler.Heartbeat {
	lt.t.Helper()
	var hbs []testscheduler.Heartbeat
	waitFor(lt.t, 10*time.Second, fmt.Sprintf("%d heartbeats", n), func() bool {
		hbs = lt.heartbeats(s)
		return len(hbs) >= n
	})
	return hbs
}

// quietFor asserts that cond stays false for d: an absence can only be checked over a span.
func quietFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
