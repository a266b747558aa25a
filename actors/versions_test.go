package actors

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The `_00_rv` waits that fall due while a poll is out are polled together, in one query: 40
// versioned changes while the first poll is held cost two poll queries, not 40, and every
// edge is written once its version is visible.
func TestVersionWaitsArePolledTogether(t *testing.T) {
	const n = 40
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	var polls, polled atomic.Int64
	h := newHarness(t, harnessOpts{beforeStart: func(h *harness) {
		h.deps.DB = tapDB{Database: h.deps.DB, onQuery: func(q string) {
			if k := strings.Count(q, "FROM ONLY _00_version"); k > 0 {
				if polls.Add(1) == 1 {
					<-release // the first poll is slow
				}
				polled.Add(int64(k))
			}
		}}
	}})
	t.Cleanup(unblock)
	h.exec("DEFINE TABLE _00_version SCHEMALESS; DEFINE INDEX rid ON _00_version COLUMNS record_id UNIQUE", nil)
	h.register("all", "SELECT * FROM thread", "")
	for i := 1; i <= n; i++ {
		h.exec("CREATE _00_version SET record_id = type::record('thread', $i), version = 3", map[string]any{"i": i})
		h.mustWrite("CREATE", fmt.Sprintf("thread:%d", i), map[string]any{"_00_rv": 3})
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		return polls.Load() == 1, fmt.Sprintf("%d poll queries, want the first one held", polls.Load())
	})
	unblock()
	h.waitEdgesMatch()
	if q, k := polls.Load(), polled.Load(); q != 2 || k != n {
		t.Errorf("%d poll queries for %d records' versions, want 2 for %d (the first held, the rest together)", q, k, n)
	}
}
