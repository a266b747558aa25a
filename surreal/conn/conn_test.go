package conn_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/integration/devdb"
	"github.com/sp00ky/ssp/integration/devdb/devdbtest"
	"github.com/sp00ky/ssp/internal/faultproxy"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

var srv *devdb.Server

func TestMain(m *testing.M) {
	devdbtest.RunTests(m, devdb.Options{}, func(s *devdb.Server) { srv = s })
}

var dbSeq atomic.Int64

func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// dial opens a Conn on a fresh database of the shared devdb.
func dial(t *testing.T, url string) (*conn.Conn, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	c, err := conn.Dial(ctx, testConfig(url))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, ctx
}

// testConfig is the configuration of dial: a fresh database, short backoff, 20 attempts.
func testConfig(url string) conn.Config {
	return conn.Config{
		URL: url, User: srv.User, Pass: srv.Pass, NS: "test", DB: fmt.Sprintf("db%d", dbSeq.Add(1)),
		BaseBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, AttemptTimeout: 5 * time.Second,
		MaxAttempts: 20, Log: quietLog(),
	}
}

func mustQuery(t *testing.T, ctx context.Context, c *conn.Conn, q string, vars map[string]any) []conn.Result {
	t.Helper()
	rs, err := c.Query(ctx, q, vars)
	if err != nil {
		t.Fatalf("Query %q: %v", q, err)
	}
	if err := conn.StatementErr(rs); err != nil {
		t.Fatalf("Query %q: %v", q, err)
	}
	return rs
}

func rec(s string) value.Value {
	v, ok := value.ParseRecord(s)
	if !ok {
		panic("bad record " + s)
	}
	return v
}

func TestDecodeLiterals(t *testing.T) {
	c, ctx := dial(t, srv.URL())
	when := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)
	tests := []struct {
		surql string
		want  value.Value
	}{
		{"RETURN NONE", value.None()},
		{"RETURN NULL", value.Null()},
		{"RETURN true", value.Bool(true)},
		{"RETURN 1", value.Int(1)},
		{"RETURN -2", value.Int(-2)},
		{"RETURN 1.5", value.Float(1.5)},
		{"RETURN 0.1", value.Float(0.1)},
		{"RETURN 10.0", value.Float(10)},
		{"RETURN 1.5dec", value.Float(1.5)},
		{"RETURN 'x'", value.String("x")},
		{"RETURN d'2024-01-02T03:04:05.000000600Z'", value.Datetime(when)},
		{"RETURN 1h30m", value.Duration(90 * time.Minute)},
		{"RETURN 1500ms", value.Duration(1500 * time.Millisecond)},
		{"RETURN 0ns", value.Duration(0)},
		{"RETURN thread:1", value.Record("thread", value.Int(1))},
		{"RETURN thread:-7", value.Record("thread", value.Int(-7))},
		{"RETURN thread:⟨a b⟩", value.Record("thread", value.String("a b"))},
		{"RETURN thread:['x', 1]", value.Record("thread", value.Array([]value.Value{value.String("x"), value.Int(1)}))},
		{"RETURN [1, NULL, 'a']", value.Array([]value.Value{value.Int(1), value.Null(), value.String("a")})},
		{"RETURN {a: NONE, b: {c: 1}}", value.ObjectOf([]value.Field{{Key: "b", Val: value.ObjectOf([]value.Field{{Key: "c", Val: value.Int(1)}})}})},
	}
	for _, tc := range tests {
		t.Run(tc.surql, func(t *testing.T) {
			rs := mustQuery(t, ctx, c, tc.surql, nil)
			if len(rs) != 1 || !value.Identical(rs[0].Value, tc.want) {
				t.Fatalf("got %v, want %s", rs, tc.want.SurQL())
			}
		})
	}
	rs := mustQuery(t, ctx, c, "RETURN rand::uuid::v4()", nil)
	if s := rs[0].Value.AsString(); len(s) != 36 || strings.Count(s, "-") != 4 {
		t.Fatalf("uuid decoded as %s", rs[0].Value.SurQL())
	}
}

// TestBindRoundTrip binds values with ToDB and reads them back unchanged.
func TestBindRoundTrip(t *testing.T) {
	c, ctx := dial(t, srv.URL())
	when := time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC)
	vals := []value.Value{
		value.Null(), value.Bool(false), value.Int(-5), value.Int(1 << 40), value.Float(0.25), value.Float(0.1),
		value.String("it's \"quoted\" ⟩ `x`"), value.Datetime(when), value.Duration(36*time.Hour + 5*time.Millisecond),
		rec("thread:1"), value.Record("thread", value.String("a'b")), value.Record("thread", value.String("a b ⟩ c")),
		value.Record("t", value.Array([]value.Value{value.String("v"), value.Int(2)})),
		value.Array([]value.Value{value.Int(1), rec("user:x")}),
		value.ObjectOf([]value.Field{{Key: "k", Val: value.String("v")}, {Key: "n", Val: value.Null()}, {Key: "r", Val: rec("user:1")}}),
	}
	for _, v := range vals {
		t.Run(v.SurQL(), func(t *testing.T) {
			rs := mustQuery(t, ctx, c, "RETURN $v", map[string]any{"v": v})
			if !value.Identical(rs[0].Value, v) {
				t.Fatalf("got %s, want %s", rs[0].Value.SurQL(), v.SurQL())
			}
			// Bound through ToDB explicitly, too.
			rs = mustQuery(t, ctx, c, "RETURN $v", map[string]any{"v": conn.ToDB(v)})
			if !value.Identical(rs[0].Value, v) {
				t.Fatalf("ToDB: got %s, want %s", rs[0].Value.SurQL(), v.SurQL())
			}
		})
	}
	// NONE binds as NONE: setting a field to it leaves the field absent.
	rs := mustQuery(t, ctx, c, "CREATE x:1 SET a = $none, b = 1 RETURN AFTER; SELECT VALUE a FROM ONLY x:1",
		map[string]any{"none": value.None()})
	if got := rs[0].Value.Elems()[0]; got.Get("a").Kind() != value.KindNone || got.Get("b").AsInt() != 1 {
		t.Fatalf("row = %s", got.SurQL())
	}
	if !rs[1].Value.IsNone() {
		t.Fatalf("SELECT VALUE of an absent field = %s, want NONE", rs[1].Value.SurQL())
	}
}

func TestStatementAndQueryErrors(t *testing.T) {
	c, ctx := dial(t, srv.URL())
	rs, err := c.Query(ctx, "RETURN 1; SELECT * FROM missing_table; RETURN 2", nil)
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(rs) != 3 || rs[0].Err != nil || rs[2].Err != nil || rs[2].Value.AsInt() != 2 {
		t.Fatalf("results = %+v", rs)
	}
	var se *conn.StatementError
	if !errors.As(rs[1].Err, &se) || se.Index != 1 || !strings.Contains(se.Message, "missing_table") {
		t.Fatalf("statement 1 error = %v", rs[1].Err)
	}
	if err := conn.StatementErr(rs); err == nil || !strings.Contains(err.Error(), "missing_table") {
		t.Fatalf("StatementErr = %v", err)
	}
	if _, err := c.Query(ctx, "SELEKT * FROM x", nil); err == nil || !strings.Contains(err.Error(), "Parse error") {
		t.Fatalf("parse error = %v", err)
	}
}

func TestDialRejectsBadCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: "root", Pass: "wrong", NS: "a", DB: "b", Log: quietLog()})
	if err == nil || !strings.Contains(err.Error(), "sign in") {
		t.Fatalf("Dial with a wrong password: %v", err)
	}
}

func TestVersion(t *testing.T) {
	c, ctx := dial(t, srv.URL())
	v, err := c.Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if !strings.HasPrefix(v, "3.") {
		t.Fatalf("Version = %q, want 3.x", v)
	}
}

func TestIsConflict(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"Transaction conflict: Resource busy. This transaction can be retried", true},
		{"Failed to commit transaction due to a read or write conflict. This transaction can be retried", true},
		{"The table 'x' does not exist", false},
		{"Parse error", false},
	}
	for _, tc := range tests {
		if got := conn.IsConflict(errors.New(tc.msg)); got != tc.want {
			t.Errorf("IsConflict(%q) = %v", tc.msg, got)
		}
	}
}

// TestConflictIsRetried: a statement failing with a transaction conflict makes Query send the
// query again (here the conflict is thrown until a counter, bumped by every attempt, reaches 3).
func TestConflictIsRetried(t *testing.T) {
	c, ctx := dial(t, srv.URL())
	const q = "UPSERT $id SET n += 1 RETURN NONE; " +
		"IF (SELECT VALUE n FROM ONLY $id) < 3 { THROW 'Transaction conflict: this transaction can be retried' }; " +
		"RETURN (SELECT VALUE n FROM ONLY $id)"
	rs := mustQuery(t, ctx, c, q, map[string]any{"id": rec("counter:1")})
	if n := rs[len(rs)-1].Value.AsInt(); n != 3 {
		t.Fatalf("counter = %d after the retried query, want 3", n)
	}
	// Other statement errors are not retried.
	rs, err := c.Query(ctx, "UPSERT counter:2 SET n += 1 RETURN NONE; THROW 'boom'", nil)
	if err != nil || rs[1].Err == nil {
		t.Fatalf("Query = %+v, %v", rs, err)
	}
	if rs := mustQuery(t, ctx, c, "RETURN (SELECT VALUE n FROM ONLY counter:2)", nil); rs[0].Value.AsInt() != 1 {
		t.Fatalf("a failing query was retried: counter = %s", rs[0].Value.SurQL())
	}
	// QueryOnce never retries.
	rs, err = c.QueryOnce(ctx, q, map[string]any{"id": rec("counter:3")})
	if err != nil || !conn.IsConflict(rs[1].Err) {
		t.Fatalf("QueryOnce = %+v, %v", rs, err)
	}
}

// TestReconnect cuts every connection between the Conn and SurrealDB; the next query must
// reconnect (sign in, use) and succeed.
func TestReconnect(t *testing.T) {
	p := newProxy(t, srv.Addr())
	c, ctx := dial(t, "ws://"+p.Addr())
	mustQuery(t, ctx, c, "CREATE item:1 SET n = 1", nil)
	p.Cut()
	rs := mustQuery(t, ctx, c, "SELECT VALUE n FROM item:1", nil)
	if got := rs[0].Value; got.Len() != 1 || got.Elems()[0].AsInt() != 1 {
		t.Fatalf("after reconnect: %s", got.SurQL())
	}
	if p.Accepted() < 2 {
		t.Fatalf("proxy accepted %d connections, want a reconnect", p.Accepted())
	}
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("Version after reconnect: %v", err)
	}
}

// TestConcurrentQueries runs queries from many goroutines, with a cut in the middle.
func TestConcurrentQueries(t *testing.T) {
	p := newProxy(t, srv.Addr())
	c, ctx := dial(t, "ws://"+p.Addr())
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 20 {
				p.Cut()
			}
			rs, err := c.Query(ctx, "UPSERT type::record('item', $i) SET n = $i RETURN VALUE n", map[string]any{"i": i})
			if err == nil {
				err = conn.StatementErr(rs)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("query: %v", err)
	}
	rs := mustQuery(t, ctx, c, "RETURN count(SELECT VALUE id FROM item)", nil)
	if n := rs[0].Value.AsInt(); n != 40 {
		t.Fatalf("count = %d, want 40", n)
	}
}

// newProxy starts a fault proxy to target, closed with the test.
func newProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestRetryBudget makes calls fail transiently with real faults and counts their attempts: the
// database refusing connections (every attempt dials once, and the proxy counts the
// connections), the network stalling (every attempt hangs until its timeout; the proxy counts
// the connections), and a transaction conflict that never clears (every attempt bumps a
// counter in the database before failing). A call stops after Config.MaxAttempts attempts or
// at Config.RetryDeadline, whichever comes first, and never before.
func TestRetryBudget(t *testing.T) {
	const conflictQuery = "UPSERT counter:budget SET n += 1 RETURN NONE; " +
		"THROW 'Transaction conflict: this transaction can be retried'"
	// slack is how far past RetryDeadline a call may end (scheduling on a loaded machine).
	const slack = 2 * time.Second
	tests := []struct {
		name                    string
		fault                   string // "refuse", "stall" or "conflict"
		dial                    bool   // the fault is there when Dial starts; else Query meets it
		maxAttempts             int
		deadline, attempt       time.Duration
		minAttempts, wantAtMost int
		byDeadline              bool // the deadline, not MaxAttempts, ends the call
	}{
		{name: "dial refused: MaxAttempts", fault: "refuse", dial: true, maxAttempts: 3, deadline: time.Minute,
			attempt: 5 * time.Second, minAttempts: 3, wantAtMost: 3},
		{name: "query refused: MaxAttempts", fault: "refuse", maxAttempts: 4, deadline: time.Minute,
			attempt: 5 * time.Second, minAttempts: 4, wantAtMost: 4},
		{name: "query conflict: MaxAttempts", fault: "conflict", maxAttempts: 5, deadline: time.Minute,
			attempt: 5 * time.Second, minAttempts: 5, wantAtMost: 5},
		// 400ms attempts within 1.5s: at most 4 attempts, the last one cut short by the deadline.
		{name: "dial stalled: RetryDeadline", fault: "stall", dial: true, maxAttempts: 1000, deadline: 1500 * time.Millisecond,
			attempt: 400 * time.Millisecond, minAttempts: 2, wantAtMost: 4, byDeadline: true},
		{name: "query stalled: RetryDeadline", fault: "stall", maxAttempts: 1000, deadline: 1500 * time.Millisecond,
			attempt: 400 * time.Millisecond, minAttempts: 2, wantAtMost: 4, byDeadline: true},
		// Backoff 5, 10, 20, 40, 50, 50… ms: at most 14 attempts within 500ms.
		{name: "query conflict: RetryDeadline", fault: "conflict", maxAttempts: 1000, deadline: 500 * time.Millisecond,
			attempt: 5 * time.Second, minAttempts: 2, wantAtMost: 14, byDeadline: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			p := newProxy(t, srv.Addr())
			cfg := testConfig("ws://" + p.Addr())
			cfg.MaxAttempts, cfg.RetryDeadline, cfg.AttemptTimeout = tc.maxAttempts, tc.deadline, tc.attempt
			mode := map[string]faultproxy.Mode{"refuse": faultproxy.Refuse, "stall": faultproxy.Stall, "conflict": faultproxy.Forward}[tc.fault]

			var attempts int
			var elapsed time.Duration
			var err error
			if tc.dial {
				p.SetMode(mode)
				start := time.Now()
				var c *conn.Conn
				c, err = conn.Dial(ctx, cfg)
				elapsed = time.Since(start)
				if err == nil {
					_ = c.Close(ctx)
					t.Fatal("Dial through a failing proxy succeeded")
				}
				attempts = p.Accepted()
			} else {
				c, derr := conn.Dial(ctx, cfg)
				if derr != nil {
					t.Fatalf("Dial: %v", derr)
				}
				defer func() { _ = c.Close(context.Background()) }()
				mustQuery(t, ctx, c, "RETURN 1", nil)
				if mode != faultproxy.Forward {
					p.SetMode(mode)
					// Retire the connection the proxy cut, so that every attempt below dials.
					if _, err := c.QueryOnce(ctx, "RETURN 1", nil); err == nil {
						t.Fatal("QueryOnce over a cut connection succeeded")
					}
				}
				before := p.Accepted()
				start := time.Now()
				var rs []conn.Result
				rs, err = c.Query(ctx, conflictQuery, nil)
				elapsed = time.Since(start)
				switch {
				case mode != faultproxy.Forward:
					attempts = p.Accepted() - before
				case tc.byDeadline && err != nil && strings.Contains(err.Error(), "gave up after"):
					// The budget ended during an attempt (a loaded machine): that attempt's
					// timeout is the answer instead of the conflict.
					attempts = int(mustQuery(t, ctx, c, "RETURN (SELECT VALUE n FROM ONLY counter:budget)", nil)[0].Value.AsInt())
				case err != nil || len(rs) != 2 || !conn.IsConflict(rs[1].Err):
					t.Fatalf("conflicting query = %+v, %v; want the conflict in its result", rs, err)
				default:
					attempts = int(mustQuery(t, ctx, c, "RETURN (SELECT VALUE n FROM ONLY counter:budget)", nil)[0].Value.AsInt())
				}
			}
			if mode != faultproxy.Forward && (err == nil || !strings.Contains(err.Error(), "gave up after")) {
				t.Fatalf("error = %v, want one saying the call gave up", err)
			}
			if attempts < tc.minAttempts || attempts > tc.wantAtMost {
				t.Fatalf("%d attempts in %s, want %d to %d (error: %v)", attempts, elapsed, tc.minAttempts, tc.wantAtMost, err)
			}
			if tc.byDeadline && (elapsed < tc.deadline || elapsed > tc.deadline+slack) {
				t.Fatalf("the call took %s, want its retry deadline %s (+ at most %s)", elapsed, tc.deadline, slack)
			}
		})
	}
}
