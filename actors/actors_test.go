package actors

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// Per view, a burst of interleaved additions and removals of the same records ends with the
// database equal to the engine's membership.
func TestPerViewOrderUnderBurst(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.register("a", "SELECT * FROM item WHERE on = true", "user:alice")
	h.register("b", "SELECT * FROM item WHERE on = false ORDER BY n LIMIT 3", "user:alice")
	h.register("c", "SELECT * FROM item", "")
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("item:%d", rng.Intn(6))
		switch rng.Intn(3) {
		case 0:
			h.ingest("item", "DELETE", id, nil)
		default:
			h.ingest("item", "UPDATE", id, map[string]any{"on": rng.Intn(2) == 0, "n": rng.Intn(10)})
		}
	}
	h.waitEdgesMatch()
}

// Many goroutines ingest while others register and unregister; afterwards every view's edges
// equal its membership.
func TestConcurrentIngestAndRegistration(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 150; i++ {
				id := fmt.Sprintf("thread:%d", rng.Intn(20))
				op, rec := "UPDATE", value.ObjectOf([]value.Field{
					{Key: "status", Val: value.String([]string{"open", "closed"}[rng.Intn(2)])},
					{Key: "n", Val: value.Int(int64(rng.Intn(5)))},
				})
				if rng.Intn(4) == 0 {
					op, rec = "DELETE", value.None()
				}
				c, err := engine.NewChange("thread", op, id, rec)
				if err == nil {
					err = h.s.Ingest(ctx, c, "")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	queries := []string{openThreads, "SELECT * FROM thread WHERE n > 2", "SELECT * FROM thread ORDER BY n DESC, id LIMIT 4"}
	owners := []string{"user:alice", "user:bob", ""}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewSource(99))
		for i := 0; i < 40; i++ {
			key := fmt.Sprintf("v%d", rng.Intn(6))
			var err error
			if rng.Intn(4) == 0 {
				err = h.s.Unregister(ctx, key)
			} else {
				req := h.req(key, queries[rng.Intn(len(queries))], owners[rng.Intn(len(owners))])
				_, err = h.s.Register(ctx, req)
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	h.waitEdgesMatch()
	// No duplicates: one row per (view, parent, rel, record).
	for tb, es := range h.dbEdges() {
		seen := map[string]bool{}
		for _, e := range es {
			k := e[:strings.Index(e, "@")]
			if seen[k] {
				t.Errorf("%s: duplicate edge %s", tb, k)
			}
			seen[k] = true
		}
	}
}

// A view actor that panics is restarted and rebuilt from the engine; the other views keep
// updating, and /debug/view and /metrics show the restart.
func TestPanickingViewActorIsRestartedAndRebuilt(t *testing.T) {
	var armed atomic.Bool
	h := newHarness(t, harnessOpts{deps: func(d *Deps) {
		d.Hooks.ViewDelta = func(key string, _ engine.Delta) {
			if key == "bad" && armed.CompareAndSwap(true, false) {
				panic("injected view failure")
			}
		}
	}})
	h.register("bad", openThreads, "user:alice")
	h.register("good", openThreads, "user:alice")
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.waitEdgesMatch()

	armed.Store(true)
	// The step whose delta crashed "bad" still answers: the engine applied it.
	h.ingest("thread", "CREATE", "thread:2", map[string]any{"status": "open"})
	h.ingest("thread", "UPDATE", "thread:1", map[string]any{"status": "closed"})
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"bad|||thread:2@1|client-bad|user:alice", "good|||thread:2@1|client-good|user:alice",
	}})
	if armed.Load() {
		t.Fatal("the hook never panicked")
	}
	d, ok := h.s.DebugView(h.ctx, "bad")
	if !ok || d.Actor.Restarts != 1 || !strings.Contains(d.Actor.LastError, "injected view failure") {
		t.Errorf("debug view after the restart: %+v", d.Actor)
	}
	if d.CacheSize != 1 || d.Cache[0].Key != "thread:2" {
		t.Errorf("rebuilt cache %+v", d.Cache)
	}
	if g, _ := h.s.DebugView(h.ctx, "good"); g.Actor.Restarts != 0 {
		t.Errorf("good view restarted %d times", g.Actor.Restarts)
	}
	if n := metricValue(t, h.s.env.m.restarts.WithLabelValues("view")); n != 1 {
		t.Errorf("ssp_actor_restarts_total{kind=view} = %v", n)
	}
	// The restarted actor keeps working.
	h.ingest("thread", "CREATE", "thread:3", map[string]any{"status": "open"})
	h.waitEdgesMatch()
}

// With a tiny queue and a stalled step, Ingest gives up with ErrBusy after the configured wait;
// every accepted change is applied once the step resumes.
func TestBackpressure(t *testing.T) {
	gate := make(chan struct{})
	var blocked atomic.Bool
	h := newHarness(t, harnessOpts{
		cfg: func(c *config.Config) { c.IngestQueue = 2; c.IngestWait = 50 * time.Millisecond },
		deps: func(d *Deps) {
			d.Hooks.Step = func(c engine.Change) {
				if blocked.Load() {
					<-gate
				}
			}
		},
	})
	h.register("all", "SELECT * FROM thread", "")
	blocked.Store(true)
	results := make(chan error, 2)
	for i := 1; i <= 2; i++ {
		c := h.change("thread", "CREATE", fmt.Sprintf("thread:%d", i), map[string]any{"n": i})
		go func() { results <- h.s.Ingest(h.ctx, c, "") }()
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		return h.s.in.len() == 2, fmt.Sprintf("inbox holds %d", h.s.in.len())
	})
	start := time.Now()
	err := h.s.Ingest(h.ctx, h.change("thread", "CREATE", "thread:3", map[string]any{"n": 3}), "")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("ingest into a full queue: %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("gave up after %s, before the configured wait", waited)
	}
	if n := metricValue(t, h.s.env.m.ingests.WithLabelValues("thread", "CREATE", resultBusy)); n != 1 {
		t.Errorf("busy ingests counted %v", n)
	}
	blocked.Store(false)
	close(gate)
	for i := 0; i < 2; i++ {
		if err := <-results; err != nil {
			t.Errorf("accepted ingest: %v", err)
		}
	}
	h.waitEdges(map[string][]string{"_00_list_ref": {"all|||thread:1@1|client-all|", "all|||thread:2@1|client-all|"}})
}

// Shutdown writes every accepted change's edges before it returns, including those still
// waiting for their `_00_version`.
func TestShutdownDrainsPendingEdgeWrites(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.exec("DEFINE TABLE _00_version SCHEMALESS; CREATE _00_version SET record_id = thread:0, version = 1", nil)
	h.register("all", "SELECT * FROM thread", "user:alice")
	want := []string{}
	for i := 0; i < 200; i++ {
		h.ingest("thread", "CREATE", fmt.Sprintf("thread:%d", i), map[string]any{"n": i})
		want = append(want, fmt.Sprintf("all|||thread:%d@1|client-all|user:alice", i))
	}
	// This one waits for _00_version, which the test bumps only once Shutdown has begun.
	h.ingest("thread", "UPDATE", "thread:0", map[string]any{"n": 0, "_00_rv": 2})
	want[0] = "all|||thread:0@2|client-all|user:alice"
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done <- h.s.Shutdown(ctx)
	}()
	waitFor(t, 10*time.Second, func() (bool, string) {
		return h.describeActor(h.s.pids.root)["closing"] == true, "shutdown not begun"
	})
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) before the _00_version wait ended", err)
	default:
	}
	h.exec("UPDATE _00_version SET version = 2 WHERE record_id = thread:0", nil)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	got := h.dbEdges()
	if !sameEdges(got, map[string][]string{"_00_list_ref_user_alice": sortedCopy(want)}) {
		t.Errorf("after Shutdown:%s", describe(got))
	}
	if err := h.s.Ingest(h.ctx, h.change("thread", "CREATE", "thread:999", map[string]any{}), ""); !errors.Is(err, ErrShuttingDown) || !errors.Is(err, ErrNotReady) {
		t.Errorf("ingest after shutdown: %v", err)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// An edge is not written before `_00_version` shows the change's version, and a view waiting
// for one does not hold back another view's edges.
func TestRVWaitOrdersEdgesAfterTheRowVersion(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.exec("DEFINE TABLE _00_version SCHEMALESS; CREATE _00_version SET record_id = thread:1, version = 1", nil)
	h.register("threads", "SELECT * FROM thread", "user:alice")
	h.register("posts", "SELECT * FROM post", "user:alice")
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"_00_rv": 2})
	h.ingest("post", "CREATE", "post:1", map[string]any{})
	// The post's edge is written (same writer) while the thread's waits.
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"posts|||post:1@1|client-posts|user:alice"}})
	h.ingest("thread", "UPDATE", "thread:1", map[string]any{"_00_rv": 3, "x": 1}) // queued behind it
	h.exec("UPDATE _00_version SET version = 2 WHERE record_id = thread:1", nil)
	// Version 2's edge may be written now, version 3's not yet.
	waitFor(t, 30*time.Second, func() (bool, string) {
		got := h.dbEdges()["_00_list_ref_user_alice"]
		for _, e := range got {
			if strings.HasPrefix(e, "threads|||thread:1@3") {
				t.Fatalf("edge written before _00_version reached 3: %v", got)
			}
		}
		return len(got) == 2, fmt.Sprint(got)
	})
	h.exec("UPDATE _00_version SET version = 3 WHERE record_id = thread:1", nil)
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"posts|||post:1@1|client-posts|user:alice", "threads|||thread:1@3|client-threads|user:alice",
	}})
}

// A record deleted and re-created while its update waits for a version `_00_version` will never
// show again (UPDATE rv 4 → DELETE → CREATE rv 1) does not hold its views' edges for the whole
// wait timeout: the later change ends the earlier wait.
func TestRVWaitSupersededByRecreate(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: func(c *config.Config) { c.RVWaitTimeout = 10 * time.Minute }})
	h.exec("DEFINE TABLE _00_version SCHEMALESS; CREATE _00_version SET record_id = thread:5, version = 1", nil)
	h.register("threads", "SELECT * FROM thread", "user:alice")
	h.ingest("thread", "CREATE", "thread:5", map[string]any{"_00_rv": 1})
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"threads|||thread:5@1|client-threads|user:alice"}})
	h.ingest("thread", "UPDATE", "thread:5", map[string]any{"_00_rv": 4, "x": 1}) // version 4 never shows
	h.ingest("thread", "DELETE", "thread:5", map[string]any{})
	h.ingest("thread", "CREATE", "thread:5", map[string]any{"_00_rv": 1, "x": 2})
	h.ingest("thread", "CREATE", "thread:6", map[string]any{}) // queued behind thread:5's items
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"threads|||thread:5@1|client-threads|user:alice", "threads|||thread:6@1|client-threads|user:alice",
	}})
}

// The same with two updates waiting (UPDATE rv 4 → UPDATE rv 5 → DELETE → CREATE rv 1, all
// within the first poll's delay): the DELETE ends every open wait of the record, not only the
// latest one. Found by integration/difftest's TestServiceDifferential (seed 3, dedicated mode:
// thread:12's edges held for the whole 5 s timeout).
func TestRVWaitSupersededAfterTwoUpdates(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: func(c *config.Config) { c.RVWaitTimeout = 10 * time.Minute }})
	h.exec("DEFINE TABLE _00_version SCHEMALESS; CREATE _00_version SET record_id = thread:5, version = 1", nil)
	h.register("threads", "SELECT * FROM thread", "user:alice")
	h.ingest("thread", "CREATE", "thread:5", map[string]any{"_00_rv": 1})
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"threads|||thread:5@1|client-threads|user:alice"}})
	h.ingest("thread", "UPDATE", "thread:5", map[string]any{"_00_rv": 4, "x": 1}) // versions 4 and 5 never show
	h.ingest("thread", "UPDATE", "thread:5", map[string]any{"_00_rv": 5, "x": 2})
	h.ingest("thread", "DELETE", "thread:5", map[string]any{})
	h.ingest("thread", "CREATE", "thread:5", map[string]any{"_00_rv": 1, "x": 3})
	h.ingest("thread", "CREATE", "thread:6", map[string]any{}) // queued behind thread:5's items
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {
		"threads|||thread:5@1|client-threads|user:alice", "threads|||thread:6@1|client-threads|user:alice",
	}})
}

// Bootstrap from a database with data, `_00_query` rows and stale, missing and wrong edges ends
// ready with the edges reconciled.
func TestBootstrapReconcilesEdges(t *testing.T) {
	seed := func(h *harness) {
		for i := 1; i <= 5; i++ {
			h.exec("CREATE type::record('thread', $i) SET status = $s, _00_rv = $i", map[string]any{"i": i, "s": []string{"closed", "open"}[i%2]})
		}
		h.exec("CREATE thread:⟨a b⟩ SET status = 'open'", nil)
		h.exec("CREATE comment:1 SET thread = thread:1; CREATE comment:2 SET thread = thread:3", nil)
		store := membership.NewStore(h.db, membership.StoreOptions{Log: testLog()})
		for _, q := range []membership.QueryRow{
			{Key: "v", SurQL: withComments, ClientID: "c1", AuthID: "user:alice", TTL: time.Hour, LastActiveAt: time.Now(),
				Params: obj(h.t, map[string]any{"auth": map[string]any{"id": "user:alice"}})},
			{Key: "w", SurQL: "SELECT * FROM thread WHERE status = 'closed'", ClientID: "c2", TTL: time.Hour, LastActiveAt: time.Now()},
			{Key: "broken", SurQL: "SELECT * FROM", ClientID: "c3", TTL: time.Hour, LastActiveAt: time.Now()},
		} {
			if err := store.UpsertQuery(h.ctx, q); err != nil {
				h.t.Fatal(err)
			}
		}
		// Edges an older SSP left: one right, one with a wrong version, one stale, one of a
		// view that no longer exists, one with a random id (a duplicate).
		if err := membership.DefineUserTable(h.ctx, h.db, "alice"); err != nil {
			h.t.Fatal(err)
		}
		alice := membership.NewWriter(h.db, "_00_list_ref_user_alice", membership.WriterOptions{Log: testLog()})
		err := alice.ApplyDeltas(h.ctx, []membership.ViewDelta{
			{ViewKey: "v", ClientID: "c1", AuthID: "user:alice", Delta: engine.Delta{Added: []engine.Member{
				{Key: "thread:1", Version: 1}, {Key: "thread:3", Version: 7}, {Key: "thread:2", Version: 2},
			}}},
		})
		if err != nil {
			h.t.Fatal(err)
		}
		global := membership.NewWriter(h.db, membership.GlobalTable, membership.WriterOptions{Log: testLog()})
		err = global.ApplyDeltas(h.ctx, []membership.ViewDelta{
			{ViewKey: "gone", ClientID: "c9", Delta: engine.Delta{Added: []engine.Member{{Key: "thread:1", Version: 1}}}},
		})
		if err != nil {
			h.t.Fatal(err)
		}
		h.exec("CREATE _00_list_ref_user_alice SET in = _00_query:v, out = thread:1, version = 1, clientId = 'c1', auth_id = 'user:alice'", nil)
	}
	h := newHarness(t, harnessOpts{seed: seed})
	h.waitEdges(map[string][]string{
		"_00_list_ref_user_alice": {
			"v|||thread:1@1|c1|user:alice", "v|||thread:3@3|c1|user:alice", "v|||thread:5@5|c1|user:alice", "v|||thread:⟨a b⟩@1|c1|user:alice",
			"v|thread:1|comments|comment:1@1|c1|user:alice", "v|thread:3|comments|comment:2@1|c1|user:alice",
		},
		"_00_list_ref": {"w|||thread:2@2|c2|", "w|||thread:4@4|c2|"},
	})
	h.waitEdgesMatch()
	if n := metricValue(t, h.s.env.m.bootstrap); n <= 0 {
		t.Errorf("bootstrap duration %v", n)
	}
	// Ingests work on the bootstrapped views.
	h.ingest("thread", "UPDATE", "thread:2", map[string]any{"status": "open"})
	h.waitEdgesMatch()
}

// A database that cannot be read makes the bootstrap retry and then fail, after exactly
// Deps.BootstrapAttempts attempts (counted as the job's runAttempt messages), no more, no fewer.
func TestBootstrapFailsAfterRetries(t *testing.T) {
	for _, attempts := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d attempts", attempts), func(t *testing.T) {
			var runs atomic.Int32
			h := newHarness(t, harnessOpts{noReady: true, deps: func(d *Deps) {
				d.Source = failingSource{}
				d.BootstrapAttempts = attempts
				d.BootstrapRetryDelay = time.Millisecond
				d.Hooks.Receive = func(kind, name string, msg any) {
					if kind == kindJob && name == jobBootstrap && is[*runAttempt](msg) {
						runs.Add(1)
					}
				}
			}})
			h.waitStatus(StatusFailed)
			// The job is gone once the root took its failure: no attempt can follow.
			waitFor(t, 10*time.Second, func() (bool, string) {
				st := h.describeActor(h.s.pids.root)
				return st["job"] == nil, fmt.Sprint(st)
			})
			if n := runs.Load(); n != int32(attempts) {
				t.Errorf("%d bootstrap attempts, want exactly %d", n, attempts)
			}
			if err := h.s.Ingest(h.ctx, h.change("thread", "CREATE", "thread:1", map[string]any{}), ""); !errors.Is(err, ErrNotReady) {
				t.Errorf("ingest while failed: %v", err)
			}
			if _, err := h.s.Register(h.ctx, h.req("v", openThreads, "")); !errors.Is(err, ErrNotReady) {
				t.Errorf("register while failed: %v", err)
			}
		})
	}
}

type failingSource struct{}

func (failingSource) QueryValue(context.Context, string, map[string]value.Value) (value.Value, error) {
	return value.Value{}, errors.New("connection refused")
}

// The TTL sweep removes an expired view: its `_00_query` row, its edges, its in-memory state and
// its owner's table once no view of the owner is left.
func TestTTLExpiry(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: func(c *config.Config) { c.TTLCleanupInterval = 50 * time.Millisecond }})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	expired := h.req("old", openThreads, "user:bob")
	expired.TTL = time.Second
	expired.LastActiveAt = time.Now().Add(-time.Hour)
	if _, err := h.s.Register(h.ctx, expired); err != nil {
		t.Fatal(err)
	}
	h.register("fresh", openThreads, "user:alice")
	waitFor(t, 30*time.Second, func() (bool, string) {
		_, ok := h.s.DebugView(h.ctx, "old")
		return !ok && h.queryRow("old").IsNone() && !h.tableExists("_00_list_ref_user_bob"), "expired view still there"
	})
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"fresh|||thread:1@1|client-fresh|user:alice"}})
	if n := metricValue(t, h.s.env.m.ttlExpirations); n != 1 {
		t.Errorf("ttl expirations %v", n)
	}
}

// metricValue reads a counter or gauge.
func metricValue(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("metric %v is neither a counter nor a gauge", m.Desc())
	return 0
}

// A flush that keeps failing stays queued, is counted and retried, and lands once the database
// accepts it again.
func TestFailedEdgeFlushIsRetried(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("v", openThreads, "user:alice")
	h.waitEdgesMatch()
	// Make every edge write of the table fail.
	h.exec("DEFINE FIELD OVERWRITE version ON _00_list_ref_user_alice TYPE string", nil)
	h.ingest("thread", "CREATE", "thread:2", map[string]any{"status": "open"})
	h.ingest("thread", "DELETE", "thread:1", nil)
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := metricValue(t, h.s.env.m.edgeFailures)
		return n >= 2, fmt.Sprintf("%v failed flushes", n)
	})
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"v|||thread:1@1|client-v|user:alice"}})
	h.exec("DEFINE FIELD OVERWRITE version ON _00_list_ref_user_alice TYPE int", nil)
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"v|||thread:2@1|client-v|user:alice"}})
}

// A re-bootstrap reloads the base data and keeps every view, re-materialized over it.
func TestRebootstrapKeepsViews(t *testing.T) {
	h := newHarness(t, harnessOpts{seed: func(h *harness) {
		h.exec("CREATE thread:1 SET status = 'open'; CREATE thread:2 SET status = 'open'; CREATE thread:3 SET status = 'closed'", nil)
	}})
	h.register("v", openThreads, "user:alice")
	h.register("w", "SELECT * FROM thread WHERE status = 'closed'", "")
	h.waitEdges(map[string][]string{
		"_00_list_ref_user_alice": {"v|||thread:1@1|client-v|user:alice", "v|||thread:2@1|client-v|user:alice"},
		"_00_list_ref":            {"w|||thread:3@1|client-w|"},
	})
	// The database moves on without the SSP hearing of it.
	h.exec("DELETE thread:1; UPDATE thread:3 SET status = 'open'; CREATE thread:4 SET status = 'closed'", nil)
	if err := h.s.Rebootstrap(h.ctx); err != nil {
		t.Fatal(err)
	}
	if st := h.s.Status(); st != StatusReady {
		t.Fatalf("status %s", st)
	}
	h.waitEdges(map[string][]string{
		"_00_list_ref_user_alice": {"v|||thread:2@1|client-v|user:alice", "v|||thread:3@1|client-v|user:alice"},
		"_00_list_ref":            {"w|||thread:4@1|client-w|"},
	})
	if d, ok := h.s.DebugView(h.ctx, "v"); !ok || d.CacheSize != 2 {
		t.Errorf("view after re-bootstrap: %+v", d)
	}
	h.mustWrite("CREATE", "thread:5", map[string]any{"status": "open"})
	h.quiesce()
	h.waitEdgesAsDB([]testView{{"v", openThreads, "user:alice"}, {"w", "SELECT * FROM thread WHERE status = 'closed'", ""}})
}
