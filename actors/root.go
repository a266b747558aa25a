package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/scheduler"
)

// Messages of the root.
type (
	// statusReq asks for the lifecycle state; answered with statusReply.
	statusReq   struct{}
	statusReply struct {
		status Status
		detail string // why it failed, when it did
	}
	// rootInfoReq asks for the root's part of /info; answered with rootInfo.
	rootInfoReq struct{}
	rootInfo    struct {
		status    Status
		startedAt time.Time
		dbVersion string
	}
	// rebootstrapReq asks for an in-process re-bootstrap that keeps the views (SPEC §6.5);
	// answered with done once ready again, or with the error.
	rebootstrapReq struct{ reason string }
	// resetReq asks for /reset (SPEC §1.4); answered with done or the error. It runs between
	// bootstraps, never during one.
	resetReq struct{}
	// shutdownReq stops every admission and every job; answered with done once no job runs.
	shutdownReq struct{}
	// jobDone is a job actor's report.
	jobDone struct {
		job uint64
		err error
	}
	// childrenReady: a supervisor has spawned its fixed children.
	childrenReady struct{ kind string }
	// dbVersionRead carries SurrealDB's version (read off the actor's goroutine).
	dbVersionRead struct{ version string }
	// coordinatorFailed: the coordinator was restarted (its engine is empty).
	coordinatorFailed struct{ reason string }
)

// Job kinds of the root.
const (
	jobBootstrap   = "bootstrap"
	jobRebootstrap = "rebootstrap"
	jobReset       = "reset"
)

// job is an administrative run of the root: a bootstrap (first or in-process) or a reset.
// They run one at a time, in order.
type job struct {
	id      uint64
	kind    string
	reason  string
	failure error             // set when the job actor failed (it is stopped, not restarted)
	hashes  map[string]string // scheduler mode: the snapshot's table hashes to verify
	reload  bool              // scheduler mode: a first hash mismatch loads the snapshot again
	waiters []*actor.PID      // requesters answered when it ends
	cancel  context.CancelFunc
	pid     *actor.PID
	started time.Time
}

// pids are the fixed actors of one SSP. Their ids are fixed too (rootName/…), so the facade
// and the root agree on them before anything runs.
type pids struct {
	root, coordinator, views, writers, versions, housekeeping, queries, ttl, flusher, dbwatch, scheduler, jobs *actor.PID
}

const rootName = "ssp"

func newPIDs(sys *actor.ActorSystem) pids {
	at := func(path string) *actor.PID { return actor.NewPID(sys.Address(), path) }
	hk := rootName + "/" + kindHousekeeping
	return pids{
		root:         at(rootName),
		coordinator:  at(rootName + "/" + kindCoordinator),
		views:        at(rootName + "/" + kindViews),
		writers:      at(rootName + "/" + kindWriters),
		versions:     at(rootName + "/" + kindVersions),
		housekeeping: at(hk),
		queries:      at(hk + "/" + kindQueries),
		ttl:          at(hk + "/" + kindTTL),
		flusher:      at(hk + "/" + kindFlusher),
		dbwatch:      at(hk + "/" + kindDBWatch),
		scheduler:    at(rootName + "/" + kindScheduler),
		jobs:         at(rootName + "/" + kindJobs),
	}
}

// rootActor is the top of the supervision tree (SPEC §4) and the owner of the SSP's lifecycle:
//
//	ssp                  lifecycle: status, bootstrap/reset jobs, shutdown   (this actor)
//	├── coordinator      the engine and the order of steps
//	├── views            one view actor per registered view; routes steps, collects their acks
//	├── writers          one writer actor per list_ref table
//	├── versions         the `_00_rv` waits (SPEC §2.4)
//	├── housekeeping     queries (`_00_query` rows), ttl, metrics
//	├── scheduler        scheduler mode only: the link
//	├── jobs             job tables only: one job_table actor per table (SPEC §8)
//	└── job              a bootstrap or reset while one runs
//
// It owns the status outright: the coordinator is told when to accept work (setGate), never
// asked. A coordinator that fails is restarted with an empty engine, so the root follows it
// with an in-process re-bootstrap (the views are kept). Jobs run one at a time.
type rootActor struct {
	*supervision
	pids       pids
	coordDepth *mailboxDepth
	disp       *hotPath

	status    Status
	detail    string
	startedAt time.Time
	dbVersion string
	closing   bool
	waiting   map[string]bool // supervisors that have not reported their children yet

	jobSeq   uint64
	running  *job
	queue    []*job
	closings []*actor.PID // shutdown requesters waiting for the running job

	// Scheduler mode (SPEC §6).
	snapshot     *scheduler.Registered // the last accepted registration
	bootstrapped bool                  // a bootstrap succeeded once: later ones keep the views
	mismatches   int                   // hash mismatches reported since the last success
	resyncWait   []*actor.PID          // Rebootstrap requesters waiting for the next registration
	resyncWhy    string                // why the SSP registers again

	self *actor.PID
	sys  *actor.ActorSystem
}

func newRootActor(e *env, p pids, coordDepth *mailboxDepth, disp *hotPath) *rootActor {
	r := &rootActor{supervision: newSupervision(e), pids: p, coordDepth: coordDepth, disp: disp,
		status: StatusBootstrapping, dbVersion: "unknown", waiting: map[string]bool{kindHousekeeping: true}}
	r.onFailure = r.childFailed
	return r
}

// Receive implements actor.Actor.
func (r *rootActor) Receive(ctx actor.Context) {
	guard(r.env, kindRoot, ctx, func() { r.receive(ctx) })
}

func (r *rootActor) receive(ctx actor.Context) {
	r.env.hooks.receive(kindRoot, rootName, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.start(ctx)
	case *childrenReady:
		delete(r.waiting, m.kind)
		switch {
		case len(r.waiting) > 0 || r.closing:
		case r.env.link == nil:
			r.enqueue(ctx, &job{kind: jobBootstrap, reason: "start"})
		case r.snapshot != nil:
			r.registered(ctx, r.snapshot)
		}
	case *scheduler.ProbeReq:
		ctx.RequestWithCustomSender(r.pids.coordinator, m, ctx.Sender())
	case *scheduler.Registered:
		r.snapshot = m
		if len(r.waiting) == 0 && !r.closing {
			r.registered(ctx, m)
		}
	case *scheduler.RegisterFailed:
		r.env.log.WithError(m.Err).Error("scheduler registration failed")
		for _, w := range r.resyncWait {
			answer(ctx, w, nil, m.Err)
		}
		r.resyncWait = nil
		r.setStatus(ctx, StatusFailed, "scheduler registration: "+m.Err.Error())
	case *scheduler.Resync:
		r.resync(ctx, m.Reason, reasonLabel(m.Reason))
	case *dbVersionRead:
		r.dbVersion = m.version
	case *coordinatorFailed:
		if !r.closing {
			r.env.log.WithField("reason", m.reason).Error("coordinator restarted: re-bootstrapping to rebuild the engine (views are kept)")
			r.rebootstrap(ctx, "coordinator restarted: "+m.reason, "coordinator_restart", nil)
		}
	case *statusReq:
		ctx.Respond(&statusReply{status: r.status, detail: r.detail})
	case *rootInfoReq:
		ctx.Respond(&rootInfo{status: r.status, startedAt: r.startedAt, dbVersion: r.dbVersion})
	case *rebootstrapReq:
		if r.closing {
			reply(ctx, nil, ErrShuttingDown)
			return
		}
		r.rebootstrap(ctx, m.reason, "requested", ctx.Sender())
	case *resetReq:
		if r.closing {
			reply(ctx, nil, ErrShuttingDown)
			return
		}
		r.enqueue(ctx, &job{kind: jobReset, reason: "/reset", waiters: []*actor.PID{ctx.Sender()}})
	case *jobDone:
		if r.running != nil && r.running.id == m.job && r.running.pid != nil {
			ctx.Stop(r.running.pid)
		}
		r.jobEnded(ctx, m.job, m.err)
	case *shutdownReq:
		r.shutdown(ctx)
	case *actor.Terminated:
		r.forget(m.Who)
		if j := r.running; j != nil && j.pid != nil && j.pid.Id == m.Who.Id {
			// A job stopped before it reported: it failed, or shutdown cancelled it.
			err := j.failure
			if err == nil {
				err = fmt.Errorf("%s stopped: %w", j.kind, ErrShuttingDown)
			}
			r.jobEnded(ctx, j.id, err)
		}
	case *listChildrenReq:
		ctx.Respond(&childList{entries: r.list()})
	case *describeReq:
		st := map[string]any{"status": r.status, "uptime_seconds": int64(time.Since(r.startedAt).Seconds()), "closing": r.closing}
		if r.detail != "" {
			st["detail"] = r.detail
		}
		if r.running != nil {
			st["job"] = map[string]any{"kind": r.running.kind, "reason": r.running.reason,
				"running_seconds": time.Since(r.running.started).Seconds()}
		}
		if r.env.link != nil {
			st["mode"] = "scheduler"
			st["hash_mismatches"] = r.mismatches
			if r.snapshot != nil {
				st["snapshot_seq"] = r.snapshot.SnapshotSeq
			}
		}
		st["jobs_queued"] = len(r.queue)
		ctx.Respond(&actorState{state: st})
	}
}

// start spawns the fixed children, each given the PIDs it sends to.
func (r *rootActor) start(ctx actor.Context) {
	r.startedAt = time.Now()
	r.self, r.sys = ctx.Self(), ctx.ActorSystem()
	e, p := r.env, r.pids
	spawn := func(kind string, producer actor.Producer, opts ...actor.PropsOption) {
		if _, err := r.spawn(ctx, kind, kind, kind, producer, opts...); err != nil {
			panic(err) // a fixed child that cannot start leaves nothing to run
		}
	}
	spawn(kindVersions, func() actor.Actor { return newVersionsActor(e) })
	spawn(kindWriters, func() actor.Actor { return newWritersActor(e, p) }, actor.WithDispatcher(r.disp.writers))
	spawn(kindViews, func() actor.Actor { return newViewsActor(e, p) }, actor.WithDispatcher(r.disp.views))
	// The coordinator keeps its state across restarts except the engine (see coordinator).
	cst := newCoordinatorState()
	depth := r.coordDepth
	pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return newCoordinator(e, p, cst) },
		actor.WithMailbox(actor.Unbounded(depth)), actor.WithDispatcher(r.disp.coordinator)), kindCoordinator)
	if err != nil {
		panic(fmt.Errorf("spawn coordinator: %w", err))
	}
	r.byPID[pid.Id] = &child{kind: kindCoordinator, name: kindCoordinator, pid: pid, depth: depth}
	r.setStatus(ctx, StatusBootstrapping, "") // the coordinator's gate, before any request reaches it
	spawn(kindHousekeeping, func() actor.Actor { return newHousekeepingActor(e, p) })
	if e.link != nil {
		// It registers at once; the bootstrap waits for its snapshot.
		spawn(kindScheduler, scheduler.NewLink(*e.link))
	}
	if len(e.jobTables) > 0 {
		spawn(kindJobs, func() actor.Actor { return newJobsActor(e) })
	}

	self, sys := ctx.Self(), ctx.ActorSystem()
	go func() {
		vctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		v, err := e.db.Version(vctx)
		if err != nil {
			e.log.WithError(err).Warn("read the SurrealDB version")
			return
		}
		sys.Root.Send(self, &dbVersionRead{version: v})
	}()
}

// childFailed adds the root's policy to a failure: the coordinator restarts with an empty
// engine (refusing work until then), so the base data is loaded again and every view
// re-materialized, in a re-bootstrap job queued behind the running one; a job is not
// restarted (it would start over from its first attempt): its failure ends it.
func (r *rootActor) childFailed(c *child, reason, _ any) bool {
	switch c.kind {
	case kindCoordinator:
		r.sys.Root.Send(r.self, &coordinatorFailed{reason: fmt.Sprint(reason)})
	case kindJob:
		if j := r.running; j != nil && j.pid != nil && j.pid.Id == c.pid.Id {
			j.failure = fmt.Errorf("%s job failed: %v", j.kind, reason)
		}
		return true
	}
	return false
}

// enqueue adds a job and starts it when none runs.
func (r *rootActor) enqueue(ctx actor.Context, j *job) {
	r.jobSeq++
	j.id = r.jobSeq
	// A job of the same kind already waiting absorbs a new request (and its snapshot).
	for _, q := range r.queue {
		if q.kind == j.kind {
			q.waiters = append(q.waiters, j.waiters...)
			if j.hashes != nil {
				q.hashes, q.reload = j.hashes, j.reload
			}
			return
		}
	}
	r.queue = append(r.queue, j)
	r.next(ctx)
}

// next starts the first queued job if none runs.
func (r *rootActor) next(ctx actor.Context) {
	if r.running != nil || len(r.queue) == 0 || r.closing {
		return
	}
	j := r.queue[0]
	r.queue = r.queue[1:]
	j.started = time.Now()
	jctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	r.running = j
	e, p := r.env, r.pids
	var producer actor.Producer
	switch j.kind {
	case jobBootstrap, jobRebootstrap:
		r.setStatus(ctx, StatusBootstrapping, "")
		keep := j.kind == jobRebootstrap
		producer = func() actor.Actor { return newBootstrapJob(e, p, jctx, j, keep) }
	case jobReset:
		producer = func() actor.Actor { return newResetJob(e, p, jctx, j.id) }
	}
	e.log.WithFields(logrus.Fields{"job": j.kind, "reason": j.reason}).Info("job started")
	c, err := r.spawn(ctx, kindJob, j.kind, fmt.Sprintf("%s-%d", j.kind, j.id), producer)
	if err != nil {
		r.jobEnded(ctx, j.id, err)
		return
	}
	j.pid = c.pid
}

// jobEnded records the end of the running job, sets the status, answers its requesters and
// starts the next.
func (r *rootActor) jobEnded(ctx actor.Context, id uint64, err error) {
	j := r.running
	if j == nil || j.id != id {
		return
	}
	r.running = nil
	j.cancel()
	fields := logrus.Fields{"job": j.kind, "reason": j.reason, "duration": time.Since(j.started).Round(time.Millisecond).String()}
	var mismatch *hashMismatchError
	switch {
	case j.kind == jobReset:
		// The status does not change.
	case err == nil:
		r.env.m.bootstrap.Set(time.Since(j.started).Seconds())
		r.bootstrapped, r.mismatches = true, 0
		r.setStatus(ctx, StatusReady, "")
		if len(r.env.jobTables) > 0 {
			ctx.Send(r.pids.jobs, &jobsStart{}) // jobs left pending or processing are looked for now
		}
	case errors.As(err, &mismatch) && !r.closing:
		// SPEC §6.3: the snapshot was loaded twice already; register again for a fresh one,
		// and fail after a third mismatch.
		r.mismatches++
		if r.mismatches >= 2 {
			r.setStatus(ctx, StatusFailed, err.Error())
			break
		}
		r.env.log.WithError(err).Warn("table hashes still differ after a reload: registering again for a fresh snapshot")
		r.resync(ctx, "table hash mismatch", "hash_mismatch")
	case r.closing || errors.Is(err, ErrShuttingDown) || errors.Is(err, context.Canceled):
		err = fmt.Errorf("%s: %w", j.kind, ErrShuttingDown)
	default:
		r.setStatus(ctx, StatusFailed, err.Error())
	}
	if err != nil {
		r.env.log.WithFields(fields).WithError(err).Warn("job ended with an error")
		if j.kind == jobRebootstrap {
			ctx.Send(r.pids.coordinator, &abandonLoad{})
		}
	} else {
		r.env.log.WithFields(fields).Info("job done")
	}
	for _, w := range j.waiters {
		answer(ctx, w, &done{}, err)
	}
	if r.closing {
		for _, w := range r.closings {
			ctx.Send(w, &done{})
		}
		r.closings = nil
		return
	}
	r.next(ctx)
}

// registered starts the bootstrap of an accepted registration: the first one, or an
// in-process re-bootstrap that keeps the views.
func (r *rootActor) registered(ctx actor.Context, m *scheduler.Registered) {
	reason := r.resyncWhy
	if reason == "" {
		reason = "registered: " + m.Reason
	}
	r.resyncWhy = ""
	j := &job{kind: jobRebootstrap, reason: reason, hashes: m.TableHashes, reload: r.mismatches == 0, waiters: r.resyncWait}
	if !r.bootstrapped {
		j.kind = jobBootstrap
	}
	r.resyncWait = nil
	r.enqueue(ctx, j)
}

// rebootstrap re-bootstraps in process (views kept): standalone at once; in scheduler mode the
// SSP registers again first — while it still accepts ingests — so that the scheduler buffers
// what follows and hands out a fresh snapshot (SPEC §6.5).
func (r *rootActor) rebootstrap(ctx actor.Context, reason, label string, requester *actor.PID) {
	if r.env.link == nil {
		r.env.m.rebootstraps.WithLabelValues(label).Inc()
		j := &job{kind: jobRebootstrap, reason: reason}
		if requester != nil {
			j.waiters = []*actor.PID{requester}
		}
		r.enqueue(ctx, j)
		return
	}
	if requester != nil {
		r.resyncWait = append(r.resyncWait, requester)
	}
	r.resync(ctx, reason, label)
}

// resync has the scheduler link register again; the bootstrap follows its answer.
func (r *rootActor) resync(ctx actor.Context, reason, label string) {
	r.env.m.rebootstraps.WithLabelValues(label).Inc()
	r.resyncWhy = reason
	r.env.log.WithField("reason", reason).Warn("registering with the scheduler again for an in-process re-bootstrap")
	ctx.Send(r.pids.scheduler, &scheduler.Register{Reason: reason})
}

// reasonLabel is the ssp_rebootstraps_total label of a link's resync reason.
func reasonLabel(reason string) string {
	switch {
	case strings.Contains(reason, "404"):
		return "heartbeat_404"
	case strings.Contains(reason, "409"):
		return "heartbeat_409"
	}
	return "scheduler"
}

// setStatus changes the status and tells the coordinator whether to accept work.
func (r *rootActor) setStatus(ctx actor.Context, st Status, detail string) {
	if r.status != st {
		r.env.log.WithFields(logrus.Fields{"status": st, "detail": detail}).Info("SSP status")
	}
	r.status, r.detail = st, detail
	var refuse error
	switch {
	case r.closing:
		refuse = ErrShuttingDown
	case st != StatusReady:
		refuse = fmt.Errorf("%w: SSP is %s", ErrNotReady, st)
	}
	// A standalone SSP takes ingests while it bootstraps (Sp00ky's events fail the app's write
	// on a 503); behind a scheduler it refuses them: the scheduler buffers (SPEC §5, §6).
	buffer := st == StatusBootstrapping && !r.closing && r.env.link == nil && r.env.cfg.BootstrapBuffer > 0
	ctx.Send(r.pids.coordinator, &setGate{refuse: refuse, buffer: buffer})
}

// shutdown refuses all further work and ends the running job; the requester is answered once
// no job runs.
func (r *rootActor) shutdown(ctx actor.Context) {
	if !r.closing {
		r.closing = true
		ctx.Send(r.pids.coordinator, &setGate{refuse: ErrShuttingDown})
		for _, j := range r.queue {
			for _, w := range j.waiters {
				answer(ctx, w, nil, fmt.Errorf("%s: %w", j.kind, ErrShuttingDown))
			}
		}
		r.queue = nil
	}
	if r.running == nil {
		reply(ctx, &done{}, nil)
		return
	}
	r.closings = append(r.closings, ctx.Sender())
	r.running.cancel()
	if r.running.pid != nil {
		ctx.Stop(r.running.pid)
	}
}
