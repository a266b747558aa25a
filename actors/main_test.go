package actors

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/devdb/devdbtest"
	"github.com/sp00ky/ssp/internal/faultproxy"
	testwait "github.com/sp00ky/ssp/internal/wait"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

var srv *devdb.Server

func TestMain(m *testing.M) {
	devdbtest.RunTests(m, devdb.Options{}, func(s *devdb.Server) { srv = s })
}

var dbSeq atomic.Int64

func testLog() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if os.Getenv("ACTORS_TEST_LOG") != "" {
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.DebugLevel)
	}
	return l
}

// harness is a Service on a fresh database.
type harness struct {
	t   testing.TB
	ctx context.Context
	db  *conn.Conn
	s   *Service
	reg *prometheus.Registry
	// proxy, when harnessOpts.proxy is set, is between the Service's connection and the
	// database (h.db, the test's own connection, is direct).
	proxy *faultproxy.Proxy
	// deps started s; restart starts the next Service with them.
	deps Deps
}

type harnessOpts struct {
	cfg     func(*config.Config)
	deps    func(*Deps)
	seed    func(h *harness) // runs on the database before Start
	noReady bool             // do not wait for StatusReady
	proxy   bool             // the Service reaches the database through h.proxy (faults on demand)
	// beforeStart runs once h.deps and h.proxy are set, just before the Service starts: it may
	// change h.deps (hooks that need h, a wrapped DB) and put the proxy in a fault mode.
	beforeStart func(h *harness)
}

func defaultConfig() config.Config {
	return config.Config{
		RefMode:              membership.RefDedicated,
		IngestQueue:          256,
		IngestWait:           5 * time.Second,
		TTLCleanupInterval:   time.Hour,
		MetricsFlushInterval: 50 * time.Millisecond,
		RVWaitTimeout:        30 * time.Second,
		BootstrapPageSize:    2,
		SSPID:                "ssp-test",
	}
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dbName := fmt.Sprintf("db%d", dbSeq.Add(1))
	db, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "actors",
		DB: dbName, Log: testLog()})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	h := &harness{t: t, ctx: ctx, db: db}
	if o.seed != nil {
		o.seed(h)
	}
	cfg := defaultConfig()
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	sdb := db
	if o.proxy {
		p, err := faultproxy.New(srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		h.proxy = p
		sdb, err = conn.Dial(ctx, conn.Config{URL: "ws://" + p.Addr(), User: srv.User, Pass: srv.Pass, NS: "actors",
			DB: dbName, Log: testLog(), MaxAttempts: 3, RetryDeadline: 2 * time.Second, AttemptTimeout: time.Second})
		if err != nil {
			t.Fatalf("dial through the proxy: %v", err)
		}
		t.Cleanup(func() { _ = sdb.Close(context.Background()) })
	}
	deps := Deps{Config: cfg, Log: testLog(), DB: sdb, Registry: h.reg, Version: "test", BootstrapRetryDelay: 10 * time.Millisecond}
	if o.deps != nil {
		o.deps(&deps)
	}
	h.deps = deps
	if o.beforeStart != nil {
		o.beforeStart(h)
	}
	h.start()
	if !o.noReady {
		h.waitStatus(StatusReady)
	}
	return h
}

// start starts a Service with h.deps (a fresh metrics registry each time).
func (h *harness) start() {
	h.t.Helper()
	h.reg = prometheus.NewRegistry()
	h.deps.Registry = h.reg
	s, err := New(h.deps)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	h.s = s
	if err := s.Start(h.ctx); err != nil {
		h.t.Fatalf("Start: %v", err)
	}
	h.t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Shutdown(sctx)
	})
}

// restart shuts the Service down and starts another on the same database (a process restart),
// waiting until it is ready.
func (h *harness) restart() {
	h.t.Helper()
	sctx, cancel := context.WithTimeout(h.ctx, time.Minute)
	defer cancel()
	if err := h.s.Shutdown(sctx); err != nil {
		h.t.Fatalf("shutdown: %v", err)
	}
	h.start()
	h.waitStatus(StatusReady)
}

// waitFor polls cond until it holds or the deadline passes; cond's text explains a failure.
func waitFor(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	testwait.For(t, timeout, 20*time.Millisecond, cond)
}

func (h *harness) waitStatus(want Status) {
	h.t.Helper()
	waitFor(h.t, time.Minute, func() (bool, string) {
		st := h.s.Status()
		return st == want, "status " + string(st)
	})
}

func (h *harness) exec(q string, vars map[string]any) []conn.Result {
	h.t.Helper()
	rs, err := h.db.Query(h.ctx, q, vars)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return rs
}

func obj(t testing.TB, m map[string]any) value.Value {
	t.Helper()
	v, err := value.FromAny(m)
	if err != nil {
		t.Fatalf("value: %v", err)
	}
	return v
}

func (h *harness) change(table, op, id string, rec map[string]any) engine.Change {
	h.t.Helper()
	r := value.None()
	if rec != nil {
		r = obj(h.t, rec)
	}
	c, err := engine.NewChange(table, op, id, r)
	if err != nil {
		h.t.Fatalf("change: %v", err)
	}
	return c
}

func (h *harness) ingest(table, op, id string, rec map[string]any) {
	h.t.Helper()
	if err := h.s.Ingest(h.ctx, h.change(table, op, id, rec), ""); err != nil {
		h.t.Fatalf("ingest %s %s: %v", op, id, err)
	}
}

func (h *harness) register(key, surql, owner string) RegisterResult {
	h.t.Helper()
	r, err := h.s.Register(h.ctx, h.req(key, surql, owner))
	if err != nil {
		h.t.Fatalf("register %s: %v", key, err)
	}
	return r
}

func (h *harness) req(key, surql, owner string) RegisterRequest {
	params := map[string]any{}
	if owner != "" {
		params["auth"] = map[string]any{"id": owner}
	}
	return RegisterRequest{Key: key, SurQL: surql, ClientID: "client-" + key, TTL: time.Hour, Params: obj(h.t, params)}
}

// edgeText is one edge as the tests compare them: view|parent|rel|key@version|clientId|auth_id.
func edgeText(view string, m engine.Member, clientID, authID string) string {
	return fmt.Sprintf("%s|%s|%s|%s@%d|%s|%s", view, m.Parent, m.Rel, m.Key, m.Version, clientID, authID)
}

// dbEdges reads every edge of every list_ref table, keyed by table.
func (h *harness) dbEdges() map[string][]string {
	h.t.Helper()
	tables, err := membership.ListRefTables(h.ctx, h.db)
	if err != nil {
		h.t.Fatalf("list tables: %v", err)
	}
	out := map[string][]string{}
	for _, tb := range tables {
		rs, err := h.db.Query(h.ctx, "SELECT in, out, version, clientId, auth_id, parent_rel, parent.out AS pout FROM type::table($tb)", map[string]any{"tb": tb})
		if err == nil {
			err = conn.StatementErr(rs)
		}
		if err != nil && strings.Contains(err.Error(), "does not exist") {
			continue // removed since it was listed (a deleted user's table)
		}
		if err != nil {
			h.t.Fatalf("read the edges of %s: %v", tb, err)
		}
		for _, r := range rs[0].Value.Elems() {
			m := engine.Member{Key: value.RecordString(r.Get("out")), Version: r.Get("version").AsInt(), Rel: r.Get("parent_rel").AsString()}
			if p := r.Get("pout"); p.Kind() == value.KindRecord {
				m.Parent = value.RecordString(p)
			}
			view := r.Get("in").Key().AsString()
			out[tb] = append(out[tb], edgeText(view, m, r.Get("clientId").AsString(), r.Get("auth_id").AsString()))
		}
		sort.Strings(out[tb])
		if len(out[tb]) == 0 {
			delete(out, tb)
		}
	}
	return out
}

// engineEdges is what the edges must be: every view's membership in the engine.
func (h *harness) engineEdges() map[string][]string {
	h.t.Helper()
	snap, err := request[*snapshotReply](h.ctx, h.s.sys.Root, h.s.pids.coordinator, &snapshotReq{})
	if err != nil {
		h.t.Fatalf("snapshot: %v", err)
	}
	out := map[string][]string{}
	for tb, views := range snap.tables {
		for key, vm := range views {
			for _, m := range vm.Members {
				out[tb] = append(out[tb], edgeText(key, m, vm.ClientID, vm.AuthID))
			}
		}
		sort.Strings(out[tb])
		if len(out[tb]) == 0 {
			delete(out, tb)
		}
	}
	return out
}

func describe(m map[string][]string) string {
	tables := make([]string, 0, len(m))
	for t := range m {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "\n  %s:", t)
		for _, e := range m[t] {
			fmt.Fprintf(&b, "\n    %s", e)
		}
	}
	return b.String()
}

func sameEdges(a, b map[string][]string) bool { return describe(a) == describe(b) }

// waitEdgesMatch waits until the database holds exactly the engine's membership.
func (h *harness) waitEdgesMatch() {
	h.t.Helper()
	waitFor(h.t, time.Minute, func() (bool, string) {
		want, got := h.engineEdges(), h.dbEdges()
		return sameEdges(want, got), "want" + describe(want) + "\ngot" + describe(got)
	})
}

// waitEdges waits until the database holds exactly want.
func (h *harness) waitEdges(want map[string][]string) {
	h.t.Helper()
	for _, es := range want {
		sort.Strings(es)
	}
	waitFor(h.t, time.Minute, func() (bool, string) {
		got := h.dbEdges()
		return sameEdges(want, got), "want" + describe(want) + "\ngot" + describe(got)
	})
}

func (h *harness) queryRow(key string) value.Value {
	h.t.Helper()
	rs, err := h.db.Query(h.ctx, "SELECT * FROM ONLY $id", map[string]any{"id": membership.QueryRecord(key)})
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return value.None()
		}
		h.t.Fatalf("read _00_query:%s: %v", key, err)
	}
	return rs[0].Value
}

func (h *harness) tableExists(name string) bool {
	h.t.Helper()
	rs := h.exec("INFO FOR DB", nil)
	info := rs[0].Value
	return !info.Get("tables").Get(name).IsNone()
}

// describeActor asks one actor for the summary of its state (the /debug/actors request).
func (h *harness) describeActor(pid *actor.PID) map[string]any {
	h.t.Helper()
	st, err := request[*actorState](h.ctx, h.s.sys.Root, pid, &describeReq{})
	if err != nil {
		h.t.Fatalf("describe %s: %v", pid.Id, err)
	}
	return st.state
}

// edgeBacklog is the writers' backlog as the coordinator knows it from their reports.
func (h *harness) edgeBacklog() int {
	h.t.Helper()
	return h.describeActor(h.s.pids.coordinator)["edge_backlog"].(int)
}
