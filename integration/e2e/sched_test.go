package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/integration/testscheduler"
	"github.com/sp00ky/ssp/internal/sspproc"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/value"
)

// schedCluster is scheduler mode as in production: the test scheduler (in the test process),
// `ssp serve` processes registered with it, and one database whose Sp00ky events post every
// change to the scheduler's /ingest, which fans it out to the SSPs.
type schedCluster struct {
	t      *testing.T
	ctx    context.Context
	dbName string
	db     *conn.Conn
	sched  *testscheduler.Scheduler
	url    string              // the scheduler's base URL (known before it starts in some tests)
	log    *sspproc.TailBuffer // the scheduler's log

	mu   sync.Mutex
	ssps map[string]*sspProc // the current process of each SSP id
}

// schedPoll is the scheduler's health polling period in these tests (3 s in production).
const schedPoll = 50 * time.Millisecond

// newSchedCluster creates a database with the workload schema, whose events post to a test
// scheduler, and starts that scheduler: listening at once, cloning only after seed (if any)
// has run, so that seeded rows are in its snapshot. seed must not write tables whose events
// are defined (the scheduler answers /ingest 503 while it clones, which rolls such writes
// back). opts are the scheduler's options (see startScheduler).
func newSchedCluster(t *testing.T, ctx context.Context, prefix string, opts testscheduler.Options, seed func(db *conn.Conn, schedURL string)) *schedCluster {
	t.Helper()
	c := newSchedDB(t, ctx, prefix)
	opts.HoldCloning = true
	c.startScheduler(opts)
	exec1(t, ctx, c.db, schemaSQL(c.url, false), nil)
	if seed != nil {
		seed(c.db, c.url)
	}
	c.sched.ReleaseCloning()
	if err := c.sched.WaitCloned(ctx); err != nil {
		t.Fatalf("scheduler clone: %v", err)
	}
	return c
}

// newSchedDB returns a cluster with a fresh database and no scheduler yet.
func newSchedDB(t *testing.T, ctx context.Context, prefix string) *schedCluster {
	t.Helper()
	name, db := newDatabase(t, ctx, prefix)
	return &schedCluster{t: t, ctx: ctx, dbName: name, db: db, log: &sspproc.TailBuffer{Max: 64 << 10}, ssps: map[string]*sspProc{}}
}

// startScheduler starts the cluster's test scheduler with opts, whose connection, secret,
// polling and log it fills in; the replica only moves on ApplyNow unless opts.UpdateInterval
// says otherwise. Without opts.HoldCloning it returns once the clone is done.
func (c *schedCluster) startScheduler(opts testscheduler.Options) {
	c.t.Helper()
	srv, _ := setup(c.t)
	opts.URL, opts.User, opts.Pass, opts.NS, opts.DB = srv.URL(), srv.User, srv.Pass, "e2e", c.dbName
	opts.Secret = secret
	if opts.PollInterval == 0 {
		opts.PollInterval = schedPoll
	}
	if opts.UpdateInterval == 0 {
		opts.UpdateInterval = -1
	}
	opts.Log = c.logger()
	sched, err := testscheduler.Start(c.ctx, opts)
	if err != nil {
		c.t.Fatalf("start the test scheduler: %v", err)
	}
	c.sched, c.url = sched, sched.URL()
	c.t.Cleanup(func() {
		if err := sched.Close(); err != nil {
			c.t.Errorf("close the test scheduler: %v", err)
		}
		if c.t.Failed() || os.Getenv("E2E_SSP_LOGS") != "" {
			c.t.Logf("test scheduler log tail:\n%s", c.log.String())
		}
	})
}

// logger returns a logrus logger writing into the cluster's scheduler log.
func (c *schedCluster) logger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(c.log)
	l.SetLevel(logrus.InfoLevel)
	return l
}

// sspEnv is the environment of an SSP with id behind the scheduler at schedURL: quick
// heartbeats, and a short `_00_rv` wait, because the replay after a (re-)bootstrap delivers
// events again whose rows were deleted or re-created since (their version is never seen again,
// so each such wait runs to its end before the view's later edges are written).
func sspEnv(schedURL, id string, extra map[string]string) map[string]string {
	env := map[string]string{
		"SPKY_SCHEDULER_URL":              schedURL,
		"SPKY_SSP_ID":                     id,
		"HEARTBEAT_INTERVAL_MS":           "100",
		"SPKY_SSP_REGISTER_MAX_WAIT_SECS": "60",
		"SPKY_RV_WAIT_TIMEOUT_MS":         "1000",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startSSP starts `ssp serve` in scheduler mode as SSP id (replacing the record of an earlier
// process of that id) and returns once it listens.
func (c *schedCluster) startSSP(id string, extra map[string]string) *sspProc {
	c.t.Helper()
	p := startSSP(c.t, sspConfig{DB: c.dbName, RefMode: string(dedicated), Env: sspEnv(c.url, id, extra)})
	p.id = id
	c.mu.Lock()
	c.ssps[id] = p
	c.mu.Unlock()
	return p
}

// startSSPs starts SSPs ids at once and waits until the scheduler counts each one ready
// (registered, bootstrapped, replayed).
func (c *schedCluster) startSSPs(ids ...string) []*sspProc {
	c.t.Helper()
	out := make([]*sspProc, len(ids))
	for i, id := range ids {
		out[i] = c.startSSP(id, nil)
	}
	for _, id := range ids {
		c.waitSchedReady(id)
	}
	return out
}

// procs returns the current process of every SSP, by id.
func (c *schedCluster) procs() []*sspProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*sspProc
	for _, id := range sortedKeys(c.ssps) {
		out = append(out, c.ssps[id])
	}
	return out
}

// ssp returns the current process of SSP id.
func (c *schedCluster) ssp(id string) *sspProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ssps[id]
}

// waitSchedReady waits until the scheduler counts SSP id ready: its health said ready and
// the buffered events were replayed to it.
func (c *schedCluster) waitSchedReady(id string) {
	c.t.Helper()
	p := c.ssp(id)
	waitFor(c.t, 90*time.Second, 20*time.Millisecond, func() (bool, string) {
		if p != nil {
			select {
			case <-p.Done:
				c.t.Fatalf("SSP %s exited (%v): %s", id, p.Exited, p.Logs.String())
			default:
			}
		}
		info, ok := c.sched.SSP(id)
		return ok && info.Status == testscheduler.SSPReady, fmt.Sprintf("the scheduler sees %s as %q (in the pool: %v)", id, info.Status, ok)
	})
}

// post sends a JSON body to the scheduler and returns status and body.
func (c *schedCluster) post(path string, body any) (int, string) {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := sspproc.Client.Post(c.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatalf("POST scheduler %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// register registers v through the scheduler and returns the SSP it was assigned to.
//
// It writes the view's `_00_query` row (ttl, clientId, surql) first. Sp00ky's meta schema
// requires `ttl`, and an SSP in scheduler mode claims a new view with an UPSERT of its row that
// sets only ssp_id: when that claim runs before the SSP's own row write, SurrealDB refuses it,
// and the writer drops the failed claim, so the view's first edges are never written (an SSP
// defect, reported with its reproduction). With the row in place the claim succeeds, and the
// rest of the flow is tested as in production.
func (c *schedCluster) register(v view) string {
	c.t.Helper()
	exec1(c.t, c.ctx, c.db, "UPSERT type::record('_00_query', $k) SET ttl = 1h, clientId = $c, surql = $s RETURN NONE",
		map[string]any{"k": v.Key, "c": v.Client, "s": v.SurQL})
	body := map[string]any{"id": "_00_query:" + v.Key, "surql": v.SurQL, "clientId": v.Client, "ttl": "1h"}
	if v.Params != nil {
		body["params"] = v.Params
	}
	code, out := c.post("/view/register", body)
	if code != http.StatusOK {
		c.t.Fatalf("register view %s through the scheduler: %d %s", v.Key, code, out)
	}
	var r struct {
		SSPID string `json:"ssp_id"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.SSPID == "" {
		c.t.Fatalf("register view %s: answer without ssp_id (%v): %s", v.Key, err, out)
	}
	return r.SSPID
}

// converge waits until the cluster is quiet — every SSP ready in the scheduler's pool with
// nothing buffered for it, and nothing left to write in any SSP process — and the edge rows
// of all SSPs together are exactly SurrealDB's own answers to views, unchanged since the
// previous poll. Then it checks the shares (checkShares) and returns the edge rows.
func (c *schedCluster) converge(views []view) snapshot {
	c.t.Helper()
	var snap snapshot
	var prev []string
	waitFor(c.t, convergeTimeout, 100*time.Millisecond, func() (bool, string) {
		for _, info := range c.sched.SSPs() {
			if info.Status != testscheduler.SSPReady || len(info.Buffered) > 0 {
				return false, fmt.Sprintf("scheduler: SSP %s is %s with %d buffered events", info.ID, info.Status, len(info.Buffered))
			}
		}
		for _, p := range c.procs() {
			if d := p.Metric("ssp_mailbox_depth"); d != 0 {
				return false, fmt.Sprintf("SSP %s still has %v items to write", p.id, d)
			}
		}
		exp, err := expect(c.ctx, c.db, views, dedicated)
		if err != nil {
			c.t.Fatalf("oracle: %v", err)
		}
		s, err := readEdges(c.ctx, c.db)
		if err != nil {
			c.t.Fatalf("read edges: %v", err)
		}
		// Per-user tables are not checked: users created before any SSP ran (they reach the SSPs
		// in the snapshot) get theirs only with their first view, as after a standalone
		// restart; diffEdges still finds every row in a wrong table.
		diffs := diffEdges(exp, s)
		text := rowsText(s, true)
		stable := prev != nil && len(diffLines(prev, text)) == 0
		prev, snap = text, s
		if len(diffs) > 0 {
			return false, fmt.Sprintf("%d differences between the edge rows and SurrealDB's answers:\n%s", len(diffs), head(diffs, 40))
		}
		return stable, "edge rows still changing"
	})
	c.checkShares(views)
	return snap
}

// checkShares checks that each view is served by exactly the SSP the scheduler assigned it
// to: its `_00_query` row names that SSP, that SSP holds it, no other SSP does, and every SSP
// holds exactly its assigned views.
func (c *schedCluster) checkShares(views []view) {
	c.t.Helper()
	assigned := c.sched.Assignments()
	owners := map[string]string{}
	for _, r := range exec1(c.t, c.ctx, c.db, "SELECT id, ssp_id FROM _00_query", nil)[0].Value.Elems() {
		owners[r.Get("id").Key().AsString()] = r.Get("ssp_id").AsString()
	}
	perSSP := map[string]int{}
	for _, v := range views {
		a := assigned[v.Key]
		if a == "" {
			c.t.Errorf("view %s is assigned to no SSP", v.Key)
			continue
		}
		perSSP[a]++
		if owners[v.Key] != a {
			c.t.Errorf("_00_query:%s names SSP %q, the scheduler assigned it to %s", v.Key, owners[v.Key], a)
		}
		for _, p := range c.procs() {
			code, body, err := p.Do("GET", "/debug/view/"+v.Key, nil)
			if err != nil {
				c.t.Fatalf("GET %s/debug/view/%s: %v", p.id, v.Key, err)
			}
			switch {
			case p.id == a && code != http.StatusOK:
				c.t.Errorf("view %s: its SSP %s answers /debug/view %d %s", v.Key, p.id, code, body)
			case p.id != a && code != http.StatusNotFound:
				c.t.Errorf("view %s is %s's, yet SSP %s answers /debug/view %d", v.Key, a, p.id, code)
			}
		}
	}
	for _, p := range c.procs() {
		var deps struct {
			ViewCount int `json:"view_count"`
		}
		if err := json.Unmarshal([]byte(p.MustDo("GET", "/debug/deps", nil, http.StatusOK)), &deps); err != nil {
			c.t.Fatal(err)
		}
		if deps.ViewCount != perSSP[p.id] {
			c.t.Errorf("SSP %s holds %d views, the scheduler assigned it %d", p.id, deps.ViewCount, perSSP[p.id])
		}
	}
}

// shares returns, per SSP id, how many of views the scheduler assigned to it.
func (c *schedCluster) shares(views []view) map[string]int {
	assigned := c.sched.Assignments()
	out := map[string]int{}
	for _, v := range views {
		out[assigned[v.Key]]++
	}
	return out
}

// health returns the status and body of the SSP's /health.
func (p *sspProc) health() (int, string) {
	p.t.Helper()
	code, body, err := p.Do("GET", "/health", nil)
	if err != nil {
		p.t.Fatalf("GET /health: %v", err)
	}
	return code, body
}

// schedState is the part of GET /debug/scheduler the tests read.
type schedState struct {
	Link          string `json:"link"`
	SSPID         string `json:"ssp_id"`
	SnapshotSeq   uint64 `json:"snapshot_seq"`
	Registrations []struct {
		Reason          string  `json:"reason"`
		Attempts        int     `json:"attempts"`
		DurationSeconds float64 `json:"duration_seconds"`
		Result          string  `json:"result"`
		Error           string  `json:"error"`
	} `json:"registrations"`
	Heartbeats map[string]uint64 `json:"heartbeats"`
	LastError  string            `json:"last_error"`
}

// debugScheduler reads the SSP's GET /debug/scheduler.
func (p *sspProc) debugScheduler() schedState {
	p.t.Helper()
	var st schedState
	if err := json.Unmarshal([]byte(p.MustDo("GET", "/debug/scheduler", nil, http.StatusOK)), &st); err != nil {
		p.t.Fatalf("decode /debug/scheduler: %v", err)
	}
	return st
}

// metricWith returns the sum of the samples of metric name whose labels contain label
// (e.g. `reason="heartbeat_404"`).
func (p *sspProc) metricWith(name, label string) float64 {
	p.t.Helper()
	code, body, err := p.Do("GET", "/metrics", nil)
	if err != nil || code != http.StatusOK {
		p.t.Fatalf("GET /metrics: %d %v", code, err)
	}
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// rootDetail returns the root actor's status detail from /debug/actors (why it failed).
func (p *sspProc) rootDetail() string {
	p.t.Helper()
	var tree struct {
		Actors struct {
			State map[string]any `json:"state"`
		} `json:"actors"`
	}
	if err := json.Unmarshal([]byte(p.MustDo("GET", "/debug/actors", nil, http.StatusOK)), &tree); err != nil {
		p.t.Fatalf("decode /debug/actors: %v", err)
	}
	d, _ := tree.Actors.State["detail"].(string)
	return d
}

// fanouts returns the /ingest fan-outs the scheduler sent SSP id between from and to, by
// answer status.
func fanouts(s *testscheduler.Scheduler, id string, from, to time.Time) map[int]int {
	out := map[int]int{}
	for _, r := range s.Requests(id) {
		if r.Path == "/ingest" && r.Kind == testscheduler.KindFanout && !r.At.Before(from) && !r.At.After(to) {
			out[r.Status]++
		}
	}
	return out
}

// itemSpec is a bulk table for the tests that need many rows: seeded without events (seedItems),
// then given Sp00ky's events so that later writes reach the scheduler.
var itemSpec = tableSpec{"item", []field{{"n", "int", false}, {"grp", "string", false}}}

// seedItems writes items item:1..item:n (n = the key, grp = "g" + key mod 100) with their
// `_00_version` rows (version 1, as a CREATE through the events leaves them), then defines the
// table's events posting to endpoint.
func seedItems(t *testing.T, ctx context.Context, db *conn.Conn, endpoint string, n int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "DEFINE TABLE OVERWRITE %s SCHEMAFULL PERMISSIONS NONE;\n", itemSpec.name)
	for _, f := range itemSpec.fields {
		fmt.Fprintf(&b, "DEFINE FIELD OVERWRITE %s ON TABLE %s TYPE %s;\n", f.name, itemSpec.name, f.typ)
	}
	b.WriteString(`FOR $i IN 1..=$n {
	CREATE type::record('item', $i) SET n = $i, grp = 'g' + <string>($i % 100) RETURN NONE;
	CREATE _00_version SET record_id = type::record('item', $i), version = 1 RETURN NONE;
};
`)
	exec1(t, ctx, db, b.String(), map[string]any{"n": n})
	exec1(t, ctx, db, eventsSQL(itemSpec, endpoint), nil)
}

// itemViews are views over the seeded items with small memberships: a range, a top-k and a
// filter on two fields.
func itemViews() []view {
	vs := []view{
		{Key: "items_low", SurQL: "SELECT * FROM item WHERE n <= 20"},
		{Key: "items_top", SurQL: "SELECT * FROM item ORDER BY n DESC, id LIMIT 5"},
		{Key: "items_g7", SurQL: "SELECT * FROM item WHERE grp = 'g7' AND n > 9000"},
	}
	for i := range vs {
		vs[i].Client = "client-" + vs[i].Key
	}
	return vs
}

// itemWrite is a MERGE of a new n into one of the first or last 40 items, which moves it into
// or out of the item views.
func itemWrite(g *generator, items int) write {
	k := 1 + g.rng.IntN(40)
	if g.rng.IntN(2) == 0 {
		k = items - g.rng.IntN(40)
	}
	n := int64(1 + g.rng.IntN(items+100))
	return write{op: "MERGE", id: value.Record("item", value.Int(int64(k))), content: value.ObjectOf([]value.Field{{Key: "n", Val: value.Int(n)}})}
}

// background runs next's writes in batches of 30 until stop is called, which waits for the
// last batch and returns the first error.
func (r *runner) background(ctx context.Context, next func() write) (stop func() error) {
	quit := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-quit:
				done <- nil
				return
			default:
			}
			batch := make([]write, 30)
			for i := range batch {
				batch[i] = next()
			}
			if err := r.run(ctx, batch); err != nil {
				done <- err
				return
			}
		}
	}()
	return func() error {
		close(quit)
		return <-done
	}
}
