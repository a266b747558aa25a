package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/scheduler"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/outbox"
	"github.com/sp00ky/ssp/surreal/value"
)

// backendCall is one request a test backend received.
type backendCall struct {
	path, key, auth, ctype string
	body                   string
	at                     time.Time
}

// backend is an httptest server standing for a job backend: it records every request and
// answers with handle (200 {"ok":true} when nil).
type backend struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []backendCall
	handle func(w http.ResponseWriter, r *http.Request, n int) // n: this request's number, from 1
}

func newBackend(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int)) *backend {
	b := &backend{handle: handle}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.calls = append(b.calls, backendCall{path: r.URL.Path, key: r.Header.Get("Idempotency-Key"), auth: r.Header.Get("Authorization"),
			ctype: r.Header.Get("Content-Type"), body: string(body), at: time.Now()})
		n := len(b.calls)
		b.mu.Unlock()
		if b.handle == nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
			return
		}
		b.handle(w, r, n)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) received() []backendCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]backendCall(nil), b.calls...)
}

// jobHarness is a harness whose config has one job table "job" on base.
func jobHarness(t *testing.T, base string, tune func(*config.Config), more ...harnessOpts) *harness {
	t.Helper()
	o := harnessOpts{}
	if len(more) > 0 {
		o = more[0]
	}
	inner := o.cfg
	o.cfg = func(c *config.Config) {
		c.JobTables = []config.JobTable{{Table: "job", Name: "api", BaseURL: base, AuthToken: "tok", Timeout: 5 * time.Second, Concurrency: 4}}
		c.JobQueue, c.JobSweepInterval, c.JobLeaseGrace, c.JobPendingGrace = 64, time.Hour, 5*time.Second, 0
		c.ShutdownTimeout = 10 * time.Second
		if tune != nil {
			tune(c)
		}
		if inner != nil {
			inner(c)
		}
	}
	return newHarness(t, o)
}

// createJob writes a pending job row and ingests its CREATE (as Sp00ky's event would).
func (h *harness) createJob(key string, fields map[string]any) value.Value {
	h.t.Helper()
	rid := value.Record("job", value.String(key))
	rec := map[string]any{"status": "pending", "path": "/hook", "payload": map[string]any{"n": key}, "retries": 0, "max_retries": 3,
		"retry_strategy": "linear", "errors": []any{}}
	for k, v := range fields {
		rec[k] = v
	}
	h.exec("CREATE $id CONTENT $rec", map[string]any{"id": rid, "rec": rec})
	h.ingest("job", "CREATE", "job:"+key, rec)
	return rid
}

func (h *harness) jobRow(key string) value.Value {
	h.t.Helper()
	v, err := outbox.Row(h.ctx, h.db, value.Record("job", value.String(key)))
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// waitJob waits until job key's status is want and returns the row.
func (h *harness) waitJob(key, want string) value.Value {
	h.t.Helper()
	var row value.Value
	waitFor(h.t, 30*time.Second, func() (bool, string) {
		row = h.jobRow(key)
		return row.Get("status").AsString() == want, fmt.Sprintf("job:%s is %s", key, row.SurQL())
	})
	return row
}

func counterValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				if m.GetCounter() != nil {
					sum += m.GetCounter().GetValue()
				}
				if m.GetGauge() != nil {
					sum += m.GetGauge().GetValue()
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

// TestJobRunsOnce: a pending job offered twice is claimed and sent once, with the payload, the
// bearer token and the idempotency key; the row ends success with the answer as result.
func TestJobRunsOnce(t *testing.T) {
	// The backend holds the request until the duplicate offer has arrived: a job that ended
	// before it would be offered anew (and found done by its claim), which is not this test.
	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	b := newBackend(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	h := jobHarness(t, b.srv.URL+"/api/", nil)
	t.Cleanup(open) // runs first: the SSP's shutdown and the backend's Close wait for the request
	h.createJob("a", nil)
	h.ingest("job", "UPDATE", "job:a", map[string]any{"status": "pending", "path": "/hook"}) // a duplicate offer
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := counterValue(t, h.reg, "ssp_job_offers_total", map[string]string{"result": "duplicate"})
		return n >= 1, fmt.Sprintf("duplicate offers: %v", n)
	})
	open()
	row := h.waitJob("a", outbox.StatusSuccess)
	calls := b.received()
	if len(calls) != 1 {
		t.Fatalf("backend saw %d requests, want 1: %+v", len(calls), calls)
	}
	c := calls[0]
	if c.path != "/api/hook" || c.key != "job:a:1" || c.auth != "Bearer tok" || c.ctype != "application/json" || c.body != `{"n":"a"}` {
		t.Errorf("request %+v", c)
	}
	if row.Get("result").Get("ok").AsBool() != true || row.Get("attempt").AsInt() != 1 || row.Get("assignee").AsString() != "ssp-test" ||
		row.Get("finished_at").Kind() != value.KindDatetime || row.Get("started_at").Kind() != value.KindDatetime ||
		row.Get("updated_at").Kind() != value.KindDatetime || !row.Get("lease_until").IsNone() {
		t.Errorf("row %s", row.SurQL())
	}
	d, err := h.s.DebugJobs(h.ctx)
	if err != nil || len(d.Tables) != 1 || len(d.Tables[0].Recent) != 1 || d.Tables[0].Recent[0].Outcome != jobSuccess ||
		d.Tables[0].Settings.AuthToken != "<redacted>" || d.Tables[0].Counts["offers_queued"] != 1 {
		t.Errorf("debug %+v %v", d, err)
	}
	if n := counterValue(t, h.reg, "ssp_jobs_total", map[string]string{"table": "job", "outcome": "success"}); n != 1 {
		t.Errorf("ssp_jobs_total{success} = %v", n)
	}
	for op, want := range map[string]float64{"claim": 1, "outcome": 1, "sweep": 1} {
		if n := counterValue(t, h.reg, "ssp_job_db_queries_total", map[string]string{"op": op}); n != want {
			t.Errorf("database round trips for %s = %v, want %v", op, n, want)
		}
	}
	tree, err := h.s.DebugActors(h.ctx)
	if err != nil || !strings.Contains(fmt.Sprint(tree), "job_table") {
		t.Errorf("/debug/actors lacks the job table actor: %+v %v", tree, err)
	}
	// A replay of the job's CREATE once it ran: its claim fails, nothing is sent again.
	h.ingest("job", "CREATE", "job:a", map[string]any{"status": "pending", "path": "/hook"})
	waitFor(t, 10*time.Second, func() (bool, string) {
		d, _ := h.s.DebugJobs(h.ctx)
		return len(d.Tables) == 1 && d.Tables[0].Counts[jobNotClaimed] == 1, fmt.Sprintf("counts %v", d.Tables[0].Counts)
	})
	if calls := b.received(); len(calls) != 1 {
		t.Fatalf("a replayed ingest sent the job again: %+v", calls)
	}
}

// TestJobInvalidRow: a row with fields of the wrong type fails with every problem named on
// the row; nothing is sent, and the table goes on running the next job.
func TestJobInvalidRow(t *testing.T) {
	b := newBackend(t, nil)
	h := jobHarness(t, b.srv.URL, func(c *config.Config) { c.JobTables[0].TimeoutOverridable = true })
	h.createJob("bad", map[string]any{"path": 5, "max_retries": "three", "retry_strategy": "sometimes", "timeout": "soon"})
	h.createJob("away", map[string]any{"path": "/%zz"})
	h.createJob("good", nil)
	for key, want := range map[string][]string{
		"bad":  {`field "path" must be a string, got int 5`, `field "max_retries"`, `field "retry_strategy"`, `field "timeout"`},
		"away": {`field "path" "/%zz" does not make a URL`},
	} {
		row := h.waitJob(key, outbox.StatusFailed)
		errs := row.Get("errors").Elems()
		if len(errs) != 1 || errs[0].Get("code").AsInt() != 0 {
			t.Fatalf("job:%s errors %s", key, row.Get("errors").SurQL())
		}
		for _, w := range want {
			if !strings.Contains(errs[0].Get("reason").AsString(), w) {
				t.Errorf("job:%s reason %q lacks %q", key, errs[0].Get("reason").AsString(), w)
			}
		}
		if row.Get("payload").IsNone() {
			t.Errorf("job:%s lost its payload: %s", key, row.SurQL())
		}
	}
	h.waitJob("good", outbox.StatusSuccess)
	if calls := b.received(); len(calls) != 1 || calls[0].key != "job:good:1" {
		t.Fatalf("backend saw %+v, want only job:good", calls)
	}
}

// TestJobTwoRunnersOneClaim: two SSPs on one database are offered the same jobs; each job is
// sent exactly once.
func TestJobTwoRunnersOneClaim(t *testing.T) {
	b := newBackend(t, nil)
	h := jobHarness(t, b.srv.URL, nil)
	cfg := h.s.env.cfg
	cfg.SSPID = "ssp-other"
	other, err := New(Deps{Config: cfg, Log: testLog(), DB: h.db, Version: "test", BootstrapRetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = other.Shutdown(ctx)
	})
	waitFor(t, time.Minute, func() (bool, string) { return other.Status() == StatusReady, "other not ready" })
	const n = 30
	for i := 0; i < n; i++ {
		key := fmt.Sprint("j", i)
		h.createJob(key, nil)
		if err := other.Ingest(h.ctx, h.change("job", "CREATE", "job:"+key, map[string]any{"status": "pending"}), ""); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		row := h.waitJob(fmt.Sprint("j", i), outbox.StatusSuccess)
		seen[row.Get("assignee").AsString()] = true
	}
	calls := b.received()
	keys := map[string]int{}
	for _, c := range calls {
		keys[c.key]++
	}
	if len(calls) != n || len(keys) != n {
		t.Fatalf("backend saw %d requests for %d keys, want %d each once: %v", len(calls), len(keys), n, keys)
	}
	t.Logf("runners: %v", seen)
}

// TestJobKillAndRetry: a kill cancels the request in flight and fails the job with reason
// killed; a retry makes it pending again (errors kept) and it runs as attempt 2. Operator
// errors name the problem: a bad id, a table that is not a job table, an unknown job, a job
// in the wrong state.
func TestJobKillAndRetry(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = w.Write([]byte(`"done"`))
	})
	defer close(release)
	h := jobHarness(t, b.srv.URL, nil)
	h.createJob("k", nil)
	waitFor(t, 10*time.Second, func() (bool, string) { return len(b.received()) == 1, "no request in flight" })
	if _, err := h.s.RetryJob(h.ctx, "job:k"); !errors.Is(err, ErrConflict) {
		t.Fatalf("retry of a running job: %v", err)
	}
	a, err := h.s.KillJob(h.ctx, "job:k")
	if err != nil || !a.Cancelled || a.Status != outbox.StatusFailed {
		t.Fatalf("kill: %+v %v", a, err)
	}
	row := h.jobRow("k")
	errs := row.Get("errors").Elems()
	if row.Get("status").AsString() != outbox.StatusFailed || len(errs) != 1 || errs[0].Get("reason").AsString() != "killed" ||
		row.Get("retries").AsInt() != 0 {
		t.Fatalf("killed row %s", row.SurQL())
	}
	if _, err := h.s.KillJob(h.ctx, "job:k"); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "failed already") {
		t.Fatalf("kill of a failed job: %v", err)
	}
	if a, err := h.s.RetryJob(h.ctx, "job:k"); err != nil || a.Status != outbox.StatusPending {
		t.Fatalf("retry: %+v %v", a, err)
	}
	row = h.waitJob("k", outbox.StatusSuccess)
	if row.Get("attempt").AsInt() != 2 || row.Get("errors").Len() != 1 || row.Get("result").AsString() != "done" {
		t.Fatalf("retried row %s", row.SurQL())
	}
	if calls := b.received(); len(calls) != 2 || calls[1].key != "job:k:2" {
		t.Fatalf("backend saw %+v", calls)
	}
	for _, tt := range []struct {
		id   string
		want error
		msg  string
	}{
		{"nope", ErrInvalid, "not a record id"},
		{"thread:1", ErrNotFound, "thread is not a job table (configured: job)"},
		{"job:missing", ErrNotFound, "job job:missing does not exist"},
		{"job:k", ErrConflict, "only a failed job can be retried"},
	} {
		if _, err := h.s.RetryJob(h.ctx, tt.id); !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("retry %s: %v, want %v with %q", tt.id, err, tt.want, tt.msg)
		}
	}
	h.exec("CREATE job:p SET status = 'pending'", nil) // pending, never offered here
	if a, err := h.s.KillJob(h.ctx, "job:p"); err != nil || a.Cancelled {
		t.Fatalf("kill of a pending job: %+v %v", a, err)
	}
	h.exec("CREATE job:elsewhere SET status = 'processing', assignee = 'ssp-9', attempt = 1, lease_until = time::now() + 1h", nil)
	if _, err := h.s.KillJob(h.ctx, "job:elsewhere"); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "running on SSP ssp-9") {
		t.Fatalf("kill of another SSP's job: %v", err)
	}
}

// TestJobQueueFullSweep: with one run and one queue place, offers beyond them are dropped and
// stay pending; the sweep offers them again once there is room, and every job ends success.
func TestJobQueueFullSweep(t *testing.T) {
	var inFlight, peak atomic.Int32
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // a backend that takes a while
		_, _ = w.Write([]byte(`{}`))
	})
	h := jobHarness(t, b.srv.URL, func(c *config.Config) {
		c.JobQueue, c.JobSweepInterval, c.JobTables[0].Concurrency = 1, 50*time.Millisecond, 1
	})
	for i := 0; i < 6; i++ {
		h.createJob(fmt.Sprint("q", i), nil)
	}
	for i := 0; i < 6; i++ {
		h.waitJob(fmt.Sprint("q", i), outbox.StatusSuccess)
	}
	if n := counterValue(t, h.reg, "ssp_job_offers_total", map[string]string{"result": "full"}); n == 0 {
		t.Errorf("no offer found the queue full")
	}
	if peak.Load() != 1 {
		t.Errorf("%d requests in flight at once, concurrency is 1", peak.Load())
	}
	if calls := b.received(); len(calls) != 6 {
		t.Errorf("backend saw %d requests, want 6", len(calls))
	}
}

// TestJobResumedAfterRestart: rows left processing by a dead runner — with an expired lease, or
// under this SSP's own id — and pending rows nobody offered are claimed by the sweep that
// follows the bootstrap; a live claim of another SSP is left alone.
func TestJobResumedAfterRestart(t *testing.T) {
	b := newBackend(t, nil)
	h := jobHarness(t, b.srv.URL, nil, harnessOpts{seed: func(h *harness) {
		h.exec(`CREATE job:expired SET status = 'processing', assignee = 'ssp-dead', attempt = 1, lease_until = time::now() - 1s, path = '/x';
CREATE job:mine SET status = 'processing', assignee = 'ssp-test', attempt = 3, lease_until = time::now() + 1h;
CREATE job:left SET status = 'pending', updated_at = time::now() - 1h;
CREATE job:live SET status = 'processing', assignee = 'ssp-alive', attempt = 1, lease_until = time::now() + 1h;`, nil)
	}})
	for key, attempt := range map[string]int64{"expired": 2, "mine": 4, "left": 1} {
		if row := h.waitJob(key, outbox.StatusSuccess); row.Get("attempt").AsInt() != attempt {
			t.Errorf("job:%s attempt %d, want %d", key, row.Get("attempt").AsInt(), attempt)
		}
	}
	if row := h.jobRow("live"); row.Get("status").AsString() != outbox.StatusProcessing || row.Get("assignee").AsString() != "ssp-alive" {
		t.Errorf("a live claim was taken: %s", row.SurQL())
	}
	if calls := b.received(); len(calls) != 3 {
		t.Errorf("backend saw %d requests, want 3", len(calls))
	}
}

// TestJobShutdownReleases: a shutdown waits for a running request; one still going after half
// the shutdown's time is cancelled and its job released — pending again, claimable at once,
// with the interruption in its errors.
func TestJobShutdownReleases(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) { <-r.Context().Done() })
	h := jobHarness(t, b.srv.URL, nil)
	h.createJob("s", nil)
	waitFor(t, 10*time.Second, func() (bool, string) { return len(b.received()) == 1, "no request in flight" })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	row := h.jobRow("s")
	errs := row.Get("errors").Elems()
	if row.Get("status").AsString() != outbox.StatusPending || !row.Get("lease_until").IsNone() || row.Get("retries").AsInt() != 0 ||
		len(errs) != 1 || !strings.Contains(errs[0].Get("reason").AsString(), "shut down") {
		t.Fatalf("row after shutdown %s", row.SurQL())
	}
	// It waited for the running request (half of the shutdown's time) before cancelling it.
	if took := time.Since(start); took < 1400*time.Millisecond {
		t.Errorf("shutdown took %s; the run should be waited for half of 3s before it is cancelled", took)
	}
}

// TestJobTableActorRestart: a job table actor that fails is restarted by the jobs supervisor
// with its state; the run it was tracking still ends and is recorded.
func TestJobTableActorRestart(t *testing.T) {
	b := newBackend(t, nil)
	var failed atomic.Bool
	h := jobHarness(t, b.srv.URL, nil, harnessOpts{deps: func(d *Deps) {
		d.Hooks.Receive = func(kind, name string, msg any) {
			if _, ok := msg.(*jobRunEnded); ok && kind == kindJobTable && failed.CompareAndSwap(false, true) {
				panic("injected failure")
			}
		}
	}})
	h.createJob("r", nil)
	h.waitJob("r", outbox.StatusSuccess)
	waitFor(t, 10*time.Second, func() (bool, string) {
		d, _ := h.s.DebugJobs(h.ctx)
		return len(d.Tables) == 1 && len(d.Tables[0].Recent) == 1 && len(d.Tables[0].Running) == 0, fmt.Sprintf("debug %+v", d)
	})
	if n := counterValue(t, h.reg, "ssp_actor_restarts_total", map[string]string{"kind": kindJobTable}); n != 1 {
		t.Errorf("restarts = %v", n)
	}
	h.createJob("r2", nil) // the restarted actor runs the next job
	h.waitJob("r2", outbox.StatusSuccess)
}

// TestJobAnswers: retries with backoff then failed; a redirect to another host is not
// followed; a timeout is code 0; a big answer is stored truncated and flagged.
func TestJobAnswers(t *testing.T) {
	other := newBackend(t, nil)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case "/fail":
			http.Error(w, strings.Repeat("x", 5000), http.StatusBadGateway)
		case "/redirect":
			http.Redirect(w, r, other.srv.URL+"/stolen", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/big", http.StatusTemporaryRedirect)
		case "/big":
			_, _ = w.Write([]byte(`"` + strings.Repeat("é", 40000) + `"`))
		case "/slow":
			<-r.Context().Done()
		}
	})
	h := jobHarness(t, b.srv.URL, func(c *config.Config) {
		c.JobTables[0].TimeoutOverridable = true
	})
	h.createJob("fail", map[string]any{"path": "/fail", "max_retries": 2})
	h.createJob("redirect", map[string]any{"path": "/redirect", "max_retries": 1})
	h.createJob("here", map[string]any{"path": "/here"})
	h.createJob("slow", map[string]any{"path": "/slow", "max_retries": 1, "timeout": 0.3})

	row := h.waitJob("fail", outbox.StatusFailed)
	errs := row.Get("errors").Elems()
	if len(errs) != 2 || errs[0].Get("code").AsInt() != 502 || !strings.HasSuffix(errs[0].Get("reason").AsString(), "(truncated)") ||
		len(errs[0].Get("reason").AsString()) > maxJobReason+20 || row.Get("retries").AsInt() != 2 {
		t.Errorf("failed row %.300s", row.SurQL())
	}
	var fails []time.Time
	for _, c := range b.received() {
		if c.path == "/fail" {
			fails = append(fails, c.at)
		}
	}
	if len(fails) != 2 || fails[1].Sub(fails[0]) < 320*time.Millisecond {
		t.Errorf("attempts at %v: the first retry must wait at least 0.8 × 400 ms", fails)
	}
	row = h.waitJob("redirect", outbox.StatusFailed)
	if e := row.Get("errors").Elems(); len(e) != 1 || e[0].Get("code").AsInt() != 302 || !strings.Contains(e[0].Get("reason").AsString(), "not followed") {
		t.Errorf("redirect row %s", row.SurQL())
	}
	if len(other.received()) != 0 {
		t.Errorf("a redirect to another host was followed")
	}
	row = h.waitJob("here", outbox.StatusSuccess)
	if s := row.Get("result").AsString(); row.Get("result_truncated").AsBool() != true || len(s) > maxJobResult || len(s) < maxJobResult-3 || !strings.HasPrefix(s, `"éé`) {
		t.Errorf("big result: truncated %v, %d bytes", row.Get("result_truncated").SurQL(), len(s))
	}
	row = h.waitJob("slow", outbox.StatusFailed)
	if e := row.Get("errors").Elems(); len(e) != 1 || e[0].Get("code").AsInt() != 0 || !strings.Contains(e[0].Get("reason").AsString(), "timeout after 300ms") {
		t.Errorf("slow row %s", row.SurQL())
	}
}

// TestOffersJob: which accepted changes offer a job (SPEC §8).
func TestOffersJob(t *testing.T) {
	cfg := defaultConfig()
	cfg.JobTables = []config.JobTable{{Table: "job", BaseURL: "http://x", Timeout: time.Second, Concurrency: 1}}
	cfg.JobQueue, cfg.JobSweepInterval, cfg.JobLeaseGrace = 1, time.Second, time.Second
	standalone, err := New(Deps{Config: cfg, DB: dummyDB{}, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := New(Deps{Config: cfg, DB: dummyDB{}, Log: testLog(), Scheduler: &scheduler.LinkConfig{SchedulerURL: "http://s"}})
	if err != nil {
		t.Fatal(err)
	}
	ch := func(table, op string, rec map[string]any) engine.Change {
		var r value.Value
		if rec != nil {
			r, _ = value.FromAny(rec)
		}
		c, err := engine.NewChange(table, op, table+":1", r)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	pending := map[string]any{"status": "pending"}
	for _, tt := range []struct {
		s        *Service
		c        engine.Change
		assignee string
		want     bool
	}{
		{standalone, ch("job", "CREATE", pending), "", true},
		{standalone, ch("job", "UPDATE", pending), "", true},
		{standalone, ch("job", "MERGE", pending), "someone", true},
		{standalone, ch("job", "CREATE", map[string]any{"status": "success"}), "", false},
		{standalone, ch("job", "CREATE", map[string]any{"status": 1}), "", false},
		{standalone, ch("job", "DELETE", nil), "", false},
		{standalone, ch("thread", "CREATE", pending), "", false},
		{sched, ch("job", "CREATE", pending), "ssp-test", true},
		{sched, ch("job", "CREATE", pending), "", false}, // a replay
		{sched, ch("job", "CREATE", pending), "ssp-other", false},
	} {
		if got := tt.s.offersJob(tt.c, tt.assignee); got != tt.want {
			t.Errorf("%s %s %s assignee %q (scheduler %v): %v, want %v", tt.c.Op, tt.c.Table, tt.c.Record.SurQL(), tt.assignee,
				tt.s.env.link != nil, got, tt.want)
		}
	}
}

// dummyDB is a Database that is never called.
type dummyDB struct{ Database }
