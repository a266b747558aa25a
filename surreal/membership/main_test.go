package membership

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/devdb/devdbtest"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

var srv *devdb.Server

func TestMain(m *testing.M) {
	devdbtest.RunTests(m, devdb.Options{}, func(s *devdb.Server) { srv = s })
}

var dbSeq atomic.Int64

func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// env is a fresh database with a connection, a Writer of GlobalTable and a Store on it.
type env struct {
	t   testing.TB
	ctx context.Context
	c   *conn.Conn
	q   *countingQuerier
	wo  WriterOptions
	w   *Writer
	s   *Store
	ns  string
	db  string
}

// countingQuerier passes queries through to the real connection and counts them.
type countingQuerier struct {
	c *conn.Conn
	n atomic.Int64
}

func (q *countingQuerier) Query(ctx context.Context, surql string, vars map[string]any) ([]conn.Result, error) {
	q.n.Add(1)
	return q.c.Query(ctx, surql, vars)
}

func newEnv(t testing.TB, wo WriterOptions) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, ns: "membership", db: fmt.Sprintf("db%d", dbSeq.Add(1))}
	c, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: e.ns, DB: e.db,
		MaxAttempts: connAttempts, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Log: quietLog()})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	e.c = c
	e.q = &countingQuerier{c: c}
	if wo.Log == nil {
		wo.Log = quietLog()
	}
	e.wo = wo
	e.w = e.writer(GlobalTable)
	e.s = NewStore(e.q, StoreOptions{Log: quietLog()})
	return e
}

// connAttempts is the env connection's Config.MaxAttempts.
const connAttempts = 4

// writer returns a new Writer of table with the env's options, counting its queries.
func (e *env) writer(table string) *Writer {
	return NewWriter(e.q, table, e.wo)
}

// queries returns how many queries went through the env's Querier so far.
func (e *env) queries() int64 { return e.q.n.Load() }

func (e *env) exec(q string, vars map[string]any) []conn.Result {
	e.t.Helper()
	rs, err := e.c.Query(e.ctx, q, vars)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return rs
}

// edge is an edge row as a test compares it.
type edge struct {
	id, in, out string
	version     int64
	clientID    string
	authID      string
	parent      string // the parent edge's id, "" when NONE
	rel         string
}

func (e *env) edges(table string) []edge {
	e.t.Helper()
	rs := e.exec("SELECT * FROM type::table($tb) ORDER BY id", map[string]any{"tb": table})
	var out []edge
	for _, r := range rs[0].Value.Elems() {
		ed := edge{
			id: r.Get("id").SurQL(), in: r.Get("in").SurQL(), out: r.Get("out").SurQL(),
			version: r.Get("version").AsInt(), clientID: r.Get("clientId").AsString(), authID: r.Get("auth_id").AsString(),
			rel: r.Get("parent_rel").AsString(),
		}
		if p := r.Get("parent"); !p.IsNone() {
			ed.parent = p.SurQL()
		}
		out = append(out, ed)
	}
	return out
}

// clientRead runs the two reads clients make and returns "out@version" (top-level) and
// "out@version<parentOut" (subquery members), sorted.
func (e *env) clientRead(table, view string) (top, sub []string) {
	e.t.Helper()
	in := QueryRecord(view)
	rs := e.exec("SELECT out, version FROM type::table($tb) WHERE in = $in AND parent IS NONE;"+
		"SELECT out, version, parent.out AS pout FROM type::table($tb) WHERE in = $in AND parent IS NOT NONE",
		map[string]any{"tb": table, "in": in})
	for _, r := range rs[0].Value.Elems() {
		top = append(top, fmt.Sprintf("%s@%d", value.RecordString(r.Get("out")), r.Get("version").AsInt()))
	}
	for _, r := range rs[1].Value.Elems() {
		sub = append(sub, fmt.Sprintf("%s@%d<%s", value.RecordString(r.Get("out")), r.Get("version").AsInt(),
			value.RecordString(r.Get("pout"))))
	}
	sort.Strings(top)
	sort.Strings(sub)
	return top, sub
}

func top(key string, v int64) engine.Member { return engine.Member{Key: key, Version: v} }

func sub(parent, rel, key string, v int64) engine.Member {
	return engine.Member{Key: key, Version: v, Parent: parent, Rel: rel}
}

func added(view string, ms ...engine.Member) ViewDelta {
	return ViewDelta{ViewKey: view, ClientID: "client-1", AuthID: "user:alice", Delta: engine.Delta{Added: ms}}
}

func eq(a, b []string) bool {
	return strings.Join(a, "|") == strings.Join(b, "|")
}

func deltaAdded(ms ...engine.Member) engine.Delta { return engine.Delta{Added: ms} }
