package actors

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/outbox"
	"github.com/sp00ky/ssp/surreal/value"
)

// Messages of a job table actor. jobOffer, jobCtlReq and jobTableDebugReq come through the jobs
// supervisor (requests keep their requester); the others are its own.
type (
	// jobOffer offers a job (a row id of the table) to the queue; source says why: an ingest,
	// the sweep, a retry's backoff that ended, the operator.
	jobOffer struct {
		table  string
		id     value.Value
		source string
	}
	// jobClaimed: run won the claim of key's row, as attempt.
	jobClaimed struct {
		key     string
		run     uint64
		attempt int64
	}
	// jobRunEnded: run of key ended with res.
	jobRunEnded struct {
		key    string
		run    uint64
		res    jobResult
		resent bool // the supervisor re-sent it after the actor failed on it
	}
	// jobBackoffDue: the backoff of key's retry is over.
	jobBackoffDue struct {
		key string
		run uint64
	}
	// jobSweepTick: time to look for claimable rows.
	jobSweepTick struct{}
	// jobSweepFound carries a sweep's rows (read off the actor's goroutine).
	jobSweepFound struct {
		ids []value.Value
		err error
	}
	// jobsStart: the SSP bootstrapped; sweeps begin (the first one at once).
	jobsStart struct{}
	// jobsDrainReq stops claiming, drops the queue and answers once no run is left (with
	// jobsDrained of its round when it has one, else done); runs still going after cancelAfter
	// are cancelled (their jobs released, pending again).
	jobsDrainReq struct {
		cancelAfter time.Duration
		round       uint64
	}
	// jobsDrained: one table's answer to the supervisor's drain round.
	jobsDrained struct{ round uint64 }
	// jobsDrainDue: a drain's cancelAfter passed.
	jobsDrainDue struct{}
	// jobCtlReq is an operator's /job/retry or /job/kill; answered with *JobAction or the error.
	jobCtlReq struct {
		op    string
		table string
		id    value.Value
	}
	// jobCtlDone carries an operator action's database result (run off the actor's goroutine).
	jobCtlDone struct {
		op   string
		key  string
		id   value.Value
		to   *actor.PID
		done bool
		seen outbox.Seen
		err  error
	}
	// jobTableDebugReq asks for the table's state; answered with *JobTableDebug.
	jobTableDebugReq struct{}
)

// Sources of a job offer.
const (
	offerIngest   = "ingest"
	offerSweep    = "sweep"
	offerBackoff  = "backoff"
	offerOperator = "operator"
)

// Operator actions.
const (
	jobOpRetry = "retry"
	jobOpKill  = "kill"
)

// Phases of a job known to its table actor.
const (
	phaseQueued   = "queued"
	phaseClaiming = "claiming"
	phaseRunning  = "running" // claimed: the request is on its way (or the outcome being written)
	phaseBackoff  = "backoff"
	phaseOperator = "operator" // an operator action on its row is in flight
)

// recentJobOutcomes is how many finished attempts /debug/jobs shows per table.
const recentJobOutcomes = 50

// jobEntry is a job its table actor knows: queued, running, backing off or under an operator
// action. Offers of a known job are duplicates.
type jobEntry struct {
	key     string
	id      value.Value
	phase   string
	source  string // of the offer that queued it
	run     uint64
	attempt int64
	since   time.Time
	cancel  context.CancelCauseFunc // while a run goes
	timer   *time.Timer             // while backing off
	killers []*actor.PID            // /job/kill requesters waiting for the run to end
}

// jobTableState is a job table actor's state. It outlives an incarnation (the supervisor
// creates it and hands it to every incarnation), so a restart keeps the queue and the runs;
// only the actor of the moment touches it.
type jobTableState struct {
	r          *jobRunner
	queue      []*jobEntry // FIFO; at most Config.JobQueue
	jobs       map[string]*jobEntry
	running    int
	backingOff int
	seq        uint64
	recent     []JobOutcome // ring of the last recentJobOutcomes
	counts     map[string]int64
	started    bool // sweeping
	sweeping   bool
	lastSweep  time.Time
	stopTicker func()
	closing    bool
	drainers   []drainer
	drainTimer *time.Timer
}

// drainer is a drain requester, answered once the table is drained.
type drainer struct {
	to    *actor.PID
	round uint64
}

func newJobTableState(r *jobRunner) *jobTableState {
	return &jobTableState{r: r, jobs: map[string]*jobEntry{}, counts: map[string]int64{}}
}

// jobTableActor runs the jobs of one job table (SPEC §8): a bounded queue of offered jobs, at
// most the table's concurrency of runs at a time (each on its own goroutine: claim, request,
// outcome write, reported back as messages; the actor never waits on the network), the
// backoffs of retries, the periodic sweep for claimable rows, the operator's kill and retry,
// and the recent outcomes. A full queue drops an offer: the row stays pending and a later
// sweep, run when there is room, offers it again.
type jobTableActor struct {
	env  *env
	st   *jobTableState
	self *actor.PID
	sys  *actor.ActorSystem
}

// Receive implements actor.Actor.
func (a *jobTableActor) Receive(ctx actor.Context) {
	st := a.st
	a.env.hooks.receive(kindJobTable, st.r.cfg.Table, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self, a.sys = ctx.Self(), ctx.ActorSystem()
		if st.started && st.stopTicker == nil {
			st.stopTicker = ticker(a.sys, a.env.cfg.JobSweepInterval, a.self, &jobSweepTick{})
		}
		a.pump()
	case *actor.Restarting:
		a.stopSweeps()
		st.sweeping = false // a sweep's answer may have been the message it failed on
	case *actor.Stopping:
		a.stopSweeps()
		for _, e := range st.jobs {
			if e.cancel != nil {
				e.cancel(errJobShutdown)
			}
			if e.timer != nil {
				e.timer.Stop()
			}
		}
		if st.drainTimer != nil {
			st.drainTimer.Stop()
		}
	case *jobOffer:
		a.offer(m.id, m.source)
		a.pump()
	case *jobClaimed:
		if e := st.jobs[m.key]; e != nil && e.run == m.run && e.phase == phaseClaiming {
			e.phase, e.attempt = phaseRunning, m.attempt
		}
	case *jobRunEnded:
		a.runEnded(ctx, m)
	case *jobBackoffDue:
		e := st.jobs[m.key]
		if e == nil || e.phase != phaseBackoff || e.run != m.run {
			return
		}
		e.timer = nil
		st.backingOff--
		delete(st.jobs, m.key)
		a.offer(e.id, offerBackoff)
		a.pump()
	case *jobsStart:
		if st.closing {
			return
		}
		if !st.started {
			st.started = true
			st.stopTicker = ticker(a.sys, a.env.cfg.JobSweepInterval, a.self, &jobSweepTick{})
		}
		a.sweep()
	case *jobSweepTick:
		a.sweep()
	case *jobSweepFound:
		st.sweeping, st.lastSweep = false, time.Now()
		if m.err != nil {
			st.r.log.WithError(m.err).Warn("job sweep failed")
			return
		}
		for _, id := range m.ids {
			a.offer(id, offerSweep)
		}
		a.pump()
	case *jobCtlReq:
		a.control(ctx, m)
	case *jobCtlDone:
		a.controlDone(ctx, m)
	case *jobsDrainReq:
		a.drain(ctx, m)
	case *jobsDrainDue:
		for _, e := range st.jobs {
			if e.cancel != nil {
				e.cancel(errJobShutdown)
			}
		}
	case *jobTableDebugReq:
		ctx.Respond(a.debug())
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"queued": len(st.queue), "running": st.running, "backing_off": st.backingOff,
			"concurrency": st.r.cfg.Concurrency, "sweeping": st.started, "closing": st.closing}})
	}
}

func (a *jobTableActor) stopSweeps() {
	if a.st.stopTicker != nil {
		a.st.stopTicker()
		a.st.stopTicker = nil
	}
}

// offer queues a job unless it is known here already, the queue is full or the table closes.
func (a *jobTableActor) offer(id value.Value, source string) {
	st, table := a.st, a.st.r.cfg.Table
	result := "queued"
	key := value.RecordString(id)
	switch {
	case st.closing:
		result = "closing"
	case st.jobs[key] != nil:
		result = "duplicate"
	case len(st.queue) >= a.env.cfg.JobQueue:
		result = "full"
		st.r.log.WithFields(logrus.Fields{"job": key, "source": source}).Debug("job queue full: the job stays pending for a later sweep")
	default:
		e := &jobEntry{key: key, id: id, phase: phaseQueued, source: source, since: time.Now()}
		st.jobs[key] = e
		st.queue = append(st.queue, e)
	}
	st.counts["offers_"+result]++
	a.env.m.jobOffers.WithLabelValues(table, result).Inc()
	a.gauges()
}

// pump starts queued jobs while there is a free run.
func (a *jobTableActor) pump() {
	st := a.st
	for !st.closing && st.running < st.r.cfg.Concurrency && len(st.queue) > 0 {
		e := st.queue[0]
		st.queue[0] = nil
		st.queue = st.queue[1:]
		a.start(e)
	}
	a.gauges()
}

// start runs e on its own goroutine; its reports come back as messages.
func (a *jobTableActor) start(e *jobEntry) {
	st := a.st
	st.seq++
	st.running++
	rctx, cancel := context.WithCancelCause(context.Background())
	e.phase, e.run, e.cancel, e.since, e.attempt = phaseClaiming, st.seq, cancel, time.Now(), 0
	r, sys, self, key, run, id := st.r, a.sys, a.self, e.key, e.run, e.id
	go func() {
		defer cancel(nil)
		res := r.run(rctx, id, func(attempt int64) { sys.Root.Send(self, &jobClaimed{key: key, run: run, attempt: attempt}) })
		sys.Root.Send(self, &jobRunEnded{key: key, run: run, res: res})
	}()
}

// runEnded frees the run first (so that a failure later in this message leaves the state
// consistent), then records the outcome, answers kills and starts what is queued.
func (a *jobTableActor) runEnded(ctx actor.Context, m *jobRunEnded) {
	st, table := a.st, a.st.r.cfg.Table
	e := st.jobs[m.key]
	if e == nil || e.run != m.run || (e.phase != phaseClaiming && e.phase != phaseRunning) {
		return // an earlier incarnation counted it already
	}
	st.running--
	e.cancel = nil
	res := m.res
	killers := e.killers
	e.killers = nil
	if res.retryIn > 0 && !st.closing && st.backingOff < a.env.cfg.JobQueue {
		e.phase, e.since = phaseBackoff, time.Now()
		st.backingOff++
		e.timer = after(a.sys, res.retryIn, a.self, &jobBackoffDue{key: e.key, run: e.run})
	} else {
		delete(st.jobs, m.key) // a retry beyond the bound is left to the sweep (its row says when)
	}
	st.counts[res.outcome]++
	a.env.m.jobRuns.WithLabelValues(table, res.outcome).Inc()
	switch res.outcome {
	case jobSuccess, jobFailed, jobKilled, jobInvalid:
		a.env.m.jobs.WithLabelValues(table, res.outcome).Inc()
	case jobRetry:
		a.env.m.jobRetries.WithLabelValues(table).Inc()
	}
	fields := logrus.Fields{"job": m.key, "attempt": res.attempt, "outcome": res.outcome}
	if res.attempt > 0 {
		o := JobOutcome{ID: m.key, Outcome: res.outcome, Source: e.source, Attempt: res.attempt, Code: res.code, Reason: res.reason,
			DurationMS: float64(res.duration.Microseconds()) / 1000, At: time.Now().UTC()}
		if res.retryIn > 0 {
			o.RetryInMS = res.retryIn.Milliseconds()
		}
		if len(st.recent) >= recentJobOutcomes {
			copy(st.recent, st.recent[1:])
			st.recent = st.recent[:recentJobOutcomes-1]
		}
		st.recent = append(st.recent, o)
		fields["code"], fields["duration"] = res.code, res.duration.Round(time.Millisecond).String()
	}
	log := st.r.log.WithFields(fields)
	switch {
	case res.err != nil:
		log.WithError(res.err).Warn("job run ended without recording its outcome; the job stays claimable")
	case res.outcome == jobLostClaim:
		log.Warn("job claim lost (its lease was taken over, or an operator changed it): outcome not recorded")
	case res.outcome == jobFailed || res.outcome == jobInvalid:
		log.WithField("reason", res.reason).Warn("job failed")
	case res.outcome == jobRetry:
		log.WithFields(logrus.Fields{"reason": res.reason, "retry_in": res.retryIn.Round(time.Millisecond).String()}).Info("job attempt failed; retrying")
	case res.outcome == jobNotClaimed || res.outcome == jobMissing:
		log.WithField("status", res.seen.Status).Debug("job not claimed")
	default:
		log.Info("job run ended")
	}
	for _, k := range killers {
		if res.outcome == jobKilled {
			answer(ctx, k, &JobAction{ID: m.key, Status: outbox.StatusFailed, Cancelled: true}, nil)
			continue
		}
		answer(ctx, k, nil, fmt.Errorf("%w: job %s ended (%s) before the kill took effect", ErrConflict, m.key, res.outcome))
	}
	a.pump()
	a.drained(ctx)
}

// sweep looks for claimable rows when the queue has room (off the actor's goroutine).
func (a *jobTableActor) sweep() {
	st := a.st
	room := a.env.cfg.JobQueue - len(st.queue)
	if st.closing || st.sweeping || room <= 0 {
		return
	}
	st.sweeping = true
	grace := time.Duration(0)
	if a.env.link != nil {
		grace = a.env.cfg.JobPendingGrace // another SSP may be the assignee of a fresh job
	}
	r, sys, self, limit := st.r, a.sys, a.self, min(room+len(st.jobs), 1000)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), jobWriteTimeout)
		defer cancel()
		ids, err := outbox.Sweep(ctx, r.dbSweep, r.cfg.Table, r.ssp, grace, limit)
		sys.Root.Send(self, &jobSweepFound{ids: ids, err: err})
	}()
}

// control starts an operator action: a kill of a running job cancels its request (answered
// when the run ended); anything else is a conditional write of the row, answered when it
// returns.
func (a *jobTableActor) control(ctx actor.Context, m *jobCtlReq) {
	st := a.st
	key := value.RecordString(m.id)
	if st.closing {
		reply(ctx, nil, ErrShuttingDown)
		return
	}
	e := st.jobs[key]
	if m.op == jobOpRetry && e != nil {
		reply(ctx, nil, fmt.Errorf("%w: job %s is %s on this SSP; only a failed job can be retried", ErrConflict, key, e.phase))
		return
	}
	if e != nil {
		switch e.phase {
		case phaseClaiming, phaseRunning:
			e.killers = append(e.killers, ctx.Sender())
			e.cancel(errJobKilled)
			return
		case phaseOperator:
			reply(ctx, nil, fmt.Errorf("%w: an operator action on job %s is in progress", ErrConflict, key))
			return
		case phaseQueued:
			for i, q := range st.queue {
				if q == e {
					st.queue = append(st.queue[:i], st.queue[i+1:]...)
					break
				}
			}
		case phaseBackoff:
			e.timer.Stop()
			st.backingOff--
		}
	}
	st.jobs[key] = &jobEntry{key: key, id: m.id, phase: phaseOperator, since: time.Now()}
	a.gauges()
	r, sys, self, to, op, id := st.r, a.sys, a.self, ctx.Sender(), m.op, m.id
	go func() {
		wctx, cancel := context.WithTimeout(context.Background(), jobWriteTimeout)
		defer cancel()
		d := &jobCtlDone{op: op, key: key, id: id, to: to}
		if op == jobOpKill {
			d.done, d.seen, d.err = outbox.Kill(wctx, r.dbOperator, id, r.ssp, errJobKilled.Error())
		} else {
			d.done, d.seen, d.err = outbox.Retry(wctx, r.dbOperator, id)
		}
		sys.Root.Send(self, d)
	}()
}

// controlDone answers an operator action; a retried job is offered here at once.
func (a *jobTableActor) controlDone(ctx actor.Context, m *jobCtlDone) {
	st := a.st
	if e := st.jobs[m.key]; e != nil && e.phase == phaseOperator {
		delete(st.jobs, m.key)
	}
	switch {
	case m.err != nil:
		answer(ctx, m.to, nil, m.err)
	case m.done && m.op == jobOpRetry:
		st.counts["operator_retries"]++
		st.r.log.WithField("job", m.key).Info("job retried by an operator")
		answer(ctx, m.to, &JobAction{ID: m.key, Status: outbox.StatusPending}, nil)
		a.offer(m.id, offerOperator)
	case m.done:
		st.counts["operator_kills"]++
		a.env.m.jobs.WithLabelValues(st.r.cfg.Table, jobKilled).Inc()
		st.r.log.WithField("job", m.key).Info("job killed by an operator")
		answer(ctx, m.to, &JobAction{ID: m.key, Status: outbox.StatusFailed}, nil)
	case !m.seen.Exists:
		answer(ctx, m.to, nil, fmt.Errorf("%w: job %s does not exist", ErrNotFound, m.key))
	case m.op == jobOpRetry:
		answer(ctx, m.to, nil, fmt.Errorf("%w: job %s is %s; only a failed job can be retried", ErrConflict, m.key, m.seen.Status))
	case m.seen.Status == outbox.StatusProcessing:
		answer(ctx, m.to, nil, fmt.Errorf("%w: job %s is running on SSP %s (attempt %d); send /job/kill to that SSP",
			ErrConflict, m.key, m.seen.Assignee, m.seen.Attempt))
	default:
		answer(ctx, m.to, nil, fmt.Errorf("%w: job %s is %s already", ErrConflict, m.key, m.seen.Status))
	}
	a.pump()
	a.drained(ctx)
}

// drain stops claiming: queued and backing-off jobs are dropped (their rows stay pending),
// and the requester is answered once no run is left.
func (a *jobTableActor) drain(ctx actor.Context, m *jobsDrainReq) {
	st := a.st
	if !st.closing {
		st.closing = true
		a.stopSweeps()
		for _, e := range st.queue {
			delete(st.jobs, e.key)
		}
		st.queue = nil
		for k, e := range st.jobs {
			if e.phase == phaseBackoff {
				e.timer.Stop()
				delete(st.jobs, k)
			}
		}
		st.backingOff = 0
		if st.running > 0 {
			st.r.log.WithFields(logrus.Fields{"running": st.running, "cancel_after": m.cancelAfter.String()}).
				Info("shutdown: waiting for running jobs")
			st.drainTimer = after(a.sys, m.cancelAfter, a.self, &jobsDrainDue{})
		}
		a.gauges()
	}
	st.drainers = append(st.drainers, drainer{to: ctx.Sender(), round: m.round})
	a.drained(ctx)
}

// drained answers the drain requesters once closing and nothing runs (operator actions
// included).
func (a *jobTableActor) drained(ctx actor.Context) {
	st := a.st
	if !st.closing || st.running > 0 || len(st.jobs) > 0 {
		return
	}
	if st.drainTimer != nil {
		st.drainTimer.Stop()
		st.drainTimer = nil
	}
	for _, d := range st.drainers {
		if d.round != 0 {
			answer(ctx, d.to, &jobsDrained{round: d.round}, nil)
			continue
		}
		answer(ctx, d.to, &done{}, nil)
	}
	st.drainers = nil
}

func (a *jobTableActor) gauges() {
	table := a.st.r.cfg.Table
	a.env.m.jobQueue.WithLabelValues(table).Set(float64(len(a.st.queue)))
	a.env.m.jobRunning.WithLabelValues(table).Set(float64(a.st.running))
}

// debug describes the table for /debug/jobs.
func (a *jobTableActor) debug() *JobTableDebug {
	st, cfg := a.st, a.st.r.cfg
	base := cfg.BaseURL
	if u, err := url.Parse(base); err == nil {
		base = u.Redacted()
	}
	d := &JobTableDebug{Table: cfg.Table, Name: cfg.Name, Queued: len(st.queue), Running: []RunningJob{}, BackingOff: st.backingOff,
		Counts: map[string]int64{}, Recent: append([]JobOutcome{}, st.recent...), Sweeping: st.started, Closing: st.closing,
		Settings: JobSettings{BaseURL: base, AuthToken: cfg.AuthToken.String(), TimeoutSeconds: cfg.Timeout.Seconds(),
			TimeoutOverridable: cfg.TimeoutOverridable, Concurrency: cfg.Concurrency, QueueCapacity: a.env.cfg.JobQueue,
			SweepIntervalMS: a.env.cfg.JobSweepInterval.Milliseconds(), LeaseGraceMS: a.env.cfg.JobLeaseGrace.Milliseconds()}}
	if a.env.link != nil {
		d.Settings.PendingGraceMS = a.env.cfg.JobPendingGrace.Milliseconds()
	}
	if !st.lastSweep.IsZero() {
		t := st.lastSweep.UTC()
		d.LastSweep = &t
	}
	for k, n := range st.counts {
		d.Counts[k] = n
	}
	for _, e := range st.jobs {
		if e.phase == phaseClaiming || e.phase == phaseRunning {
			d.Running = append(d.Running, RunningJob{ID: e.key, Phase: e.phase, Attempt: e.attempt, Seconds: time.Since(e.since).Seconds()})
		}
	}
	sort.Slice(d.Running, func(i, j int) bool { return d.Running[i].ID < d.Running[j].ID })
	return d
}
