package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/membership"
)

// Messages of a list_ref writer actor.
type (
	// edgeItem is one step's membership change of one view, to be written once its `_00_rv`
	// wait (and those of the view's earlier items) completed.
	edgeItem struct {
		delta membership.ViewDelta
		wait  *rvWait
		at    time.Time // when the view applied the step (ssp_edge_lag_seconds)
	}
	// removeViewItem deletes every edge of a view, after the view's earlier items.
	removeViewItem struct {
		view string
	}
	// dropTableMsg removes the writer's per-user table (`REMOVE TABLE`) once every item queued
	// before it is written. A barrier: items arriving after it wait behind it.
	dropTableMsg struct {
		uid string
	}
	// reconcileMsg makes the table's edges equal to views (SPEC §2.3), after every item queued
	// before it. A barrier.
	reconcileMsg struct {
		views map[string]membership.ViewMembership
		reply chan error
	}
	// resetWriterMsg discards every queued item and the writer's record of the table (/reset).
	resetWriterMsg struct {
		reply chan struct{}
	}
	// drainMsg is answered (done closed) once nothing is queued or pending.
	drainMsg struct {
		done chan struct{}
	}
	writerStatsReq struct {
		reply chan int
	}
	flushMsg    struct{}
	retryMsg    struct{}
	waitDoneMsg struct{}
)

// Writer retry backoff after a failed flush: doubles from min to max.
const (
	minWriterBackoff = 100 * time.Millisecond
	maxWriterBackoff = 5 * time.Second
)

// writerState is a list_ref writer's state; it outlives the actor's incarnations, so a restart
// loses nothing that was queued.
type writerState struct {
	table string
	uid   string // the owner of a per-user table, else empty
	w     *membership.Writer

	views   map[string][]any // per view: *edgeItem and *removeViewItem, in arrival order
	order   []string         // views with queued items, in first-arrival order
	backlog []any            // everything that arrived behind a pending barrier, in order

	flushQueued bool // a flushMsg is in the mailbox
	retryArmed  bool // a retry timer is running
	backoff     time.Duration
	drains      []chan struct{}
	subscribed  map[*rvWait]bool
}

// writerActor owns one list_ref table's edge writes (SPEC §2.3). Items of one view are written
// in arrival order (the view's step order); an item is written only when its `_00_rv` wait and
// those of the view's earlier items are done, while other views' items go ahead. Everything
// ready is written in one membership.Writer flush (one transaction per flush). A failed flush
// stays pending in the membership.Writer and goes out with the next flush, scheduled on the
// actor's own backoff timer (not a nested retry); nothing is dropped.
type writerActor struct {
	s  *Service
	st *writerState
}

func newWriterState(s *Service, table string) *writerState {
	st := &writerState{table: table, views: map[string][]any{}, subscribed: map[*rvWait]bool{}}
	if uid, ok := userOfTable(table); ok {
		st.uid = uid
	}
	st.w = s.newEdgeWriter(table)
	return st
}

// Receive implements actor.Actor.
func (a *writerActor) Receive(ctx actor.Context) {
	st := a.st
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.scheduleFlush(ctx)
	case *edgeItem, *removeViewItem, *dropTableMsg, *reconcileMsg:
		a.admit(m)
		a.scheduleFlush(ctx)
	case *flushMsg:
		st.flushQueued = false
		a.pump(ctx)
	case *waitDoneMsg:
		a.scheduleFlush(ctx)
	case *retryMsg:
		st.retryArmed = false
		a.pump(ctx)
	case *drainMsg:
		st.drains = append(st.drains, m.done)
		a.pump(ctx)
	case *resetWriterMsg:
		a.reset()
		m.reply <- struct{}{}
	case *writerStatsReq:
		m.reply <- a.queued()
	}
}

func isBarrier(m any) bool {
	switch m.(type) {
	case *dropTableMsg, *reconcileMsg:
		return true
	}
	return false
}

// admit queues m: behind a pending barrier in the backlog, else in its view's queue.
func (a *writerActor) admit(m any) {
	st := a.st
	if len(st.backlog) > 0 || isBarrier(m) {
		st.backlog = append(st.backlog, m)
		return
	}
	a.dispatch(m)
}

func (a *writerActor) dispatch(m any) {
	st := a.st
	var view string
	switch it := m.(type) {
	case *edgeItem:
		view = it.delta.ViewKey
	case *removeViewItem:
		view = it.view
	}
	if len(st.views[view]) == 0 {
		st.order = append(st.order, view)
	}
	st.views[view] = append(st.views[view], m)
}

func (a *writerActor) scheduleFlush(ctx actor.Context) {
	if !a.st.flushQueued {
		a.st.flushQueued = true
		ctx.Send(ctx.Self(), &flushMsg{})
	}
}

func (a *writerActor) scheduleRetry(ctx actor.Context) {
	st := a.st
	if st.retryArmed {
		return
	}
	st.retryArmed = true
	st.backoff = min(max(2*st.backoff, minWriterBackoff), maxWriterBackoff)
	self, root := ctx.Self(), a.s.system.Root
	time.AfterFunc(st.backoff, func() { root.Send(self, &retryMsg{}) })
}

// queued is the number of items not yet handed to the membership.Writer.
func (a *writerActor) queued() int {
	n := len(a.st.backlog)
	for _, q := range a.st.views {
		n += len(q)
	}
	return n
}

// pump hands everything ready to the membership.Writer and runs barriers, until no progress.
func (a *writerActor) pump(ctx actor.Context) {
	st := a.st
	for {
		progress := false
		// Move the backlog into the view queues up to the first barrier; run the barrier once
		// everything before it is written.
		for len(st.backlog) > 0 {
			head := st.backlog[0]
			if isBarrier(head) {
				if len(st.order) > 0 || !a.runBarrier(ctx, head) {
					break
				}
			} else {
				a.dispatch(head)
			}
			st.backlog = st.backlog[1:]
			progress = true
		}
		if a.flushReady(ctx) {
			progress = true
		}
		if !progress {
			break
		}
	}
	if len(st.drains) > 0 && a.queued() == 0 && st.w.Stats().Pending == 0 {
		for _, d := range st.drains {
			close(d)
		}
		st.drains = nil
	}
}

// flushReady writes every ready item; it reports whether any item was handed over. Items leave
// their queues only once the membership.Writer has taken them (written, or kept pending after a
// failure), so a panic in between loses nothing: the restarted actor hands them over again,
// which the Writer's latest-state writes make harmless.
func (a *writerActor) flushReady(ctx actor.Context) bool {
	st := a.st
	var batch []membership.ViewDelta
	var lagFrom []time.Time // of the items in batch
	var removals []string
	cut := map[string]int{} // view → items taken from the front of its queue
	for _, view := range st.order {
		q := st.views[view]
		i := 0
	collect:
		for i < len(q) {
			switch it := q[i].(type) {
			case *edgeItem:
				if !a.ready(ctx, it.wait) {
					break collect
				}
				batch = append(batch, it.delta)
				if !it.at.IsZero() {
					lagFrom = append(lagFrom, it.at)
				}
				i++
			case *removeViewItem:
				removals = append(removals, view)
				i++
				break collect // later items of the view follow the removal in the next round
			}
		}
		if i > 0 {
			cut[view] = i
		}
	}
	pending := st.w.Stats().Pending
	if len(batch) == 0 && len(removals) == 0 && (pending == 0 || st.retryArmed) {
		return false
	}

	sctx := a.s.ctx
	start := time.Now()
	if err := a.ensureTable(sctx); err != nil {
		// Write anyway (nothing is held back); the next flush defines the table again.
		a.s.log.WithField("table", st.table).WithError(err).Warn("define per-user list_ref table failed")
	}
	err := st.w.ApplyDeltas(sctx, batch)
	for _, view := range removals {
		if rerr := st.w.RemoveView(sctx, view); rerr != nil && err == nil {
			err = rerr
		}
	}
	a.s.m.edgeLatency.Observe(time.Since(start).Seconds())

	// The Writer holds them now.
	handed := 0
	kept := st.order[:0]
	for _, view := range st.order {
		q := st.views[view]
		n := cut[view]
		for _, it := range q[:n] {
			if e, ok := it.(*edgeItem); ok {
				delete(st.subscribed, e.wait)
			}
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
	a.s.writerDepth.Add(int64(-handed))
	a.countWrites(batch)
	if err == nil {
		done := time.Now()
		for _, at := range lagFrom {
			a.s.m.edgeLag.Observe(done.Sub(at).Seconds())
		}
	}
	if err != nil {
		a.s.m.edgeFailures.Inc()
		a.s.log.WithFields(logrus.Fields{"table": st.table, "pending": st.w.Stats().Pending}).WithError(err).
			Error("edge flush failed; the writes stay queued and are retried")
		a.scheduleRetry(ctx)
	} else {
		st.backoff = 0
	}
	return handed > 0
}

// ready reports whether an item with wait may be written; if not, the writer is woken when
// the wait completes.
func (a *writerActor) ready(ctx actor.Context, w *rvWait) bool {
	if w.isDone() {
		return true
	}
	st := a.st
	if st.subscribed[w] {
		return false
	}
	self, root := ctx.Self(), a.s.system.Root
	if !w.subscribe(func() { root.Send(self, &waitDoneMsg{}) }) {
		return true // completed meanwhile
	}
	st.subscribed[w] = true
	return false
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
			a.s.m.edgeWrites.WithLabelValues(c.kind).Add(float64(c.n))
		}
	}
}

// ensureTable defines a per-user table before its first write (once per process; again after
// it was dropped).
func (a *writerActor) ensureTable(ctx context.Context) error {
	if a.st.uid == "" {
		return nil
	}
	return a.s.userTables.ensure(ctx, a.st.uid)
}

// runBarrier runs a table-level operation; false means it failed and stays at the head of
// the backlog (a retry is scheduled).
func (a *writerActor) runBarrier(ctx actor.Context, m any) bool {
	st := a.st
	sctx := a.s.ctx
	switch b := m.(type) {
	case *dropTableMsg:
		if err := a.s.userTables.remove(sctx, b.uid); err != nil {
			a.s.log.WithFields(logrus.Fields{"table": st.table}).WithError(err).Warn("drop list_ref table failed; retrying")
			a.scheduleRetry(ctx)
			return false
		}
		st.w.Forget() // the table and its edges are gone
		a.s.log.WithField("table", st.table).Info("per-user list_ref table removed")
	case *reconcileMsg:
		var err error
		if len(b.views) > 0 {
			err = a.ensureTable(sctx)
		}
		if err == nil {
			var stats membership.ReconcileStats
			stats, err = st.w.Reconcile(sctx, b.views)
			a.s.log.WithFields(logrus.Fields{"table": st.table, "views": stats.Views, "scanned": stats.Scanned,
				"added": stats.Added, "fixed": stats.Fixed, "removed": stats.Removed}).Info("edges reconciled")
		}
		if err != nil && st.w.Stats().Pending > 0 {
			a.scheduleRetry(ctx) // what Reconcile could not write stays pending
		}
		b.reply <- err
	}
	return true
}

// reset discards everything queued and the writer's record of the table.
func (a *writerActor) reset() {
	st := a.st
	n := a.queued()
	for _, m := range st.backlog {
		if r, ok := m.(*reconcileMsg); ok {
			r.reply <- fmt.Errorf("reconcile %s: cancelled by reset", st.table)
		}
	}
	a.s.writerDepth.Add(-int64(n - countBarriers(st.backlog)))
	st.views = map[string][]any{}
	st.order = nil
	st.backlog = nil
	st.subscribed = map[*rvWait]bool{}
	st.w.Forget()
	for _, d := range st.drains {
		close(d)
	}
	st.drains = nil
}

func countBarriers(ms []any) int {
	n := 0
	for _, m := range ms {
		if isBarrier(m) {
			n++
		}
	}
	return n
}
