package actors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/value"
)

// JobAction is the answer of /job/retry and /job/kill.
type JobAction struct {
	ID string `json:"id"`
	// Status is the job's status now: pending after a retry, failed after a kill.
	Status string `json:"status"`
	// Cancelled is true when a kill cancelled a request in flight on this SSP.
	Cancelled bool `json:"cancelled"`
}

// JobsDebug is the /debug/jobs body.
type JobsDebug struct {
	SSPID  string          `json:"ssp_id"`
	Mode   string          `json:"mode"` // standalone or scheduler
	Tables []JobTableDebug `json:"tables"`
}

// JobTableDebug is one job table's part of /debug/jobs.
type JobTableDebug struct {
	Table      string       `json:"table"`
	Name       string       `json:"name"`
	Settings   JobSettings  `json:"settings"`
	Queued     int          `json:"queued"`
	Running    []RunningJob `json:"running"`
	BackingOff int          `json:"backing_off"`
	// Counts are the offers by result (offers_queued, offers_duplicate, offers_full,
	// offers_closing), the runs by outcome (as ssp_job_runs_total) and the operator's actions.
	Counts    map[string]int64 `json:"counts"`
	Recent    []JobOutcome     `json:"recent"`
	Sweeping  bool             `json:"sweeping"`
	LastSweep *time.Time       `json:"last_sweep,omitempty"`
	Closing   bool             `json:"closing"`
}

// JobSettings are a job table's settings as /debug/jobs shows them (no secret).
type JobSettings struct {
	BaseURL            string  `json:"base_url"`   // a password in it is masked
	AuthToken          string  `json:"auth_token"` // "<redacted>", or "" when none
	TimeoutSeconds     float64 `json:"timeout_seconds"`
	TimeoutOverridable bool    `json:"timeout_overridable"`
	Concurrency        int     `json:"concurrency"`
	QueueCapacity      int     `json:"queue_capacity"`
	SweepIntervalMS    int64   `json:"sweep_interval_ms"`
	PendingGraceMS     int64   `json:"pending_grace_ms"`
	LeaseGraceMS       int64   `json:"lease_grace_ms"`
}

// RunningJob is a run in progress.
type RunningJob struct {
	ID      string  `json:"id"`
	Phase   string  `json:"phase"` // claiming, running
	Attempt int64   `json:"attempt,omitempty"`
	Seconds float64 `json:"seconds"`
}

// JobOutcome is one finished attempt.
type JobOutcome struct {
	ID         string    `json:"id"`
	Outcome    string    `json:"outcome"`
	Source     string    `json:"source"` // what offered it: ingest, sweep, backoff, operator
	Attempt    int64     `json:"attempt"`
	Code       int       `json:"code"`
	Reason     string    `json:"reason,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	RetryInMS  int64     `json:"retry_in_ms,omitempty"`
	At         time.Time `json:"at"`
}

// jobsActor supervises one job table actor per configured job table (SPEC §8) and routes
// offers, operator actions, the start of the sweeps and the shutdown drain to them. Restart
// policy: restart — a job table actor keeps its state across incarnations (jobTableState); an
// operator action it failed on is answered with the failure, a run report it failed on is
// handed to the new incarnation once, and a lost offer is found again by the sweep.
type jobsActor struct {
	*supervision
	sys     *actor.ActorSystem
	byTable map[string]*child
	rounds  map[uint64]*round
	roundID uint64
}

func newJobsActor(e *env) *jobsActor {
	j := &jobsActor{supervision: newSupervision(e), byTable: map[string]*child{}, rounds: map[uint64]*round{}}
	j.onFailure = j.tableFailed
	return j
}

func (j *jobsActor) tableFailed(c *child, reason, message any) bool {
	msg, sender := actor.UnwrapEnvelopeMessage(message), actor.UnwrapEnvelopeSender(message)
	switch m := msg.(type) {
	case *jobCtlReq:
		answer(j.sys.Root, sender, nil, fmt.Errorf("%w: the job table actor of %s failed: %v", ErrNotReady, c.name, reason))
	case *jobRunEnded:
		if !m.resent {
			again := *m
			again.resent = true
			j.sys.Root.Send(c.pid, &again)
		}
	case *jobsDrainReq:
		if sender != nil {
			j.sys.Root.RequestWithCustomSender(c.pid, m, sender)
		}
	case *jobOffer, *jobSweepFound:
		// Lost: the row stays pending (or claimable) and a later sweep offers it again.
	}
	return false
}

// Receive implements actor.Actor.
func (j *jobsActor) Receive(ctx actor.Context) {
	guard(j.env, kindJobs, ctx, func() { j.receive(ctx) })
}

func (j *jobsActor) receive(ctx actor.Context) {
	j.env.hooks.receive(kindJobs, kindJobs, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		j.sys = ctx.ActorSystem()
		for _, jt := range j.env.cfg.JobTables {
			r, err := newJobRunner(j.env, jt)
			if err != nil {
				j.env.log.WithError(err).Error("job table not started")
				continue
			}
			st, e := newJobTableState(r), j.env
			c, err := j.spawn(ctx, kindJobTable, jt.Table, jt.Table, func() actor.Actor { return &jobTableActor{env: e, st: st} })
			if err != nil {
				j.env.log.WithError(err).Error("job table not started")
				continue
			}
			j.byTable[jt.Table] = c
		}
	case *jobOffer:
		if c := j.byTable[m.table]; c != nil {
			ctx.Send(c.pid, m)
		}
	case *jobCtlReq:
		c := j.byTable[m.table]
		if c == nil {
			reply(ctx, nil, fmt.Errorf("%w: %s is not a job table", ErrNotFound, m.table))
			return
		}
		ctx.RequestWithCustomSender(c.pid, m, ctx.Sender())
	case *jobsStart:
		for _, c := range j.byTable {
			ctx.Send(c.pid, m)
		}
	case *jobsDrainReq:
		j.roundID++
		r := &round{id: j.roundID, waiting: len(j.byTable), to: ctx.Sender()}
		if r.waiting == 0 {
			reply(ctx, &done{}, nil)
			return
		}
		j.rounds[r.id] = r
		for _, c := range j.byTable {
			ctx.Request(c.pid, &jobsDrainReq{cancelAfter: m.cancelAfter, round: r.id})
		}
	case *jobsDrained:
		r := j.rounds[m.round]
		if r == nil {
			return
		}
		if r.waiting--; r.waiting == 0 {
			delete(j.rounds, m.round)
			answer(ctx, r.to, &done{}, nil)
		}
	case *actor.Terminated:
		if c := j.forget(m.Who); c != nil && j.byTable[c.name] == c {
			delete(j.byTable, c.name)
		}
	case *listChildrenReq:
		ctx.Respond(&childList{entries: j.list()})
	case *describeReq:
		ctx.Respond(&actorState{state: map[string]any{"tables": len(j.byTable)}})
	}
}

// offersJob reports whether an accepted change starts a job here (SPEC §8): a CREATE, UPDATE
// or MERGE of a job table whose record says status "pending", standalone or assigned to this
// SSP (job_assignee; a replay from the scheduler carries none and starts nothing). A job
// already claimed is not run again: its claim fails.
func (s *Service) offersJob(c engine.Change, jobAssignee string) bool {
	if _, ok := s.env.jobTables[c.Table]; !ok || c.Op == engine.OpDelete {
		return false
	}
	if st := c.Record.Get("status"); st.Kind() != value.KindString || st.AsString() != "pending" {
		return false
	}
	return s.env.link == nil || jobAssignee == s.env.cfg.SSPID
}

// RetryJob implements API (POST /job/retry): a failed job becomes pending again (its errors
// kept, its retries reset) and is queued here.
func (s *Service) RetryJob(ctx context.Context, id string) (JobAction, error) {
	return s.jobControl(ctx, jobOpRetry, id)
}

// KillJob implements API (POST /job/kill): a request of the job in flight here is cancelled
// and the job fails with reason "killed"; a pending job fails at once.
func (s *Service) KillJob(ctx context.Context, id string) (JobAction, error) {
	return s.jobControl(ctx, jobOpKill, id)
}

func (s *Service) jobControl(ctx context.Context, op, id string) (JobAction, error) {
	if err := s.running(); err != nil {
		return JobAction{}, err
	}
	rid, ok := value.ParseRecord(strings.TrimSpace(id))
	if !ok {
		return JobAction{}, invalid(fmt.Errorf("field \"id\" %q is not a record id (table:key, e.g. job:1)", id))
	}
	if _, ok := s.env.jobTables[rid.Table()]; !ok {
		return JobAction{}, fmt.Errorf("%w: %s is not a job table (configured: %s)", ErrNotFound, rid.Table(), strings.Join(s.jobTableNames(), ", "))
	}
	a, err := request[*JobAction](ctx, s.sys.Root, s.pids.jobs, &jobCtlReq{op: op, table: rid.Table(), id: rid})
	if err != nil {
		return JobAction{}, err
	}
	return *a, nil
}

func (s *Service) jobTableNames() []string {
	names := make([]string, 0, len(s.env.jobTables))
	for t := range s.env.jobTables {
		names = append(names, t)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

// DebugJobs implements API (GET /debug/jobs): every job table actor describes its queue, runs,
// recent outcomes and settings.
func (s *Service) DebugJobs(ctx context.Context) (JobsDebug, error) {
	d := JobsDebug{SSPID: s.env.cfg.SSPID, Mode: "standalone", Tables: []JobTableDebug{}}
	if s.env.link != nil {
		d.Mode = "scheduler"
	}
	if err := s.running(); err != nil || len(s.env.jobTables) == 0 {
		return d, err
	}
	list, err := request[*childList](ctx, s.sys.Root, s.pids.jobs, &listChildrenReq{})
	if err != nil {
		return d, err
	}
	for _, c := range list.entries {
		t, err := request[*JobTableDebug](ctx, s.sys.Root, c.PID, &jobTableDebugReq{})
		if err != nil {
			return d, fmt.Errorf("job table %s: %w", c.Name, err)
		}
		d.Tables = append(d.Tables, *t)
	}
	sort.Slice(d.Tables, func(i, k int) bool { return d.Tables[i].Table < d.Tables[k].Table })
	return d, nil
}

// DrainJobs stops every job table from claiming and waits for the runs in progress: those
// still going after half of ctx's time (or of SPKY_SHUTDOWN_TIMEOUT_SECS) are cancelled and
// their jobs released (pending again). Queued jobs stay pending in the database. The HTTP
// server must still accept /ingest meanwhile (the outcome writes fire the rows' events).
// Shutdown calls it first; calling it again returns once the drain is over.
func (s *Service) DrainJobs(ctx context.Context) error {
	if len(s.env.jobTables) == 0 || s.running() != nil {
		return nil
	}
	wait := s.env.cfg.ShutdownTimeout / 2
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl) / 2
	}
	if wait <= 0 {
		wait = time.Second
	}
	if _, err := request[*done](ctx, s.sys.Root, s.pids.jobs, &jobsDrainReq{cancelAfter: wait}); err != nil && !errors.Is(err, ErrShuttingDown) {
		return fmt.Errorf("shutdown: drain the job runs: %w", err)
	}
	return nil
}
