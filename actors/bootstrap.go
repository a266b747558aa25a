package actors

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/tablehash"
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
	hashes    map[string]string // scheduler mode: the table hashes of the snapshot (SPEC §6.3)
	reload    bool              // a first mismatch loads the snapshot again (else it is reported)
	attempt   int
	epoch     uint64 // the coordinator's, for this attempt (see beginLoadReq)
	rows      int    // loaded by the last attempt
}

func newBootstrapJob(e *env, p pids, ctx context.Context, j *job, keepViews bool) *bootstrapJob {
	return &bootstrapJob{env: e, pids: p, ctx: ctx, id: j.id, keepViews: keepViews, reason: j.reason, hashes: j.hashes, reload: j.reload}
}

// hashMismatchError: the loaded tables do not hash as the scheduler's snapshot does.
type hashMismatchError struct {
	tables []string // "table: expected X, loaded Y"
}

func (e *hashMismatchError) Error() string {
	return "the loaded snapshot does not match the scheduler's table hashes: " + strings.Join(e.tables, "; ")
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
	var mismatch *hashMismatchError
	switch {
	case j.ctx.Err() != nil:
		j.report(ctx, fmt.Errorf("bootstrap: %w", j.ctx.Err()))
		return
	case err == nil:
		j.env.m.bootstrapRows.Set(float64(j.rows))
		j.env.log.WithFields(fields).WithFields(logrus.Fields{"rows": j.rows,
			"duration": time.Since(start).Round(time.Millisecond).String()}).Info("bootstrap done")
		j.report(ctx, nil)
		return
	case errors.As(err, &mismatch):
		if j.reload {
			// SPEC §6.3: wipe and load the same snapshot once more.
			j.reload = false
			j.env.log.WithFields(fields).WithError(err).Warn("table hashes differ: loading the snapshot again")
			ctx.Send(ctx.Self(), &runAttempt{})
			return
		}
		j.report(ctx, err)
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
	if !j.keepViews {
		// A first bootstrap starts from nothing (an earlier attempt may have left rows).
		if err := resetMemory(jctx, ctx, j.pids, nil); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
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
	hints, err := readSchemas(jctx, j.env)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if _, err := requestFrom[*schemaApplied](jctx, ctx, coord, &setSchemaReq{hints: hints, epoch: j.epoch}, jobStepTimeout); err != nil {
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
	j.rows = rows
	j.env.log.WithFields(logrus.Fields{"tables": len(tables), "rows": rows}).Info("bootstrap: base data loaded")
	if err := j.verify(ctx); err != nil {
		return err
	}
	if j.keepViews {
		n, err := requestFrom[int](jctx, ctx, coord, &rematerializeReq{epoch: j.epoch}, jobStepTimeout)
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		j.env.log.WithField("views", n).Info("bootstrap: views re-materialized")
	} else if err := j.reregister(ctx); err != nil {
		return err
	}
	drop, err := j.dropOrphans(ctx, tables)
	if err != nil {
		return err
	}
	return j.reconcileAll(ctx, drop)
}

// dropOrphans: when the database has a user table, the views of users missing from it go
// (deleted while the SSP was away: SPEC §1.1) and so do the per-user list_ref tables of missing
// users that own no view; it returns those tables. Without a user table nothing is known.
func (j *bootstrapJob) dropOrphans(ctx actor.Context, tables []string) (map[string]bool, error) {
	if !slices.Contains(tables, userTable) {
		return nil, nil
	}
	existing, err := membership.ListRefTables(j.ctx, j.env.db)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	var uids []string
	for _, t := range existing {
		if uid, ok := userOfTable(t); ok {
			uids = append(uids, uid)
		}
	}
	o, err := requestFrom[*orphans](j.ctx, ctx, j.pids.coordinator, &dropOrphansReq{epoch: j.epoch, uids: uids}, jobStepTimeout)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	drop := map[string]bool{}
	if j.env.cfg.RefMode == membership.RefDedicated {
		for _, uid := range o.missing {
			drop[membership.UserTable(uid)] = true
		}
	}
	return drop, nil
}

// verify compares the loaded tables with the scheduler's table hashes (SPEC §6.3, §6.4): a
// table missing on either side counts as an empty one. Without hashes (standalone, or an
// older scheduler) there is nothing to compare.
func (j *bootstrapJob) verify(ctx actor.Context) error {
	if len(j.hashes) == 0 {
		return nil
	}
	loaded, err := requestFrom[*loadedRows](j.ctx, ctx, j.pids.coordinator, &loadedRowsReq{epoch: j.epoch}, jobStepTimeout)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	tables := map[string]bool{}
	for t := range j.hashes {
		tables[t] = true
	}
	for t := range loaded.rows {
		tables[t] = true
	}
	var diffs []string
	for t := range tables {
		if membership.IsInternal(t) {
			continue // the SSP's own tables are not base data
		}
		want, ok := j.hashes[t]
		if !ok {
			want = tablehash.Hash(t, nil)
		}
		if got := tablehash.Hash(t, loaded.rows[t]); got != want {
			j.env.log.WithFields(logrus.Fields{"table": t, "expected": want, "loaded": got, "rows": len(loaded.rows[t])}).
				Warn("table hash differs from the scheduler's")
			diffs = append(diffs, fmt.Sprintf("%s: expected %s, loaded %s", t, want, got))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return &hashMismatchError{tables: diffs}
	}
	j.env.log.WithField("tables", len(tables)).Info("bootstrap: table hashes verified")
	return nil
}

// reregister registers every view of `_00_query` (without writing edges: reconcileAll does).
func (j *bootstrapJob) reregister(ctx actor.Context) error {
	queries, err := j.env.store.LoadQueries(j.ctx, j.env.owner)
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

// reconcileAll makes every list_ref table's edges equal to the computed membership; the tables
// in drop are removed instead (their writers retry until the removal succeeds).
func (j *bootstrapJob) reconcileAll(ctx actor.Context, drop map[string]bool) error {
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
	names := slices.Sorted(maps.Keys(refTables))
	owned, err := j.owned(snap)
	if err != nil {
		return err
	}
	for _, t := range names {
		if drop[t] {
			uid, _ := userOfTable(t)
			ctx.Send(j.pids.writers, &dropUserTableReq{uid: uid})
			continue
		}
		vs := snap.tables[t]
		if vs == nil {
			vs = map[string]membership.ViewMembership{}
		}
		if _, err := requestFrom[*done](j.ctx, ctx, j.pids.writers, &reconcileReq{table: t, views: vs, owned: owned}, jobReconcileTimeout); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	return nil
}

// owned returns which views' edges a reconcile may touch (SPEC §6.7): standalone every one
// (nil); in scheduler mode the views whose `_00_query` row names this SSP (marked unregistered
// or not) and those it holds, never another SSP's.
func (j *bootstrapJob) owned(snap *snapshotReply) (func(string) bool, error) {
	if j.env.owner == "" {
		return nil, nil
	}
	keys, err := j.env.store.OwnedKeys(j.ctx, j.env.owner)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	mine := map[string]bool{}
	for _, k := range keys {
		mine[k] = true
	}
	for _, views := range snap.tables {
		for key := range views {
			mine[key] = true
		}
	}
	return func(view string) bool { return mine[view] }, nil
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
