package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Messages of the ttl actor.
type (
	// sweepTick: time for a TTL sweep.
	sweepTick struct{}
)

// ttlActor runs the TTL sweep (SPEC §7) every Config.TTLCleanupInterval while the SSP is
// ready: it lists the expired `_00_query` rows and hands each to the coordinator, which has
// the queries actor delete the row only if it is still expired (in order with the view's
// registrations) and then drops the view and its edges. Per-user tables left without any view
// are removed after that (coordinator: checkOwner).
type ttlActor struct {
	env  *env
	pids pids
	stop func()
}

func newTTLActor(e *env, p pids) *ttlActor { return &ttlActor{env: e, pids: p} }

// Receive implements actor.Actor.
func (a *ttlActor) Receive(ctx actor.Context) {
	a.env.hooks.receive(kindTTL, kindTTL, ctx.Message())
	switch ctx.Message().(type) {
	case *actor.Started:
		a.stop = ticker(ctx.ActorSystem(), a.env.cfg.TTLCleanupInterval, ctx.Self(), &sweepTick{})
	case *actor.Stopping, *actor.Restarting:
		if a.stop != nil {
			a.stop()
			a.stop = nil
		}
	case *sweepTick:
		a.sweep(ctx)
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"interval_seconds": a.env.cfg.TTLCleanupInterval.Seconds()}})
	}
}

func (a *ttlActor) sweep(ctx actor.Context) {
	st, err := requestFrom[*statusReply](context.Background(), ctx, a.pids.root, &statusReq{}, 5*time.Second)
	if err != nil || st.status != StatusReady {
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	rows, err := a.env.store.ExpiredQueries(cctx, time.Now(), a.env.owner)
	if err != nil {
		a.env.log.WithError(err).Warn("ttl sweep: list expired views")
		return
	}
	for _, r := range rows {
		ctx.Send(a.pids.coordinator, &expireReq{key: r.Key, authID: r.AuthID})
	}
}
