// Package schedmode tests scheduler mode in one process: SSPs (actors.Service behind the http
// handler, each on its own httptest server) registered with the test scheduler, all on one
// dev SurrealDB database. The end-to-end tests with `ssp serve` processes are in
// integration/e2e; these are quicker and see the services' state directly.
package schedmode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/actors"
	"github.com/sp00ky/ssp/config"
	ssphttp "github.com/sp00ky/ssp/http"
	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/devdb/devdbtest"
	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/internal/wait"
	"github.com/sp00ky/ssp/scheduler"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

var srv *devdb.Server

func TestMain(m *testing.M) {
	devdbtest.RunTests(m, devdb.Options{}, func(s *devdb.Server) { srv = s })
}

var dbSeq atomic.Int64

// secret is SPKY_AUTH_SECRET of the SSPs, which the scheduler sends as its bearer token.
const secret = "schedmode-secret"

func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if os.Getenv("SCHEDMODE_TEST_LOG") != "" {
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.DebugLevel)
	}
	return l
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	wait.For(t, timeout, 20*time.Millisecond, cond)
}

// cluster is the test scheduler, its SSPs and their database.
type cluster struct {
	t     testing.TB
	ctx   context.Context
	db    *conn.Conn
	name  string
	sched *testscheduler.Scheduler
	ssps  map[string]*ssp
}

// ssp is one SSP of a cluster.
type ssp struct {
	id  string
	s   *actors.Service
	reg *prometheus.Registry
}

func newCluster(t testing.TB, seedRows int, opts testscheduler.Options) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	name := fmt.Sprintf("db%d", dbSeq.Add(1))
	db, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "schedmode", DB: name, Log: quietLog()})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	c := &cluster{t: t, ctx: ctx, db: db, name: name, ssps: map[string]*ssp{}}
	for i := 1; i <= seedRows; i++ {
		c.exec("CREATE type::record('thread', $i) SET status = $s, n = $i", map[string]any{"i": i, "s": []string{"open", "closed"}[i%2]})
	}
	opts.URL, opts.User, opts.Pass, opts.NS, opts.DB = srv.URL(), srv.User, srv.Pass, "schedmode", name
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	if opts.UpdateInterval == 0 {
		opts.UpdateInterval = -1 // only ApplyNow moves the replica
	}
	opts.Log = quietLog()
	opts.Secret = secret
	sched, err := testscheduler.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start the test scheduler: %v", err)
	}
	t.Cleanup(func() { _ = sched.Close() })
	c.sched = sched
	return c
}

func (c *cluster) exec(q string, vars map[string]any) []conn.Result {
	c.t.Helper()
	rs, err := c.db.Query(c.ctx, q, vars)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
	return rs
}

// sspOpts adjust an SSP of a cluster before it starts.
type sspOpts struct {
	source func(loader.Source) loader.Source // wraps the source the bootstrap reads
	link   func(*scheduler.LinkConfig)
}

// newSSP builds (and with start, starts) an SSP named id behind the scheduler.
func (c *cluster) newSSP(id string, start bool, opts ...sspOpts) *ssp {
	c.t.Helper()
	var handler atomic.Pointer[http.Handler]
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, `{"status":"bootstrapping"}`, http.StatusServiceUnavailable)
	}))
	c.t.Cleanup(api.Close)
	db, err := conn.Dial(c.ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "schedmode", DB: c.name, Log: quietLog()})
	if err != nil {
		c.t.Fatalf("dial: %v", err)
	}
	c.t.Cleanup(func() { _ = db.Close(context.Background()) })
	cfg := config.Config{
		RefMode: membership.RefDedicated, IngestQueue: 256, IngestWait: 5 * time.Second, TTLCleanupInterval: time.Hour,
		MetricsFlushInterval: 50 * time.Millisecond, RVWaitTimeout: 5 * time.Second, BootstrapPageSize: 7, SSPID: id,
		SchedulerURL: c.sched.URL(), HeartbeatInterval: 50 * time.Millisecond, AuthSecret: secret,
	}
	reg := prometheus.NewRegistry()
	deps := actors.Deps{Config: cfg, Log: quietLog(), DB: db, Registry: reg, Version: "test", BootstrapRetryDelay: 10 * time.Millisecond,
		Scheduler: &scheduler.LinkConfig{SchedulerURL: c.sched.URL(), SSPID: id, AdvertiseURL: api.URL, Version: "test",
			HeartbeatInterval: 50 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond}}
	for _, o := range opts {
		if o.source != nil {
			deps.Source = o.source(&scheduler.ProxySource{SchedulerURL: c.sched.URL()})
		}
		if o.link != nil {
			o.link(deps.Scheduler)
		}
	}
	s, err := actors.New(deps)
	if err != nil {
		c.t.Fatal(err)
	}
	var hh http.Handler = ssphttp.New(s, ssphttp.Options{Log: quietLog(), Registry: reg, AuthSecret: secret})
	handler.Store(&hh)
	c.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	p := &ssp{id: id, s: s, reg: reg}
	c.ssps[id] = p
	if start {
		if err := s.Start(c.ctx); err != nil {
			c.t.Fatal(err)
		}
		p.waitStatus(c.t, actors.StatusReady)
		c.waitSchedulerSees(id)
	}
	return p
}

// waitSchedulerSees waits until the scheduler counts the SSP ready (it polls /health, then
// replays what it buffered).
func (c *cluster) waitSchedulerSees(id string) {
	c.t.Helper()
	waitFor(c.t, time.Minute, func() (bool, string) {
		info, ok := c.sched.SSP(id)
		return ok && info.Status == "ready", fmt.Sprintf("the scheduler sees %s as %+v", id, info.Status)
	})
}

func (p *ssp) waitStatus(t testing.TB, want actors.Status) {
	t.Helper()
	waitFor(t, time.Minute, func() (bool, string) { st := p.s.Status(); return st == want, p.id + " is " + string(st) })
}

// metric sums the samples of a counter or gauge family whose labels include labels.
func (p *ssp) metric(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if matches(m, labels) {
				switch {
				case m.Counter != nil:
					sum += m.Counter.GetValue()
				case m.Gauge != nil:
					sum += m.Gauge.GetValue()
				}
			}
		}
	}
	return sum
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (c *cluster) post(path string, body any) (int, string) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(c.sched.URL()+path, "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// write changes a row in SurrealDB and sends its ingest to the scheduler, as Sp00ky's table
// events do.
func (c *cluster) write(op, id string, rec map[string]any) {
	c.t.Helper()
	rid, _ := value.ParseRecord(id)
	if op == "DELETE" {
		c.exec("DELETE $id", map[string]any{"id": rid})
		rec = map[string]any{}
	} else {
		v, err := value.FromAny(rec)
		if err != nil {
			c.t.Fatal(err)
		}
		c.exec("UPSERT $id CONTENT $c", map[string]any{"id": rid, "c": v})
	}
	if st, body := c.post("/ingest", map[string]any{"table": rid.Table(), "op": op, "id": id, "record": rec}); st != 200 {
		c.t.Fatalf("scheduler /ingest %s %s: %d %s", op, id, st, body)
	}
}

type view struct{ key, surql, owner string }

var views = []view{
	{"open_alice", "SELECT * FROM thread WHERE status = 'open'", "user:alice"},
	{"closed", "SELECT * FROM thread WHERE status = 'closed'", ""},
	{"top_bob", "SELECT * FROM thread ORDER BY n DESC LIMIT 3", "user:bob"},
}

// register registers a view through the scheduler and returns the SSP it went to.
func (c *cluster) register(v view) string {
	c.t.Helper()
	params := map[string]any{}
	if v.owner != "" {
		params["auth"] = map[string]any{"id": v.owner}
	}
	st, body := c.post("/view/register", map[string]any{"id": v.key, "surql": v.surql, "clientId": "client-" + v.key, "ttl": "1h", "params": params})
	if st != 200 {
		c.t.Fatalf("register %s through the scheduler: %d %s", v.key, st, body)
	}
	var r struct {
		SSPID string `json:"ssp_id"`
	}
	_ = json.Unmarshal([]byte(body), &r)
	return r.SSPID
}

// edges reads every edge row of every list_ref table: view|record@version|clientId|auth_id.
func (c *cluster) edges() []string {
	c.t.Helper()
	tables, err := membership.ListRefTables(c.ctx, c.db)
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		rs := c.exec("SELECT in, out, version, clientId, auth_id FROM type::table($tb)", map[string]any{"tb": tb})
		for _, r := range rs[0].Value.Elems() {
			out = append(out, fmt.Sprintf("%s %s|%s@%d|%s|%s", tb, r.Get("in").Key().AsString(), value.RecordString(r.Get("out")),
				r.Get("version").AsInt(), r.Get("clientId").AsString(), r.Get("auth_id").AsString()))
		}
	}
	sort.Strings(out)
	return out
}

// answers is what the edges must be: SurrealDB's own answer to every view.
func (c *cluster) answers(vs []view) []string {
	c.t.Helper()
	var out []string
	for _, v := range vs {
		table := membership.TableFor(membership.RefDedicated, v.owner)
		for _, row := range c.exec(v.surql, nil)[0].Value.Elems() {
			out = append(out, fmt.Sprintf("%s %s|%s@1|client-%s|%s", table, v.key, value.RecordString(row.Get("id")), v.key, v.owner))
		}
	}
	sort.Strings(out)
	return out
}

// waitExact waits until the edges are exactly SurrealDB's answers to vs: no row missing,
// extra, duplicated or stale.
func (c *cluster) waitExact(vs []view) {
	c.t.Helper()
	waitFor(c.t, time.Minute, func() (bool, string) {
		want, got := c.answers(vs), c.edges()
		return strings.Join(want, "\n") == strings.Join(got, "\n"),
			"want\n  " + strings.Join(want, "\n  ") + "\ngot\n  " + strings.Join(got, "\n  ")
	})
}

// An SSP in scheduler mode registers, bootstraps through the proxy (verified against the
// table hashes), serves the views the scheduler assigns, and its edges follow the ingests the
// scheduler fans out.
func TestServesThroughTheScheduler(t *testing.T) {
	c := newCluster(t, 20, testscheduler.Options{})
	a := c.newSSP("ssp-a", true)
	info := a.s.Info(c.ctx)
	if info.CircuitTables["thread"] != 20 || info.Scheduler == nil || info.Scheduler.Link != "registered" {
		t.Fatalf("info after the bootstrap through the proxy: %+v %+v", info, info.Scheduler)
	}
	for _, v := range views {
		if got := c.register(v); got != "ssp-a" {
			t.Fatalf("view %s went to %q", v.key, got)
		}
	}
	for i := 0; i < 30; i++ {
		c.write("UPDATE", fmt.Sprintf("thread:%d", 1+i%25), map[string]any{"status": []string{"open", "closed"}[i%3%2], "n": 100 + i})
	}
	c.waitExact(views)
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, err := a.s.DebugScheduler(c.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Heartbeats["ok"] > 0, fmt.Sprintf("heartbeats %v", st.Heartbeats)
	})
	row := c.exec("SELECT VALUE ssp_id FROM ONLY _00_query:closed", nil)[0].Value
	if row.AsString() != "ssp-a" {
		t.Errorf("_00_query:closed ssp_id = %s", row.SurQL())
	}
}

// A heartbeat answered 404 or 409 makes the SSP register again and re-bootstrap in process: it
// keeps its views, nothing ingested meanwhile is lost, and the edges end exact.
func TestResyncRebootstrapsInProcess(t *testing.T) {
	for _, answer := range []testscheduler.HeartbeatAnswer{{Status: 404}, {Status: 409, Reason: "resync requested"}, {Status: 409, JSON: true, Reason: "overflow"}} {
		t.Run(fmt.Sprintf("%d json=%v", answer.Status, answer.JSON), func(t *testing.T) {
			c := newCluster(t, 10, testscheduler.Options{})
			a := c.newSSP("ssp-a", true)
			for _, v := range views {
				c.register(v)
			}
			c.write("UPDATE", "thread:1", map[string]any{"status": "closed", "n": 50})
			c.waitExact(views)
			c.sched.ForceHeartbeat("ssp-a", answer)
			// Changes keep coming while it registers again and reloads.
			for i := 0; i < 40; i++ {
				c.write("UPDATE", fmt.Sprintf("thread:%d", 1+i%12), map[string]any{"status": []string{"open", "closed"}[i%2], "n": 200 + i})
			}
			waitFor(t, 30*time.Second, func() (bool, string) {
				st, _ := a.s.DebugScheduler(c.ctx)
				return st != nil && len(st.Registrations) >= 2 && a.s.Status() == actors.StatusReady, "no second registration yet"
			})
			c.waitExact(views)
			if d := a.s.DebugDeps(c.ctx); d.ViewCount != len(views) {
				t.Errorf("%d views after the re-bootstrap, want %d", d.ViewCount, len(views))
			}
			label := "heartbeat_404"
			if answer.Status == 409 {
				label = "heartbeat_409"
			}
			if n := a.metric(t, "ssp_rebootstraps_total", map[string]string{"reason": label}); n != 1 {
				t.Errorf("ssp_rebootstraps_total{reason=%s} = %v", label, n)
			}
		})
	}
}

// dropOneRow loses one row of the first page it reads: a load that does not match the
// snapshot once.
type dropOneRow struct {
	loader.Source
	done atomic.Bool
}

func (d *dropOneRow) QueryValue(ctx context.Context, q string, vars map[string]value.Value) (value.Value, error) {
	v, err := d.Source.QueryValue(ctx, q, vars)
	if err == nil && v.Kind() == value.KindArray && v.Len() > 1 && strings.Contains(q, "ORDER BY id") && d.done.CompareAndSwap(false, true) {
		v = value.Array(v.Elems()[1:])
	}
	return v, err
}

// The table hashes of the scheduler's snapshot are checked (SPEC §6.3): a load that does not
// match once is wiped and loaded again; a snapshot whose hash does not match is given up for a
// fresh registration; a mismatch that persists leaves the SSP failed, naming the table.
func TestTableHashVerification(t *testing.T) {
	t.Run("a bad load", func(t *testing.T) {
		c := newCluster(t, 20, testscheduler.Options{})
		bad := &dropOneRow{}
		a := c.newSSP("ssp-a", true, sspOpts{source: func(s loader.Source) loader.Source { bad.Source = s; return bad }})
		if !bad.done.Load() {
			t.Fatal("no row was lost: the test tests nothing")
		}
		if st, _ := a.s.DebugScheduler(c.ctx); len(st.Registrations) != 1 {
			t.Errorf("registrations %d, want 1 (a reload of the same snapshot)", len(st.Registrations))
		}
		if n := a.s.Info(c.ctx).CircuitTables["thread"]; n != 20 {
			t.Errorf("%d threads loaded, want 20", n)
		}
	})
	t.Run("a wrong snapshot hash", func(t *testing.T) {
		c := newCluster(t, 5, testscheduler.Options{})
		c.sched.LieTableHash("thread", false)
		a := c.newSSP("ssp-a", true)
		if st, _ := a.s.DebugScheduler(c.ctx); len(st.Registrations) != 2 {
			t.Errorf("registrations %d, want 2 (a reload, then a fresh snapshot)", len(st.Registrations))
		}
	})
	t.Run("always", func(t *testing.T) {
		c := newCluster(t, 5, testscheduler.Options{})
		c.sched.LieTableHash("thread", true)
		a := c.newSSP("ssp-a", false)
		if err := a.s.Start(c.ctx); err != nil {
			t.Fatal(err)
		}
		a.waitStatus(t, actors.StatusFailed)
		tree, err := a.s.DebugActors(c.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := tree.Actors.State["detail"].(string); !strings.Contains(d, "thread: expected") {
			t.Errorf("failed without naming the table: %v", tree.Actors.State)
		}
		if st, _ := a.s.DebugScheduler(c.ctx); len(st.Registrations) != 2 {
			t.Errorf("registrations %d, want 2 (a fresh snapshot after the second mismatch)", len(st.Registrations))
		}
	})
}

// A view registered again on another SSP moves: the new owner claims it and writes its edges,
// the old one stops writing it as soon as its edge transaction sees the claim and drops it
// without touching the edges.
func TestViewMovesToAnotherSSP(t *testing.T) {
	c := newCluster(t, 10, testscheduler.Options{})
	c.newSSP("ssp-a", true)
	c.newSSP("ssp-b", true)
	v := view{"mover", "SELECT * FROM thread WHERE status = 'open'", "user:alice"}
	first := c.register(v)
	c.write("UPDATE", "thread:2", map[string]any{"status": "open", "n": 7})
	c.waitExact([]view{v})
	other := map[string]string{"ssp-a": "ssp-b", "ssp-b": "ssp-a"}[first]
	if err := c.sched.Reassign(c.ctx, v.key, other); err != nil {
		t.Fatal(err)
	}
	// The old owner learns from its next write of the view.
	c.write("UPDATE", "thread:3", map[string]any{"status": "open", "n": 8})
	waitFor(t, 30*time.Second, func() (bool, string) {
		_, ok := c.ssps[first].s.DebugView(c.ctx, v.key)
		return !ok, "the old owner still holds the view"
	})
	c.write("UPDATE", "thread:4", map[string]any{"status": "open", "n": 9})
	c.waitExact([]view{v})
	if got := c.exec("SELECT VALUE ssp_id FROM ONLY _00_query:mover", nil)[0].Value.AsString(); got != other {
		t.Errorf("_00_query:mover names %s, want %s", got, other)
	}
	if n := c.ssps[first].metric(t, "ssp_views_moved_total", nil); n != 1 {
		t.Errorf("ssp_views_moved_total on the old owner = %v", n)
	}
}

// restartsOf sums the restarts /debug/actors reports for actors of kind.
func (p *ssp) restartsOf(t testing.TB, kind string) int {
	t.Helper()
	tree, err := p.s.DebugActors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(actors.ActorNode)
	walk = func(a actors.ActorNode) {
		if a.Kind == kind {
			n += a.Restarts
		}
		for _, c := range a.Children {
			walk(c)
		}
	}
	walk(tree.Actors)
	return n
}

// A panic in the scheduler link restarts the link alone: it stays registered (no second
// registration), keeps heartbeating, and no view actor is touched.
func TestLinkPanicLeavesTheViews(t *testing.T) {
	c := newCluster(t, 10, testscheduler.Options{})
	var armed atomic.Bool
	a := c.newSSP("ssp-a", true, sspOpts{link: func(l *scheduler.LinkConfig) {
		l.OnReceive = func(msg any) {
			if armed.Load() && fmt.Sprintf("%T", msg) != "*actor.Started" && armed.CompareAndSwap(true, false) {
				panic("injected link failure")
			}
		}
	}})
	for _, v := range views {
		c.register(v)
	}
	c.waitExact(views)
	before, _ := a.s.DebugScheduler(c.ctx)
	armed.Store(true)
	waitFor(t, 10*time.Second, func() (bool, string) { return !armed.Load(), "the link never failed" })
	waitFor(t, 10*time.Second, func() (bool, string) {
		st, _ := a.s.DebugScheduler(c.ctx)
		return st != nil && st.Heartbeats["ok"] > before.Heartbeats["ok"]+2, "no heartbeat after the restart"
	})
	if n := a.restartsOf(t, "scheduler"); n != 1 {
		t.Errorf("link restarts %d, want 1", n)
	}
	if n := a.restartsOf(t, "view"); n != 0 {
		t.Errorf("view restarts %d, want 0", n)
	}
	if st, _ := a.s.DebugScheduler(c.ctx); len(st.Registrations) != 1 {
		t.Errorf("registrations %d after the link's restart, want 1", len(st.Registrations))
	}
	c.write("UPDATE", "thread:3", map[string]any{"status": "closed", "n": 3})
	c.waitExact(views)
}

// gatedSource holds the pages of a re-bootstrap until released.
type gatedSource struct {
	loader.Source
	armed   atomic.Bool
	reached chan struct{}
	release chan struct{}
	once    atomic.Bool
}

func (g *gatedSource) QueryValue(ctx context.Context, q string, vars map[string]value.Value) (value.Value, error) {
	if g.armed.Load() && strings.Contains(q, "ORDER BY id") {
		if g.once.CompareAndSwap(false, true) {
			close(g.reached)
		}
		select {
		case <-g.release:
		case <-ctx.Done():
			return value.Value{}, ctx.Err()
		}
	}
	return g.Source.QueryValue(ctx, q, vars)
}

// During an in-process re-bootstrap the base data is loaded into a fresh store while the old
// one keeps answering /debug and /info; ingests are refused meanwhile (the scheduler buffers
// them) and arrive after it.
func TestRebootstrapKeepsAnsweringFromTheOldStore(t *testing.T) {
	c := newCluster(t, 10, testscheduler.Options{})
	g := &gatedSource{reached: make(chan struct{}), release: make(chan struct{})}
	a := c.newSSP("ssp-a", true, sspOpts{source: func(s loader.Source) loader.Source { g.Source = s; return g }})
	for _, v := range views {
		c.register(v)
	}
	c.waitExact(views)
	g.armed.Store(true)
	c.sched.ForceHeartbeat("ssp-a", testscheduler.HeartbeatAnswer{Status: 409, Reason: "resync"})
	<-g.reached
	if st := a.s.Status(); st != actors.StatusBootstrapping {
		t.Fatalf("status %s while the snapshot loads", st)
	}
	d, ok := a.s.DebugView(c.ctx, "closed")
	if !ok || d.CacheSize == 0 || len(d.ReferencedTables) == 0 {
		t.Errorf("/debug/view during the reload: ok=%v %+v", ok, d)
	}
	if deps := a.s.DebugDeps(c.ctx); deps.ViewCount != len(views) || len(deps.TablesInStore) == 0 {
		t.Errorf("/debug/deps during the reload: %+v", deps)
	}
	if n := a.s.Info(c.ctx).CircuitTables["thread"]; n != 10 {
		t.Errorf("/info during the reload counts %d threads, want the old store's 10", n)
	}
	c.write("UPDATE", "thread:2", map[string]any{"status": "open", "n": 2}) // buffered by the scheduler
	close(g.release)
	a.waitStatus(t, actors.StatusReady)
	c.waitExact(views)
}
