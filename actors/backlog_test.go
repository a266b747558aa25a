package actors

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sp00ky/ssp/config"
)

// While the edge writers are more than Config.EdgeBacklog items behind, an ingest waits for
// them and then gives up with ErrBusy (503); once they catch up, ingests are accepted again.
func TestWriterBacklogHoldsIngestsBack(t *testing.T) {
	h := newHarness(t, harnessOpts{
		cfg: func(c *config.Config) { c.IngestWait = 200 * time.Millisecond; c.EdgeBacklog = 2 },
	})
	// Edge items wait for these versions, so they stay queued in the writer.
	h.exec("DEFINE TABLE _00_version SCHEMALESS; "+
		"FOR $i IN 1..=3 { CREATE _00_version SET record_id = type::record('thread', $i), version = 1 };", nil)
	h.register("threads", "SELECT * FROM thread", "user:alice")
	for i := 1; i <= 3; i++ {
		h.ingest("thread", "CREATE", fmt.Sprintf("thread:%d", i), map[string]any{"_00_rv": 2})
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		d := h.edgeBacklog()
		return d == 3, fmt.Sprintf("writer backlog %d, want 3 items waiting for _00_version", d)
	})
	start := time.Now()
	err := h.s.Ingest(h.ctx, h.change("thread", "CREATE", "thread:4", map[string]any{}), "")
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "edge writers 3 items behind") {
		t.Fatalf("ingest over the backlog bound: %v, want ErrBusy naming the backlog", err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("busy after %v, want it to wait IngestWait (200ms) first", waited)
	}
	h.exec("UPDATE _00_version SET version = 2", nil)
	waitFor(t, 30*time.Second, func() (bool, string) {
		d := h.edgeBacklog()
		return d == 0, fmt.Sprintf("writer backlog %d", d)
	})
	h.ingest("thread", "CREATE", "thread:4", map[string]any{})
	h.waitEdgesMatch()
}

// Deleting users whose tables no view writes to drops their tables without leaving a writer
// actor behind for each of them (a soak run with user churn grew by one actor per deletion).
func TestDeletedUsersLeaveNoWriters(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for i := range 5 {
		h.ingest("user", "CREATE", fmt.Sprintf("user:u%d", i), map[string]any{"name": "U"})
		h.ingest("user", "DELETE", fmt.Sprintf("user:u%d", i), nil)
	}
	for i := range 5 {
		table := fmt.Sprintf("_00_list_ref_user_u%d", i)
		waitFor(t, 10*time.Second, func() (bool, string) {
			return !h.tableExists(table), table + " still exists after its user was deleted"
		})
		waitFor(t, 10*time.Second, func() (bool, string) {
			list, err := request[*childList](h.ctx, h.s.sys.Root, h.s.pids.writers, &listChildrenReq{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range list.entries {
				if c.Name == table {
					return false, fmt.Sprintf("writer of %s still runs after the user's deletion (%s)", table, c.PID.Id)
				}
			}
			return true, ""
		})
	}
}
