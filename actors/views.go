package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/engine"
)

// Messages of the views supervisor.
type (
	// startView starts the actor of a newly registered view. initial: it writes its whole
	// membership as edges (a bootstrap registration does not: the bootstrap reconciles).
	startView struct {
		key, table, clientID, authID string
		members                      []engine.Member
		initial                      bool
	}
	// replaceView gives a view a new membership, owner data or list_ref table (a
	// re-registration, a re-materialization).
	replaceView struct {
		key, table, clientID, authID string
		members                      []engine.Member
	}
	// retireView ends a view's actor after the steps already sent to it; with removeEdges it
	// first removes the view's edges.
	retireView struct {
		key         string
		removeEdges bool
	}
	// stepFanOut is one step's deltas, one per affected view.
	stepFanOut struct {
		deltas  []engine.Delta
		waitID  uint64
		latency time.Duration
	}
	// resynced carries a restarted view's registration from the coordinator (membership,
	// list_ref table, owner data), in step order; ok is false when the view is no longer
	// registered.
	resynced struct {
		key                     string
		incarnation             uint64
		table, clientID, authID string
		members                 []engine.Member
		ok                      bool
	}
	// resyncTable makes every view writing to table hand its whole membership to the writer
	// again (the table's writer failed on a message: what it lost is written anew).
	resyncTable struct{ table string }
	// retireAllReq retires every view without touching its edges (/reset); answered with done
	// once no view actor is left.
	retireAllReq struct{}
	// drainViewsReq stops every view actor after its queued steps (shutdown); answered with
	// done once none is left.
	drainViewsReq struct{}
	// viewActorReq asks for the actor part of /debug/view; answered with viewActorReply.
	viewActorReq   struct{ key string }
	viewActorReply struct {
		ok                bool
		pid               *actor.PID
		mailbox, restarts int
		lastErr           string
	}
)

// liveView is a running view actor.
type liveView struct {
	c           *child
	incarnation uint64
}

// retiringView is a view actor that was told to retire and has not terminated yet. next holds
// what arrived meanwhile for a new registration of the same key (startView first): it is
// delivered once the old actor is gone, so that the old actor's last edge items (its edge
// removal above all) reach the writer before the new one's.
type retiringView struct {
	pid         *actor.PID
	removeEdges bool
	next        []any
}

// viewsActor supervises the view actors (one per registered view key; restart policy: a view
// that fails is restarted and rebuilt from the engine, see viewActor) and routes each step's
// deltas to them in step order. Every request to a view goes through it or comes after an
// answer of it, so a request sent after an ingest's 200 reaches the view behind the change.
type viewsActor struct {
	*supervision
	pids         pids
	sys          *actor.ActorSystem
	live         map[string]*liveView
	retiring     map[string]*retiringView
	incarnations uint64
	waiters      []*actor.PID // retireAll and drain requesters
	draining     bool
	stopping     bool // the tree is being stopped
}

func newViewsActor(e *env, p pids) *viewsActor {
	v := &viewsActor{supervision: newSupervision(e), pids: p, live: map[string]*liveView{},
		retiring: map[string]*retiringView{}}
	v.onFailure = v.viewFailed
	return v
}

// viewFailed is the views' policy on a failure, besides the restart: a restarted view rebuilds
// itself from the coordinator (resync), which repairs any lost step, replacement or
// resynchronisation; a view that was retiring is told again (the retirement may be what was
// lost), behind everything else it holds.
func (v *viewsActor) viewFailed(c *child, _, _ any) bool {
	if r := v.retiring[c.name]; r != nil && r.pid.Id == c.pid.Id {
		v.sys.Root.Send(c.pid, &retireMsg{removeEdges: r.removeEdges})
	}
	return false
}

// Receive implements actor.Actor.
func (v *viewsActor) Receive(ctx actor.Context) {
	guard(v.env, kindViews, ctx, func() { v.receive(ctx) })
}

func (v *viewsActor) receive(ctx actor.Context) {
	v.env.hooks.receive(kindViews, kindViews, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		v.sys = ctx.ActorSystem()
	case *resyncTable:
		for _, lv := range v.live {
			ctx.Send(lv.c.pid, m)
		}
	case *startView, *replaceView, *retireView:
		v.deliver(ctx, m)
	case *stepFanOut:
		v.fanOut(ctx, m)
	case *resynced:
		if lv := v.live[m.key]; lv != nil && lv.incarnation == m.incarnation {
			ctx.Send(lv.c.pid, m)
		}
	case *actor.Stopping:
		v.stopping = true
	case *actor.Terminated:
		v.terminated(ctx, m.Who)
	case *retireAllReq:
		for key, lv := range v.live {
			v.retire(ctx, key, lv, false)
		}
		for _, r := range v.retiring {
			r.next = nil // what waited for a new registration goes with every view
		}
		v.waitEmpty(ctx)
	case *drainViewsReq:
		v.draining = true
		for _, lv := range v.live {
			ctx.Poison(lv.c.pid)
		}
		v.waitEmpty(ctx)
	case *viewActorReq:
		lv := v.live[m.key]
		if lv == nil {
			ctx.Respond(&viewActorReply{})
			return
		}
		ctx.Respond(&viewActorReply{ok: true, pid: lv.c.pid, mailbox: lv.c.depth.len(), restarts: lv.c.restarts, lastErr: lv.c.lastErr})
	case *listChildrenReq:
		ctx.Respond(&childList{entries: v.list()})
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"views": len(v.live), "retiring": len(v.retiring),
			"draining": v.draining}})
	}
}

// deliver handles a lifecycle message of one key, or holds it for the key's next incarnation
// while the previous one retires.
func (v *viewsActor) deliver(ctx actor.Context, msg any) {
	var key string
	switch m := msg.(type) {
	case *startView:
		key = m.key
	case *replaceView:
		key = m.key
	case *retireView:
		key = m.key
	case *viewStep:
		key = m.delta.View
	}
	if r := v.retiring[key]; r != nil {
		if _, isStart := msg.(*startView); isStart || len(r.next) > 0 {
			r.next = append(r.next, msg)
			return
		}
	}
	lv := v.live[key]
	switch m := msg.(type) {
	case *startView:
		if lv != nil {
			v.env.log.WithField("view", key).Error("view started twice; replacing its membership instead")
			ctx.Send(lv.c.pid, &replaceView{key: key, table: m.table, clientID: m.clientID, authID: m.authID, members: m.members})
			return
		}
		v.spawnView(ctx, m)
	case *replaceView:
		if lv != nil {
			ctx.Send(lv.c.pid, m)
		}
	case *retireView:
		if lv != nil {
			v.retire(ctx, key, lv, m.removeEdges)
		}
	case *viewStep:
		if lv != nil {
			ctx.Send(lv.c.pid, m)
		}
	}
}

func (v *viewsActor) spawnView(ctx actor.Context, m *startView) {
	v.incarnations++
	inc := v.incarnations
	st := &viewState{key: m.key, incarnation: inc, table: m.table, clientID: m.clientID, authID: m.authID,
		initial: m.initial, initMembers: m.members}
	e, p := v.env, v.pids
	c, err := v.spawn(ctx, kindView, m.key, fmt.Sprintf("view-%d", inc), func() actor.Actor {
		return &viewActor{env: e, pids: p, st: st}
	})
	if err != nil {
		v.env.log.WithField("view", m.key).WithError(err).Error("view actor not started")
		return
	}
	v.live[m.key] = &liveView{c: c, incarnation: inc}
	if v.draining {
		ctx.Poison(c.pid) // it writes its initial edges, then stops
	}
}

// retire tells a live view actor to end and holds the key's next messages until it did.
func (v *viewsActor) retire(ctx actor.Context, key string, lv *liveView, removeEdges bool) {
	delete(v.live, key)
	ctx.Send(lv.c.pid, &retireMsg{removeEdges: removeEdges})
	v.retiring[key] = &retiringView{pid: lv.c.pid, removeEdges: removeEdges}
}

func (v *viewsActor) fanOut(ctx actor.Context, m *stepFanOut) {
	for _, d := range m.deltas {
		key := d.View
		if r := v.retiring[key]; v.live[key] == nil && (r == nil || len(r.next) == 0) {
			continue // retired and not registered again: nobody applies it
		}
		v.deliver(ctx, &viewStep{delta: d, waitID: m.waitID, latency: m.latency})
	}
}

func (v *viewsActor) terminated(ctx actor.Context, who *actor.PID) {
	c := v.forget(who)
	if c == nil {
		return
	}
	key := c.name
	if r := v.retiring[key]; r != nil && r.pid.Id == who.Id {
		delete(v.retiring, key)
		for _, msg := range r.next {
			v.deliver(ctx, msg)
		}
	} else if lv := v.live[key]; lv != nil && lv.c.pid.Id == who.Id {
		delete(v.live, key)
		if !v.draining && !v.stopping {
			v.env.log.WithFields(logrus.Fields{"view": key, "actor": who.Id}).Error("view actor stopped unexpectedly")
		}
	}
	v.waitEmpty(ctx)
}

// waitEmpty adds the current requester (if any) to those answered once no view actor is left,
// and answers them if none is.
func (v *viewsActor) waitEmpty(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *retireAllReq, *drainViewsReq:
		v.waiters = append(v.waiters, ctx.Sender())
	}
	if len(v.byPID) > 0 {
		return
	}
	for _, w := range v.waiters {
		answer(ctx, w, &done{}, nil)
	}
	v.waiters = nil
}
