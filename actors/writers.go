package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/membership"
)

// Messages of the writers supervisor. edgeWrite, ensureTableReq, dropUserTableReq and
// reconcileReq are routed to the writer of their table (started on first use); requests keep
// their requester, whom the writer answers.
type (
	// ensureTableReq defines a list_ref table (once per writer); answered with done or the
	// error when sent as a request (a user CREATE sends it without waiting).
	ensureTableReq struct{ table string }
	// dropUserTableReq removes a user's table once everything queued before it is written.
	dropUserTableReq struct{ uid string }
	// reconcileReq makes a table's edges equal to views (SPEC §2.3) once everything queued
	// before it is written; answered with done or the error.
	reconcileReq struct {
		table string
		views map[string]membership.ViewMembership
		owned func(view string) bool // scheduler mode: the views this SSP owns (nil: all)
	}
	// forgetAllReq discards everything queued in every writer (/reset); answered with done.
	forgetAllReq struct{}
	// clearEdgesReq deletes every edge of every list_ref table (/reset; in scheduler mode only
	// the edges of the views this SSP owns); answered with done or the error.
	clearEdgesReq struct{}
	// drainWritersReq is answered with done once every writer wrote everything queued.
	drainWritersReq struct{}
	// writerIdle: the writer pid, whose table was removed, has nothing queued after received
	// messages from the supervisor.
	writerIdle struct {
		table    string
		pid      *actor.PID
		received uint64
	}
	// writesHanded: a writer handed n deltas to its membership.Writer (or discarded them), which
	// holds pending edge writes not yet written (kept after a failed flush).
	writesHanded struct {
		table      string
		n, pending int
	}
	// unwrittenReq asks how far the edge rows are behind; answered with *unwrittenReply.
	unwrittenReq   struct{}
	unwrittenReply struct{ queued, pending int }
	// writerReplied: one writer answered a forget or drain of the supervisor.
	writerReplied struct{ round uint64 }
	// clearedEdges carries the result of clearEdgesReq (run off the supervisor's goroutine).
	clearedEdges struct {
		to  *actor.PID
		err error
	}
)

// writerSlot is a running writer actor.
type writerSlot struct {
	c      *child
	routed uint64 // messages routed to it, compared with what it received before it may stop
}

// round is a forget or drain sent to every writer, answered once all replied.
type round struct {
	id      uint64
	waiting int
	to      *actor.PID
}

// writersActor supervises the writer actors, one per list_ref table (restart policy: a writer
// that fails is restarted with its queue, see writerActor), and routes every edge write and
// table operation to its table's writer, starting it on first use. A writer whose table was
// removed and which has nothing left is stopped, so deleted users leave no actors behind.
type writersActor struct {
	*supervision
	pids    pids
	sys     *actor.ActorSystem
	backlog int // deltas routed to writers and not yet handed over (SPKY_EDGE_BACKLOG)
	// pending are the edge writes each writer's membership.Writer holds unwritten, by table,
	// and their sum.
	pending    map[string]int
	pendingSum int
	reported   int // the backlog last reported to the coordinator
	// dropped are the per-user tables removed for a deleted user (a tombstone each): edge
	// writes to them are discarded — a view of the deleted user may still be sending the
	// writes of that DELETE's step, on a path the drop does not wait for — until the table is
	// defined again (the user signs up again, or a view of theirs is registered).
	dropped   map[string]time.Time
	discarded int64
	stopping  bool // the tree is being stopped
	byTable   map[string]*writerSlot
	seq       uint64 // writer incarnations (unique actor names)
	rounds    map[uint64]*round
	roundID   uint64
}

// tombstoneTTL is how long a dropped table's tombstone is kept: far longer than a step's
// writes take to arrive.
const tombstoneTTL = 10 * time.Minute

func newWritersActor(e *env, p pids) *writersActor {
	w := &writersActor{supervision: newSupervision(e), pids: p, byTable: map[string]*writerSlot{}, rounds: map[uint64]*round{},
		dropped: map[string]time.Time{}, pending: map[string]int{}}
	w.onFailure = w.writerFailed
	return w
}

// writerFailed is the writers' policy on a failure, besides the restart (the writer keeps its
// queue): the message it failed on is lost, so what it carried is made good — the views of
// the table hand their whole membership to the writer again (an edge write), a table removal
// or a forget/drain round is sent again (they are idempotent), a reconcile or table
// definition is answered with the failure (its requester retries).
func (w *writersActor) writerFailed(c *child, reason, message any) bool {
	msg, sender := actor.UnwrapEnvelopeMessage(message), actor.UnwrapEnvelopeSender(message)
	root := w.sys.Root
	switch m := msg.(type) {
	case *edgeWrite:
		root.Send(w.pids.views, &resyncTable{table: c.name})
	case *dropUserTableReq, *forgetReq, *drainReq:
		if sender != nil {
			root.RequestWithCustomSender(c.pid, m, sender)
		} else {
			root.Send(c.pid, m)
		}
	case *reconcileReq, *ensureTableReq:
		answer(root, sender, nil, fmt.Errorf("%w: the writer of %s failed: %v", ErrNotReady, c.name, reason))
	}
	return false
}

// Receive implements actor.Actor.
func (w *writersActor) Receive(ctx actor.Context) {
	guard(w.env, kindWriters, ctx, func() { w.receive(ctx) })
}

func (w *writersActor) receive(ctx actor.Context) {
	w.env.hooks.receive(kindWriters, kindWriters, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		w.sys = ctx.ActorSystem()
	case *edgeWrite:
		if _, gone := w.dropped[m.table]; gone {
			w.discarded++
			return
		}
		if w.route(ctx, m.table, m) && m.kind == opDelta {
			w.backlog++
			w.report(ctx)
		}
	case *writesHanded:
		w.backlog -= m.n
		w.setPending(m.table, m.pending)
		w.report(ctx)
	case *unwrittenReq:
		ctx.Respond(&unwrittenReply{queued: w.backlog, pending: w.pendingSum})
	case *ensureTableReq:
		delete(w.dropped, m.table)
		w.route(ctx, m.table, m)
	case *dropUserTableReq:
		table := membership.UserTable(m.uid)
		now := time.Now()
		for t, at := range w.dropped {
			if now.Sub(at) > tombstoneTTL {
				delete(w.dropped, t)
			}
		}
		w.dropped[table] = now
		w.route(ctx, table, m)
	case *reconcileReq:
		delete(w.dropped, m.table) // the bootstrap decides what the table holds
		w.route(ctx, m.table, m)
	case *forgetAllReq:
		w.broadcast(ctx, func(round uint64) any { return &forgetReq{round: round} })
	case *drainWritersReq:
		w.broadcast(ctx, func(round uint64) any { return &drainReq{round: round} })
	case *writerReplied:
		r := w.rounds[m.round]
		if r == nil {
			return
		}
		if r.waiting--; r.waiting == 0 {
			delete(w.rounds, m.round)
			answer(ctx, r.to, &done{}, nil)
		}
	case *clearEdgesReq:
		to, self, sys, db, owner := ctx.Sender(), ctx.Self(), ctx.ActorSystem(), w.env.db, w.env.owner
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			sys.Root.Send(self, &clearedEdges{to: to, err: membership.ClearEdges(cctx, db, owner)})
		}()
	case *clearedEdges:
		answer(ctx, m.to, &done{}, m.err)
	case *writerIdle:
		if s := w.byTable[m.table]; s != nil && s.c.pid.Id == m.pid.Id && s.routed == m.received {
			delete(w.byTable, m.table)
			ctx.Stop(s.c.pid)
		}
	case *actor.Stopping:
		w.stopping = true
	case *actor.Terminated:
		if c := w.forget(m.Who); c != nil {
			if s := w.byTable[c.name]; s != nil && s.c.pid.Id == m.Who.Id {
				delete(w.byTable, c.name)
				w.setPending(c.name, 0)
				if !w.stopping {
					w.env.log.WithField("table", c.name).Error("writer actor stopped unexpectedly")
				}
			}
		}
	case *listChildrenReq:
		ctx.Respond(&childList{entries: w.list()})
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"writers": len(w.byTable), "edge_backlog": w.backlog, "pending_edge_writes": w.pendingSum,
			"dropped_tables": len(w.dropped), "writes_discarded": w.discarded}})
	}
}

// setPending records a writer's pending edge writes.
func (w *writersActor) setPending(table string, n int) {
	w.pendingSum += n - w.pending[table]
	if n == 0 {
		delete(w.pending, table)
	} else {
		w.pending[table] = n
	}
}

// route forwards msg to the writer of table, keeping the requester as the sender; it reports
// whether a writer got it.
func (w *writersActor) route(ctx actor.Context, table string, msg any) bool {
	s := w.byTable[table]
	if s == nil {
		var err error
		if s, err = w.start(ctx, table); err != nil {
			w.env.log.WithField("table", table).WithError(err).Error("writer actor not started; the write is lost")
			reply(ctx, nil, err)
			return false
		}
	}
	s.routed++
	if ctx.Sender() != nil {
		ctx.RequestWithCustomSender(s.c.pid, msg, ctx.Sender())
		return true
	}
	ctx.Send(s.c.pid, msg)
	return true
}

// report tells the coordinator the writers' backlog when it moved by a granule
// (SPKY_EDGE_BACKLOG/256, 1 to 64 deltas) since the last report, or reached zero.
func (w *writersActor) report(ctx actor.Context) {
	granule := 64
	if b := w.env.cfg.EdgeBacklog; b > 0 {
		granule = max(1, min(64, b/256))
	}
	d := w.backlog - w.reported
	if d == 0 || (w.backlog != 0 && d < granule && d > -granule) {
		return
	}
	w.reported = w.backlog
	ctx.Send(w.pids.coordinator, &backlogReport{queued: w.backlog})
}

func (w *writersActor) start(ctx actor.Context, table string) (*writerSlot, error) {
	if !membership.ValidTableName(table) {
		return nil, fmt.Errorf("invalid list_ref table name %q", table)
	}
	w.seq++
	st := newWriterState(w.env, table)
	e, p := w.env, w.pids
	c, err := w.spawn(ctx, kindWriter, table, fmt.Sprintf("%s-%d", table, w.seq), func() actor.Actor {
		return &writerActor{env: e, pids: p, st: st}
	})
	if err != nil {
		return nil, err
	}
	s := &writerSlot{c: c}
	w.byTable[table] = s
	w.env.log.WithFields(logrus.Fields{"table": table, "actor": c.pid.Id}).Debug("writer actor started")
	return s, nil
}

// broadcast sends every writer the message made by build and answers the requester once all
// replied (at once when there is no writer).
func (w *writersActor) broadcast(ctx actor.Context, build func(round uint64) any) {
	w.roundID++
	r := &round{id: w.roundID, waiting: len(w.byTable), to: ctx.Sender()}
	if r.waiting == 0 {
		reply(ctx, &done{}, nil)
		return
	}
	w.rounds[r.id] = r
	for _, s := range w.byTable {
		s.routed++
		ctx.Request(s.c.pid, build(r.id))
	}
}
