package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// jobToken is the bearer token of the job backends; it must never show in logs or answers.
const jobToken = "job-token-s3cret"

// jobCall is one request a job backend received.
type jobCall struct {
	Path, Key, Auth string
	Body            string
	At              time.Time
}

// job returns the job id and attempt of the call's Idempotency-Key (<id>:<attempt>).
func (c jobCall) job() (string, int) {
	i := strings.LastIndex(c.Key, ":")
	if i < 0 {
		return c.Key, 0
	}
	n, _ := strconv.Atoi(c.Key[i+1:])
	return c.Key[:i], n
}

// jobBackend is a real HTTP backend for job tables. Its answer depends on the path:
//
//	/ok          200 {"echo": <request body>}
//	/flaky       500 for a job's first two requests, then 200 {"after": <requests>}
//	/down        always 500
//	/slow        never answers (the request times out)
//	/inflight    200 after 15 ms; the number of requests in flight at once is tracked
//	/hang-first  an attempt 1 hangs until the request ends (a kill); later attempts 200
//	/busy        200 after 250 ms
type jobBackend struct {
	srv *httptest.Server

	mu    sync.Mutex
	calls []jobCall
	byJob map[string]int

	inFlight, peak atomic.Int32
}

func newJobBackend(t *testing.T) *jobBackend {
	b := &jobBackend{byJob: map[string]int{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *jobBackend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := jobCall{Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Auth: r.Header.Get("Authorization"), Body: string(body), At: time.Now()}
	id, attempt := c.job()
	b.mu.Lock()
	b.calls = append(b.calls, c)
	b.byJob[id]++
	n := b.byJob[id]
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/ok":
		fmt.Fprintf(w, `{"echo": %s}`, body)
	case "/flaky":
		if n <= 2 {
			http.Error(w, fmt.Sprintf("flaky failure %d", n), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, `{"after": %d}`, n)
	case "/down":
		http.Error(w, "backend down", http.StatusInternalServerError)
	case "/slow":
		<-r.Context().Done()
	case "/inflight":
		cur := b.inFlight.Add(1)
		for p := b.peak.Load(); cur > p && !b.peak.CompareAndSwap(p, cur); p = b.peak.Load() {
		}
		time.Sleep(15 * time.Millisecond)
		b.inFlight.Add(-1)
		_, _ = w.Write([]byte(`{}`))
	case "/hang-first":
		if attempt == 1 {
			<-r.Context().Done()
			return
		}
		_, _ = w.Write([]byte(`"second"`))
	case "/busy":
		select {
		case <-time.After(250 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte(`{}`))
	default:
		http.NotFound(w, r)
	}
}

// callsOf returns the calls for job id, in order.
func (b *jobBackend) callsOf(id string) []jobCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []jobCall
	for _, c := range b.calls {
		if j, _ := c.job(); j == id {
			out = append(out, c)
		}
	}
	return out
}

func (b *jobBackend) all() []jobCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]jobCall(nil), b.calls...)
}

// refusedURL is a base URL where nothing listens (connection refused).
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

// jobSchemaSQL defines Sp00ky's meta tables and the job tables with the events Sp00ky's CLI
// gives every table (posting each change to endpoint + "/ingest" with the bearer secret):
// `job` is SCHEMAFULL with the fields the application writes and those the SSP's runner
// writes (README, "Job tables"), `loosejob` is SCHEMALESS, for rows with fields of the wrong
// type, and `deadjob` points at a backend that refuses connections.
func jobSchemaSQL(endpoint string) string {
	var b strings.Builder
	b.WriteString(metaSQL)
	b.WriteString(`DEFINE TABLE OVERWRITE job SCHEMAFULL PERMISSIONS NONE;
DEFINE FIELD OVERWRITE path ON job TYPE string DEFAULT '';
DEFINE FIELD OVERWRITE payload ON job TYPE any;
DEFINE FIELD OVERWRITE retries ON job TYPE int DEFAULT 0;
DEFINE FIELD OVERWRITE max_retries ON job TYPE int DEFAULT 3;
DEFINE FIELD OVERWRITE retry_strategy ON job TYPE string DEFAULT 'linear' ASSERT $value IN ['linear', 'exponential'];
DEFINE FIELD OVERWRITE timeout ON job TYPE option<number>;
DEFINE FIELD OVERWRITE status ON job TYPE string DEFAULT 'pending' ASSERT $value IN ['pending', 'processing', 'success', 'failed'];
DEFINE FIELD OVERWRITE errors ON job TYPE array<object> DEFAULT [];
DEFINE FIELD OVERWRITE errors[*].code ON job TYPE int;
DEFINE FIELD OVERWRITE errors[*].reason ON job TYPE string;
DEFINE FIELD OVERWRITE errors[*].value ON job TYPE any;
DEFINE FIELD OVERWRITE assignee ON job TYPE option<string>;
DEFINE FIELD OVERWRITE attempt ON job TYPE option<int>;
DEFINE FIELD OVERWRITE lease_until ON job TYPE option<datetime>;
DEFINE FIELD OVERWRITE run_after ON job TYPE option<datetime>;
DEFINE FIELD OVERWRITE started_at ON job TYPE option<datetime>;
DEFINE FIELD OVERWRITE finished_at ON job TYPE option<datetime>;
DEFINE FIELD OVERWRITE updated_at ON job TYPE datetime DEFAULT time::now();
DEFINE FIELD OVERWRITE result ON job TYPE any;
DEFINE FIELD OVERWRITE result_truncated ON job TYPE option<bool>;
DEFINE TABLE OVERWRITE loosejob SCHEMALESS PERMISSIONS NONE;
DEFINE TABLE OVERWRITE deadjob SCHEMALESS PERMISSIONS NONE;
`)
	for _, t := range []string{"job", "loosejob", "deadjob"} {
		b.WriteString(jobEventsSQL(t, endpoint))
	}
	return b.String()
}

// jobEventsSQL is the mutation and delete events of table t: bump `_00_version` and post the
// row (with `_00_rv`) to /ingest, as Sp00ky's CLI does for every table.
func jobEventsSQL(t, endpoint string) string {
	post := fmt.Sprintf(`http::post('%s/ingest', $payload, { "Authorization": "Bearer %s" });`, endpoint, secret)
	return fmt.Sprintf(`DEFINE EVENT OVERWRITE _00_%[1]s_mutation ON TABLE %[1]s WHEN $before != $after AND $event != "DELETE" THEN {
	LET $ver = IF $event = "CREATE" {
		(CREATE _00_version SET record_id = $after.id, version = 1 RETURN AFTER)
	} ELSE {
		(UPDATE _00_version SET version += 1 WHERE record_id = $after.id RETURN AFTER)
	};
	LET $record = $after.{ id, path, payload, retries, max_retries, retry_strategy, status, errors, assignee, attempt };
	LET $payload = { table: '%[1]s', op: $event, id: <string>$after.id, record: $record, hash: "" };
	%[2]s
};
DEFINE EVENT OVERWRITE _00_%[1]s_delete ON TABLE %[1]s WHEN $event = "DELETE" THEN {
	DELETE _00_version WHERE record_id = $before.id;
	LET $payload = { table: '%[1]s', op: "DELETE", id: <string>$before.id, record: {}, hash: "" };
	%[2]s
};
`, t, post)
}

// jobConfigJSON is SPKY_JOB_CONFIG for the three job tables.
func jobConfigJSON(t *testing.T, backend, refused string, concurrency int) string {
	t.Helper()
	cfg := map[string]any{"job_tables": map[string]any{
		"job": map[string]any{"name": "API", "base_url": backend, "auth_token": jobToken, "timeout": 2,
			"timeout_overridable": true, "concurrency": concurrency},
		"loosejob": map[string]any{"base_url": backend, "auth_token": jobToken},
		"deadjob":  map[string]any{"base_url": refused, "timeout": 1},
	}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jobRows reads every row of table, keyed by record id text.
func jobRows(t *testing.T, ctx context.Context, db *conn.Conn, table string) map[string]value.Value {
	t.Helper()
	rs := exec1(t, ctx, db, "SELECT * FROM type::table($tb)", map[string]any{"tb": table})
	out := map[string]value.Value{}
	for _, r := range rs[0].Value.Elems() {
		out[value.RecordString(r.Get("id"))] = r
	}
	return out
}

// waitJobsDone waits until every listed job of table is success or failed and returns the rows.
func waitJobsDone(t *testing.T, ctx context.Context, db *conn.Conn, table string, ids []string, timeout time.Duration) map[string]value.Value {
	t.Helper()
	var rows map[string]value.Value
	waitFor(t, timeout, 50*time.Millisecond, func() (bool, string) {
		rows = jobRows(t, ctx, db, table)
		var open []string
		for _, id := range ids {
			st := rows[id].Get("status").AsString()
			if st != "success" && st != "failed" {
				open = append(open, id+"="+st)
			}
		}
		sort.Strings(open)
		if len(open) > 5 {
			open = append(open[:5], fmt.Sprintf("… %d more", len(open)-5))
		}
		return len(open) == 0, fmt.Sprintf("jobs not done: %v", open)
	})
	return rows
}

// createJobs creates n pending jobs of table with the given path, from writers goroutines, and
// returns their ids.
func createJobs(t *testing.T, ctx context.Context, db *conn.Conn, prefix, path string, n, writers int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				key := fmt.Sprintf("%s%03d", prefix, i)
				ids[i] = "job:" + key
				rs, err := db.Query(ctx, "CREATE type::record('job', $k) SET path = $path, payload = { n: $i }", map[string]any{"k": key, "path": path, "i": i})
				if err == nil {
					err = conn.StatementErr(rs)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create jobs: %v", err)
	}
	return ids
}

// newRequest is a request with a JSON body (if any).
func newRequest(method, url, body string) (*http.Request, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err == nil && body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

// quietLogger discards a component's log unless E2E_SSP_LOGS is set.
func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if os.Getenv("E2E_SSP_LOGS") != "" {
		l.SetOutput(os.Stderr)
	}
	return l
}
