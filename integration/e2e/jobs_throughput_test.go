package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestJobsThroughput measures jobs per second through one `ssp serve` against a local backend
// that answers at once, and the database round trips the runner makes per job
// (ssp_job_db_queries_total by op), in two feeds:
//
//   - events: the application creates the jobs (8 writers, one CREATE each) and Sp00ky's events
//     post every change to the SSP — the creation, the claim and the outcome each fire one
//     /ingest; this is the production path, timed from the first CREATE to the last success.
//   - sweep: the jobs exist before the SSP starts (no events on the table); the sweeps after
//     its bootstrap feed the runner — the runner alone, timed from ready to the last success.
//
// By default it runs 200 jobs per feed as a test (every job must end success, sent once, with
// at most 4 round trips per job on average); SSP_JOB_BENCH_JOBS and SSP_JOB_BENCH_CONCURRENCY
// scale it for BENCHMARKS.md. Run without -race for figures.
func TestJobsThroughput(t *testing.T) {
	jobs := envInt(t, "SSP_JOB_BENCH_JOBS", 200)
	concurrency := envInt(t, "SSP_JOB_BENCH_CONCURRENCY", 8)
	for _, feed := range []string{"events", "sweep"} {
		t.Run(feed, func(t *testing.T) { jobThroughput(t, feed, jobs, concurrency) })
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func jobThroughput(t *testing.T, feed string, jobs, concurrency int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	name, db := newDatabase(t, ctx, "jobbench")
	var sent atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer backend.Close()
	env := map[string]string{
		"SPKY_JOB_CONFIG":            fmt.Sprintf(`[{"table": "job", "base_url": %q, "concurrency": %d}]`, backend.URL, concurrency),
		"SPKY_JOB_SWEEP_INTERVAL_MS": "100",
		"SPKY_JOB_QUEUE":             "4096",
		"SPKY_LOG_LEVEL":             "warn",
	}
	var ids []string
	if feed == "sweep" {
		exec1(t, ctx, db, "DEFINE TABLE job SCHEMALESS; FOR $i IN 0..$n { CREATE type::record('job', $i) SET status = 'pending', path = '/x', payload = { n: $i } };",
			map[string]any{"n": jobs})
	}
	p := startSSP(t, sspConfig{DB: name, RefMode: "single", Env: env})
	p.WaitReady(5 * time.Minute)
	start := time.Now()
	if feed == "events" {
		exec1(t, ctx, db, jobSchemaSQL(p.Base), nil)
		start = time.Now()
		ids = createJobs(t, ctx, db, "e", "/x", jobs, 8)
	} else {
		for i := 0; i < jobs; i++ {
			ids = append(ids, fmt.Sprintf("job:%d", i))
		}
	}
	waitFor(t, 5*time.Minute, 20*time.Millisecond, func() (bool, string) {
		rs := exec1(t, ctx, db, "SELECT VALUE count() FROM job WHERE status = 'success' GROUP ALL", nil)
		n := int64(0)
		if e := rs[0].Value.Elems(); len(e) == 1 {
			n = e[0].AsInt()
		}
		return n == int64(len(ids)), fmt.Sprintf("%d of %d jobs done", n, len(ids))
	})
	took := time.Since(start)
	if n := sent.Load(); n != int64(jobs) {
		t.Errorf("the backend got %d requests for %d jobs", n, jobs)
	}
	ops := map[string]float64{}
	for _, op := range []string{"claim", "lease", "outcome", "sweep", "operator"} {
		ops[op] = p.metricWith("ssp_job_db_queries_total", `op="`+op+`"`)
	}
	total := ops["claim"] + ops["lease"] + ops["outcome"] + ops["sweep"] + ops["operator"]
	perJob := total / float64(jobs)
	t.Logf("feed %s: %d jobs, concurrency %d, %s: %.0f jobs/s; database round trips per job %.2f (claim %.2f, outcome %.2f, sweep %.3f)",
		feed, jobs, concurrency, took.Round(time.Millisecond), float64(jobs)/took.Seconds(), perJob,
		ops["claim"]/float64(jobs), ops["outcome"]/float64(jobs), ops["sweep"]/float64(jobs))
	if perJob > 4 {
		t.Errorf("%.2f database round trips per job; want at most 4", perJob)
	}
}
