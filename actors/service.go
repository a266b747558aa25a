package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/scheduler"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/loader"
	"github.com/sp00ky/ssp/surreal/membership"
	"github.com/sp00ky/ssp/surreal/tablehash"
	"github.com/sp00ky/ssp/surreal/value"
)

// ErrShuttingDown is returned once Shutdown has begun. It wraps ErrNotReady (503).
var ErrShuttingDown = fmt.Errorf("%w: shutting down", ErrNotReady)

// invalidError marks a rejection of bad input: errors.Is(err, ErrInvalid) holds and the message
// is the underlying one (for instance the parser's, naming the construct and its position).
type invalidError struct{ err error }

func (e *invalidError) Error() string   { return e.err.Error() }
func (e *invalidError) Unwrap() []error { return []error{e.err, ErrInvalid} }

func invalid(err error) error {
	if errors.Is(err, ErrInvalid) {
		return err
	}
	return &invalidError{err}
}

// Deps is what a Service needs.
type Deps struct {
	// Config holds every setting; its defaults come from package config (config.Load), the
	// one home of defaults. A zero value where config would never give one is an error.
	Config config.Config
	// Log receives the service's logs (a new logger at Config.LogLevel if nil).
	Log *logrus.Logger
	// DB is the SurrealDB every read and write goes to (required); *conn.Conn implements it.
	DB Database
	// Registry receives the ssp_ metrics (a new registry if nil; see Service.Registry).
	Registry *prometheus.Registry
	// Source is where the bootstrap reads base data (the DB if nil).
	Source loader.Source
	// Version is the SSP's version for /info.
	Version string
	// Hooks are test hooks.
	Hooks Hooks
	// EdgeWriter tunes every list_ref table's membership.Writer (its Log is replaced; Parallel
	// defaults to 2).
	EdgeWriter membership.WriterOptions
	// BootstrapAttempts and BootstrapRetryDelay bound the bootstrap's whole attempts (10
	// attempts 5 s apart if zero, SPEC §5).
	BootstrapAttempts   int
	BootstrapRetryDelay time.Duration
	// DBPingInterval is how often the database is probed for /health (2 s if zero).
	DBPingInterval time.Duration
	// Scheduler, when set, runs the SSP in scheduler mode (SPEC §6): the root's scheduler
	// link registers with the scheduler and heartbeats, bootstraps read the scheduler's
	// snapshot through its query proxy and are verified against its table hashes, and the
	// views this SSP restores, sweeps and writes are those it owns. Nil: standalone.
	Scheduler *scheduler.LinkConfig
}

// Service is the facade of the SSP's actor system that the HTTP layer calls (it implements
// API). It holds no state of the SSP: every call becomes messages to the actors (see the
// package documentation for the tree), answered through protoactor futures. What it keeps is
// the wiring made once by New and Start (the actor system and the fixed actors' PIDs), the
// bounded inbox of the ingest path, and its own start/stop bookkeeping.
type Service struct {
	env        *env
	reg        *prometheus.Registry
	in         *inbox
	coordDepth *mailboxDepth

	startOnce sync.Once
	sys       *actor.ActorSystem
	pids      pids
	disp      *hotPath      // the goroutines of the coordinator and the views and writers supervisors
	started   chan struct{} // closed once Start has run
	stopOnce  sync.Once
	stopErr   error
	stopped   chan struct{} // closed once Shutdown has stopped the actors
}

var _ API = (*Service)(nil)

// New checks deps and builds a Service; Start runs it.
func New(deps Deps) (*Service, error) {
	if deps.DB == nil {
		return nil, errors.New("actors: Deps.DB is required")
	}
	cfg := deps.Config
	if err := checkConfig(cfg); err != nil {
		return nil, fmt.Errorf("actors: %w", err)
	}
	log := deps.Log
	if log == nil {
		log = config.NewLogger(cfg)
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	e := &env{
		cfg: cfg, log: log, hooks: deps.Hooks, db: deps.DB, version: deps.Version, writerOpts: deps.EdgeWriter,
		bootAttempts: deps.BootstrapAttempts, bootDelay: deps.BootstrapRetryDelay, pingEvery: deps.DBPingInterval,
		store: membership.NewStore(deps.DB, membership.StoreOptions{Log: log}),
	}
	if len(cfg.JobTables) > 0 {
		e.jobTables = map[string]config.JobTable{}
		for _, jt := range cfg.JobTables {
			e.jobTables[jt.Table] = jt
		}
	}
	if e.bootAttempts <= 0 {
		e.bootAttempts = 10
	}
	if e.bootDelay <= 0 {
		e.bootDelay = 5 * time.Second
	}
	if deps.Scheduler != nil {
		if cfg.SSPID == "" {
			return nil, errors.New("actors: scheduler mode needs SPKY_SSP_ID (config gives ssp-<uuid> by default)")
		}
		link := *deps.Scheduler
		if link.Log == nil {
			link.Log = log
		}
		if link.Metrics == nil {
			link.Metrics = reg
		}
		e.link, e.owner = &link, cfg.SSPID
	}
	e.source = deps.Source
	switch {
	case e.source != nil:
	case e.link != nil:
		e.source = &scheduler.ProxySource{SchedulerURL: e.link.SchedulerURL}
	default:
		e.source = loader.QuerierSource{Q: deps.DB}
	}
	s := &Service{env: e, reg: reg, in: newInbox(cfg.IngestQueue), coordDepth: &mailboxDepth{},
		started: make(chan struct{}), stopped: make(chan struct{})}
	e.m = newMetrics(func() float64 { return float64(s.coordDepth.len()) }, func() float64 { return float64(s.in.len()) })
	if err := e.m.register(reg); err != nil {
		return nil, err
	}
	return s, nil
}

// checkConfig rejects settings the actors cannot run with. Their defaults live in package
// config (config.Load); a Config built by hand must set them.
func checkConfig(cfg config.Config) error {
	var errs []error
	positive := func(name string, ok bool) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	positive("SPKY_INGEST_QUEUE", cfg.IngestQueue > 0)
	positive("TTL_CLEANUP_INTERVAL_SECS", cfg.TTLCleanupInterval > 0)
	positive("SPKY_METRICS_FLUSH_INTERVAL_MS", cfg.MetricsFlushInterval > 0)
	positive("SPKY_RV_WAIT_TIMEOUT_MS", cfg.RVWaitTimeout > 0)
	positive("SPKY_SSP_BOOTSTRAP_PAGE_SIZE", cfg.BootstrapPageSize > 0)
	if cfg.IngestWait < 0 {
		errs = append(errs, errors.New("SPKY_INGEST_WAIT_MS must not be negative"))
	}
	if len(cfg.JobTables) > 0 {
		positive("SPKY_JOB_QUEUE", cfg.JobQueue > 0)
		positive("SPKY_JOB_SWEEP_INTERVAL_MS", cfg.JobSweepInterval > 0)
		positive("SPKY_JOB_LEASE_GRACE_MS", cfg.JobLeaseGrace > 0)
		if cfg.JobPendingGrace < 0 {
			errs = append(errs, errors.New("SPKY_JOB_PENDING_GRACE_MS must not be negative"))
		}
		for _, jt := range cfg.JobTables {
			if jt.Concurrency <= 0 || jt.Timeout <= 0 || jt.BaseURL == "" {
				errs = append(errs, fmt.Errorf("job table %s needs a base_url, a positive timeout and concurrency (config gives defaults)", jt.Table))
			}
		}
	}
	if cfg.RefMode != membership.RefDedicated && cfg.RefMode != membership.RefSingle {
		errs = append(errs, fmt.Errorf("SPKY_SSP_REF_MODE %q: use %q or %q", cfg.RefMode, membership.RefDedicated, membership.RefSingle))
	}
	return errors.Join(errs...)
}

// Registry returns the registry holding the service's metrics.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// Start brings the actor system up; the root begins the bootstrap (SPEC §5) in the background
// (status bootstrapping until it ends: ready, or failed after the retries).
func (s *Service) Start(ctx context.Context) error {
	err := errors.New("actors: service already started")
	s.startOnce.Do(func() {
		select {
		case <-s.stopped:
			err = ErrShuttingDown
			return
		default:
		}
		log := s.env.log
		s.sys = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(newSlogBridge(log))
		}))
		s.pids = newPIDs(s.sys)
		s.disp = newHotPath()
		s.sys.EventStream.Subscribe(func(evt any) {
			if dl, ok := evt.(*actor.DeadLetterEvent); ok {
				if _, isWrite := dl.Message.(*edgeWrite); isWrite {
					log.WithField("actor", dl.PID.String()).Error("edge write sent to a stopped actor was lost")
				}
			}
		})
		e, p, depth, disp := s.env, s.pids, s.coordDepth, s.disp
		_, err = s.sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return newRootActor(e, p, depth, disp) }), rootName)
		if err != nil {
			err = fmt.Errorf("start the actor system: %w", err)
			return
		}
		// The root answers once it started its children: every request after Start finds them.
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err = request[*statusReply](sctx, s.sys.Root, s.pids.root, &statusReq{}); err != nil {
			err = fmt.Errorf("start the actor system: %w", err)
			return
		}
		close(s.started)
	})
	return err
}

// running returns an error unless the actors run.
func (s *Service) running() error {
	select {
	case <-s.stopped:
		return ErrShuttingDown
	default:
	}
	select {
	case <-s.started:
		return nil
	default:
		return fmt.Errorf("%w: the service is not started", ErrNotReady)
	}
}

// Status implements API: the root's status.
func (s *Service) Status() Status {
	st, _ := s.StatusDetail()
	return st
}

// StatusDetail implements API: the root's status and its detail (why it failed).
func (s *Service) StatusDetail() (Status, string) {
	if err := s.running(); err != nil {
		return StatusBootstrapping, err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := request[*statusReply](ctx, s.sys.Root, s.pids.root, &statusReq{})
	if err != nil {
		return StatusBootstrapping, err.Error()
	}
	return r.status, r.detail
}

// Health implements API. The database's state comes from the dbwatch actor, the counts from
// the coordinator; a part that does not answer in time is reported as unknown.
func (s *Service) Health(ctx context.Context) Health {
	h := Health{EdgeBacklog: -1, DB: DBStatus{Status: dbUnknown}}
	if s.running() != nil {
		return h
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if d, err := request[*DBStatus](ctx, s.sys.Root, s.pids.dbwatch, &dbStatusReq{}); err == nil {
		h.DB = *d
	}
	if r, err := request[*healthReply](ctx, s.sys.Root, s.pids.coordinator, &healthReq{}); err == nil {
		h.Views, h.Tables = r.views, r.tables
	}
	if r, err := request[*unwrittenReply](ctx, s.sys.Root, s.pids.writers, &unwrittenReq{}); err == nil {
		h.EdgeBacklog = r.queued + r.pending
	}
	return h
}

// stepGrace is how long an ingest's answer may take beyond its admission deadline (the step
// itself).
const stepGrace = 30 * time.Second

// definesUserTables reports whether a user CREATE defines the user's table now: when ready,
// and while bootstrapping standalone. Asked of the root actor, so only for user CREATEs.
func (s *Service) definesUserTables() bool {
	st := s.Status()
	return st == StatusReady || st == StatusBootstrapping && s.env.link == nil
}

// Ingest implements API: the change is applied to the engine and handed to every affected view
// (ahead of any later request) before it returns; edges and metrics are written in the
// background. A change that was accepted is applied even when ctx ends first; one refused
// (ErrNotReady, ErrBusy, an invalid change) was not applied.
func (s *Service) Ingest(ctx context.Context, c engine.Change, jobAssignee string) error {
	start := time.Now()
	count := func(result string) { s.env.m.ingests.WithLabelValues(c.Table, c.Op.String(), result).Inc() }
	if err := s.running(); err != nil {
		count(resultNotReady)
		return err
	}
	if membership.IsInternal(c.Table) {
		// SPEC §1.1: the SSP's and Sp00ky's own tables are never base data; a scheduler may
		// forward their changes. Answered 200, nothing stored.
		count(resultIgnored)
		return nil
	}
	deadline := start.Add(s.env.cfg.IngestWait)
	if err := s.in.enter(ctx, deadline); err != nil {
		if errors.Is(err, ErrBusy) {
			count(resultBusy)
		} else {
			count(resultError)
		}
		return err
	}
	defer s.in.leave()
	ownTable, isUser := "", false
	if c.Table == userTable {
		ownTable, _, isUser = s.env.userTableOf(value.RecordString(c.ID))
	}
	if isUser && c.Op == engine.OpCreate && s.definesUserTables() {
		// Sent before the step, not awaited (no database round trip inside /ingest): the
		// table's writer defines it ahead of any write of it, and a view registration of the
		// user waits for it, so nothing of the user's can be read before the table exists.
		// Sent here too, not only by the step, so that it is defined at once while the
		// bootstrap holds steps back.
		s.sys.Root.Send(s.pids.writers, &ensureTableReq{table: ownTable})
	}
	// The answer is awaited whatever ctx does: the change may be applied already.
	wctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline.Add(stepGrace))
	defer cancel()
	_, err := request[*ingestDone](wctx, s.sys.Root, s.pids.coordinator, &ingestReq{change: c, deadline: deadline})
	switch {
	case err == nil:
	case errors.Is(err, ErrInvalid):
		count(resultInvalid)
		return err
	case errors.Is(err, ErrBusy):
		count(resultBusy)
		return err
	case errors.Is(err, ErrNotReady):
		count(resultNotReady)
		return err
	default:
		count(resultError)
		return fmt.Errorf("ingest %s: %w", value.RecordString(c.ID), err)
	}
	if s.offersJob(c, jobAssignee) {
		s.sys.Root.Send(s.pids.jobs, &jobOffer{table: c.Table, id: c.ID, source: offerIngest})
	}
	count(resultOK)
	s.env.m.ingestLatency.Observe(time.Since(start).Seconds())
	return nil
}

// ownerOf returns params.auth.id as text ("" when absent).
func ownerOf(params value.Value) string {
	id := params.Get("auth").Get("id")
	switch id.Kind() {
	case value.KindString:
		return id.AsString()
	case value.KindRecord:
		return value.RecordString(id)
	}
	return ""
}

// Register implements API (SPEC §1.2): the coordinator registers the view and hands its
// `_00_query` row to the queries actor, which answers once the row is written.
func (s *Service) Register(ctx context.Context, req RegisterRequest) (RegisterResult, error) {
	if err := s.running(); err != nil {
		return RegisterResult{}, err
	}
	req.Key = engine.ViewKey(req.Key)
	if req.Key == "" {
		return RegisterResult{}, invalid(errors.New("field \"id\" names no view key"))
	}
	params, err := engine.Params(req.Params)
	if err != nil {
		return RegisterResult{}, invalid(fmt.Errorf("field \"params\": %w", err))
	}
	req.Params = params
	if req.LastActiveAt.IsZero() {
		req.LastActiveAt = time.Now()
	}
	r, err := request[*registerDone](ctx, s.sys.Root, s.pids.coordinator, &registerReq{req: req, authID: ownerOf(req.Params)})
	if err != nil {
		return RegisterResult{}, err
	}
	members := r.members
	if members == nil {
		members = []engine.Member{}
	}
	return RegisterResult{ViewID: req.Key, ResultHash: resultHash(members), Records: members}, nil
}

// Unregister implements API (SPEC §1.3): the view and its edges go; its `_00_query` row stays,
// marked unregistered so that no bootstrap restores it.
func (s *Service) Unregister(ctx context.Context, key string) error {
	if err := s.running(); err != nil {
		return err
	}
	key = engine.ViewKey(key)
	if key == "" {
		return nil
	}
	if _, err := request[*done](ctx, s.sys.Root, s.pids.coordinator, &unregisterReq{key: key}); err != nil {
		return fmt.Errorf("unregister view %s: %w", key, err)
	}
	return nil
}

// Reset implements API (SPEC §1.4): the root runs it between bootstraps.
func (s *Service) Reset(ctx context.Context) error {
	if err := s.running(); err != nil {
		return err
	}
	_, err := request[*done](ctx, s.sys.Root, s.pids.root, &resetReq{})
	return err
}

// Rebootstrap reloads the base data in-process while keeping every registered view (SPEC
// §6.5): the root runs a re-bootstrap job (status bootstrapping meanwhile; the coordinator
// refuses work, so the steps accepted before finish first) and this returns once the SSP is
// ready again, or with the error that failed it.
func (s *Service) Rebootstrap(ctx context.Context) error {
	if err := s.running(); err != nil {
		return err
	}
	_, err := request[*done](ctx, s.sys.Root, s.pids.root, &rebootstrapReq{reason: "requested"})
	return err
}

// DebugView implements API: the engine's part from the coordinator, the actor's from the
// views supervisor, the published membership from the view actor itself (the engine's stands
// in when the actor does not answer within 2 s).
func (s *Service) DebugView(ctx context.Context, key string) (ViewDebug, bool) {
	if s.running() != nil {
		return ViewDebug{}, false
	}
	key = engine.ViewKey(key)
	root := s.sys.Root
	r, err := request[*debugViewReply](ctx, root, s.pids.coordinator, &debugViewReq{key: key})
	if err != nil || !r.ok {
		return ViewDebug{}, false
	}
	d := ViewDebug{ViewID: key, Format: r.format, SubqueryTables: r.subquery, ReferencedTables: r.referenced}
	if d.Format == "" {
		d.Format = "streaming"
	}
	va, err := request[*viewActorReply](ctx, root, s.pids.views, &viewActorReq{key: key})
	if err == nil && va.ok {
		d.Actor = ActorState{PID: va.pid.String(), MailboxLen: va.mailbox, Restarts: va.restarts, LastError: va.lastErr}
		vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if v, err := request[*viewDebugReply](vctx, root, va.pid, &viewDebugReq{}); err == nil {
			d.Cache, d.LastHash, d.ContentGeneration = v.members, v.hash, v.generation
		}
	}
	if d.LastHash == "" {
		d.Cache, d.LastHash = r.members, resultHash(r.members)
	}
	if d.Cache == nil {
		d.Cache = []engine.Member{}
	}
	d.CacheSize = len(d.Cache)
	d.SubqueryCache = map[string][]string{}
	for _, m := range d.Cache {
		if m.Parent != "" {
			k := m.Parent + "/" + m.Rel
			d.SubqueryCache[k] = append(d.SubqueryCache[k], m.Key)
		}
	}
	return d, true
}

// DebugDeps implements API.
func (s *Service) DebugDeps(ctx context.Context) DepsDebug {
	empty := DepsDebug{DependencyMap: map[string][]string{}, TablesInStore: []string{}}
	if s.running() != nil {
		return empty
	}
	d, err := request[*DepsDebug](ctx, s.sys.Root, s.pids.coordinator, &depsReq{})
	if err != nil {
		return empty
	}
	if d.DependencyMap == nil {
		d.DependencyMap = map[string][]string{}
	}
	if d.TablesInStore == nil {
		d.TablesInStore = []string{}
	}
	return *d
}

// Info implements API. Table hashes are computed here, over the rows the coordinator handed
// out (values are immutable).
func (s *Service) Info(ctx context.Context) Info {
	info := Info{Entity: "ssp", ID: s.env.cfg.SSPID, Status: StatusBootstrapping, RefMode: string(s.env.cfg.RefMode),
		Version: s.env.version, SurrealDBVersion: "unknown", CircuitTables: map[string]int{}, CircuitHashes: map[string]string{}}
	if s.running() != nil {
		return info
	}
	if ri, err := request[*rootInfo](ctx, s.sys.Root, s.pids.root, &rootInfoReq{}); err == nil {
		info.Status, info.SurrealDBVersion = ri.status, ri.dbVersion
		info.UptimeSeconds = int64(time.Since(ri.startedAt).Seconds())
	}
	if d, err := request[*DBStatus](ctx, s.sys.Root, s.pids.dbwatch, &dbStatusReq{}); err == nil {
		info.DB = d
	}
	if st, err := s.DebugScheduler(ctx); err == nil {
		si := &SchedulerInfo{URL: st.SchedulerURL, Link: string(st.Link), AdvertisedURL: st.AdvertisedURL,
			SnapshotSeq: st.SnapshotSeq, Registrations: len(st.Registrations)}
		if hb := st.LastHeartbeat; hb != nil {
			si.LastHeartbeatAgeSeconds, si.LastHeartbeatAnswer = hb.AgeSeconds, hb.Answer
		}
		info.Scheduler = si
	}
	r, err := request[*infoReply](ctx, s.sys.Root, s.pids.coordinator, &infoReq{})
	if err != nil {
		return info
	}
	info.Views = r.views
	for t, rows := range r.rows {
		info.CircuitTables[t] = len(rows)
		info.CircuitHashes[t] = tablehash.Hash(t, rows)
	}
	return info
}

// DebugScheduler implements API: the scheduler link answers with its state.
func (s *Service) DebugScheduler(ctx context.Context) (*scheduler.State, error) {
	if s.env.link == nil {
		return nil, ErrStandalone
	}
	if err := s.running(); err != nil {
		return nil, err
	}
	return request[*scheduler.State](ctx, s.sys.Root, s.pids.scheduler, &scheduler.StateReq{})
}

// Shutdown stops the service gracefully: the job tables stop claiming and their runs end
// (DrainJobs), the root refuses new work (ErrShuttingDown) and ends a running job, accepted ingests finish their steps, the view actors forward their last
// writes and stop, the writers write everything pending (after its `_00_rv` waits), the view
// metrics are flushed, and the actors stop. If ctx ends first, what is still pending is
// reported and abandoned.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		select {
		case <-s.started:
		default:
			close(s.stopped)
			return
		}
		err := s.DrainJobs(ctx)
		if derr := s.drain(ctx); err == nil {
			err = derr
		}
		if serr := s.sys.Root.StopFuture(s.pids.root).Wait(); serr != nil {
			s.env.log.WithError(serr).Warn("shutdown: stop the actors")
		}
		close(s.stopped)
		s.sys.Shutdown()
		s.disp.close()
		if err != nil {
			s.env.log.WithError(err).Error("SSP stopped without draining")
			s.stopErr = err
			return
		}
		s.env.log.Info("SSP actors stopped")
	})
	return s.stopErr
}

// drain finishes the accepted work, one level of the tree after the other.
func (s *Service) drain(ctx context.Context) error {
	root, p := s.sys.Root, s.pids
	steps := []struct {
		what string
		pid  *actor.PID
		msg  any
	}{
		{"stop admissions and jobs", p.root, &shutdownReq{}},
		{"finish accepted steps", p.coordinator, &finishStepsReq{}},
		{"stop the TTL sweeps", p.housekeeping, &stopTTLReq{}},
		{"let the views forward their last writes", p.views, &drainViewsReq{}},
		{"write every pending edge", p.writers, &drainWritersReq{}},
		{"flush the view metrics", p.flusher, &flushMetricsReq{}},
	}
	for _, st := range steps {
		if _, err := request[*done](ctx, root, st.pid, st.msg); err != nil {
			if st.pid == p.flusher {
				s.env.log.WithError(err).Warn("shutdown: final metrics flush")
				continue
			}
			return fmt.Errorf("shutdown: %s: %w", st.what, err)
		}
	}
	return nil
}
