package actors

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/internal/faultproxy"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// mustWrite is write that fails the test on an error.
func (h *harness) mustWrite(op, id string, rec map[string]any) {
	h.t.Helper()
	if err := h.write(op, id, rec); err != nil {
		h.t.Fatalf("%s %s: %v", op, id, err)
	}
}

// marked reports whether the `_00_query` row of key is marked unregistered.
func (h *harness) marked(key string) bool {
	h.t.Helper()
	return h.queryRow(key).Get(membership.UnregisteredField).Kind() == value.KindDatetime
}

// A user DELETE drops the user's views first — memory, edges, `_00_query` rows marked — and
// then the user's table; nothing defines the table again, a registration owned by the deleted
// user is refused until the user is created again (issue 9: the views stayed live and the next
// matching ingest re-created the table with only the new row).
func TestUserDeleteDropsTheUsersViews(t *testing.T) {
	for _, mode := range []membership.RefMode{membership.RefDedicated, membership.RefSingle} {
		t.Run(string(mode), func(t *testing.T) {
			h := newHarness(t, harnessOpts{cfg: func(c *config.Config) { c.RefMode = mode }})
			h.mustWrite("CREATE", "user:alice", map[string]any{"name": "Alice"})
			h.mustWrite("CREATE", "user:bob", map[string]any{"name": "Bob"})
			h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
			h.register("a1", openThreads, "user:alice")
			h.register("a2", "SELECT * FROM user", "user:alice")
			h.register("b1", openThreads, "user:bob")
			h.register("users", "SELECT * FROM user", "")
			h.waitEdgesMatch()

			h.mustWrite("DELETE", "user:alice", nil)
			for _, k := range []string{"a1", "a2"} {
				if _, ok := h.s.DebugView(h.ctx, k); ok {
					t.Errorf("view %s of the deleted user is still registered", k)
				}
			}
			// A change the dropped views would have matched, right behind the DELETE.
			h.mustWrite("CREATE", "thread:2", map[string]any{"status": "open"})
			views := []testView{{"b1", openThreads, "user:bob"}, {"users", "SELECT * FROM user", ""}}
			h.waitEdgesAsDB(views)
			h.quiesce()
			h.waitEdgesAsDB(views)
			if h.tableExists("_00_list_ref_user_alice") {
				t.Error("the deleted user's table exists")
			}
			for _, k := range []string{"a1", "a2"} {
				if !h.marked(k) {
					t.Errorf("the _00_query row of %s is not marked unregistered", k)
				}
			}
			if h.marked("b1") {
				t.Error("bob's view was marked")
			}

			// Registering for the deleted user is refused and changes nothing.
			_, err := h.s.Register(h.ctx, h.req("a3", openThreads, "user:alice"))
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("register for a deleted user: %v, want ErrConflict", err)
			}
			if !h.queryRow("a3").IsNone() || h.tableExists("_00_list_ref_user_alice") {
				t.Error("a refused registration wrote its row or defined the table")
			}
			// Once the user is created again, it is accepted.
			h.mustWrite("CREATE", "user:alice", map[string]any{"name": "Alice again"})
			h.register("a3", openThreads, "user:alice")
			h.waitEdgesAsDB(append(views, testView{"a3", openThreads, "user:alice"}))
		})
	}
}

// A table removal that fails (the database is down) is retried until it succeeds.
func TestUserTableRemovalRetriedThroughOutage(t *testing.T) {
	h := newHarness(t, harnessOpts{proxy: true})
	h.mustWrite("CREATE", "user:carol", map[string]any{"name": "Carol"})
	h.register("c1", openThreads, "user:carol")
	h.waitEdgesMatch()
	if !h.tableExists("_00_list_ref_user_carol") {
		t.Fatal("carol's table was not defined")
	}
	h.proxy.SetMode(faultproxy.Refuse)
	dials := h.proxy.Accepted()
	h.exec("DELETE user:carol", nil)
	if err := h.s.Ingest(h.ctx, h.change("user", "DELETE", "user:carol", nil), ""); err != nil {
		t.Fatalf("ingest of the DELETE while the database is down: %v", err)
	}
	// The connection gives up after 3 dials; more dials mean the writer tried the removal again.
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := h.proxy.Accepted() - dials
		return n > 3, fmt.Sprintf("%d dials while the database is down", n)
	})
	if !h.tableExists("_00_list_ref_user_carol") {
		t.Fatal("the table went while the SSP could not reach the database")
	}
	h.proxy.SetMode(faultproxy.Forward)
	waitFor(t, time.Minute, func() (bool, string) {
		return !h.tableExists("_00_list_ref_user_carol"), "the table is still there after the outage"
	})
}

// The bootstrap drops the views and per-user tables of users deleted while the SSP was away
// (missing from the user table), and marks those views' rows.
func TestBootstrapDropsViewsOfDeletedUsers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.mustWrite("CREATE", "user:dave", map[string]any{"name": "Dave"})
	h.mustWrite("CREATE", "user:erin", map[string]any{"name": "Erin"})
	h.mustWrite("CREATE", "thread:1", map[string]any{"status": "open"})
	h.register("d1", openThreads, "user:dave")
	h.register("e1", openThreads, "user:erin")
	h.register("x1", openThreads, "team:ops") // not a user: kept
	h.waitEdgesMatch()
	h.quiesce()
	sctx, cancel := context.WithTimeout(h.ctx, time.Minute)
	defer cancel()
	if err := h.s.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	// Away: dave is deleted without the SSP hearing of it; an orphan table of a user deleted
	// long ago is still there.
	h.exec("DELETE user:dave", nil)
	if err := membership.DefineUserTable(h.ctx, h.db, "frank"); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.waitStatus(StatusReady)
	if _, ok := h.s.DebugView(h.ctx, "d1"); ok {
		t.Error("the view of the deleted user was restored")
	}
	for _, k := range []string{"e1", "x1"} {
		if _, ok := h.s.DebugView(h.ctx, k); !ok {
			t.Errorf("view %s was not restored", k)
		}
	}
	if !h.marked("d1") {
		t.Error("the deleted user's view row is not marked")
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		return !h.tableExists("_00_list_ref_user_dave") && !h.tableExists("_00_list_ref_user_frank"),
			"the orphan per-user tables are still there"
	})
	h.waitEdgesAsDB([]testView{{"e1", openThreads, "user:erin"}, {"x1", openThreads, "team:ops"}})
}
