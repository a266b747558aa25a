package engine_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/workload"
)

// setupBench loads rows initial rows and registers views views of the shared benchmark workload.
func setupBench(b *testing.B, views, rows int) (*engine.Engine, *workload.Workload) {
	b.Helper()
	w := workload.New(1, workload.Config{Views: views, Rows: rows})
	eng := engine.New(engine.Options{})
	for _, c := range w.Initial() {
		if _, err := eng.Apply(c); err != nil {
			b.Fatalf("initial row: %v", err)
		}
	}
	for _, v := range w.Views() {
		if _, err := eng.Register(v.ID, v.SurQL, v.Params); err != nil {
			b.Fatalf("register %s: %v", v.ID, err)
		}
	}
	return eng, w
}

// BenchmarkApply measures Engine.Apply throughput over the realistic mix of surreal/workload
// (per-user filters, top-k feeds, simple filters, thread detail with nested subqueries) for
// 10/100/1000 views over 1k/10k/100k rows. Besides ns/op and allocs/op it reports the p50 and
// p99 latency of one change.
func BenchmarkApply(b *testing.B) {
	for _, rows := range []int{1_000, 10_000, 100_000} {
		for _, views := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("views=%d/rows=%d", views, rows), func(b *testing.B) {
				eng, w := setupBench(b, views, rows)
				// Warm up: the stream's first changes may touch cold paths.
				for range 1000 {
					if _, err := eng.Apply(w.Next()); err != nil {
						b.Fatal(err)
					}
				}
				changes := make([]engine.Change, b.N)
				for i := range changes {
					changes[i] = w.Next()
				}
				lat := make([]time.Duration, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				for i, c := range changes {
					t0 := time.Now()
					if _, err := eng.Apply(c); err != nil {
						b.Fatal(err)
					}
					lat[i] = time.Since(t0)
				}
				b.StopTimer()
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
				b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
			})
		}
	}
}
