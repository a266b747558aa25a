package actors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
)

// memberID identifies a member within a view: a record at one (parent, rel) position.
type memberID struct{ parent, rel, key string }

func idOf(m engine.Member) memberID { return memberID{m.Parent, m.Rel, m.Key} }

// latencyWindow is the number of step latencies the percentiles are computed over.
const latencyWindow = 100

// viewStats are a view's metrics (SPEC §2.1), flushed to its `_00_query` row when dirty.
type viewStats struct {
	rowCount    int
	updateCount int64
	lastLatency float64 // ms
	samples     [latencyWindow]float64
	n, next     int
	dirty       bool
}

func (st *viewStats) record(latencyMS float64, rowCount int) {
	st.rowCount = rowCount
	st.updateCount++
	st.lastLatency = latencyMS
	st.samples[st.next] = latencyMS
	st.next = (st.next + 1) % latencyWindow
	st.n = min(st.n+1, latencyWindow)
	st.dirty = true
}

// percentiles returns p55, p90 and p99 of the window (the sample at index min(floor(q·n), n−1)
// of the sorted window); NaN when the window is empty.
func (st *viewStats) percentiles() (p55, p90, p99 float64) {
	if st.n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	s := make([]float64, st.n)
	copy(s, st.samples[:st.n])
	sort.Float64s(s)
	at := func(q float64) float64 { return s[min(int(math.Floor(q*float64(st.n))), st.n-1)] }
	return at(0.55), at(0.90), at(0.99)
}

// viewSlot is the state of one view that outlives its actor's incarnations: a restarted actor
// finds in it what it had published, so it can emit exactly the difference to the truth.
type viewSlot struct {
	key string

	// Owned by the view actor's goroutine (one incarnation at a time).
	table            string
	writer           *actor.PID
	clientID, authID string
	cache            map[memberID]engine.Member // the published membership
	top              int                        // top-level members in cache
	generation       uint64                     // bumped whenever cache changes
	started          bool                       // an incarnation has started before
	initial          bool                       // the first incarnation writes the whole membership
	after            <-chan struct{}            // the previous incarnation's retirement (same key)

	queued   atomic.Int64 // steps sent to the actor and not yet processed
	restarts atomic.Int64
	lastErr  atomic.Pointer[string]

	retiredOnce sync.Once
	retired     chan struct{} // closed once the actor forwarded its last edge item

	statsMu sync.Mutex
	stats   viewStats
}

func newViewSlot(key string) *viewSlot {
	return &viewSlot{key: key, cache: map[memberID]engine.Member{}, retired: make(chan struct{})}
}

func (sl *viewSlot) closeRetired() { sl.retiredOnce.Do(func() { close(sl.retired) }) }

func (sl *viewSlot) lastError() string {
	if p := sl.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// takeDirty returns the view's metrics for a flush and clears the dirty mark.
func (sl *viewSlot) takeDirty() (membership.ViewMetrics, bool) {
	sl.statsMu.Lock()
	defer sl.statsMu.Unlock()
	if !sl.stats.dirty {
		return membership.ViewMetrics{}, false
	}
	sl.stats.dirty = false
	p55, p90, p99 := sl.stats.percentiles()
	return membership.ViewMetrics{
		Key: sl.key, RowCount: sl.stats.rowCount, UpdateCount: sl.stats.updateCount,
		LastIngestLatency: sl.stats.lastLatency, P55: p55, P90: p90, P99: p99,
	}, true
}

func (sl *viewSlot) markDirty() {
	sl.statsMu.Lock()
	sl.stats.dirty = true
	sl.statsMu.Unlock()
}

// setMembers replaces the cache with ms.
func (sl *viewSlot) setMembers(ms []engine.Member) {
	sl.cache = make(map[memberID]engine.Member, len(ms))
	sl.top = 0
	for _, m := range ms {
		sl.cache[idOf(m)] = m
		if m.Parent == "" {
			sl.top++
		}
	}
	sl.generation++
}

// applyDelta applies d to the cache.
func (sl *viewSlot) applyDelta(d engine.Delta) {
	for _, m := range d.Removed {
		if _, ok := sl.cache[idOf(m)]; ok {
			delete(sl.cache, idOf(m))
			if m.Parent == "" {
				sl.top--
			}
		}
	}
	for _, list := range [][]engine.Member{d.Added, d.Updated} {
		for _, m := range list {
			if _, ok := sl.cache[idOf(m)]; !ok && m.Parent == "" {
				sl.top++
			}
			sl.cache[idOf(m)] = m
		}
	}
	sl.generation++
}

// members returns the cache sorted by parent, rel, key.
func (sl *viewSlot) members() []engine.Member {
	out := make([]engine.Member, 0, len(sl.cache))
	for _, m := range sl.cache {
		out = append(out, m)
	}
	engine.SortMembers(out)
	return out
}

// diffMembers returns the delta that turns the membership have into want.
func diffMembers(have map[memberID]engine.Member, want []engine.Member) engine.Delta {
	var d engine.Delta
	seen := make(map[memberID]bool, len(want))
	for _, m := range want {
		id := idOf(m)
		seen[id] = true
		old, ok := have[id]
		switch {
		case !ok:
			d.Added = append(d.Added, m)
		case old.Version != m.Version:
			d.Updated = append(d.Updated, m)
		}
	}
	for id, m := range have {
		if !seen[id] {
			d.Removed = append(d.Removed, m)
		}
	}
	engine.SortMembers(d.Removed)
	return d
}

func emptyDelta(d engine.Delta) bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Updated) == 0
}

// resultHash is the result_hash of a membership: the lowercase hex SHA-256 of the JSON array of
// the members (each {"key","version"[,"parent","rel"]}) sorted by parent, rel, key. Equal
// memberships have equal hashes, whatever order they were produced in.
func resultHash(ms []engine.Member) string {
	sorted := append([]engine.Member(nil), ms...)
	engine.SortMembers(sorted)
	if sorted == nil {
		sorted = []engine.Member{}
	}
	b, _ := json.Marshal(sorted) // cannot fail: strings and integers only
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Messages of a view actor.
type (
	// viewStep is one step's delta for the view.
	viewStep struct {
		delta   engine.Delta
		latency time.Duration // the engine step's duration
		wait    *rvWait
		ack     *stepAck
	}
	// resyncMsg asks the coordinator (the view's parent) for the view's current membership after
	// a restart; resyncReply carries it.
	resyncMsg struct {
		slot *viewSlot
		pid  *actor.PID
	}
	resyncReply struct {
		members []engine.Member
		ok      bool
	}
	// replaceMsg: the view was re-registered with another query or params (or owner data).
	replaceMsg struct {
		members          []engine.Member
		clientID, authID string
	}
	// retireMsg ends the actor; with removeEdges it first queues the removal of all its edges.
	retireMsg struct {
		removeEdges bool
	}
	viewDebugReq struct {
		reply chan viewDebugInfo
	}
	viewDebugInfo struct {
		members    []engine.Member
		hash       string
		generation uint64
	}
)

// viewActor is one registered view: it holds the published membership, applies the deltas the
// coordinator computed, turns them into edge items for its table's writer, and keeps the view's
// metrics.
type viewActor struct {
	s    *Service
	slot *viewSlot
}

// Receive implements actor.Actor.
func (a *viewActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *viewStep:
		a.step(ctx, m)
	case *resyncReply:
		if m.ok {
			a.publish(ctx, diffMembers(a.slot.cache, m.members), nil)
			a.slot.setMembers(m.members)
			a.s.log.WithFields(logrus.Fields{"view": a.slot.key, "members": len(m.members)}).Info("view actor rebuilt from the base data")
		}
	case *replaceMsg:
		sl := a.slot
		d := diffMembers(sl.cache, m.members)
		if m.clientID != sl.clientID || m.authID != sl.authID {
			// The owner data is written on every edge: rewrite them all.
			sl.clientID, sl.authID = m.clientID, m.authID
			d = engine.Delta{Removed: d.Removed}
			for _, mm := range m.members {
				if _, ok := sl.cache[idOf(mm)]; ok {
					d.Updated = append(d.Updated, mm)
				} else {
					d.Added = append(d.Added, mm)
				}
			}
		}
		a.publish(ctx, d, nil)
		sl.setMembers(m.members)
	case *retireMsg:
		if m.removeEdges {
			a.s.sendWriter(ctx, a.slot.writer, &removeViewItem{view: a.slot.key})
		}
		a.slot.closeRetired()
		ctx.Stop(ctx.Self())
	case *viewDebugReq:
		ms := a.slot.members()
		m.reply <- viewDebugInfo{members: ms, hash: resultHash(ms), generation: a.slot.generation}
	case *actor.Stopped:
		a.slot.closeRetired()
	}
}

func (a *viewActor) start(ctx actor.Context) {
	sl := a.slot
	if sl.started {
		// A restart: ask for the truth; the reply arrives after every step already sent to us.
		ctx.Send(ctx.Parent(), &resyncMsg{slot: sl, pid: ctx.Self()})
		return
	}
	sl.started = true
	if sl.after != nil {
		// The previous incarnation of this key queues its edge removal first.
		select {
		case <-sl.after:
		case <-time.After(30 * time.Second):
			a.s.log.WithField("view", sl.key).Warn("previous view actor did not retire in 30s; continuing")
		}
		sl.after = nil
	}
	if sl.initial && len(sl.cache) > 0 {
		a.publish(ctx, engine.Delta{Added: sl.members()}, nil)
	}
}

func (a *viewActor) step(ctx actor.Context, m *viewStep) {
	defer m.ack.finish() // also when the hook panics: the step is over for this view either way
	sl := a.slot
	sl.queued.Add(-1)
	if h := a.s.hooks.ViewDelta; h != nil {
		h(sl.key, m.delta)
	}
	sl.applyDelta(m.delta)
	sl.statsMu.Lock()
	sl.stats.record(float64(m.latency)/float64(time.Millisecond), sl.top)
	sl.statsMu.Unlock()
	a.publish(ctx, m.delta, m.wait)
}

// publish sends d to the view's writer.
func (a *viewActor) publish(ctx actor.Context, d engine.Delta, wait *rvWait) {
	if emptyDelta(d) {
		return
	}
	sl := a.slot
	d.View = sl.key
	a.s.sendWriter(ctx, sl.writer, &edgeItem{
		delta: membership.ViewDelta{ViewKey: sl.key, ClientID: sl.clientID, AuthID: sl.authID, Delta: d},
		wait:  wait,
		at:    time.Now(),
	})
}
