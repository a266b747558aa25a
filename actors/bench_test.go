package actors

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// BenchmarkIngest measures Ingest (accept → every affected view applied in memory) with 100
// registered views, from parallel callers; edges are written to devdb in the background.
func BenchmarkIngest(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	for i := 0; i < 100; i++ {
		q := fmt.Sprintf("SELECT * FROM thread WHERE board = %d ORDER BY n DESC LIMIT 10", i%20)
		if i%2 == 1 {
			q = fmt.Sprintf("SELECT * FROM thread WHERE board = %d AND n > %d", i%20, i)
		}
		if _, err := h.s.Register(h.ctx, h.req(fmt.Sprintf("v%d", i), q, fmt.Sprintf("user:u%d", i%10))); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			rec := value.ObjectOf([]value.Field{{Key: "board", Val: value.Int(i % 20)}, {Key: "n", Val: value.Int(i % 200)}})
			c, err := engine.NewChange("thread", "UPDATE", fmt.Sprintf("thread:%d", i%5000), rec)
			if err != nil {
				b.Error(err)
				return
			}
			if err := h.s.Ingest(h.ctx, c, ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ingests/s")
	// How long the writers need after the last ingest to have every edge in the database.
	drainStart := time.Now()
	if err := h.s.Shutdown(h.ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(drainStart).Milliseconds()), "drain-ms")
	var edges float64
	for _, k := range []string{"add", "update", "remove"} {
		edges += metricValue(b, h.s.env.m.edgeWrites.WithLabelValues(k))
	}
	b.ReportMetric(edges, "edge-writes")
}
