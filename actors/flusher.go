package actors

import (
	"context"
	"sort"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sp00ky/ssp/surreal/membership"
)

// Messages of the metrics actor.
type (
	// viewMetrics: a view's latest metrics (a view sends them at most once per flush
	// interval, and when it stops).
	viewMetrics struct{ m membership.ViewMetrics }
	// flushTickMetrics: time to write the collected metrics.
	flushTickMetrics struct{}
	// flushMetricsReq writes the collected metrics now (shutdown); answered with done or the
	// error.
	flushMetricsReq struct{}
)

// flusherActor writes the views' metrics (SPEC §2.1: rowCount, updateCount,
// lastIngestLatency, materializationP55/P90/P99) to their `_00_query` rows every
// Config.MetricsFlushInterval, in one write, only for views whose metrics changed. A failed
// write keeps the metrics for the next one (newer ones of a view replace them).
type flusherActor struct {
	env     *env
	pending map[string]membership.ViewMetrics
	stop    func()
}

func newFlusherActor(e *env) *flusherActor {
	return &flusherActor{env: e, pending: map[string]membership.ViewMetrics{}}
}

// Receive implements actor.Actor.
func (a *flusherActor) Receive(ctx actor.Context) {
	a.env.hooks.receive(kindFlusher, kindFlusher, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.stop = ticker(ctx.ActorSystem(), a.env.cfg.MetricsFlushInterval, ctx.Self(), &flushTickMetrics{})
	case *actor.Stopping, *actor.Restarting:
		if a.stop != nil {
			a.stop()
			a.stop = nil
		}
	case *viewMetrics:
		a.pending[m.m.Key] = m.m
	case *flushTickMetrics:
		_ = a.flush()
	case *flushMetricsReq:
		reply(ctx, &done{}, a.flush())
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"views_pending": len(a.pending)}})
	}
}

func (a *flusherActor) flush() error {
	if len(a.pending) == 0 {
		return nil
	}
	batch := make([]membership.ViewMetrics, 0, len(a.pending))
	for _, m := range a.pending {
		batch = append(batch, m)
	}
	sort.Slice(batch, func(i, j int) bool { return batch[i].Key < batch[j].Key })
	cctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	if err := a.env.store.FlushMetrics(cctx, batch); err != nil {
		a.env.log.WithField("views", len(batch)).WithError(err).Warn("view metrics flush failed; retrying next time")
		return err
	}
	clear(a.pending)
	return nil
}
