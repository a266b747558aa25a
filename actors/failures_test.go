package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// Failure paths and races of the actor tree, each pinned by a test that failed before its fix.

// quiesce waits until no actor of the tree has a message waiting and the writers hold nothing
// (two walks of /debug/actors in a row).
func (h *harness) quiesce() {
	h.t.Helper()
	h.quiesceExcept(func(ActorNode) bool { return false })
}

// quiesceExcept is quiesce leaving out the actors skip names (during an outage some actors,
// such as the metrics flusher, never calm down).
func (h *harness) quiesceExcept(skip func(ActorNode) bool) {
	h.t.Helper()
	calm := 0
	waitFor(h.t, time.Minute, func() (bool, string) {
		tree, err := h.s.DebugActors(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		busy := ""
		var walk func(ActorNode)
		walk = func(n ActorNode) {
			if skip(n) {
				return
			}
			if n.Mailbox > 0 {
				busy += fmt.Sprintf(" %s:%s=%d", n.Kind, n.Name, n.Mailbox)
			}
			if q, ok := n.State["queued"].(int); ok && q > 0 {
				busy += fmt.Sprintf(" %s:%s queued %d", n.Kind, n.Name, q)
			}
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(tree.Actors)
		if busy != "" {
			calm = 0
			return false, "busy:" + busy
		}
		calm++
		return calm >= 2, "one calm walk"
	})
}

func (h *harness) discardedWrites() int64 {
	h.t.Helper()
	return h.describeActor(h.s.pids.writers)["writes_discarded"].(int64)
}

// A user DELETE removes the user's table, and the edge writes of that very step — sent by the
// user's views on a path the removal does not wait for — never define it again.
func TestUserDeleteTableStaysRemoved(t *testing.T) {
	var slow atomic.Bool
	h := newHarness(t, harnessOpts{deps: func(d *Deps) {
		d.Hooks.ViewDelta = func(key string, _ engine.Delta) {
			if key == "me" && slow.Load() {
				time.Sleep(300 * time.Millisecond) // a view actor behind on its mailbox
			}
		}
	}})
	h.ingest("user", "CREATE", "user:alice", map[string]any{"name": "A"})
	h.register("me", "SELECT * FROM user", "user:alice")
	h.waitEdgesMatch()
	slow.Store(true)
	h.ingest("user", "DELETE", "user:alice", nil)
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := h.discardedWrites()
		return n >= 1, fmt.Sprintf("%d late writes discarded", n)
	})
	h.quiesce()
	if h.tableExists("_00_list_ref_user_alice") {
		t.Error("the deleted user's table was defined again by the step's late edge write")
	}
}

// The same for many users at once, with nothing slowed down.
func TestUserDeletesLeaveNoTables(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	const n = 30
	for i := range n {
		h.ingest("user", "CREATE", fmt.Sprintf("user:u%d", i), map[string]any{"name": "A"})
		h.register(fmt.Sprintf("me%d", i), "SELECT * FROM user", fmt.Sprintf("user:u%d", i))
	}
	h.waitEdgesMatch()
	for i := range n {
		h.ingest("user", "DELETE", fmt.Sprintf("user:u%d", i), nil)
	}
	h.quiesce()
	for i := range n {
		if table := fmt.Sprintf("_00_list_ref_user_u%d", i); h.tableExists(table) {
			t.Errorf("%s exists after its user was deleted", table)
		}
	}
}

// The TTL sweep's removal of an owner's table, once no view of them is left, is not undone by
// the expired view's own edge removal arriving later.
func TestTTLTableRemovalStays(t *testing.T) {
	h := newHarness(t, harnessOpts{
		cfg: func(c *config.Config) { c.TTLCleanupInterval = 50 * time.Millisecond },
		deps: func(d *Deps) {
			d.Hooks.Receive = func(kind, name string, msg any) {
				if kind == kindView && name == "old" && is[*retireMsg](msg) {
					time.Sleep(time.Second) // a view actor behind on its mailbox
				}
			}
		},
	})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	expired := h.req("old", openThreads, "user:bob")
	expired.TTL, expired.LastActiveAt = time.Second, time.Now().Add(-time.Hour)
	if _, err := h.s.Register(h.ctx, expired); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		_, ok := h.s.DebugView(h.ctx, "old")
		return !ok && h.queryRow("old").IsNone() && h.discardedWrites() >= 1, "the view, its row or its late removal is still there"
	})
	h.quiesce()
	if h.tableExists("_00_list_ref_user_bob") {
		t.Error("bob's table exists after the TTL sweep removed his last view")
	}
}

// A user deleted and created again at once keeps the table of the new sign-up: the table
// definition the sign-up sends runs after the removal still queued in the writer (which waits
// behind a write that waits for its row's version).
func TestSignUpAfterDeleteKeepsTheTable(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.exec("DEFINE TABLE _00_version SCHEMALESS; CREATE _00_version SET record_id = thread:1, version = 1", nil)
	h.ingest("user", "CREATE", "user:alice", map[string]any{"name": "A"})
	h.register("t", "SELECT * FROM thread", "user:alice")
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"_00_rv": 2}) // holds the writer's queue
	waitFor(t, 10*time.Second, func() (bool, string) {
		n := h.describeActor(h.s.pids.writers)["edge_backlog"]
		return n == 1, fmt.Sprintf("writers' backlog %v, want the write waiting for its version", n)
	})
	// The write waits for its version, so the removal queues behind it.
	h.ingest("user", "DELETE", "user:alice", nil)
	signedUp := make(chan error, 1)
	go func() {
		signedUp <- h.s.Ingest(h.ctx, h.change("user", "CREATE", "user:alice", map[string]any{"name": "A again"}), "")
	}()
	h.exec("UPDATE _00_version SET version = 2 WHERE record_id = thread:1", nil)
	if err := <-signedUp; err != nil {
		t.Fatal(err)
	}
	// The sign-up does not wait for the definition (no database round trip inside /ingest);
	// the writer makes it after the removal.
	waitFor(t, 10*time.Second, func() (bool, string) {
		return h.tableExists("_00_list_ref_user_alice"), "no table after the sign-up"
	})
	h.quiesce()
	if !h.tableExists("_00_list_ref_user_alice") {
		t.Error("the table of the new sign-up was removed after the sign-up was answered")
	}
}

// A view actor that fails on its retirement is told again: it stops, a new registration of its
// key starts, and shutdown drains.
func TestViewFailingOnRetireStillRetires(t *testing.T) {
	for _, newQuery := range []bool{false, true} {
		t.Run(fmt.Sprintf("new query %v", newQuery), func(t *testing.T) {
			var armed atomic.Bool
			h := newHarness(t, harnessOpts{deps: func(d *Deps) {
				d.Hooks.Receive = func(kind, name string, msg any) {
					if kind == kindView && name == "v" && is[*retireMsg](msg) && armed.CompareAndSwap(true, false) {
						panic("injected view failure on retire")
					}
				}
			}})
			h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
			h.mustWrite("CREATE", "thread:2", map[string]any{"status": "closed"})
			h.register("v", openThreads, "user:alice")
			h.quiesce()
			h.waitEdgesAsDB([]testView{{"v", openThreads, "user:alice"}})
			armed.Store(true)
			if err := h.s.Unregister(h.ctx, "v"); err != nil {
				t.Fatal(err)
			}
			q := openThreads
			if newQuery {
				q = "SELECT * FROM thread WHERE status = 'closed'"
			}
			h.register("v", q, "user:alice")
			h.mustWrite("CREATE", "thread:3", map[string]any{"status": "closed"})
			waitFor(t, 30*time.Second, func() (bool, string) {
				d, ok := h.s.DebugView(h.ctx, "v")
				return ok && d.Actor.PID != "", fmt.Sprintf("the re-registered view has no actor: %+v", d.Actor)
			})
			h.quiesce()
			h.waitEdgesAsDB([]testView{{"v", q, "user:alice"}})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := h.s.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
}

// A view actor that fails on the replacement that moves it to another owner is rebuilt with
// the whole registration: its edges move to the new owner's table.
func TestViewFailingOnReplaceMovesItsEdges(t *testing.T) {
	var armed atomic.Bool
	h := newHarness(t, harnessOpts{deps: func(d *Deps) {
		d.Hooks.Receive = func(kind, name string, msg any) {
			if kind == kindView && name == "v" && is[*replaceView](msg) && armed.CompareAndSwap(true, false) {
				panic("injected view failure on replace")
			}
		}
	}})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("v", openThreads, "user:alice")
	h.waitEdgesMatch()
	armed.Store(true)
	h.register("v", openThreads, "user:bob")
	h.waitEdges(map[string][]string{"_00_list_ref_user_bob": {"v|||thread:1@1|client-v|user:bob"}})
	if armed.Load() {
		t.Fatal("the hook never fired")
	}
}

// A failure does not leave a phantom message in the mailbox depth.
func TestMailboxDepthAfterFailure(t *testing.T) {
	var armed atomic.Bool
	h := newHarness(t, harnessOpts{deps: func(d *Deps) {
		d.Hooks.Receive = func(kind, name string, msg any) {
			if kind == kindView && name == "v" && is[*viewStep](msg) && armed.CompareAndSwap(true, false) {
				panic("injected view failure")
			}
		}
	}})
	h.register("v", openThreads, "")
	armed.Store(true)
	h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
	h.waitEdgesAsDB([]testView{{"v", openThreads, ""}})
	h.quiesce() // fails while any mailbox shows a message
	if h.restartsOf(kindView) != 1 {
		t.Errorf("view restarts %d, want 1", h.restartsOf(kindView))
	}
}

// A writerIdle that is not from the table's current writer (a stale one) stops nothing.
func TestStaleWriterIdleStopsNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	const table = "_00_list_ref_user_zed"
	root, w := h.s.sys.Root, h.s.pids.writers
	if _, err := request[*done](h.ctx, root, w, &ensureTableReq{table: table}); err != nil {
		t.Fatal(err)
	}
	// routed is 1 (the definition); an idle of an older writer with the same count arrives.
	root.Send(w, &writerIdle{table: table, pid: actor.NewPID(h.s.sys.Address(), "ssp/writers/old"), received: 1})
	root.Send(w, &edgeWrite{table: table, kind: opDelta, view: "v", delta: membership.ViewDelta{ViewKey: "v", ClientID: "c", AuthID: "user:zed",
		Delta: engine.Delta{View: "v", Added: []engine.Member{{Key: "thread:2", Version: 1}}}}})
	h.waitEdges(map[string][]string{table: {"v|||thread:2@1|c|user:zed"}})
	if n := h.edgeBacklog(); n != 0 {
		t.Errorf("writers' backlog %d with nothing queued", n)
	}
}

// A coordinator that fails on a bootstrap's request answers it with the failure, so the
// bootstrap retries at once instead of waiting for the request's timeout; the SSP gets ready.
func TestCoordinatorFailingDuringBootstrap(t *testing.T) {
	var armed atomic.Bool
	armed.Store(true)
	h := newHarness(t, harnessOpts{
		noReady: true,
		seed: func(h *harness) {
			h.exec("CREATE thread:1 SET status = 'open'; CREATE thread:2 SET status = 'open'; CREATE thread:3 SET status = 'open'", nil)
		},
		deps: func(d *Deps) {
			d.Hooks.Receive = func(kind, name string, msg any) {
				if kind == kindCoordinator && is[*loadRowsReq](msg) && armed.CompareAndSwap(true, false) {
					panic("injected coordinator failure")
				}
			}
		},
	})
	waitFor(t, 20*time.Second, func() (bool, string) { st := h.s.Status(); return st == StatusReady, "status " + string(st) })
	if armed.Load() {
		t.Fatal("the hook never fired")
	}
}

// A job that fails is not restarted from its first attempt forever: it ends, and a bootstrap
// that fails so leaves the SSP failed.
func TestFailingBootstrapJobEnds(t *testing.T) {
	h := newHarness(t, harnessOpts{noReady: true, deps: func(d *Deps) {
		d.BootstrapAttempts = 2
		d.Hooks.Receive = func(kind, name string, msg any) {
			if kind == kindJob && is[*runAttempt](msg) {
				panic("injected: a row the loader cannot take")
			}
		}
	}})
	h.waitStatus(StatusFailed)
	if n := metricValue(t, h.s.env.m.restarts.WithLabelValues(kindJob)); n != 0 {
		t.Errorf("the job was restarted %v times", n)
	}
}

type crashMsg struct{}

// A coordinator restarted during a re-bootstrap (empty engine) makes that attempt fail instead
// of going on over a partial engine: no edge is ever removed on the way, and the SSP ends
// ready with every member.
func TestCoordinatorRestartDuringRebootstrap(t *testing.T) {
	var hs atomic.Pointer[harness]
	var loads atomic.Int32
	var armed atomic.Bool
	h := newHarness(t, harnessOpts{
		cfg: func(c *config.Config) { c.BootstrapPageSize = 2 },
		deps: func(d *Deps) {
			d.Hooks.Receive = func(kind, name string, msg any) {
				if kind != kindCoordinator || !armed.Load() {
					return
				}
				if is[*loadRowsReq](msg) && loads.Add(1) == 2 {
					h := hs.Load()
					h.s.sys.Root.Send(h.s.pids.coordinator, &crashMsg{}) // after this page
				}
				if is[*crashMsg](msg) {
					armed.Store(false)
					panic("injected coordinator failure")
				}
			}
		},
	})
	hs.Store(h)
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("thread:%d", i)
		h.exec("CREATE type::record($id) SET status = 'open'", map[string]any{"id": id})
		h.ingest("thread", "CREATE", id, map[string]any{"status": "open"})
	}
	h.register("v", openThreads, "")
	h.quiesce()
	h.waitEdgesAsDB([]testView{{"v", openThreads, ""}})
	stop := make(chan struct{})
	fewest := make(chan int, 1)
	go func() {
		least := 6
		for {
			select {
			case <-stop:
				fewest <- least
				return
			default:
			}
			rs, err := h.db.Query(context.Background(), "SELECT VALUE id FROM _00_list_ref", nil)
			if err == nil && rs[0].Err == nil {
				least = min(least, rs[0].Value.Len())
			}
		}
	}()
	armed.Store(true)
	err := h.s.Rebootstrap(h.ctx)
	if err != nil && !errors.Is(err, ErrNotReady) {
		t.Fatal(err)
	}
	// The root follows the coordinator's failure with a re-bootstrap of its own: wait for it.
	waitFor(t, time.Minute, func() (bool, string) {
		st := h.describeActor(h.s.pids.root)
		return st["job"] == nil && st["jobs_queued"] == 0 && st["status"] == StatusReady, fmt.Sprint(st)
	})
	h.quiesce()
	h.waitEdgesAsDB([]testView{{"v", openThreads, ""}})
	close(stop)
	if n := <-fewest; n != 6 {
		t.Errorf("the database went down to %d of 6 edges during the re-bootstrap", n)
	}
	if n := len(h.engineEdges()["_00_list_ref"]); n != 6 {
		t.Errorf("%d of 6 members in the engine", n)
	}
}

type blockingSource struct{}

func (blockingSource) QueryValue(ctx context.Context, _ string, _ map[string]value.Value) (value.Value, error) {
	<-ctx.Done()
	return value.Value{}, ctx.Err()
}

// Shutdown during the first bootstrap cancels it and stops cleanly.
func TestShutdownDuringFirstBootstrap(t *testing.T) {
	h := newHarness(t, harnessOpts{noReady: true, deps: func(d *Deps) { d.Source = blockingSource{} }})
	waitFor(t, 10*time.Second, func() (bool, string) {
		st := h.describeActor(h.s.pids.root)
		return st["job"] != nil, "no job runs"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown during the first bootstrap: %v", err)
	}
}

// A user CREATE is answered without a database round trip (issue 10: it used to wait for
// DEFINE TABLE), and the guarantee stays: the user's list_ref table exists before anything of
// the user's can be read — a registration of the user's view is answered only once the table
// is defined, and the view's edges follow the definition.
func TestUserCreateDoesNotWaitForItsTable(t *testing.T) {
	release := make(chan struct{})
	var held atomic.Bool
	h := newHarness(t, harnessOpts{beforeStart: func(h *harness) {
		h.deps.DB = tapDB{Database: h.deps.DB, onQuery: func(q string) {
			if strings.Contains(q, "DEFINE TABLE OVERWRITE _00_list_ref_user_alice ") {
				held.Store(true)
				<-release // the database is slow to define the table
			}
		}}
	}})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the harness stops (cleanups run last-in first-out)
	h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
	signedUp := make(chan error, 1)
	go func() {
		signedUp <- h.s.Ingest(h.ctx, h.change("user", "CREATE", "user:alice", map[string]any{"name": "A"}), "")
	}()
	select {
	case err := <-signedUp:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		unblock()
		t.Fatal("the user CREATE waited for its table's definition")
	}
	waitFor(t, 10*time.Second, func() (bool, string) { return held.Load(), "the table's definition was not started" })
	registered := make(chan error, 1)
	go func() {
		_, err := h.s.Register(h.ctx, h.req("open_alice", openThreads, "user:alice"))
		registered <- err
	}()
	unblock()
	if err := <-registered; err != nil {
		t.Fatal(err)
	}
	if !h.tableExists("_00_list_ref_user_alice") {
		t.Fatal("the view of alice was registered before her table was defined")
	}
	h.waitEdgesAsDB([]testView{{"open_alice", openThreads, "user:alice"}})
}
