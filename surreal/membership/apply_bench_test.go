package membership

import (
	"fmt"
	"testing"

	"github.com/sp00ky/ssp/surreal/engine"
)

// BenchmarkWriterApply measures what recording deltas in the Writer's mirror and queue costs,
// without the database: a view of 200 members (20 of them with 5 subquery members each) gets
// deltas that change the version of 10 members, add one and remove one; the queue is emptied
// every 100 deltas, as flushes do. Per op: one delta.
//
//	go test -run '^$' -bench WriterApply -count 6 ./surreal/membership/
func BenchmarkWriterApply(b *testing.B) {
	w := NewWriter(nil, GlobalTable, WriterOptions{})
	var ms []engine.Member
	for i := range 200 {
		ms = append(ms, top(fmt.Sprintf("thread:%d", i), 1))
		if i < 20 {
			for j := range 5 {
				ms = append(ms, sub(fmt.Sprintf("thread:%d", i), "comments", fmt.Sprintf("comment:%d", i*5+j), 1))
			}
		}
	}
	w.apply(&ViewDelta{ViewKey: "v", ClientID: "c", AuthID: "user:a", Delta: engine.Delta{Added: ms}})
	deltas := make([]ViewDelta, 100)
	for n := range deltas {
		d := engine.Delta{
			Added:   []engine.Member{top(fmt.Sprintf("thread:%d", 1000+n), 1)},
			Removed: []engine.Member{top(fmt.Sprintf("thread:%d", 1000+n-1), 1)},
		}
		for i := range 10 {
			d.Updated = append(d.Updated, ms[(n*10+i)%len(ms)])
			d.Updated[i].Version = int64(2 + n)
		}
		deltas[n] = ViewDelta{ViewKey: "v", ClientID: "c", AuthID: "user:a", Delta: d}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w.apply(&deltas[i%len(deltas)])
		if i%len(deltas) == len(deltas)-1 {
			w.classify()
			w.queue.reset()
		}
	}
}
