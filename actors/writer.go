package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/membership"
)

// Messages of a writer actor (besides those the writers supervisor routes to it).
type (
	// edgeWrite is one write of a view to a list_ref table. The writer queues the message
	// itself, in the view's order.
	edgeWrite struct {
		table  string
		kind   opKind
		view   string
		delta  membership.ViewDelta       // opDelta
		vm     *membership.ViewMembership // opSet, opClaim
		waitID uint64                     // opDelta: the `_00_rv` wait that must end first (0: none)
		at     time.Time                  // opDelta: when the view applied the step (ssp_edge_lag_seconds)
	}
	// forgetReq discards everything queued and the writer's record of the table (/reset);
	// answered to the supervisor with writerReplied.
	forgetReq struct{ round uint64 }
	// drainReq is answered to the supervisor (writerReplied) once nothing is queued or
	// pending.
	drainReq    struct{ round uint64 }
	flushTick   struct{}
	retryTick   struct{}
	versionDone struct{ waitID uint64 }
)

// opKind is the kind of an edgeWrite.
type opKind uint8

const (
	// opDelta applies one step's delta of the view.
	opDelta opKind = iota
	// opSet makes the view's edges equal to a whole membership (a new, restarted or
	// re-registered view): only the difference is written.
	opSet
	// opRemove deletes every edge of the view.
	opRemove
	// opClaim makes this SSP the view's owner and its edges equal to a whole membership, in
	// one transaction (a view registered here in scheduler mode, SPEC §6.7).
	opClaim
)

// barrier is a table-level operation: it runs once everything queued before it is written,
// and what arrives after it waits behind it.
type barrier struct {
	drop    string                               // uid: remove the per-user table
	ensure  bool                                 // define the table (answered then)
	views   map[string]membership.ViewMembership // otherwise: reconcile with these views,
	owned   func(view string) bool               // touching only rows of views it owns (nil: all)
	replyTo *actor.PID
}

// entry is one element of the queue behind a pending barrier: a write or a barrier.
type entry struct {
	w       *edgeWrite
	barrier *barrier
}

// Writer retry backoff after a failed flush: doubles from min to max.
const (
	minWriterBackoff = 100 * time.Millisecond
	maxWriterBackoff = 5 * time.Second
)

// writerState is a writer actor's state. The writers supervisor creates it with the actor and
// it outlives the actor's restarts (protoactor calls the producer again), so a restarted
// writer resumes from everything it had not handed to the database yet; only the running
// actor touches it.
type writerState struct {
	table   string
	uid     string // the owner of a per-user table, else empty
	mw      *membership.Writer
	defined bool // this writer defined the table (and did not remove it since)

	views  map[string][]*edgeWrite // per view, in arrival order (the view's step order)
	order  []string                // views with queued writes, in first-arrival order
	behind []entry                 // everything that arrived behind a pending barrier, in order

	ready map[uint64]bool // `_00_rv` waits known to have ended
	asked map[uint64]bool // waits asked of the versions actor

	writes   int      // writes queued (in views and behind) and not yet handed over
	drains   []uint64 // drain rounds to answer once empty
	received uint64   // messages received from the supervisor
	handed   int      // deltas handed over (or discarded) and not yet reported to the supervisor
	pending  int      // the membership.Writer's pending edge writes as last reported
	backoff  time.Duration
	dropped  bool                   // the table was removed and nothing was queued since
	counted  membership.WriterStats // the membership.Writer's counters last added to the metrics

	batch   []membership.ViewDelta // flushReady's scratch
	lagFrom []time.Time            // flushReady's scratch
}

func newWriterState(e *env, table string) *writerState {
	st := &writerState{table: table, mw: e.newEdgeWriter(table), views: map[string][]*edgeWrite{},
		ready: map[uint64]bool{}, asked: map[uint64]bool{}}
	if uid, ok := userOfTable(table); ok {
		st.uid = uid
	}
	return st
}

// userOfTable returns the uid of a per-user list_ref table.
func userOfTable(table string) (string, bool) {
	if len(table) <= len(membership.UserTablePrefix) || table[:len(membership.UserTablePrefix)] != membership.UserTablePrefix {
		return "", false
	}
	uid := table[len(membership.UserTablePrefix):]
	return uid, membership.ValidTableName(uid)
}

// writerActor owns one list_ref table's edge writes (SPEC §2.3). Writes of one view are made
// in arrival order (the view's step order); a delta is written only when its `_00_rv` wait
// and those of the view's earlier writes are over, while other views' writes go ahead.
// Everything ready goes to the table's membership.Writer in one flush (one transaction per
// flush). A flush that fails stays pending in the membership.Writer and is submitted again
// with the next flush, at the latest after a backoff (100 ms doubling to 5 s): nothing is
// dropped. The deltas it handed over are reported to the writers supervisor, which keeps the
// writers' backlog for the coordinator (that holds ingests back while it is too large).
type writerActor struct {
	env  *env
	pids pids
	st   *writerState

	flushQueued bool // a flushTick is in the mailbox
	retryArmed  bool // a retryTick is scheduled
}

// Receive implements actor.Actor.
func (a *writerActor) Receive(ctx actor.Context) {
	st := a.st
	a.env.hooks.receive(kindWriter, st.table, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// A restarted writer resumes what it holds, and asks again for the waits it was told
		// about (an answer may have been lost).
		clear(st.asked)
		a.scheduleFlush(ctx)
	case *edgeWrite:
		st.received++
		a.admit(entry{w: m})
		a.scheduleFlush(ctx)
	case *ensureTableReq:
		st.received++
		if a.dropPending() {
			// After the table removal queued before it (a user deleted and signed up again).
			a.admit(entry{barrier: &barrier{ensure: true, replyTo: ctx.Sender()}})
			a.scheduleFlush(ctx)
			return
		}
		err := a.ensureTable(context.Background())
		if err != nil && ctx.Sender() == nil {
			// Nobody waits for it: the next flush defines the table again.
			a.env.log.WithField("table", st.table).WithError(err).Warn("define list_ref table failed")
		}
		reply(ctx, &done{}, err)
	case *dropUserTableReq:
		st.received++
		a.admit(entry{barrier: &barrier{drop: m.uid}})
		a.scheduleFlush(ctx)
	case *reconcileReq:
		st.received++
		a.admit(entry{barrier: &barrier{views: m.views, owned: m.owned, replyTo: ctx.Sender()}})
		a.scheduleFlush(ctx)
	case *forgetReq:
		st.received++
		a.forget(ctx)
		ctx.Respond(&writerReplied{round: m.round})
	case *drainReq:
		st.received++
		st.drains = append(st.drains, m.round)
		a.pump(ctx)
	case *flushTick:
		a.flushQueued = false
		a.pump(ctx)
	case *retryTick:
		a.retryArmed = false
		a.pump(ctx)
	case *versionDone:
		st.ready[m.waitID] = true
		delete(st.asked, m.waitID)
		a.scheduleFlush(ctx)
	case *describeReq:
		ws := st.mw.Stats()
		ctx.Respond(&actorState{state: map[string]any{
			"queued": a.queued(), "views_queued": len(st.order), "behind_barrier": len(st.behind),
			"pending_writes": ws.Pending, "transactions": ws.Transactions, "statements": ws.Statements,
			"failed_flushes": ws.FailedFlushes, "unchanged": ws.Unchanged, "waits": len(st.asked), "table_defined": st.defined,
		}})
	}
}

// dropPending reports whether a table removal waits in the queue.
func (a *writerActor) dropPending() bool {
	for _, e := range a.st.behind {
		if e.barrier != nil && e.barrier.drop != "" {
			return true
		}
	}
	return false
}

// admit queues e: behind a pending barrier when there is one (or e is one), else in its
// view's queue.
func (a *writerActor) admit(e entry) {
	st := a.st
	st.dropped = false
	if e.barrier == nil {
		st.writes++
	}
	if len(st.behind) > 0 || e.barrier != nil {
		st.behind = append(st.behind, e)
		return
	}
	a.enqueue(e.w)
}

func (a *writerActor) enqueue(w *edgeWrite) {
	st := a.st
	q := st.views[w.view]
	if len(q) == 0 {
		st.order = append(st.order, w.view)
	}
	st.views[w.view] = append(q, w)
}

func (a *writerActor) scheduleFlush(ctx actor.Context) {
	if !a.flushQueued {
		a.flushQueued = true
		ctx.Send(ctx.Self(), &flushTick{})
	}
}

func (a *writerActor) scheduleRetry(ctx actor.Context) {
	st := a.st
	if a.retryArmed {
		return
	}
	a.retryArmed = true
	st.backoff = min(max(2*st.backoff, minWriterBackoff), maxWriterBackoff)
	after(ctx.ActorSystem(), st.backoff, ctx.Self(), &retryTick{})
}

// queued is the number of writes not yet handed to the membership.Writer.
func (a *writerActor) queued() int { return a.st.writes }

// report tells the writers supervisor how many deltas left the queue since the last report,
// and how many edge writes the membership.Writer holds unwritten when that changed.
func (a *writerActor) report(ctx actor.Context) {
	st := a.st
	pending := st.mw.Stats().Pending
	if st.handed > 0 || pending != st.pending {
		ctx.Send(ctx.Parent(), &writesHanded{table: st.table, n: st.handed, pending: pending})
		st.handed, st.pending = 0, pending
	}
}

// pump hands everything ready to the membership.Writer and runs barriers, until no progress.
func (a *writerActor) pump(ctx actor.Context) {
	st := a.st
	for {
		progress := false
		// Move what waits behind barriers into the view queues up to the first barrier; run
		// the barrier once everything before it is written.
		for len(st.behind) > 0 {
			head := st.behind[0]
			if head.barrier != nil {
				if len(st.order) > 0 || !a.runBarrier(ctx, head.barrier) {
					break
				}
			} else {
				a.enqueue(head.w)
			}
			st.behind[0] = entry{}
			st.behind = st.behind[1:]
			progress = true
		}
		if a.flushReady(ctx) {
			progress = true
		}
		if !progress {
			break
		}
	}
	a.report(ctx)
	if a.queued() == 0 && len(st.behind) == 0 && st.mw.Stats().Pending == 0 {
		for _, round := range st.drains {
			ctx.Send(ctx.Parent(), &writerReplied{round: round})
		}
		st.drains = nil
		if st.dropped {
			st.dropped = false
			ctx.Send(ctx.Parent(), &writerIdle{table: st.table, pid: ctx.Self(), received: st.received})
		}
	}
}

// flushReady writes every ready write; it reports whether any write was handed over. Writes
// leave their queues only once the membership.Writer has taken them (written, or kept pending
// after a failure), so a failure in between loses nothing: the restarted actor hands them over
// again, which the Writer's latest-state writes make harmless.
func (a *writerActor) flushReady(ctx actor.Context) bool {
	st := a.st
	batch, lagFrom := st.batch[:0], st.lagFrom[:0]
	defer func() {
		// The next flush reuses the room (the Writer keeps nothing of a batch).
		clear(batch)
		st.batch, st.lagFrom = batch[:0], lagFrom[:0]
	}()
	type special struct {
		w   *edgeWrite
		pos int // its index in its view's queue
	}
	var specials []special
	cut := map[string]int{} // view → writes taken from the front of its queue
	for _, view := range st.order {
		q := st.views[view]
		i := 0
	collect:
		for i < len(q) {
			w := q[i]
			switch w.kind {
			case opDelta:
				if !a.ready(ctx, w.waitID) {
					break collect
				}
				batch = append(batch, w.delta)
				if !w.at.IsZero() {
					lagFrom = append(lagFrom, w.at)
				}
				i++
			default:
				specials = append(specials, special{w: w, pos: i})
				i++
				break collect // later writes of the view follow in the next round
			}
		}
		if i > 0 {
			cut[view] = i
		}
	}
	pending := st.mw.Stats().Pending
	if len(batch) == 0 && len(specials) == 0 && (pending == 0 || a.retryArmed) {
		return false
	}

	sctx := context.Background()
	start := time.Now()
	if err := a.ensureTable(sctx); err != nil {
		// Write anyway (nothing is held back); the next flush defines the table again.
		a.env.log.WithField("table", st.table).WithError(err).Warn("define list_ref table failed")
	}
	err := st.mw.ApplyDeltas(sctx, batch)
	// Whole-view writes follow, each in its view's order; after a failure they wait for the
	// next flush (the Writer keeps what failed pending, the rest stays queued here).
	for _, sp := range specials {
		if err != nil {
			cut[sp.w.view] = sp.pos
			continue
		}
		switch sp.w.kind {
		case opSet:
			err = st.mw.SetView(sctx, sp.w.view, *sp.w.vm)
		case opClaim:
			err = st.mw.ClaimView(sctx, sp.w.view, *sp.w.vm)
		case opRemove:
			err = st.mw.RemoveView(sctx, sp.w.view)
		}
	}
	a.env.m.edgeLatency.Observe(time.Since(start).Seconds())
	a.countRows()
	a.fenced(ctx)

	handed := 0
	kept := st.order[:0]
	for _, view := range st.order {
		q := st.views[view]
		n := cut[view]
		for i, w := range q[:n] {
			if w.waitID != 0 {
				delete(st.ready, w.waitID)
			}
			if w.kind == opDelta {
				st.handed++
			}
			q[i] = nil
		}
		handed += n
		if n == len(q) {
			delete(st.views, view)
			continue
		}
		st.views[view] = q[n:]
		kept = append(kept, view)
	}
	st.order = kept
	st.writes -= handed
	a.countWrites(batch)
	if err != nil {
		a.env.m.edgeFailures.Inc()
		a.env.log.WithFields(logrus.Fields{"table": st.table, "pending": st.mw.Stats().Pending}).WithError(err).
			Error("edge flush failed; the writes stay queued and are submitted again")
		a.scheduleRetry(ctx)
	} else {
		st.backoff = 0
		now := time.Now()
		for _, at := range lagFrom {
			a.env.m.edgeLag.Observe(now.Sub(at).Seconds())
		}
	}
	return handed > 0
}

// fenced tells the coordinator of the views the last writes found registered on another SSP
// (SPEC §6.7): the rest of this SSP drops them.
func (a *writerActor) fenced(ctx actor.Context) {
	for _, key := range a.st.mw.TakeFenced() {
		ctx.Send(a.pids.coordinator, &viewMoved{key: key})
	}
}

// ready reports whether a delta waiting for waitID may be written; if not, the versions actor
// is asked to tell when the wait ends.
func (a *writerActor) ready(ctx actor.Context, waitID uint64) bool {
	st := a.st
	if waitID == 0 || st.ready[waitID] {
		return true
	}
	if !st.asked[waitID] {
		st.asked[waitID] = true
		ctx.Request(a.pids.versions, &awaitVersion{waitID: waitID})
	}
	return false
}

// countRows adds the rows the membership.Writer wrote and the writes it found unchanged since
// the last call to the metrics.
func (a *writerActor) countRows() {
	st := a.st
	ws := st.mw.Stats()
	if n := ws.Statements - st.counted.Statements; n > 0 {
		a.env.m.edgeRows.Add(float64(n))
	}
	if n := ws.Unchanged - st.counted.Unchanged; n > 0 {
		a.env.m.edgeUnchanged.Add(float64(n))
	}
	st.counted = ws
}

func (a *writerActor) countWrites(batch []membership.ViewDelta) {
	var add, upd, rem int
	for _, d := range batch {
		add += len(d.Delta.Added)
		upd += len(d.Delta.Updated)
		rem += len(d.Delta.Removed)
	}
	for _, c := range []struct {
		kind string
		n    int
	}{{"add", add}, {"update", upd}, {"remove", rem}} {
		if c.n > 0 {
			a.env.m.edgeWrites.WithLabelValues(c.kind).Add(float64(c.n))
		}
	}
}

// ensureTable defines the table before its first write (once; again after it was removed).
func (a *writerActor) ensureTable(ctx context.Context) error {
	st := a.st
	if st.defined {
		return nil
	}
	var err error
	switch {
	case st.uid != "":
		err = membership.DefineUserTable(ctx, a.env.db, st.uid)
	case st.table == membership.GlobalTable:
		err = membership.DefineGlobalTable(ctx, a.env.db)
	}
	if err != nil {
		return err
	}
	st.defined = true
	return nil
}

// runBarrier runs a table-level operation; false means it failed and stays at the head of
// the queue (a retry is scheduled).
func (a *writerActor) runBarrier(ctx actor.Context, b *barrier) bool {
	st := a.st
	sctx := context.Background()
	if b.ensure {
		err := a.ensureTable(sctx)
		if err != nil {
			a.env.log.WithField("table", st.table).WithError(err).Warn("define list_ref table failed")
		}
		answer(ctx, b.replyTo, &done{}, err)
		return true
	}
	if b.drop != "" {
		if err := membership.RemoveUserTable(sctx, a.env.db, b.drop); err != nil {
			a.env.log.WithField("table", st.table).WithError(err).Warn("remove list_ref table failed; retrying")
			a.scheduleRetry(ctx)
			return false
		}
		st.mw.Forget() // the table and its edges are gone
		st.defined = false
		st.dropped = true
		a.env.log.WithField("table", st.table).Info("per-user list_ref table removed")
		return true
	}
	var err error
	if len(b.views) > 0 {
		err = a.ensureTable(sctx)
	}
	if err == nil {
		var stats membership.ReconcileStats
		stats, err = st.mw.Reconcile(sctx, b.views, b.owned)
		a.fenced(ctx)
		a.env.log.WithFields(logrus.Fields{"table": st.table, "views": stats.Views, "scanned": stats.Scanned,
			"added": stats.Added, "fixed": stats.Fixed, "removed": stats.Removed}).Info("edges reconciled")
	}
	if err != nil && st.mw.Stats().Pending > 0 {
		a.scheduleRetry(ctx) // what Reconcile could not write stays pending
	}
	answer(ctx, b.replyTo, &done{}, err)
	return true
}

// forget discards everything queued and the writer's record of the table (/reset).
func (a *writerActor) forget(ctx actor.Context) {
	st := a.st
	for _, e := range st.behind {
		if e.barrier != nil {
			answer(ctx, e.barrier.replyTo, nil, fmt.Errorf("reconcile %s: %w", st.table, errCancelledByReset))
		} else if e.w.kind == opDelta {
			st.handed++
		}
	}
	for _, q := range st.views {
		for _, w := range q {
			if w.kind == opDelta {
				st.handed++
			}
		}
	}
	st.views = map[string][]*edgeWrite{}
	st.order = nil
	st.behind = nil
	st.writes = 0
	st.ready = map[uint64]bool{}
	st.asked = map[uint64]bool{}
	st.mw.Forget()
	a.report(ctx)
}

// errCancelledByReset is the answer of a reconcile that a /reset discarded.
var errCancelledByReset = errors.New("cancelled by /reset")
