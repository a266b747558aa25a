package actors

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// Messages of a reset job.
type (
	// runReset starts the reset.
	runReset struct{}
)

// resetJob runs /reset (SPEC §1.4) for the root, which runs it between bootstraps: every view
// and all base data are dropped in memory (registrations are refused meanwhile), the writers
// discard what they hold, every edge of every list_ref table is deleted; `_00_query` rows
// stay. It reports to the root (which answers the requester) and stops.
type resetJob struct {
	env  *env
	pids pids
	ctx  context.Context
	id   uint64
}

func newResetJob(e *env, p pids, ctx context.Context, id uint64) *resetJob {
	return &resetJob{env: e, pids: p, ctx: ctx, id: id}
}

// Receive implements actor.Actor.
func (j *resetJob) Receive(ctx actor.Context) {
	j.env.hooks.receive(kindJob, jobReset, ctx.Message())
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.Send(ctx.Self(), &runReset{})
	case *runReset:
		err := j.run(ctx)
		if err == nil {
			j.env.log.Warn("reset: every view, all base data and every edge dropped")
		}
		ctx.Send(ctx.Parent(), &jobDone{job: j.id, err: err}) // the root stops the job
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{}})
	}
}

func (j *resetJob) run(ctx actor.Context) error {
	// Every view actor forwards the items of the steps sent to it before it stops, then the
	// writers drop everything queued, then the tables are emptied; registrations wait until
	// then.
	err := resetMemory(j.ctx, ctx, j.pids, func() error {
		_, err := requestFrom[*done](j.ctx, ctx, j.pids.writers, &clearEdgesReq{}, jobReconcileTimeout)
		return err
	})
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	return nil
}
