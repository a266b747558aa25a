package actors

import (
	"github.com/asynkron/protoactor-go/actor"
)

// Messages of the housekeeping supervisor.
type (
	// stopTTLReq stops the TTL sweeps (shutdown); answered with done.
	stopTTLReq struct{}
)

// housekeepingActor supervises the actors that keep the SSP's own rows: queries (every write
// of `_00_query`: registrations, expiries), ttl (the TTL sweep, SPEC §7) and metrics (the
// views' metrics, flushed to `_00_query`), schema (the periodic read of the tables' field
// types); and dbwatch, which probes the database for /health. Restart policy: restart; they keep little state
// (a restarted metrics actor loses at most the metrics of one interval, which the views send
// again with their next change).
type housekeepingActor struct {
	*supervision
	pids     pids
	ttl      *actor.PID
	stopping []*actor.PID // stopTTLReq requesters, answered once the ttl actor stopped
}

func newHousekeepingActor(e *env, p pids) *housekeepingActor {
	return &housekeepingActor{supervision: newSupervision(e), pids: p}
}

// Receive implements actor.Actor.
func (h *housekeepingActor) Receive(ctx actor.Context) {
	guard(h.env, kindHousekeeping, ctx, func() { h.receive(ctx) })
}

func (h *housekeepingActor) receive(ctx actor.Context) {
	h.env.hooks.receive(kindHousekeeping, kindHousekeeping, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		e, p := h.env, h.pids
		for _, c := range []struct {
			kind     string
			producer actor.Producer
		}{
			{kindQueries, func() actor.Actor { return newQueriesActor(e, p) }},
			{kindTTL, func() actor.Actor { return newTTLActor(e, p) }},
			{kindFlusher, func() actor.Actor { return newFlusherActor(e) }},
			{kindSchema, func() actor.Actor { return newSchemaActor(e, p) }},
			{kindDBWatch, func() actor.Actor { return newDBWatchActor(e, e.pingEvery) }},
		} {
			ch, err := h.spawn(ctx, c.kind, c.kind, c.kind, c.producer)
			if err != nil {
				h.env.log.WithError(err).Error("housekeeping actor not started")
				continue
			}
			if c.kind == kindTTL {
				h.ttl = ch.pid
			}
		}
		ctx.Send(ctx.Parent(), &childrenReady{kind: kindHousekeeping})
	case *stopTTLReq:
		if h.ttl == nil {
			reply(ctx, &done{}, nil)
			return
		}
		h.stopping = append(h.stopping, ctx.Sender())
		ctx.Stop(h.ttl)
	case *actor.Terminated:
		h.forget(m.Who)
		if h.ttl != nil && m.Who.Id == h.ttl.Id {
			h.ttl = nil
			for _, w := range h.stopping {
				answer(ctx, w, &done{}, nil)
			}
			h.stopping = nil
		}
	case *listChildrenReq:
		ctx.Respond(&childList{entries: h.list()})
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"children": len(h.byPID)}})
	}
}
