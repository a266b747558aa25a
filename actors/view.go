package actors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/membership"
)

// Messages of a view actor.
type (
	// viewStep is one step's delta for the view.
	viewStep struct {
		delta   engine.Delta
		waitID  uint64        // the change's `_00_rv` wait (0: none)
		latency time.Duration // the engine step's duration
	}
	// retireMsg ends the actor; with removeEdges it first removes all its edges.
	retireMsg struct{ removeEdges bool }
	// viewDebugReq asks for the view's published membership; answered with viewDebugReply.
	viewDebugReq   struct{}
	viewDebugReply struct {
		members    []engine.Member
		hash       string
		generation uint64
	}
	// pushMetrics: time to send the view's metrics to the metrics actor.
	pushMetrics struct{}
)

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

// viewState is a view actor's state. The views supervisor creates it for each incarnation of
// a view key and hands it to the actor; it outlives restarts of that actor (protoactor calls
// the producer again), so a restarted actor keeps its metrics, and only the running actor
// touches it.
type viewState struct {
	key              string
	incarnation      uint64
	table            string
	clientID, authID string
	cache            map[engine.MemberKey]engine.Member // the published membership
	top              int                                // top-level members in cache
	generation       uint64                             // bumped whenever cache changes
	stats            viewStats
	started          bool // an incarnation has started before: the next Started is a restart
	initial          bool // write the whole membership when first started
	initMembers      []engine.Member
	metricsArmed     bool // a pushMetrics is scheduled
}

// setMembers replaces the cache with ms.
func (s *viewState) setMembers(ms []engine.Member) {
	s.cache = make(map[engine.MemberKey]engine.Member, len(ms))
	s.top = 0
	for _, m := range ms {
		s.cache[m.ID()] = m
		if m.Parent == "" {
			s.top++
		}
	}
	s.generation++
}

// applyDelta applies d to the cache and returns what of d changes an edge row: d without the
// Updated members the cache holds as they are (re-emitted at the version they have, after a
// change of content only, which SPEC §1.1 re-emits but an edge row does not record). Those are
// not handed to the writer: nothing would be written, and at many views they are most of the
// members a step emits.
func (s *viewState) applyDelta(d engine.Delta) engine.Delta {
	for _, m := range d.Removed {
		if _, ok := s.cache[m.ID()]; ok {
			delete(s.cache, m.ID())
			if m.Parent == "" {
				s.top--
			}
		}
	}
	for _, m := range d.Added {
		s.put(m)
	}
	var kept []engine.Member // d.Updated's changed members, once one is left out
	for i, m := range d.Updated {
		if old, ok := s.cache[m.ID()]; ok && old == m {
			if kept == nil {
				kept = append(make([]engine.Member, 0, len(d.Updated)-1), d.Updated[:i]...)
			}
			continue
		}
		s.put(m)
		if kept != nil {
			kept = append(kept, m)
		}
	}
	if kept != nil {
		d.Updated = kept
	}
	s.generation++
	return d
}

// put sets m in the cache.
func (s *viewState) put(m engine.Member) {
	if _, ok := s.cache[m.ID()]; !ok && m.Parent == "" {
		s.top++
	}
	s.cache[m.ID()] = m
}

// members returns the cache in the engine's member order.
func (s *viewState) members() []engine.Member {
	out := make([]engine.Member, 0, len(s.cache))
	for _, m := range s.cache {
		out = append(out, m)
	}
	engine.SortMembers(out)
	return out
}

func (s *viewState) membership(ms []engine.Member) *membership.ViewMembership {
	return &membership.ViewMembership{ClientID: s.clientID, AuthID: s.authID, Members: ms}
}

// resultHash is the result_hash of a membership: the lowercase hex SHA-256 of the JSON array of
// the members (each {"key","version"[,"parent","rel"]}) in the engine's member order. Equal
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

// viewActor is one registered view: it holds the published membership, applies the deltas the
// coordinator computed (routed by the views supervisor), turns them into edge writes for its
// list_ref table's writer, and keeps the view's metrics.
//
// Restart policy: a view actor that fails is restarted by the views supervisor; the new
// incarnation asks the coordinator for the view's membership (the answer comes through the
// views supervisor, behind every step already routed) and hands it to the writer as the
// view's whole membership, which the writer compares with what it wrote: exactly the
// difference is written, whatever the failed incarnation had or had not published.
type viewActor struct {
	env  *env
	pids pids
	st   *viewState
}

// Receive implements actor.Actor.
func (a *viewActor) Receive(ctx actor.Context) {
	st := a.st
	a.env.hooks.receive(kindView, st.key, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *viewStep:
		a.step(ctx, m)
	case *resynced:
		if !m.ok {
			// No longer registered: its retirement is on its way (the supervisor repeats it).
			return
		}
		a.replace(ctx, m.table, m.clientID, m.authID, m.members)
		a.env.log.WithFields(logrus.Fields{"view": st.key, "members": len(m.members)}).Info("view actor rebuilt from the engine")
	case *resyncTable:
		if m.table == st.table {
			ctx.Send(a.pids.coordinator, &resyncReq{key: st.key, incarnation: st.incarnation})
		}
	case *replaceView:
		a.replace(ctx, m.table, m.clientID, m.authID, m.members)
	case *retireMsg:
		if m.removeEdges {
			a.write(ctx, &edgeWrite{kind: opRemove})
		}
		a.push(ctx)
		ctx.Stop(ctx.Self())
	case *viewDebugReq:
		ms := st.members()
		ctx.Respond(&viewDebugReply{members: ms, hash: resultHash(ms), generation: st.generation})
	case *pushMetrics:
		st.metricsArmed = false
		a.push(ctx)
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{
			"members": len(st.cache), "top_level": st.top, "table": st.table, "generation": st.generation,
			"updates": st.stats.updateCount,
		}})
	case *actor.Stopping:
		a.push(ctx) // a drained view's last metrics
	}
}

// replace makes the view's published state the given registration: its edges move when the
// table changed, and the writer writes the difference (all of them when the owner data
// changed).
func (a *viewActor) replace(ctx actor.Context, table, clientID, authID string, ms []engine.Member) {
	st := a.st
	if table != st.table {
		a.write(ctx, &edgeWrite{kind: opRemove})
		st.table = table
	}
	st.clientID, st.authID = clientID, authID
	st.setMembers(ms)
	a.write(ctx, &edgeWrite{kind: opSet, vm: st.membership(ms)})
}

func (a *viewActor) start(ctx actor.Context) {
	st := a.st
	st.metricsArmed = false
	if st.started {
		// A restart: ask for the truth; it arrives after every step already routed to us.
		ctx.Send(a.pids.coordinator, &resyncReq{key: st.key, incarnation: st.incarnation})
		return
	}
	st.started = true
	st.setMembers(st.initMembers)
	if st.initial {
		kind := opSet
		if a.env.owner != "" {
			kind = opClaim // scheduler mode: the view may come from another SSP
		}
		a.write(ctx, &edgeWrite{kind: kind, vm: st.membership(st.initMembers)})
	}
	st.initMembers = nil
}

func (a *viewActor) step(ctx actor.Context, m *viewStep) {
	st := a.st
	if h := a.env.hooks.ViewDelta; h != nil {
		h(st.key, m.delta)
	}
	d := st.applyDelta(m.delta)
	st.stats.record(float64(m.latency)/float64(time.Millisecond), st.top)
	if len(d.Added) > 0 || len(d.Removed) > 0 || len(d.Updated) > 0 {
		a.write(ctx, &edgeWrite{kind: opDelta, waitID: m.waitID, at: time.Now(),
			delta: membership.ViewDelta{ViewKey: st.key, ClientID: st.clientID, AuthID: st.authID, Delta: d}})
	}
	if !st.metricsArmed {
		st.metricsArmed = true
		after(ctx.ActorSystem(), a.env.cfg.MetricsFlushInterval, ctx.Self(), &pushMetrics{})
	}
}

// write sends an edge write of this view to its table's writer (through the writers
// supervisor, which routes by table; the order of one view's writes is kept).
func (a *viewActor) write(ctx actor.Context, w *edgeWrite) {
	w.table, w.view = a.st.table, a.st.key
	ctx.Send(a.pids.writers, w)
}

// push sends the view's metrics to the metrics actor when they changed.
func (a *viewActor) push(ctx actor.Context) {
	st := a.st
	if !st.stats.dirty {
		return
	}
	st.stats.dirty = false
	p55, p90, p99 := st.stats.percentiles()
	ctx.Send(a.pids.flusher, &viewMetrics{m: membership.ViewMetrics{
		Key: st.key, RowCount: st.stats.rowCount, UpdateCount: st.stats.updateCount,
		LastIngestLatency: st.stats.lastLatency, P55: p55, P90: p90, P99: p99,
	}})
}
