package actors

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	cmap "github.com/orcaman/concurrent-map"
)

// liveHeap is the heap in use after two full collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// warmRegistry makes the actor system's process registry allocate every map it will ever use. The
// registry is 1,024 × 32 Go maps, each allocated by the first actor or future id that lands in it
// and kept when emptied: ≈ 3.7 MB reached once over a few hundred thousand requests and never
// exceeded. Touching each map once up front lets the churn below measure what the SSP keeps.
func warmRegistry(t *testing.T, sys *actor.ActorSystem) {
	t.Helper()
	seen := map[*cmap.ConcurrentMapShared]bool{}
	want := len(sys.ProcessRegistry.LocalPIDs.LocalPIDs) * cmap.SHARD_COUNT
	for i := 0; len(seen) < want; i++ {
		key := fmt.Sprintf("warm$%d", i)
		bucket := sys.ProcessRegistry.LocalPIDs.GetBucket(key)
		if sh := bucket.GetShard(key); !seen[sh] {
			seen[sh] = true
			if bucket.SetIfAbsent(key, nil) {
				bucket.Remove(key)
			}
		}
	}
}

// Registering and unregistering views with ids never seen again leaves nothing behind: after the
// churn the live heap is back within a small bound of where it started (issue 9: every retired
// slot used to stay in the views actor's map, ≈ 7.8 KB a cycle).
func TestRegisterUnregisterChurnDoesNotLeak(t *testing.T) {
	cycles := 2000
	if testing.Short() {
		cycles = 500
	}
	h := newHarness(t, harnessOpts{})
	h.ingest("thread", "CREATE", "thread:1", map[string]any{"status": "open"})
	h.ingest("thread", "CREATE", "thread:2", map[string]any{"status": "closed"})
	h.register("keep", openThreads, "user:alice")
	churn := func(from, to int) {
		for i := from; i < to; i++ {
			key := fmt.Sprintf("churn-%d", i)
			h.register(key, openThreads, fmt.Sprintf("user:u%d", i%8))
			if err := h.s.Unregister(h.ctx, key); err != nil {
				t.Fatalf("unregister %s: %v", key, err)
			}
		}
	}
	warmRegistry(t, h.s.sys)
	// A warm-up lets every pool, map bucket and per-user writer reach its steady size.
	churn(0, 200)
	h.quiesce()
	before := liveHeap()
	start := time.Now()
	churn(200, 200+cycles)
	h.quiesce()
	after := liveHeap()
	growth := int64(after) - int64(before)
	t.Logf("%d register/unregister cycles in %s: live heap %.1f → %.1f MB (%+d B, %+.0f B/cycle)",
		cycles, time.Since(start).Round(time.Millisecond), float64(before)/1e6, float64(after)/1e6, growth, float64(growth)/float64(cycles))
	if limit := int64(cycles) * 256; growth > limit {
		t.Errorf("live heap grew %d B over %d cycles (> %d B: %d B a cycle is kept)", growth, cycles, limit, growth/int64(cycles))
	}
	views := h.describeActor(h.s.pids.views)
	if views["views"] != 1 || views["retiring"] != 0 {
		t.Errorf("views actor holds %v views and %v retiring, want 1 and 0", views["views"], views["retiring"])
	}
	h.waitEdges(map[string][]string{"_00_list_ref_user_alice": {"keep|||thread:1@1|client-keep|user:alice"}})
}
