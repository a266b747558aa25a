package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/internal/sspproc"
	"github.com/sp00ky/ssp/surreal/value"
)

// TestJobsE2E runs job tables end to end (issue 8): rows created in SurrealDB reach the SSP
// through Sp00ky's table events, the SSP claims and sends them to a real HTTP backend and
// writes their outcome back, which fires the events again. One SSP serves every subtest.
func TestJobsE2E(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel) // after the parallel subtests
	name, db := newDatabase(t, ctx, "jobs")
	backend := newJobBackend(t)
	proxy := newIngestProxy(t)
	exec1(t, ctx, db, jobSchemaSQL(proxy.URL()), nil)
	p := startSSP(t, sspConfig{DB: name, RefMode: "single", Env: map[string]string{
		"SPKY_JOB_CONFIG":            jobConfigJSON(t, backend.srv.URL, refusedURL(t), 8),
		"SPKY_JOB_SWEEP_INTERVAL_MS": "200",
		"SPKY_SSP_ID":                "ssp-jobs",
	}})
	proxy.setTarget(p.Base)
	p.WaitReady(time.Minute)
	create := func(t *testing.T, surql string) {
		t.Helper()
		exec1(t, ctx, db, surql, nil)
	}
	done := func(t *testing.T, table, id string) value.Value {
		t.Helper()
		return waitJobsDone(t, ctx, db, table, []string{id}, 30*time.Second)[id]
	}

	t.Run("runs once with its result", func(t *testing.T) {
		t.Parallel()
		create(t, `CREATE job:ok SET path = '/ok', payload = { hello: 'world', n: 1 }`)
		row := done(t, "job", "job:ok")
		calls := backend.callsOf("job:ok")
		if len(calls) != 1 || calls[0].Key != "job:ok:1" || calls[0].Auth != "Bearer "+jobToken {
			t.Fatalf("backend saw %+v, want one request with key job:ok:1 and the bearer token", calls)
		}
		if row.Get("status").AsString() != "success" || row.Get("result").Get("echo").Get("hello").AsString() != "world" ||
			row.Get("attempt").AsInt() != 1 || row.Get("assignee").AsString() != "ssp-jobs" || row.Get("finished_at").IsNone() ||
			row.Get("started_at").IsNone() || row.Get("errors").Len() != 0 {
			t.Fatalf("row %s", row.SurQL())
		}
	})

	t.Run("500 twice then 200", func(t *testing.T) {
		t.Parallel()
		create(t, `CREATE job:flaky SET path = '/flaky', max_retries = 3`)
		row := done(t, "job", "job:flaky")
		errs := row.Get("errors").Elems()
		if row.Get("status").AsString() != "success" || len(errs) != 2 || row.Get("retries").AsInt() != 2 ||
			errs[0].Get("code").AsInt() != 500 || errs[1].Get("reason").AsString() != "flaky failure 2" || row.Get("result").Get("after").AsInt() != 3 {
			t.Fatalf("row %s", row.SurQL())
		}
		calls := backend.callsOf("job:flaky")
		if len(calls) != 3 || calls[0].Key != "job:flaky:1" || calls[2].Key != "job:flaky:3" {
			t.Fatalf("calls %+v", calls)
		}
		// Linear backoff, 200 ms × (retries+1) with ±20% jitter: ≥ 320 ms, then ≥ 480 ms.
		if g1, g2 := calls[1].At.Sub(calls[0].At), calls[2].At.Sub(calls[1].At); g1 < 320*time.Millisecond || g2 < 480*time.Millisecond {
			t.Fatalf("backoffs %s, %s; want at least 320ms, 480ms", g1, g2)
		}
	})

	t.Run("always 500 fails after max_retries", func(t *testing.T) {
		t.Parallel()
		create(t, `CREATE job:down SET path = '/down', max_retries = 2, retry_strategy = 'exponential'`)
		row := done(t, "job", "job:down")
		errs := row.Get("errors").Elems()
		if row.Get("status").AsString() != "failed" || len(errs) != 2 || row.Get("retries").AsInt() != 2 ||
			errs[1].Get("code").AsInt() != 500 || errs[1].Get("reason").AsString() != "backend down" || row.Get("finished_at").IsNone() {
			t.Fatalf("row %s", row.SurQL())
		}
		if calls := backend.callsOf("job:down"); len(calls) != 2 {
			t.Fatalf("backend saw %d requests, want 2", len(calls))
		}
	})

	t.Run("timeout is code 0", func(t *testing.T) {
		t.Parallel()
		create(t, `CREATE job:slow SET path = '/slow', max_retries = 1, timeout = 0.4`)
		row := done(t, "job", "job:slow")
		errs := row.Get("errors").Elems()
		if row.Get("status").AsString() != "failed" || len(errs) != 1 || errs[0].Get("code").AsInt() != 0 ||
			!strings.Contains(errs[0].Get("reason").AsString(), "timeout after 400ms") {
			t.Fatalf("row %s", row.SurQL())
		}
	})

	t.Run("connection refused is code 0", func(t *testing.T) {
		t.Parallel()
		create(t, `CREATE deadjob:x SET status = 'pending', path = '/x', max_retries = 1`)
		row := done(t, "deadjob", "deadjob:x")
		errs := row.Get("errors").Elems()
		if row.Get("status").AsString() != "failed" || len(errs) != 1 || errs[0].Get("code").AsInt() != 0 ||
			!strings.Contains(errs[0].Get("reason").AsString(), "connection refused") {
			t.Fatalf("row %s", row.SurQL())
		}
	})

	t.Run("wrong field types fail with the reason, nothing lost", func(t *testing.T) {
		t.Parallel()
		create(t, `CREATE loosejob:bad SET status = 'pending', path = 5, payload = { keep: true }, retries = 'x', retry_strategy = 7, errors = 'earlier'`)
		row := done(t, "loosejob", "loosejob:bad")
		errs := row.Get("errors").Elems()
		if row.Get("status").AsString() != "failed" || len(errs) != 2 || errs[0].Get("value").AsString() != "earlier" ||
			!row.Get("payload").Get("keep").AsBool() || row.Get("retries").AsString() != "x" {
			t.Fatalf("row %s", row.SurQL())
		}
		reason := errs[1].Get("reason").AsString()
		for _, w := range []string{`field "path" must be a string, got int 5`, `field "retries"`, `field "retry_strategy"`, `field "errors" must be an array`} {
			if !strings.Contains(reason, w) {
				t.Errorf("reason %q lacks %q", reason, w)
			}
		}
		if calls := backend.callsOf("loosejob:bad"); len(calls) != 0 {
			t.Fatalf("an invalid job was sent: %+v", calls)
		}
		create(t, `CREATE loosejob:good SET status = 'pending', path = '/ok', payload = 'plain text'`)
		if row := done(t, "loosejob", "loosejob:good"); row.Get("status").AsString() != "success" || row.Get("result").Get("echo").AsString() != "plain text" {
			t.Fatalf("the next job of the table: %s", row.SurQL())
		}
	})

	t.Run("100 jobs with concurrency 8", func(t *testing.T) {
		t.Parallel()
		ids := createJobs(t, ctx, db, "c", "/inflight", 100, 4)
		rows := waitJobsDone(t, ctx, db, "job", ids, time.Minute)
		for _, id := range ids {
			if st := rows[id].Get("status").AsString(); st != "success" {
				t.Errorf("%s ended %s", id, st)
			}
			if calls := backend.callsOf(id); len(calls) != 1 {
				t.Errorf("%s was sent %d times", id, len(calls))
			}
		}
		if peak := backend.peak.Load(); peak > 8 || peak < 2 {
			t.Fatalf("%d requests in flight at once; the table's concurrency is 8", peak)
		}
		t.Logf("peak in flight: %d", backend.peak.Load())
	})

	t.Run("operator kill and retry", func(t *testing.T) {
		t.Parallel()
		create(t, `CREATE job:hang SET path = '/hang-first'`)
		waitFor(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
			return len(backend.callsOf("job:hang")) == 1, "the request is not in flight"
		})
		body := p.MustDo("POST", "/job/kill", map[string]any{"id": "job:hang"}, 200)
		if !strings.Contains(body, `"cancelled":true`) || !strings.Contains(body, `"status":"failed"`) {
			t.Fatalf("kill answered %s", body)
		}
		row := jobRows(t, ctx, db, "job")["job:hang"]
		if e := row.Get("errors").Elems(); row.Get("status").AsString() != "failed" || len(e) != 1 || e[0].Get("reason").AsString() != "killed" {
			t.Fatalf("killed row %s", row.SurQL())
		}
		p.MustDo("POST", "/job/retry", map[string]any{"id": "job:hang"}, 200)
		row = done(t, "job", "job:hang")
		if row.Get("status").AsString() != "success" || row.Get("result").AsString() != "second" || row.Get("attempt").AsInt() != 2 || row.Get("errors").Len() != 1 {
			t.Fatalf("retried row %s", row.SurQL())
		}
		for _, tt := range []struct {
			path string
			body any
			code int
			want string
		}{
			{"/job/retry", []byte(`{"id":`), 400, "not valid JSON"},
			{"/job/kill", map[string]any{}, 400, `field "id" is required`},
			{"/job/kill", map[string]any{"id": 12}, 400, `field "id" must be a string`},
			{"/job/retry", map[string]any{"id": "job"}, 400, "is not a record id"},
			{"/job/retry", map[string]any{"id": "job:missing"}, 404, "job job:missing does not exist"},
			{"/job/kill", map[string]any{"id": "thread:1"}, 404, "thread is not a job table"},
			{"/job/retry", map[string]any{"id": "job:hang"}, 409, "only a failed job can be retried"},
			{"/job/kill", map[string]any{"id": "job:hang"}, 409, "is success already"},
		} {
			code, b, err := p.Do("POST", tt.path, tt.body)
			var e struct{ Code, Message string }
			if err != nil || code != tt.code || json.Unmarshal([]byte(b), &e) != nil || e.Code == "" || !strings.Contains(e.Message, tt.want) {
				t.Errorf("%s %v: %d %s (%v), want %d with %q", tt.path, tt.body, code, b, err, tt.code, tt.want)
			}
		}
		code, _, err := p.doNoAuth("POST", "/job/retry", `{"id":"job:hang"}`)
		if err != nil || code != 401 {
			t.Errorf("/job/retry without the bearer token: %d %v", code, err)
		}
	})

	t.Run("debug, metrics and no secret shown", func(t *testing.T) {
		t.Parallel()
		create(t, `CREATE job:seen SET path = '/ok'`)
		done(t, "job", "job:seen")
		var d struct {
			Mode   string `json:"mode"`
			Tables []struct {
				Table    string           `json:"table"`
				Counts   map[string]int64 `json:"counts"`
				Recent   []map[string]any `json:"recent"`
				Settings map[string]any   `json:"settings"`
			} `json:"tables"`
		}
		raw := p.MustDo("GET", "/debug/jobs", nil, 200)
		if err := json.Unmarshal([]byte(raw), &d); err != nil || len(d.Tables) != 3 || d.Mode != "standalone" {
			t.Fatalf("/debug/jobs %s (%v)", raw, err)
		}
		for _, tb := range d.Tables {
			if tb.Table == "job" && (len(tb.Recent) == 0 || tb.Counts["success"] == 0 || tb.Settings["concurrency"] != float64(8)) {
				t.Errorf("job table %+v", tb)
			}
		}
		if n := p.Metric("ssp_jobs_total"); n == 0 {
			t.Errorf("ssp_jobs_total = 0")
		}
		_, info, _ := p.Do("GET", "/info", nil)
		_, actors, _ := p.Do("GET", "/debug/actors", nil)
		if !strings.Contains(actors, `"job_table"`) {
			t.Errorf("/debug/actors lacks the job tables: %.500s", actors)
		}
		for what, s := range map[string]string{"/debug/jobs": raw, "/info": info, "/debug/actors": actors, "the log": p.Logs.String()} {
			if strings.Contains(s, jobToken) {
				t.Errorf("%s shows the job backend's token", what)
			}
		}
	})
}

// doNoAuth sends a request without the bearer token.
func (p *sspProc) doNoAuth(method, path, body string) (int, string, error) {
	req, err := newRequest(method, p.Base+path, body)
	if err != nil {
		return 0, "", err
	}
	resp, err := sspproc.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), err
}

// TestJobsSurviveSIGKILL SIGKILLs the SSP while job requests are in flight and more jobs are
// created while it is down (their events dropped: the rows commit unseen), then restarts it
// with the same SSP id: every job ends success, none stays processing, and no idempotency key
// reached the backend twice — each job was sent at most once per attempt, its last attempt
// exactly once.
func TestJobsSurviveSIGKILL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name, db := newDatabase(t, ctx, "jobkill")
	backend := newJobBackend(t)
	proxy := newIngestProxy(t)
	exec1(t, ctx, db, jobSchemaSQL(proxy.URL()), nil)
	cfg := sspConfig{DB: name, RefMode: "single", Env: map[string]string{
		"SPKY_JOB_CONFIG":            jobConfigJSON(t, backend.srv.URL, refusedURL(t), 4),
		"SPKY_JOB_SWEEP_INTERVAL_MS": "200",
		"SPKY_SSP_ID":                "ssp-jobkill",
	}}
	first := startSSP(t, cfg)
	proxy.setTarget(first.Base)
	first.WaitReady(time.Minute)

	ids := createJobs(t, ctx, db, "k", "/busy", 24, 4)
	waitFor(t, 30*time.Second, 10*time.Millisecond, func() (bool, string) {
		n := len(backend.all())
		return n >= 6, fmt.Sprintf("%d requests so far", n)
	})
	proxy.setDropWhenDown(true)
	first.Kill()
	sentBefore := len(backend.all())
	ids = append(ids, createJobs(t, ctx, db, "down", "/busy", 4, 2)...)
	proxy.setDropWhenDown(false)
	rows := jobRows(t, ctx, db, "job")
	processing := 0
	for _, id := range ids {
		if rows[id].Get("status").AsString() == "processing" {
			processing++
		}
	}

	u, err := url.Parse(first.Base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env["SPKY_SSP_LISTEN_ADDR"] = u.Host
	second := startSSP(t, cfg)
	second.WaitReady(time.Minute)
	rows = waitJobsDone(t, ctx, db, "job", ids, time.Minute)
	t.Logf("killed with %d jobs processing after %d requests; %d jobs created while down", processing, sentBefore, 4)
	if processing == 0 {
		t.Fatalf("no job was processing when the SSP was killed")
	}
	keys := map[string]int{}
	for _, c := range backend.all() {
		keys[c.Key]++
	}
	for _, id := range ids {
		row := rows[id]
		if st := row.Get("status").AsString(); st != "success" {
			t.Errorf("%s ended %s: %s", id, st, row.SurQL())
			continue
		}
		last := row.Get("attempt").AsInt()
		for _, c := range backend.callsOf(id) {
			if _, a := c.job(); int64(a) > last || a < 1 {
				t.Errorf("%s: request with key %s beyond its last attempt %d", id, c.Key, last)
			}
		}
		if n := keys[fmt.Sprintf("%s:%d", id, last)]; n != 1 {
			t.Errorf("%s: its last attempt %d was sent %d times", id, last, n)
		}
	}
	for k, n := range keys {
		if n > 1 {
			t.Errorf("idempotency key %s reached the backend %d times", k, n)
		}
	}
}

// TestJobsSchedulerTwoSSPs runs two `ssp serve` behind the test scheduler, with SurrealDB's
// events posting to the scheduler: each job runs on exactly one SSP — the job_assignee of its
// CREATE event —, the other SSP's copy of every ingest starts nothing, and jobs whose events
// reached the SSPs only as replays without an assignee (created while no SSP was ready) are
// never started by those replays: the sweep takes them once they are older than the pending
// grace, and one SSP runs each.
func TestJobsSchedulerTwoSSPs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, _ := setup(t)
	name, db := newDatabase(t, ctx, "jobsched")
	backend := newJobBackend(t)
	sched, err := testscheduler.Start(ctx, testscheduler.Options{URL: srv.URL(), User: srv.User, Pass: srv.Pass, NS: "e2e", DB: name,
		Secret: secret, PollInterval: 50 * time.Millisecond, UpdateInterval: -1, Log: quietLogger()})
	if err != nil {
		t.Fatalf("start the test scheduler: %v", err)
	}
	t.Cleanup(func() { _ = sched.Close() })
	exec1(t, ctx, db, jobSchemaSQL(sched.URL()), nil)

	// Created while no SSP is ready: the scheduler buffers their events without an assignee.
	early := createJobs(t, ctx, db, "early", "/ok", 6, 2)
	const grace = 2 * time.Second
	start := func(id string) *sspProc {
		return startSSP(t, sspConfig{DB: name, RefMode: "single", Env: map[string]string{
			"SPKY_JOB_CONFIG":            jobConfigJSON(t, backend.srv.URL, refusedURL(t), 4),
			"SPKY_JOB_SWEEP_INTERVAL_MS": "200",
			"SPKY_JOB_PENDING_GRACE_MS":  fmt.Sprint(grace.Milliseconds()),
			"SPKY_SCHEDULER_URL":         sched.URL(),
			"SPKY_SSP_ID":                id,
			"HEARTBEAT_INTERVAL_MS":      "200",
		}})
	}
	ssps := map[string]*sspProc{"ssp-a": start("ssp-a"), "ssp-b": start("ssp-b")}
	for id, p := range ssps {
		p.WaitReady(time.Minute)
		waitFor(t, time.Minute, 20*time.Millisecond, func() (bool, string) {
			info, ok := sched.SSP(id)
			return ok && info.Status == testscheduler.SSPReady, fmt.Sprintf("the scheduler sees %s as %v", id, info.Status)
		})
	}
	// The scheduler assigns each event to the ready SSP with the fewest views (ties: the
	// smallest id): the first batch goes to ssp-a; a view registered there sends the second
	// batch to ssp-b.
	first := createJobs(t, ctx, db, "a", "/ok", 10, 2)
	registerThrough(t, sched.URL(), "v1")
	second := createJobs(t, ctx, db, "b", "/ok", 10, 2)
	all := append(append(append([]string{}, early...), first...), second...)
	rows := waitJobsDone(t, ctx, db, "job", all, time.Minute)

	assigned := map[string]string{} // job id → job_assignee of its CREATE event
	createSeq := map[uint64]string{}
	for _, e := range sched.Log() {
		if e.Table == "job" && strings.EqualFold(e.Op, "CREATE") {
			assigned[e.ID], createSeq[e.Seq] = e.JobAssignee, e.ID
		}
	}
	// Both SSPs received the early jobs' CREATE events as replays (answered 200).
	for id := range ssps {
		replayed := 0
		for _, r := range sched.Requests(id) {
			if r.Kind == testscheduler.KindReplay && r.Status == 200 && strings.HasPrefix(createSeq[r.Seq], "job:early") {
				replayed++
			}
		}
		if replayed != len(early) {
			t.Errorf("%s got %d of the %d early jobs' CREATE events as replays", id, replayed, len(early))
		}
	}
	runners := map[string]int{}
	for _, id := range all {
		row := rows[id]
		if row.Get("status").AsString() != "success" || row.Get("attempt").AsInt() != 1 {
			t.Errorf("%s: %s", id, row.SurQL())
		}
		if calls := backend.callsOf(id); len(calls) != 1 {
			t.Errorf("%s was sent %d times", id, len(calls))
		}
		runner := row.Get("assignee").AsString()
		runners[runner]++
		if want := assigned[id]; want != "" && runner != want {
			t.Errorf("%s ran on %s, but its CREATE event was assigned to %s", id, runner, want)
		}
	}
	for _, id := range early {
		if assigned[id] != "" {
			t.Fatalf("%s was assigned (%s): the scheduler had a ready SSP when it was created", id, assigned[id])
		}
	}
	if runners["ssp-a"] == 0 || runners["ssp-b"] == 0 {
		t.Errorf("runners %v: both SSPs should have run jobs", runners)
	}
	// How each SSP came to run its jobs: the assigned ones from their ingest, the early ones
	// only from the sweep, after the grace.
	sources := map[string]string{}
	for _, p := range ssps {
		var d struct {
			Tables []struct {
				Table  string `json:"table"`
				Recent []struct {
					ID, Source string
					At         time.Time
				} `json:"recent"`
			} `json:"tables"`
		}
		if err := json.Unmarshal([]byte(p.MustDo("GET", "/debug/jobs", nil, 200)), &d); err != nil {
			t.Fatal(err)
		}
		for _, tb := range d.Tables {
			for _, o := range tb.Recent {
				sources[o.ID] = o.Source
			}
		}
	}
	for _, id := range early {
		if sources[id] != "sweep" {
			t.Errorf("%s was started by %q; a replay without job_assignee must start nothing", id, sources[id])
		}
	}
	for _, id := range append(append([]string{}, first...), second...) {
		if sources[id] != "ingest" {
			t.Errorf("%s was started by %q, want its ingest", id, sources[id])
		}
	}
	t.Logf("runners %v", runners)
}

// registerThrough registers a view through the scheduler.
func registerThrough(t *testing.T, schedURL, key string) {
	t.Helper()
	body := fmt.Sprintf(`{"id":"_00_query:%s","surql":"SELECT * FROM job","clientId":"c","ttl":"1h"}`, key)
	req, err := newRequest("POST", schedURL+"/view/register", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := sspproc.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("register %s through the scheduler: %d", key, resp.StatusCode)
	}
}

// TestJobConfigRejected: an invalid job configuration stops `ssp serve` with exit code 2 and a
// message naming the variable and the entry, without the token.
func TestJobConfigRejected(t *testing.T) {
	_, bin := setup(t)
	for _, tt := range []struct {
		config string
		want   []string
	}{
		{`{"job_tables": {"job": {"base_url": "ftp://x", "auth_token": "` + jobToken + `"}}}`,
			[]string{"SPKY_JOB_CONFIG (from env SPKY_JOB_CONFIG): job_tables.job: base URL", `scheme "ftp"`}},
		{`{"job_tables": {"job": {"base_url": "http://x", "concurrency": 0}}}`, []string{"job_tables.job: concurrency must be between 1 and"}},
		{`[{"base_url": "http://x"}]`, []string{`[0]: "table" is required`}},
		{`{"job_tables": `, []string{"SPKY_JOB_CONFIG", "invalid JSON"}},
	} {
		cmd := exec.Command(bin, "serve")
		cmd.Dir = filepath.Dir(bin) // no sp00ky.yml there
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SPKY_JOB_CONFIG=" + tt.config, "SPKY_SSP_LISTEN_ADDR=127.0.0.1:0"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("config %s: %v, want exit code 2; stderr %s", tt.config, err, stderr.String())
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("config %s: stderr lacks %q:\n%s", tt.config, w, stderr.String())
			}
		}
		if strings.Contains(stderr.String(), jobToken) {
			t.Errorf("the token was printed: %s", stderr.String())
		}
	}
}
