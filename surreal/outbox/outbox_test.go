package outbox

import (
	"context"
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
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

var srv *devdb.Server

func TestMain(m *testing.M) {
	devdbtest.RunTests(m, devdb.Options{}, func(s *devdb.Server) { srv = s })
}

var dbSeq atomic.Int64

// newDB returns a connection to a fresh database; dial opens more connections to it.
func newDB(t *testing.T) (ctx context.Context, c *conn.Conn, dial func() *conn.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	name := fmt.Sprintf("db%d", dbSeq.Add(1))
	log := logrus.New()
	log.SetOutput(io.Discard)
	dial = func() *conn.Conn {
		c, err := conn.Dial(ctx, conn.Config{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "outbox", DB: name, Log: log})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	return ctx, dial(), dial
}

func run(t *testing.T, ctx context.Context, c *conn.Conn, q string) {
	t.Helper()
	rs, err := c.Query(ctx, q, nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func rid(key string) value.Value { return value.Record("job", value.String(key)) }

func row(t *testing.T, ctx context.Context, c *conn.Conn, key string) value.Value {
	t.Helper()
	v, err := Row(ctx, c, rid(key))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParse(t *testing.T) {
	t.Parallel()
	obj := func(m map[string]value.Value) value.Value {
		m["id"], m["attempt"] = rid("a"), value.Int(2)
		return value.ObjectFromMap(m)
	}
	j, err := Parse(obj(map[string]value.Value{"path": value.String("/x"), "payload": value.String("p"), "retries": value.Float(1),
		"max_retries": value.Int(5), "retry_strategy": value.String("Exponential"), "timeout": value.Int(3),
		"errors": value.Array([]value.Value{value.Null()})}), true)
	if err != nil || j.Path != "/x" || j.Retries != 1 || j.MaxRetries != 5 || j.Strategy != Exponential || j.Timeout != 3*time.Second ||
		j.Attempt != 2 || j.Errors != 1 || j.Payload.AsString() != "p" {
		t.Errorf("Parse = %+v, %v", j, err)
	}
	j, err = Parse(obj(map[string]value.Value{"timeout": value.String("soon")}), false)
	if err != nil || j.MaxRetries != DefaultMaxRetries || j.Strategy != Linear || j.Timeout != 0 || j.Path != "" {
		t.Errorf("defaults = %+v, %v (a timeout not overridable is not read)", j, err)
	}
	_, err = Parse(obj(map[string]value.Value{"path": value.Int(7), "retries": value.Int(-1), "max_retries": value.String("3"),
		"retry_strategy": value.String("fibonacci"), "timeout": value.Duration(0), "errors": value.String("x")}), true)
	var inv *InvalidError
	if err == nil || !asInvalid(err, &inv) || len(inv.Problems) != 6 {
		t.Fatalf("Parse accepted or missed a problem: %v", err)
	}
	for _, w := range []string{`field "path" must be a string, got int 7`, `field "retries" must be a whole number`,
		`field "max_retries" must be a whole number from 0 to 1000, got string`, `field "retry_strategy" must be "linear" or "exponential"`,
		`field "timeout" must be a positive number`, `field "errors" must be an array, got string`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}

func asInvalid(err error, target **InvalidError) bool {
	e, ok := err.(*InvalidError)
	*target = e
	return ok
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	mid := func() float64 { return 0.5 } // jitter factor 1
	for _, tt := range []struct {
		s       Strategy
		retries int64
		want    time.Duration
	}{
		{Linear, 1, 400 * time.Millisecond}, {Linear, 2, 600 * time.Millisecond}, {Linear, 5, 1200 * time.Millisecond},
		{Exponential, 1, 400 * time.Millisecond}, {Exponential, 3, 1600 * time.Millisecond},
		{Exponential, 40, maxBackoff}, {Linear, 1 << 30, maxBackoff},
	} {
		if got := Backoff(tt.s, tt.retries, mid); got != tt.want {
			t.Errorf("Backoff(%s, %d) = %s, want %s", tt.s, tt.retries, got, tt.want)
		}
	}
	lo, hi := Backoff(Linear, 1, func() float64 { return 0 }), Backoff(Linear, 1, func() float64 { return 0.9999 })
	if lo != 320*time.Millisecond || hi < 479*time.Millisecond || hi > 480*time.Millisecond {
		t.Errorf("jitter range %s..%s, want 320ms..480ms", lo, hi)
	}
}

// TestClaimOneRunner: four connections claim the same 60 rows at once; each row is claimed
// exactly once, at attempt 1.
func TestClaimOneRunner(t *testing.T) {
	t.Parallel()
	ctx, c, dial := newDB(t)
	run(t, ctx, c, "DEFINE TABLE job SCHEMALESS; FOR $i IN 0..60 { CREATE type::record('job', <string>$i) SET status = 'pending' };")
	var mu sync.Mutex
	wins := map[string][]string{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		cc, ssp := dial(), fmt.Sprintf("ssp-%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				r, _, ok, err := Claim(ctx, cc, rid(fmt.Sprint(i)), ssp, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					wins[fmt.Sprint(i)] = append(wins[fmt.Sprint(i)], ssp)
					mu.Unlock()
					if r.Get("attempt").AsInt() != 1 || r.Get("assignee").AsString() != ssp {
						t.Errorf("claimed row %v", r)
					}
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 60; i++ {
		if w := wins[fmt.Sprint(i)]; len(w) != 1 {
			t.Errorf("job:%d claimed by %v", i, w)
		}
	}
}

// TestLeaseTakeoverFences: an expired lease is claimed again by another SSP; the first runner's
// late write is refused and the second runner's stands.
func TestLeaseTakeoverFences(t *testing.T) {
	t.Parallel()
	ctx, c, _ := newDB(t)
	run(t, ctx, c, "CREATE job:a SET status = 'pending', retries = 0, errors = []")
	if _, _, ok, err := Claim(ctx, c, rid("a"), "ssp-1", 50*time.Millisecond); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if _, seen, ok, _ := Claim(ctx, c, rid("a"), "ssp-2", time.Minute); ok || seen.Status != StatusProcessing || seen.Assignee != "ssp-1" {
		t.Fatalf("a live lease was taken: %v %+v", ok, seen)
	}
	// Once the lease has run out, ssp-2 takes the job over.
	var r value.Value
	for deadline := time.Now().Add(5 * time.Second); ; {
		var ok bool
		var err error
		if r, _, ok, err = Claim(ctx, c, rid("a"), "ssp-2", time.Minute); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired lease was never taken over")
		}
	}
	if r.Get("attempt").AsInt() != 2 || r.Get("assignee").AsString() != "ssp-2" {
		t.Fatalf("takeover row: %v", r)
	}
	if ok, err := Finish(ctx, c, rid("a"), "ssp-1", 1, Outcome{Status: StatusSuccess, Result: "late"}); ok || err != nil {
		t.Fatalf("the first runner's late write went through: %v %v", ok, err)
	}
	if ok, err := ExtendLease(ctx, c, rid("a"), "ssp-1", 1, time.Hour); ok || err != nil {
		t.Fatalf("the first runner extended a lease it lost: %v %v", ok, err)
	}
	n := int64(1)
	if ok, err := Finish(ctx, c, rid("a"), "ssp-2", 2, Outcome{Status: StatusPending, Retries: &n, Error: &ErrorEntry{Code: 500, Reason: "boom"},
		Backoff: time.Hour}); !ok || err != nil {
		t.Fatalf("retry write: %v %v", ok, err)
	}
	got := row(t, ctx, c, "a")
	if got.Get("status").AsString() != StatusPending || got.Get("retries").AsInt() != 1 || got.Get("errors").Len() != 1 ||
		got.Get("run_after").Kind() != value.KindDatetime || !got.Get("lease_until").IsNone() || !got.Get("result").IsNone() {
		t.Fatalf("row after the retry write: %v", got)
	}
	// Backing off: no claim, no sweep.
	if _, seen, ok, _ := Claim(ctx, c, rid("a"), "ssp-3", time.Minute); ok || seen.RunAfter.IsZero() {
		t.Fatalf("a backing-off row was claimed: %+v", seen)
	}
	if ids, err := Sweep(ctx, c, "job", "ssp-3", 0, 10); err != nil || len(ids) != 0 {
		t.Fatalf("sweep took a backing-off row: %v %v", ids, err)
	}
}

// TestSweepOwnAndGrace: the sweep returns expired leases and this SSP's own processing rows, and
// pending rows only once they are older than the grace.
func TestSweepOwnAndGrace(t *testing.T) {
	t.Parallel()
	ctx, c, _ := newDB(t)
	if ids, err := Sweep(ctx, c, "job", "me", 0, 10); err != nil || len(ids) != 0 {
		t.Fatalf("sweep of a missing table: %v %v", ids, err)
	}
	run(t, ctx, c, `CREATE job:fresh SET status = 'pending', updated_at = time::now();
CREATE job:old SET status = 'pending', updated_at = time::now() - 1h;
CREATE job:expired SET status = 'processing', assignee = 'other', lease_until = time::now() - 1s;
CREATE job:live SET status = 'processing', assignee = 'other', lease_until = time::now() + 1h;
CREATE job:mine SET status = 'processing', assignee = 'me', lease_until = time::now() + 1h;
CREATE job:done SET status = 'success';`)
	keys := func(ids []value.Value) string {
		var s []string
		for _, id := range ids {
			s = append(s, value.RecordString(id))
		}
		return strings.Join(s, ",")
	}
	ids, err := Sweep(ctx, c, "job", "me", time.Minute, 10)
	if err != nil || !sameSet(keys(ids), "job:old,job:expired,job:mine") {
		t.Errorf("sweep with grace: %s %v", keys(ids), err)
	}
	ids, err = Sweep(ctx, c, "job", "me", 0, 10)
	if err != nil || !sameSet(keys(ids), "job:fresh,job:old,job:expired,job:mine") {
		t.Errorf("sweep without grace: %s %v", keys(ids), err)
	}
	if ids, _ := Sweep(ctx, c, "job", "me", 0, 2); len(ids) != 2 {
		t.Errorf("limit: %v", ids)
	}
}

func sameSet(a, b string) bool {
	as, bs := strings.Split(a, ","), strings.Split(b, ",")
	if len(as) != len(bs) {
		return false
	}
	m := map[string]bool{}
	for _, x := range as {
		m[x] = true
	}
	for _, x := range bs {
		if !m[x] {
			return false
		}
	}
	return true
}

// TestOperatorRetryAndKill: retry only from failed (errors kept, retries reset); kill fails a
// pending row or this SSP's orphan, never another SSP's live claim; both report what they found.
func TestOperatorRetryAndKill(t *testing.T) {
	t.Parallel()
	ctx, c, _ := newDB(t)
	run(t, ctx, c, `CREATE job:f SET status = 'failed', retries = 3, errors = [{code: 500, reason: 'x'}], finished_at = time::now();
CREATE job:p SET status = 'pending', errors = 'not an array';
CREATE job:o SET status = 'processing', assignee = 'other', attempt = 1, lease_until = time::now() + 1h;`)
	if ok, seen, err := Retry(ctx, c, rid("p")); ok || err != nil || seen.Status != StatusPending {
		t.Errorf("retry of a pending job: %v %+v %v", ok, seen, err)
	}
	if ok, seen, err := Retry(ctx, c, rid("missing")); ok || err != nil || seen.Exists {
		t.Errorf("retry of a missing job: %v %+v %v", ok, seen, err)
	}
	if ok, _, err := Retry(ctx, c, rid("f")); !ok || err != nil {
		t.Fatalf("retry: %v %v", ok, err)
	}
	f := row(t, ctx, c, "f")
	if f.Get("status").AsString() != StatusPending || f.Get("retries").AsInt() != 0 || f.Get("errors").Len() != 1 || !f.Get("finished_at").IsNone() {
		t.Errorf("retried row: %v", f)
	}
	if ok, _, err := Kill(ctx, c, rid("p"), "me", "killed"); !ok || err != nil {
		t.Fatalf("kill: %v %v", ok, err)
	}
	p := row(t, ctx, c, "p")
	errs := p.Get("errors").Elems()
	if p.Get("status").AsString() != StatusFailed || len(errs) != 2 || errs[0].Get("value").AsString() != "not an array" ||
		errs[1].Get("reason").AsString() != "killed" || errs[1].Get("code").AsInt() != 0 {
		t.Errorf("killed row (the non-array errors must be kept): %v", p)
	}
	if ok, seen, err := Kill(ctx, c, rid("o"), "me", "killed"); ok || err != nil || seen.Assignee != "other" || seen.Status != StatusProcessing {
		t.Errorf("kill of another SSP's claim: %v %+v %v", ok, seen, err)
	}
}
