package actors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/value"
)

// Messages of a bootstrap job.
type (
	// runAttempt starts the next attempt.
	runAttempt struct{}
)

// Timeouts of a job's requests: a page is stored quickly, a reconcile reads and fixes a whole
// table.
const (
	jobStepTimeout      = 2 * time.Minute
	jobReconcileTimeout = 30 * time.Minute
)

// bootstrapJob runs one bootstrap (SPEC §5) for the root: every base table is loaded into the
// coordinator page by page, the views are registered (from `_00_query` on a first bootstrap;
// kept and re-materialized over the reloaded data on an in-process re-bootstrap, SPEC §6.5),
// and every list_ref table is reconciled with the computed membership. A failed attempt is
// retried whole (Deps.BootstrapAttempts, Deps.BootstrapRetryDelay apart; the database
// connection already retried each query within its own budget). It reports to the root and
// stops; the root owns the status and cancels the job at shutdown.
type bootstrapJob struct {
	env       *env
	pids      pids
	ctx       context.Context
	id        uint64
	keepViews bool
	reason    string
	attempt   int
	epoch     uint64 // the coordinator's, for this attempt (see beginLoadReq)
}

func newBootstrapJob(e *env, p pids, ctx context.Context, id uint64, keepViews bool, reason string) *bootstrapJob {
	return &bootstrapJob{env: e, pids: p, ctx: ctx, id: id, keepViews: keepViews, reason: reason}
}

// Receive implements actor.Actor.
func (j *bootstrapJob) Receive(ctx actor.Context) {
	j.env.hooks.receive(kindJob, jobBootstrap, ctx.Message())
	switch ctx.Message().(type) {
	case *actor.Started:
		ctx.Send(ctx.Self(), &runAttempt{})
	case *runAttempt:
		j.run(ctx)
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"attempt": j.attempt, "of": j.env.bootAttempts,
			"keep_views": j.keepViews, "reason": j.reason}})
	}
}

func (j *bootstrapJob) run(ctx actor.Context) {
	j.attempt++
	start := time.Now()
	err := j.once(ctx)
	fields := logrus.Fields{"attempt": j.attempt, "of": j.env.bootAttempts, "reason": j.reason}
	switch {
	case j.ctx.Err() != nil:
		j.report(ctx, fmt.Errorf("bootstrap: %w", j.ctx.Err()))
		return
	case err == nil:
		j.env.log.WithFields(fields).WithField("duration", time.Since(start).Round(time.Millisecond).String()).Info("bootstrap done")
		j.report(ctx, nil)
		return
	case j.attempt >= j.env.bootAttempts:
		j.env.log.WithFields(fields).WithError(err).Error("bootstrap failed; giving up")
		j.report(ctx, err)
		return
	}
	j.env.log.WithFields(fields).WithError(err).Warn("bootstrap failed; retrying")
	if !j.keepViews {
		if rerr := resetMemory(j.ctx, ctx, j.pids, nil); rerr != nil {
			j.report(ctx, fmt.Errorf("bootstrap: %w (after: %v)", rerr, err))
			return
		}
	}
	after(ctx.ActorSystem(), j.env.bootDelay, ctx.Self(), &runAttempt{})
}

// report tells the root, which stops the job.
func (j *bootstrapJob) report(ctx actor.Context, err error) {
	ctx.Send(ctx.Parent(), &jobDone{job: j.id, err: err})
}

// once is one attempt.
func (j *bootstrapJob) once(ctx actor.Context) error {
	jctx, coord := j.ctx, j.pids.coordinator
	begun, err := requestFrom[*loadBegun](jctx, ctx, coord, &beginLoadReq{fresh: j.keepViews}, jobStepTimeout)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	j.epoch = begun.epoch
	ldr := loader.New(j.env.source)
	tables, err := ldr.Tables(jctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	rows := 0
	for _, t := range tables {
		err := ldr.LoadTable(jctx, t, j.env.cfg.BootstrapPageSize, func(page []value.Value) error {
			rows += len(page)
			_, err := requestFrom[*done](jctx, ctx, coord, &loadRowsReq{table: t, rows: page, epoch: j.epoch}, jobStepTimeout)
			return err
		})
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	j.env.log.WithFields(logrus.Fields{"tables": len(tables), "rows": rows}).Info("bootstrap: base data loaded")
	if j.keepViews {
		n, err := requestFrom[int](jctx, ctx, coord, &rematerializeReq{epoch: j.epoch}, jobStepTimeout)
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		j.env.log.WithField("views", n).Info("bootstrap: views re-materialized")
	} else if err := j.reregister(ctx); err != nil {
		return err
	}
	return j.reconcileAll(ctx)
}

// reregister registers every view of `_00_query` (without writing edges: reconcileAll does).
func (j *bootstrapJob) reregister(ctx actor.Context) error {
	queries, err := j.env.store.LoadQueries(j.ctx, "")
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	views := 0
	for _, q := range queries {
		params, err := engine.Params(q.Params)
		if err != nil {
			j.env.log.WithField("view", q.Key).WithError(err).Warn("bootstrap: view not re-registered")
			continue
		}
		req := RegisterRequest{Key: q.Key, SurQL: q.SurQL, ClientID: q.ClientID, TTL: q.TTL, Params: params, LastActiveAt: q.LastActiveAt}
		_, err = requestFrom[*registerDone](j.ctx, ctx, j.pids.coordinator, &registerReq{req: req, authID: q.AuthID, bootstrap: true, epoch: j.epoch}, jobStepTimeout)
		if errors.Is(err, ErrInvalid) {
			j.env.log.WithField("view", q.Key).WithError(err).Warn("bootstrap: view not re-registered")
			continue
		}
		if err != nil {
			return fmt.Errorf("bootstrap: re-register view %s: %w", q.Key, err)
		}
		views++
	}
	j.env.log.WithField("views", views).Info("bootstrap: views re-registered")
	return nil
}

// reconcileAll makes every list_ref table's edges equal to the computed membership.
func (j *bootstrapJob) reconcileAll(ctx actor.Context) error {
	if _, err := requestFrom[*done](j.ctx, ctx, j.pids.writers, &ensureTableReq{table: membership.GlobalTable}, jobStepTimeout); err != nil {
		j.env.log.WithError(err).Warn("bootstrap: define " + membership.GlobalTable)
	}
	snap, err := requestFrom[*snapshotReply](j.ctx, ctx, j.pids.coordinator, &snapshotReq{epoch: j.epoch}, jobStepTimeout)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	existing, err := membership.ListRefTables(j.ctx, j.env.db)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	refTables := map[string]bool{}
	for _, t := range existing {
		refTables[t] = true
	}
	for t := range snap.tables {
		refTables[t] = true
	}
	names := make([]string, 0, len(refTables))
	for t := range refTables {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		vs := snap.tables[t]
		if vs == nil {
			vs = map[string]membership.ViewMembership{}
		}
		if _, err := requestFrom[*done](j.ctx, ctx, j.pids.writers, &reconcileReq{table: t, views: vs}, jobReconcileTimeout); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	return nil
}

// resetMemory drops every view and all base rows in memory and everything queued in the
// writers, then runs also (if set) while registrations are still refused; the database is
// left alone unless also touches it.
func resetMemory(jctx context.Context, ctx actor.Context, p pids, also func() error) error {
	_, err := requestFrom[*done](jctx, ctx, p.coordinator, &beginResetReq{}, jobStepTimeout)
	if err == nil {
		_, err = requestFrom[*done](jctx, ctx, p.writers, &forgetAllReq{}, jobStepTimeout)
	}
	if err == nil && also != nil {
		err = also()
	}
	// Registrations are accepted again whatever happened (with the job's context gone too).
	ectx, cancel := context.WithTimeout(context.WithoutCancel(jctx), jobStepTimeout)
	defer cancel()
	if _, eerr := requestFrom[*done](ectx, ctx, p.coordinator, &endResetReq{}, jobStepTimeout); err == nil {
		err = eerr
	}
	return err
}
