package actors

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// testView is a view of the crash tests, whose edges are compared with SurrealDB's own answer.
type testView struct{ key, surql, owner string }

var crashViews = []testView{
	{"open_alice", "SELECT * FROM thread WHERE status = 'open'", "user:alice"},
	{"closed", "SELECT * FROM thread WHERE status = 'closed'", ""},
	{"open_bob", "SELECT * FROM thread WHERE status = 'open' ORDER BY n DESC LIMIT 3", "user:bob"},
}

// write makes a change in SurrealDB and ingests it, as Sp00ky's table events do; it returns
// the ingest's error.
func (h *harness) write(op, id string, rec map[string]any) error {
	h.t.Helper()
	rid, _ := value.ParseRecord(id)
	switch op {
	case "DELETE":
		h.exec("DELETE $id", map[string]any{"id": rid})
	default:
		h.exec("UPSERT $id CONTENT $c", map[string]any{"id": rid, "c": obj(h.t, rec)})
	}
	return h.s.Ingest(h.ctx, h.change(rid.Table(), op, id, rec), "")
}

// dbAnswers is what the edges of views must be according to SurrealDB's own answers.
func (h *harness) dbAnswers(views []testView) map[string][]string {
	h.t.Helper()
	out := map[string][]string{}
	for _, v := range views {
		rs := h.exec(v.surql, nil)
		table := membership.TableFor(h.s.env.cfg.RefMode, v.owner)
		for _, row := range rs[0].Value.Elems() {
			version := int64(1)
			if rv := row.Get("_00_rv"); rv.Kind() == value.KindInt {
				version = rv.AsInt()
			}
			m := engine.Member{Key: value.RecordString(row.Get("id")), Version: version}
			out[table] = append(out[table], edgeText(v.key, m, "client-"+v.key, v.owner))
		}
	}
	for t := range out {
		sort.Strings(out[t])
	}
	return out
}

// waitEdgesAsDB waits until the edges are exactly SurrealDB's answers to views.
func (h *harness) waitEdgesAsDB(views []testView) {
	h.t.Helper()
	waitFor(h.t, time.Minute, func() (bool, string) {
		want, got := h.dbAnswers(views), h.dbEdges()
		return sameEdges(want, got), "want" + describe(want) + "\ngot" + describe(got)
	})
}

// restartsOf sums the restarts /debug/actors reports for actors of kind.
func (h *harness) restartsOf(kind string) int {
	h.t.Helper()
	tree, err := h.s.DebugActors(h.ctx)
	if err != nil {
		h.t.Fatalf("debug actors: %v", err)
	}
	n := 0
	var walk func(ActorNode)
	walk = func(a ActorNode) {
		if a.Kind == kind {
			n += a.Restarts
		}
		for _, c := range a.Children {
			walk(c)
		}
	}
	walk(tree.Actors)
	return n
}

// Every kind of actor that can fail is made to fail once in the middle of a workload. Its
// supervisor restarts it (the restart shows in /debug/actors), the SSP heals — a view rebuilds
// itself from the engine, a writer resumes its queue, a failed coordinator makes the root
// re-bootstrap in process —, and afterwards every view's edges equal SurrealDB's own answer to
// the view: no edge row lost, duplicated or stale.
func TestEveryActorKindFailsAndTheTreeHeals(t *testing.T) {
	tests := []struct {
		label string // the subtest's name when the kind is tested more than once
		kind  string
		name  string // the actor's name in the hook ("" for any)
		msg   func(any) bool
		setup func(*config.Config)
		act   func(h *harness) // what makes the armed actor receive msg
		last  bool             // armed only for the last change (no later change repairs it)
	}{
		{kind: kindView, name: "open_alice", msg: is[*viewStep]},
		{kind: kindWriter, name: "_00_list_ref_user_alice", msg: is[*flushTick]},
		{label: "writer on an edge write", kind: kindWriter, name: "_00_list_ref_user_alice", msg: is[*edgeWrite], last: true},
		{kind: kindCoordinator, msg: is[*ingestReq]},
		{kind: kindVersions, msg: is[*versionEvent], setup: func(c *config.Config) { c.RVWaitTimeout = 200 * time.Millisecond }},
		{kind: kindFlusher, msg: is[*viewMetrics]},
		{kind: kindTTL, msg: is[*sweepTick], setup: func(c *config.Config) { c.TTLCleanupInterval = 50 * time.Millisecond }},
		{kind: kindQueries, msg: is[*writeQueryRow], act: func(h *harness) {
			// The registration whose row write fails is refused and its view dropped.
			if _, err := h.s.Register(h.ctx, h.req("late", "SELECT * FROM thread", "user:carol")); err == nil {
				h.t.Error("a registration whose row write crashed succeeded")
			}
			h.register("late", "SELECT * FROM thread", "user:carol")
		}},
	}
	for _, tt := range tests {
		label := tt.kind
		if tt.label != "" {
			label = tt.label
		}
		t.Run(label, func(t *testing.T) {
			var armed atomic.Bool
			h := newHarness(t, harnessOpts{
				cfg: func(c *config.Config) {
					if tt.setup != nil {
						tt.setup(c)
					}
				},
				deps: func(d *Deps) {
					d.Hooks.Receive = func(kind, name string, msg any) {
						if kind == tt.kind && (tt.name == "" || name == tt.name) && tt.msg(msg) && armed.CompareAndSwap(true, false) {
							panic("injected " + kind + " failure")
						}
					}
				},
			})
			views := append([]testView(nil), crashViews...)
			for i := 1; i <= 6; i++ {
				if err := h.write("CREATE", fmt.Sprintf("thread:%d", i), map[string]any{"status": []string{"open", "closed"}[i%2], "n": i}); err != nil {
					t.Fatal(err)
				}
			}
			for _, v := range views {
				h.register(v.key, v.surql, v.owner)
			}
			h.waitEdgesAsDB(views)

			armed.Store(!tt.last)
			if tt.act != nil {
				tt.act(h)
				views = append(views, testView{"late", "SELECT * FROM thread", "user:carol"})
			}
			// Changes go on while (and after) the actor fails; the coordinator's failure refuses
			// the change it was stepping (SurrealDB has it: the re-bootstrap loads it).
			for i := 0; i < 40; i++ {
				id := fmt.Sprintf("thread:%d", 1+i%8)
				rec := map[string]any{"status": []string{"open", "closed"}[(i/3)%2], "n": i, "_00_rv": i + 2}
				if tt.kind != kindVersions {
					delete(rec, "_00_rv")
				}
				op := "UPDATE"
				if i%7 == 6 {
					op, rec = "DELETE", nil
				}
				for {
					err := h.write(op, id, rec)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrNotReady) || tt.kind != kindCoordinator {
						t.Fatalf("ingest %d: %v", i, err)
					}
					h.waitStatus(StatusReady) // the re-bootstrap after the coordinator's failure
				}
			}
			if tt.last {
				h.quiesce()
				armed.Store(true)
				if err := h.write("CREATE", "thread:99", map[string]any{"status": "open", "n": 99}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 30*time.Second, func() (bool, string) { return !armed.Load(), "the armed actor never received its message" })
			h.waitStatus(StatusReady)
			h.waitEdgesAsDB(views)
			if n := h.restartsOf(tt.kind); n != 1 {
				t.Errorf("/debug/actors shows %d restarts of %s actors, want 1", n, tt.kind)
			}
			if n := metricValue(t, h.s.env.m.restarts.WithLabelValues(tt.kind)); n != 1 {
				t.Errorf("ssp_actor_restarts_total{kind=%q} = %v, want 1", tt.kind, n)
			}
			// The healed tree keeps working.
			if err := h.write("CREATE", "thread:100", map[string]any{"status": "open", "n": 100}); err != nil {
				t.Fatal(err)
			}
			h.waitEdgesAsDB(views)
			if tt.kind == kindTTL {
				// The restarted sweeper sweeps.
				expired := h.req("expired", "SELECT * FROM thread", "")
				expired.TTL, expired.LastActiveAt = time.Second, time.Now().Add(-time.Hour)
				if _, err := h.s.Register(h.ctx, expired); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 30*time.Second, func() (bool, string) {
					_, ok := h.s.DebugView(h.ctx, "expired")
					return !ok, "the expired view is still registered"
				})
			}
		})
	}
}

func is[T any](msg any) bool {
	_, ok := msg.(T)
	return ok
}

// /debug/actors shows the supervision tree as it runs: every fixed actor, one actor per view
// and per list_ref table, each with its mailbox, restarts and its own state summary.
func TestDebugActorsShowsTheLiveTree(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("a", openThreads, "user:alice")
	h.register("b", openThreads, "")
	h.waitEdgesMatch()
	tree, err := h.s.DebugActors(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	root := tree.Actors
	if root.Kind != kindRoot || root.State["status"] != StatusReady {
		t.Fatalf("root %+v", root)
	}
	kinds := func(ns []ActorNode) string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Kind+":"+n.Name)
		}
		return strings.Join(out, ",")
	}
	if got := kinds(root.Children); got != "coordinator:coordinator,housekeeping:housekeeping,versions:versions,views:views,writers:writers" {
		t.Errorf("root's children %s", got)
	}
	count := 1
	for _, c := range root.Children {
		count++
		if c.State == nil || c.StateError != "" || c.PID == "" || c.Mailbox < 0 {
			t.Errorf("%s: no state (%s) %+v", c.Kind, c.StateError, c)
		}
		switch c.Kind {
		case kindCoordinator:
			if c.State["views"] != 2 || c.State["accepting"] != true {
				t.Errorf("coordinator state %v", c.State)
			}
		case kindViews:
			if got := kinds(c.Children); got != "view:a,view:b" {
				t.Errorf("view actors %s", got)
			}
			for _, v := range c.Children {
				if v.State["members"] != 1 || v.Restarts != 0 {
					t.Errorf("view %s: %+v", v.Name, v)
				}
			}
		case kindWriters:
			if got := kinds(c.Children); got != "writer:_00_list_ref,writer:_00_list_ref_user_alice" {
				t.Errorf("writer actors %s", got)
			}
		case kindHousekeeping:
			if got := kinds(c.Children); got != "dbwatch:dbwatch,metrics:metrics,queries:queries,schema:schema,ttl:ttl" {
				t.Errorf("housekeeping actors %s", got)
			}
		}
		count += len(c.Children)
	}
	if tree.Count != count {
		t.Errorf("count %d, the tree has %d actors", tree.Count, count)
	}
}
