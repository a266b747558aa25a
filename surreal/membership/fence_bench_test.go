package membership

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// BenchmarkFenceGuard measures what the ownership guard costs a flush: in one sitting, on the
// same table and the same edges, a Writer without an Owner (the unguarded transaction of
// standalone mode) and one with an Owner (every view behind the guard, none fenced) rewrite
// every edge of the views in turn, alternating which goes first. It reports the median time of
// a flush of each and the guard's overhead. The `_00_query` rows are full registration rows.
//
//	go test -run '^$' -bench FenceGuard -benchtime 200x ./surreal/membership/
func BenchmarkFenceGuard(b *testing.B) {
	for _, sh := range []struct{ views, edges int }{{1, 1}, {1, 50}, {10, 10}, {50, 2}, {100, 5}} {
		b.Run(fmt.Sprintf("views=%d/edges=%d", sh.views, sh.edges), func(b *testing.B) {
			e := newEnv(b, WriterOptions{})
			check := func(err error) {
				if err != nil {
					b.Fatal(err)
				}
			}
			check(DefineGlobalTable(e.ctx, e.q))
			keys := make([]string, sh.views)
			for v := range keys {
				keys[v] = fmt.Sprintf("view-%03d", v)
				check(e.s.UpsertQuery(e.ctx, QueryRow{Key: keys[v], SurQL: "SELECT * FROM thread WHERE author = $user",
					Params:   value.ObjectOf([]value.Field{{Key: "user", Val: value.Record("user", value.String("alice"))}}),
					ClientID: "c", AuthID: "user:alice", TTL: time.Hour, LastActiveAt: time.Now(), SSPID: "ssp-A"}))
			}
			batch := func(version int64, added bool) []ViewDelta {
				out := make([]ViewDelta, len(keys))
				for v, k := range keys {
					ms := make([]engine.Member, sh.edges)
					for i := range ms {
						ms[i] = top(fmt.Sprintf("thread:%d", i), version)
					}
					out[v] = ViewDelta{ViewKey: k, ClientID: "c", AuthID: "user:alice"}
					if added {
						out[v].Delta.Added = ms
					} else {
						out[v].Delta.Updated = ms
					}
				}
				return out
			}
			plain := e.owned(GlobalTable, "", WriterOptions{})
			guarded := e.owned(GlobalTable, "ssp-A", WriterOptions{})
			check(plain.ApplyDeltas(e.ctx, batch(1, true)))
			check(guarded.ApplyDeltas(e.ctx, batch(1, true)))
			var tPlain, tGuarded []time.Duration
			run := func(w *Writer, version int64, into *[]time.Duration) {
				start := time.Now()
				check(w.ApplyDeltas(e.ctx, batch(version, false)))
				*into = append(*into, time.Since(start))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v := int64(2*i + 2)
				if i%2 == 0 {
					run(plain, v, &tPlain)
					run(guarded, v+1, &tGuarded)
				} else {
					run(guarded, v, &tGuarded)
					run(plain, v+1, &tPlain)
				}
			}
			b.StopTimer()
			if got := guarded.TakeFenced(); got != nil {
				b.Fatalf("views fenced: %v", got)
			}
			p, g := median(tPlain), median(tGuarded)
			b.ReportMetric(float64(p.Microseconds()), "unguarded-µs/flush")
			b.ReportMetric(float64(g.Microseconds()), "guarded-µs/flush")
			b.ReportMetric(100*(float64(g)/float64(p)-1), "overhead-%")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
