package actors

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/sp00ky/ssp/internal/faultproxy"
	"github.com/sp00ky/ssp/surreal/conn"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
)

// Error paths driven by faults at the database connection (the test's faultproxy between the
// Service and SurrealDB): bootstrap attempts, the edge writers' retry queue, reconcile.

// bootViews are the views seeded as `_00_query` rows before the first bootstrap.
var bootViews = []testView{
	{"open_alice", openThreads, "user:alice"},
	{"closed", "SELECT * FROM thread WHERE status = 'closed'", ""},
}

// seedForBootstrap writes base rows, the `_00_query` rows of bootViews and edges the bootstrap's
// reconcile must fix: a stale one of a view that is gone, and one at a wrong version.
func seedForBootstrap(h *harness) {
	h.t.Helper()
	for i := 1; i <= 6; i++ {
		h.exec("CREATE type::record('thread', $i) SET status = $s, _00_rv = $i", map[string]any{"i": i, "s": []string{"closed", "open"}[i%2]})
	}
	store := membership.NewStore(h.db, membership.StoreOptions{Log: testLog()})
	for _, v := range bootViews {
		q := membership.QueryRow{Key: v.key, SurQL: v.surql, ClientID: "client-" + v.key, AuthID: v.owner, TTL: time.Hour, LastActiveAt: time.Now()}
		if v.owner != "" {
			q.Params = obj(h.t, map[string]any{"auth": map[string]any{"id": v.owner}})
		}
		if err := store.UpsertQuery(h.ctx, q); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := membership.DefineUserTable(h.ctx, h.db, "alice"); err != nil {
		h.t.Fatal(err)
	}
	alice := membership.NewWriter(h.db, membership.UserTable("alice"), membership.WriterOptions{Log: testLog()})
	if err := alice.ApplyDeltas(h.ctx, []membership.ViewDelta{{ViewKey: "open_alice", ClientID: "client-open_alice", AuthID: "user:alice",
		Delta: engine.Delta{Added: []engine.Member{{Key: "thread:1", Version: 9}}}}}); err != nil {
		h.t.Fatal(err)
	}
	global := membership.NewWriter(h.db, membership.GlobalTable, membership.WriterOptions{Log: testLog()})
	if err := global.ApplyDeltas(h.ctx, []membership.ViewDelta{{ViewKey: "gone", ClientID: "c9",
		Delta: engine.Delta{Added: []engine.Member{{Key: "thread:2", Version: 2}, {Key: "thread:4", Version: 4}}}}}); err != nil {
		h.t.Fatal(err)
	}
}

// tapDB is the Service's real database connection with a look at every statement before it is
// sent: the tests use it to start an outage at an exact point of the bootstrap.
type tapDB struct {
	Database
	onQuery func(surql string)
}

func (d tapDB) Query(ctx context.Context, surql string, vars map[string]any) ([]conn.Result, error) {
	d.onQuery(surql)
	return d.Database.Query(ctx, surql, vars)
}

// waitBootstrapped waits until the bootstrap ended and fails the test unless the SSP is ready.
func (h *harness) waitBootstrapped() {
	h.t.Helper()
	waitFor(h.t, time.Minute, func() (bool, string) {
		return h.s.Status() != StatusBootstrapping, "still bootstrapping"
	})
	if st, detail := h.s.StatusDetail(); st != StatusReady {
		h.t.Fatalf("bootstrap ended %s: %s", st, detail)
	}
}

// countAttempts makes h count the bootstrap job's attempts and calls at(n) at the start of
// attempt n (in the job actor, before the attempt runs).
func countAttempts(h *harness, at func(n int32)) *atomic.Int32 {
	var n atomic.Int32
	prev := h.deps.Hooks.Receive
	h.deps.Hooks.Receive = func(kind, name string, msg any) {
		if prev != nil {
			prev(kind, name, msg)
		}
		if kind == kindJob && name == jobBootstrap && is[*runAttempt](msg) {
			at(n.Add(1))
		}
	}
	return &n
}

// A bootstrap whose first attempts cannot reach SurrealDB (connections refused, or accepted and
// never answered) retries and then succeeds: exactly one more attempt than the outage took,
// status ready, every `_00_query` view restored and the edges equal to SurrealDB's answers
// (the stale and wrong edges seeded before are fixed).
func TestBootstrapRecoversFromTransientOutage(t *testing.T) {
	for _, tt := range []struct {
		mode   faultproxy.Mode
		failed int32 // attempts made during the outage
	}{
		{faultproxy.Refuse, 1},
		{faultproxy.Stall, 1},
		{faultproxy.Refuse, 2},
	} {
		t.Run(fmt.Sprintf("%s for %d attempts", tt.mode, tt.failed), func(t *testing.T) {
			var attempts *atomic.Int32
			h := newHarness(t, harnessOpts{proxy: true, noReady: true, seed: seedForBootstrap,
				deps: func(d *Deps) { d.BootstrapAttempts = 5 },
				beforeStart: func(h *harness) {
					attempts = countAttempts(h, func(n int32) {
						if n == tt.failed+1 {
							h.proxy.SetMode(faultproxy.Forward)
						}
					})
					h.proxy.SetMode(tt.mode)
				}})
			h.waitBootstrapped()
			if n := attempts.Load(); n != tt.failed+1 {
				t.Errorf("%d attempts, want %d (%d failed during the outage)", n, tt.failed+1, tt.failed)
			}
			for _, v := range bootViews {
				if _, ok := h.s.DebugView(h.ctx, v.key); !ok {
					t.Errorf("view %s was not restored", v.key)
				}
			}
			h.waitEdgesAsDB(bootViews)
			h.quiesce()
			h.waitEdgesAsDB(bootViews)
		})
	}
}

// An outage during the bootstrap's edge reconcile — at the scan of a list_ref table's edges,
// or at the flush of the fixes after the scan succeeded — fails that attempt (a reconcile
// that could not finish is not taken for done); the next attempt reconciles again and the
// edges end equal to SurrealDB's answers.
func TestReconcileOutageFailsTheAttempt(t *testing.T) {
	for _, tt := range []struct {
		phase string
		match func(surql string) bool
	}{
		{"scan", func(q string) bool { return strings.HasPrefix(q, "SELECT * FROM type::table($tb) ORDER BY id") }},
		{"flush", func(q string) bool { return strings.HasPrefix(q, "BEGIN TRANSACTION") }},
	} {
		t.Run(tt.phase, func(t *testing.T) {
			var reconciling, fired atomic.Bool
			var attempts *atomic.Int32
			h := newHarness(t, harnessOpts{proxy: true, noReady: true, seed: seedForBootstrap,
				deps: func(d *Deps) { d.BootstrapAttempts = 3 },
				beforeStart: func(h *harness) {
					attempts = countAttempts(h, func(n int32) {
						if n == 2 {
							h.proxy.SetMode(faultproxy.Forward)
						}
					})
					prev := h.deps.Hooks.Receive
					h.deps.Hooks.Receive = func(kind, name string, msg any) {
						prev(kind, name, msg)
						if kind == kindWriter && is[*reconcileReq](msg) && attempts.Load() == 1 {
							reconciling.Store(true)
						}
					}
					h.deps.DB = tapDB{Database: h.deps.DB, onQuery: func(q string) {
						if reconciling.Load() && tt.match(q) && fired.CompareAndSwap(false, true) {
							h.proxy.SetMode(faultproxy.Refuse) // this statement meets the outage
						}
					}}
				}})
			h.waitBootstrapped()
			if !fired.Load() {
				t.Fatalf("no %s statement during the first attempt's reconcile", tt.phase)
			}
			if n := attempts.Load(); n != 2 {
				t.Errorf("%d attempts, want 2: the reconcile's failure must fail the first", n)
			}
			h.waitEdgesAsDB(bootViews)
			h.quiesce()
			h.waitEdgesAsDB(bootViews)
		})
	}
}

// waitGoroutinesGone waits until no goroutine of package actors runs besides those in before.
func waitGoroutinesGone(t *testing.T, before map[string]string) {
	t.Helper()
	waitFor(t, 10*time.Second, func() (bool, string) {
		left := goroutinesIn(before)
		var b strings.Builder
		for _, g := range left {
			b.WriteString("\n" + g)
		}
		return len(left) == 0, fmt.Sprintf("%d goroutines of the actors still run:%s", len(left), b.String())
	})
}

// goroutinesIn returns the goroutines (id → stack) running code of package actors outside the
// tests, leaving out those in skip.
func goroutinesIn(skip map[string]string) map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(strings.TrimPrefix(g, "goroutine "), " ")
		if _, ok := skip[id]; ok || strings.Contains(g, "_test.go") {
			continue
		}
		if strings.Contains(g, "/ssp/actors.") {
			out[id] = g
		}
	}
	return out
}

// Shutdown while the bootstrap waits out its retry delay (an hour here) cancels the job at
// once: Shutdown returns promptly without an error and leaves no goroutine of the actors
// running.
func TestShutdownDuringBootstrapRetryDelay(t *testing.T) {
	before := goroutinesIn(nil)
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.InfoLevel)
	var attempts *atomic.Int32
	h := newHarness(t, harnessOpts{proxy: true, noReady: true,
		deps: func(d *Deps) { d.Log, d.BootstrapAttempts, d.BootstrapRetryDelay = log, 3, time.Hour },
		beforeStart: func(h *harness) {
			attempts = countAttempts(h, func(int32) {})
			h.proxy.SetMode(faultproxy.Refuse)
		}})
	waitFor(t, 30*time.Second, func() (bool, string) {
		for _, e := range hook.AllEntries() {
			if e.Message == "bootstrap failed; retrying" {
				return true, ""
			}
		}
		return false, "the first attempt has not failed yet"
	})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown during the retry delay: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s during the retry delay", took)
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	waitGoroutinesGone(t, before)
}

// writerState describes the writer actor of table.
func (h *harness) writerState(table string) map[string]any {
	h.t.Helper()
	tree, err := h.s.DebugActors(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range tree.Actors.Children {
		for _, w := range c.Children {
			if w.Kind == kindWriter && w.Name == table {
				return w.State
			}
		}
	}
	h.t.Fatalf("no writer of %s", table)
	return nil
}

// Edge writes made while SurrealDB cannot be reached stay queued in the writers, which retry
// on their own (a failed flush with nothing new arriving) and write nothing meanwhile; once the
// connection forwards again every queued write lands, exactly once: the edges equal
// SurrealDB's answers. A user deleted during the outage loses the views whose writes were
// queued, and their table stays removed afterwards (nothing queued defines it again).
func TestEdgeWriterQueueAcrossOutage(t *testing.T) {
	for _, mode := range []faultproxy.Mode{faultproxy.Refuse, faultproxy.Stall} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, harnessOpts{proxy: true})
			for _, u := range []string{"alice", "bob", "carol"} {
				h.mustWrite("CREATE", "user:"+u, map[string]any{"name": u})
			}
			for i := 1; i <= 4; i++ {
				h.mustWrite("CREATE", fmt.Sprintf("thread:%d", i), map[string]any{"status": []string{"closed", "open"}[i%2], "n": i})
			}
			views := []testView{
				{"a", openThreads, "user:alice"},
				{"b", "SELECT * FROM thread WHERE status = 'closed' ORDER BY n DESC LIMIT 2", "user:bob"},
				{"all", "SELECT * FROM thread", ""},
			}
			gone := testView{"c", openThreads, "user:carol"}
			for _, v := range append(views, gone) {
				h.register(v.key, v.surql, v.owner)
			}
			h.waitEdgesAsDB(append(views, gone))
			h.quiesce()
			before := h.dbEdges()
			failures := metricValue(t, h.s.env.m.edgeFailures)

			h.proxy.SetMode(mode)
			for i := 0; i < 12; i++ {
				id := fmt.Sprintf("thread:%d", 1+i%6)
				switch {
				case i%5 == 4:
					h.mustWrite("DELETE", id, nil)
				default:
					h.mustWrite("UPDATE", id, map[string]any{"status": []string{"open", "closed"}[(i/2)%2], "n": 10 + i})
				}
			}
			h.mustWrite("DELETE", "user:carol", nil)
			// Every write reached its writer, which handed it to its membership.Writer and failed
			// to flush it; then, with nothing new arriving, a writer tries again on its own (its
			// backoff), and fails again. (The writers and the metrics flusher, retrying against
			// the outage, never look idle.)
			h.quiesceExcept(func(n ActorNode) bool { return n.Kind == kindFlusher || n.Kind == kindWriter })
			waitFor(t, 30*time.Second, func() (bool, string) {
				st := h.describeActor(h.s.pids.writers)
				return st["edge_backlog"] == 0 && st["pending_edge_writes"].(int) > 0, fmt.Sprint(st)
			})
			failures = metricValue(t, h.s.env.m.edgeFailures)
			waitFor(t, 30*time.Second, func() (bool, string) {
				n := metricValue(t, h.s.env.m.edgeFailures) - failures
				return n >= 1, fmt.Sprintf("%v failed retries", n)
			})
			if got := h.dbEdges(); !sameEdges(got, before) {
				t.Fatalf("edges changed while the database could not be reached:%s", describe(got))
			}

			h.proxy.SetMode(faultproxy.Forward)
			h.waitEdgesAsDB(views)
			h.quiesce()
			h.waitEdgesAsDB(views)
			if h.tableExists(membership.UserTable("carol")) {
				t.Error("the deleted user's table exists after the outage")
			}
		})
	}
}

// A /reset while a writer holds writes it could not flush (its backoff during an outage)
// discards them: the reset fails at the database (it cannot empty the tables) but the writers
// hold nothing afterwards, and when the database answers again none of the discarded writes
// lands — not even with the next flush of the same table; the /reset sent again empties
// every table.
func TestResetDuringWriterBackoffDiscardsQueuedWrites(t *testing.T) {
	h := newHarness(t, harnessOpts{proxy: true})
	const table = "_00_list_ref_user_alice"
	h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("a", openThreads, "user:alice")
	h.waitEdgesAsDB([]testView{{"a", openThreads, "user:alice"}})
	h.quiesce()
	before := h.dbEdges()

	h.proxy.SetMode(faultproxy.Refuse)
	h.mustWrite("CREATE", "thread:2", map[string]any{"status": "open"}) // a|thread:2, never to be written
	waitFor(t, 30*time.Second, func() (bool, string) {
		st := h.writerState(table)
		return st["pending_writes"].(int) > 0 && st["failed_flushes"].(int64) > 0, fmt.Sprint(st)
	})
	if err := h.s.Reset(h.ctx); err == nil {
		t.Fatal("/reset succeeded while the database could not be reached")
	}
	if st := h.writerState(table); st["pending_writes"] != 0 || st["queued"] != 0 {
		t.Fatalf("the writer still holds writes after /reset: %v", st)
	}
	if n := h.describeActor(h.s.pids.writers)["pending_edge_writes"]; n != 0 {
		t.Errorf("writers report %v pending edge writes after /reset", n)
	}

	h.proxy.SetMode(faultproxy.Forward)
	// A later flush of the same table writes its own edge and nothing discarded.
	h.register("a2", openThreads, "user:alice")
	h.ingest("thread", "CREATE", "thread:3", map[string]any{"status": "open"})
	want := map[string][]string{table: append(append([]string(nil), before[table]...), "a2|||thread:3@1|client-a2|user:alice")}
	h.waitEdges(want)
	h.quiesce()
	if got := h.dbEdges(); !sameEdges(got, want) {
		t.Fatalf("after the outage:%s\nwant%s", describe(got), describe(want))
	}
	if err := h.s.Reset(h.ctx); err != nil {
		t.Fatalf("/reset once the database answers: %v", err)
	}
	h.waitEdges(map[string][]string{})
}

// Shutdown while the writers wait out their backoff (the database cannot be reached) drains
// them: it waits, and once the connection forwards again it returns with every queued write
// made. If the database never comes back, Shutdown gives up at its context's deadline (not
// later), and no goroutine of the actors is left running.
func TestShutdownDuringWriterBackoff(t *testing.T) {
	for _, back := range []bool{true, false} {
		t.Run(fmt.Sprintf("database back %v", back), func(t *testing.T) {
			before := goroutinesIn(nil)
			h := newHarness(t, harnessOpts{proxy: true})
			views := []testView{{"a", openThreads, "user:alice"}, {"all", "SELECT * FROM thread", ""}}
			for _, v := range views {
				h.register(v.key, v.surql, v.owner)
			}
			h.proxy.SetMode(faultproxy.Refuse)
			for i := 1; i <= 5; i++ {
				h.mustWrite("CREATE", fmt.Sprintf("thread:%d", i), map[string]any{"status": []string{"closed", "open"}[i%2]})
			}
			waitFor(t, 30*time.Second, func() (bool, string) {
				n := metricValue(t, h.s.env.m.edgeFailures)
				return n >= 2, fmt.Sprintf("%v failed flushes", n)
			})
			deadline := time.Minute
			if !back {
				deadline = 3 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- h.s.Shutdown(ctx) }()
			if back {
				waitFor(t, 10*time.Second, func() (bool, string) {
					return h.describeActor(h.s.pids.root)["closing"] == true, "shutdown not begun"
				})
				select {
				case err := <-done:
					t.Fatalf("Shutdown returned (%v) with edge writes queued and the database down", err)
				default:
				}
				h.proxy.SetMode(faultproxy.Forward)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(deadline + 10*time.Second):
				t.Fatalf("Shutdown did not return %s after its deadline", 10*time.Second)
			}
			if back {
				if err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				// Written before Shutdown returned: no waiting here.
				if want, got := h.dbAnswers(views), h.dbEdges(); !sameEdges(want, got) {
					t.Fatalf("after Shutdown: want%s\ngot%s", describe(want), describe(got))
				}
			} else {
				if err == nil {
					t.Fatal("Shutdown drained with the database down")
				}
				if took := time.Since(start); took > deadline+5*time.Second {
					t.Errorf("Shutdown returned %s after it began, its deadline was %s", took, deadline)
				}
			}
			waitGoroutinesGone(t, before)
		})
	}
}
