package actors

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/surreal/conn"
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

// Hooks let tests act inside the actors. Production leaves them nil.
type Hooks struct {
	// ViewDelta runs inside a view actor before it applies a step's delta; a panic there
	// crashes that actor (and its supervisor restarts and rebuilds it).
	ViewDelta func(key string, d engine.Delta)
	// Step runs inside the coordinator before each ingest step; blocking it stalls the queue.
	Step func(c engine.Change)
}

// Deps is what a Service needs.
type Deps struct {
	Config config.Config
	// Log receives the service's logs (a new logger at Config.LogLevel if nil).
	Log *logrus.Logger
	// DB is the SurrealDB connection for every read and write (required).
	DB *conn.Conn
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
	// BootstrapAttempts and BootstrapRetryDelay bound the bootstrap's retries of transient
	// failures (10 tries 5 s apart if zero).
	BootstrapAttempts   int
	BootstrapRetryDelay time.Duration
}

// Service is the SSP's actor system. It implements API.
//
// Topology (all actors of one protoactor ActorSystem):
//
//	coordinator ─┬─ view actor (one per registered view)        children, OneForOne supervised
//	             └─ list_ref writer (one per list_ref table)    children, OneForOne supervised
//	ttl sweeper, metrics flusher                                top-level actors
//
// An ingest takes a slot of the bounded ingest queue (waiting up to Config.IngestWait, else
// ErrBusy), goes to the coordinator, which applies it to the engine (steps are strictly
// serialized) and sends each affected view's delta to that view's actor; Ingest returns when
// every one of them has applied it. View actors send edge items to their table's writer, which
// writes them in the background in per-view step order, after the change's `_00_rv` wait.
type Service struct {
	cfg     config.Config
	log     *logrus.Logger
	db      *conn.Conn
	reg     *prometheus.Registry
	hooks   Hooks
	version string
	refMode membership.RefMode

	m     *metrics
	store *membership.Store
	// userTables defines the per-user list_ref tables once per process; every table's edges
	// have their own membership.Writer, owned by the table's writer actor.
	userTables *userTables
	loader     *loader.Loader

	bootAttempts int
	bootDelay    time.Duration
	writerOpts   membership.WriterOptions
	// maxBacklog is Config.EdgeBacklog: the edge items the writers may hold before the
	// database took them. While they are further behind, /ingest waits for them (up to
	// Config.IngestWait, then ErrBusy), so a database slower than the ingest rate slows the
	// ingests down instead of letting the backlog, and the memory it holds, grow without end.
	// <= 0: no bound.
	maxBacklog int64

	system        *actor.ActorSystem
	coord         *actor.PID
	coordDispatch *pinnedDispatcher // the coordinator's goroutine
	ttl           *actor.PID
	flusher       *actor.PID

	status      atomic.Value // Status
	queue       chan struct{}
	closing     atomic.Bool
	closingCh   chan struct{}
	stoppedCh   chan struct{} // closed once the actors are stopped
	adminMu     sync.RWMutex  // Reset (exclusive) against Register, Unregister, TTL and bootstrap
	slots       sync.Map      // view key → *viewSlot (for the metrics flusher)
	writerDepth atomic.Int64  // edge items sent to writers and not yet written
	startedAt   time.Time
	dbVersion   atomic.Value // string

	ctx        context.Context // lives until Shutdown ends; every background DB call uses it
	cancel     context.CancelFunc
	bootCtx    context.Context // ends when Shutdown begins
	bootCancel context.CancelFunc
	bootDone   chan struct{}
	startMu    sync.Mutex
	started    bool
	rebootMu   sync.Mutex // one re-bootstrap at a time
	keyLocks   [64]sync.Mutex
	stopOnce   sync.Once
	stopErr    error
}

var _ API = (*Service)(nil)

// New checks deps and builds a Service; Start runs it.
func New(deps Deps) (*Service, error) {
	if deps.DB == nil {
		return nil, errors.New("actors: Deps.DB is required")
	}
	cfg := deps.Config
	mode, err := membership.ParseRefMode(string(cfg.RefMode))
	if err != nil {
		return nil, fmt.Errorf("actors: SPKY_SSP_REF_MODE: %w", err)
	}
	if cfg.IngestQueue <= 0 {
		cfg.IngestQueue = 1024
	}
	if cfg.IngestWait < 0 {
		cfg.IngestWait = 0
	}
	if cfg.TTLCleanupInterval <= 0 {
		cfg.TTLCleanupInterval = 60 * time.Second
	}
	if cfg.MetricsFlushInterval <= 0 {
		cfg.MetricsFlushInterval = 2 * time.Second
	}
	if cfg.RVWaitTimeout <= 0 {
		cfg.RVWaitTimeout = 5 * time.Second
	}
	if cfg.BootstrapPageSize <= 0 {
		cfg.BootstrapPageSize = loader.DefaultPageSize
	}
	log := deps.Log
	if log == nil {
		log = config.NewLogger(cfg)
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Service{
		cfg: cfg, log: log, db: deps.DB, reg: reg, hooks: deps.Hooks, version: deps.Version, refMode: mode,
		bootAttempts: deps.BootstrapAttempts, bootDelay: deps.BootstrapRetryDelay, writerOpts: deps.EdgeWriter,
		maxBacklog: int64(cfg.EdgeBacklog),
		queue:      make(chan struct{}, cfg.IngestQueue), closingCh: make(chan struct{}), stoppedCh: make(chan struct{}), bootDone: make(chan struct{}),
	}
	if s.bootAttempts <= 0 {
		s.bootAttempts = 10
	}
	if s.bootDelay <= 0 {
		s.bootDelay = 5 * time.Second
	}
	s.status.Store(StatusBootstrapping)
	s.dbVersion.Store("unknown")
	s.m = newMetrics(func() float64 { return float64(len(s.queue)) }, func() float64 { return float64(s.writerDepth.Load()) })
	if err := s.m.register(reg); err != nil {
		return nil, err
	}
	s.store = membership.NewStore(deps.DB, membership.StoreOptions{VersionTimeout: cfg.RVWaitTimeout, Log: log})
	s.userTables = newUserTables(deps.DB)
	src := deps.Source
	if src == nil {
		src = loader.QuerierSource{Q: deps.DB}
	}
	s.loader = loader.New(src)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.bootCtx, s.bootCancel = context.WithCancel(s.ctx)
	return s, nil
}

// Registry returns the registry holding the service's metrics.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// newEdgeWriter returns the membership.Writer of one list_ref table.
func (s *Service) newEdgeWriter(table string) *membership.Writer {
	o := s.writerOpts
	o.Log = s.log.WithField("table", table)
	if o.Parallel == 0 {
		o.Parallel = defaultWriterParallel
	}
	return membership.NewWriter(s.db, table, o)
}

// defaultWriterParallel is membership.WriterOptions.Parallel unless Deps.EdgeWriter sets it:
// a big flush of one table (the shared _00_list_ref above all) runs as two concurrent
// transactions, so its edges are not limited to one database thread.
const defaultWriterParallel = 2

// userOfTable returns the uid of a per-user list_ref table.
func userOfTable(table string) (string, bool) {
	uid, ok := strings.CutPrefix(table, membership.UserTablePrefix)
	return uid, ok && membership.ValidTableName(uid)
}

// Start brings the actor system up and begins the standalone bootstrap in the background
// (status bootstrapping until it ends: ready, or failed after the retries).
func (s *Service) Start(ctx context.Context) error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.started {
		return errors.New("actors: service already started")
	}
	if s.closing.Load() {
		return ErrShuttingDown
	}
	s.started = true
	s.startedAt = time.Now()
	s.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(newSlogBridge(s.log))
	}))
	root := s.system.Root
	coord := newCoordinator(s)
	var err error
	s.coordDispatch = newPinnedDispatcher()
	coordProps := actor.PropsFromProducer(func() actor.Actor { return coord }, actor.WithDispatcher(s.coordDispatch))
	if s.coord, err = root.SpawnNamed(coordProps, "coordinator"); err != nil {
		return fmt.Errorf("start coordinator: %w", err)
	}
	if s.ttl, err = root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &ttlActor{s: s} }), "ttl"); err != nil {
		return fmt.Errorf("start ttl actor: %w", err)
	}
	if s.flusher, err = root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &flusherActor{s: s} }), "metrics"); err != nil {
		return fmt.Errorf("start metrics flusher: %w", err)
	}
	// A message lost to a stopped actor must not leave an ingest waiting or a write unnoticed.
	s.system.EventStream.Subscribe(func(evt any) {
		dl, ok := evt.(*actor.DeadLetterEvent)
		if !ok {
			return
		}
		switch m := dl.Message.(type) {
		case *viewStep:
			m.ack.finish()
		case *edgeItem, *removeViewItem:
			s.writerDepth.Add(-1)
			s.log.WithField("actor", dl.PID.String()).Error("edge item sent to a stopped writer was lost")
		}
	})
	go func() {
		defer close(s.bootDone)
		s.readDBVersion(s.bootCtx)
		_ = s.runBootstrap(false)
	}()
	return nil
}

// gateStarted returns an error unless the service runs.
func (s *Service) gateStarted() error {
	if s.closing.Load() {
		return ErrShuttingDown
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if !s.started {
		return fmt.Errorf("%w: the service is not started", ErrNotReady)
	}
	return nil
}

// Status implements API.
func (s *Service) Status() Status { return s.status.Load().(Status) }

func (s *Service) setStatus(st Status) {
	s.status.Store(st)
	s.log.WithField("status", st).Info("SSP status")
}

// gate returns nil when requests may change state.
func (s *Service) gate() error {
	if s.closing.Load() {
		return ErrShuttingDown
	}
	if s.Status() != StatusReady {
		return fmt.Errorf("%w: SSP is %s", ErrNotReady, s.Status())
	}
	return nil
}

// ask sends the message built around a reply channel to pid and waits for the answer.
func ask[T any](ctx context.Context, s *Service, pid *actor.PID, build func(chan T) any) (T, error) {
	reply := make(chan T, 1)
	s.system.Root.Send(pid, build(reply))
	var zero T
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-s.stoppedCh:
		return zero, ErrShuttingDown
	}
}

// sendWriter sends an edge item to a writer, counting it in the writers' mailbox depth.
func (s *Service) sendWriter(ctx actor.SenderContext, pid *actor.PID, m any) {
	s.writerDepth.Add(1)
	ctx.Send(pid, m)
}

func (s *Service) writerFor(ctx context.Context, table string) (*actor.PID, error) {
	return ask(ctx, s, s.coord, func(r chan *actor.PID) any { return &writerForMsg{table: table, reply: r} })
}

// startWait starts the `_00_rv` wait of a change (SPEC §2.4).
func (s *Service) startWait(id value.Value, rv int64) *rvWait {
	ctx, cancel := context.WithCancel(s.ctx)
	w := &rvWait{cancel: cancel}
	go func() {
		defer w.complete()
		defer cancel()
		err := s.store.WaitVersion(ctx, id, rv)
		switch {
		case err == nil:
		case ctx.Err() != nil && s.ctx.Err() == nil:
			s.log.WithFields(logrus.Fields{"record": value.RecordString(id), "rv": rv}).
				Debug("_00_version wait superseded by a later change of the record")
		default:
			if errors.Is(err, membership.ErrVersionTimeout) {
				s.m.rvTimeouts.Inc()
			}
			s.log.WithFields(logrus.Fields{"record": value.RecordString(id), "rv": rv}).WithError(err).
				Warn("_00_version wait gave up; writing the edges anyway")
		}
	}()
	return w
}

// acquire waits while the writers' backlog is over its bound, then takes an ingest queue slot;
// both waits together last at most Config.IngestWait.
func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.queue <- struct{}{}:
		if s.maxBacklog <= 0 || s.writerDepth.Load() <= s.maxBacklog {
			return nil // the usual case: no wait, no timer
		}
		s.release()
	default:
	}
	if s.cfg.IngestWait <= 0 {
		return s.busy()
	}
	deadline := time.NewTimer(s.cfg.IngestWait)
	defer deadline.Stop()
	if s.maxBacklog > 0 && s.writerDepth.Load() > s.maxBacklog {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for s.writerDepth.Load() > s.maxBacklog {
			select {
			case <-tick.C:
			case <-deadline.C:
				return s.busy()
			case <-s.closingCh:
				return ErrShuttingDown
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case s.queue <- struct{}{}:
		return nil
	case <-deadline.C:
		return s.busy()
	case <-s.closingCh:
		return ErrShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
}

// busy is the ErrBusy of a wait that ran out, saying which bound held the ingest back.
func (s *Service) busy() error {
	if n := s.writerDepth.Load(); s.maxBacklog > 0 && n > s.maxBacklog {
		return fmt.Errorf("%w (edge writers %d items behind the database, bound %d)", ErrBusy, n, s.maxBacklog)
	}
	return ErrBusy
}

func (s *Service) release() { <-s.queue }

// Ingest implements API: the change is applied to every affected view in memory before it
// returns; edges and metrics are written in the background. A change that was accepted (queued)
// is always applied, even when ctx ends first.
func (s *Service) Ingest(ctx context.Context, c engine.Change, jobAssignee string) error {
	start := time.Now()
	op := c.Op.String()
	count := func(result string) { s.m.ingests.WithLabelValues(c.Table, op, result).Inc() }
	if err := s.gate(); err != nil {
		count(resultNotReady)
		return err
	}
	if err := s.acquire(ctx); err != nil {
		if errors.Is(err, ErrBusy) {
			count(resultBusy)
		} else {
			count(resultError)
		}
		return err
	}
	userTable := ""
	if c.Table == "user" && s.refMode == membership.RefDedicated {
		if uid, ok := membership.UserID(value.RecordString(c.ID)); ok {
			userTable = membership.UserTable(uid)
			if c.Op == engine.OpCreate {
				// Before the step, so the client can LIVE SELECT its table right after sign-up.
				if err := s.userTables.ensure(ctx, uid); err != nil {
					s.log.WithField("table", userTable).WithError(err).Warn("define per-user list_ref table failed")
				}
			}
		}
	}
	ack := newStepAck(s.release)
	s.system.Root.Send(s.coord, &ingestMsg{change: c, ack: ack})
	select {
	case <-ack.done:
	case <-ctx.Done():
		count(resultError)
		return fmt.Errorf("ingest %s: %w (the change was accepted and is being applied)", value.RecordString(c.ID), ctx.Err())
	}
	if ack.err != nil {
		if errors.Is(ack.err, ErrInvalid) {
			count(resultInvalid)
		} else {
			count(resultError)
		}
		return ack.err
	}
	if userTable != "" && c.Op == engine.OpDelete {
		uid, _ := userOfTable(userTable)
		pid, err := ask(ctx, s, s.coord, func(r chan *actor.PID) any { return &writerIfAnyMsg{table: userTable, reply: r} })
		switch {
		case err != nil:
		case pid != nil:
			// After the step's edge items (queued by the view actors before they acknowledged).
			s.system.Root.Send(pid, &dropTableMsg{uid: uid})
		default:
			// No view writes to the table, so nothing is queued for it: drop it now rather
			// than start a writer actor for every deleted user (they were never stopped).
			if err := s.userTables.remove(ctx, uid); err != nil {
				s.log.WithField("table", userTable).WithError(err).Warn("remove per-user list_ref table failed")
			}
		}
	}
	count(resultOK)
	s.m.ingestLatency.Observe(time.Since(start).Seconds())
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

// Register implements API (SPEC §1.2). Registrations (and TTL removals) of one key are
// serialized from the engine to the `_00_query` row, so the row always describes the view in
// memory.
func (s *Service) Register(ctx context.Context, req RegisterRequest) (RegisterResult, error) {
	if err := s.gate(); err != nil {
		return RegisterResult{}, err
	}
	s.adminMu.RLock()
	defer s.adminMu.RUnlock()
	req.Key = engine.ViewKey(req.Key)
	if req.Key == "" {
		return RegisterResult{}, invalid(errors.New("field \"id\" names no view key"))
	}
	defer s.lockKey(req.Key)()
	return s.register(ctx, req)
}

// lockKey locks the stripe of a view key and returns its unlock.
func (s *Service) lockKey(key string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	mu := &s.keyLocks[h.Sum32()%uint32(len(s.keyLocks))]
	mu.Lock()
	return mu.Unlock
}

func (s *Service) register(ctx context.Context, req RegisterRequest) (res RegisterResult, err error) {
	start := time.Now()
	switch req.Params.Kind() {
	case value.KindNone, value.KindNull:
		req.Params = value.ObjectOf(nil)
	case value.KindObject:
	default:
		return RegisterResult{}, invalid(fmt.Errorf("field \"params\" must be an object, got %s", req.Params.Kind()))
	}
	if req.LastActiveAt.IsZero() {
		req.LastActiveAt = time.Now()
	}
	authID := ownerOf(req.Params)
	r, err := ask(ctx, s, s.coord, func(c chan registerReply) any {
		return &registerMsg{req: req, authID: authID, reply: c}
	})
	if err == nil {
		err = r.err
	}
	if err != nil {
		return RegisterResult{}, err
	}
	if r.created {
		// A new view whose row cannot be written is dropped again: nothing would expire it.
		defer func() {
			if err != nil {
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_, _ = ask(uctx, s, s.coord, func(c chan bool) any { return &unregisterMsg{key: req.Key, reply: c} })
			}
		}()
	}
	members := r.members
	if members == nil {
		members = []engine.Member{}
	}
	res = RegisterResult{ViewID: req.Key, ResultHash: resultHash(members), Records: members}
	if s.refMode == membership.RefDedicated {
		if uid, ok := membership.UserID(authID); ok {
			if err := s.userTables.ensure(ctx, uid); err != nil {
				return RegisterResult{}, fmt.Errorf("register view %s: %w", req.Key, err)
			}
		}
	}
	if r.refreshed {
		ok, err := s.store.RefreshQuery(ctx, req.Key, req.ClientID, authID, req.LastActiveAt)
		if err != nil {
			return RegisterResult{}, fmt.Errorf("register view %s: %w", req.Key, err)
		}
		if ok {
			return res, nil
		}
	}
	top := 0
	for _, m := range members {
		if m.Parent == "" {
			top++
		}
	}
	row := membership.QueryRow{
		Key: req.Key, SurQL: req.SurQL, Params: req.Params, ClientID: req.ClientID, AuthID: authID, TTL: req.TTL,
		LastActiveAt: req.LastActiveAt, RegistrationTime: float64(time.Since(start)) / float64(time.Millisecond), RowCount: top,
	}
	if err := s.store.UpsertQuery(ctx, row); err != nil {
		return RegisterResult{}, fmt.Errorf("register view %s: %w", req.Key, err)
	}
	return res, nil
}

// Unregister implements API (SPEC §1.3): the view and its edges go; its `_00_query` row stays.
func (s *Service) Unregister(ctx context.Context, key string) error {
	if err := s.gate(); err != nil {
		return err
	}
	s.adminMu.RLock()
	defer s.adminMu.RUnlock()
	key = engine.ViewKey(key)
	if key == "" {
		return nil
	}
	_, err := ask(ctx, s, s.coord, func(c chan bool) any { return &unregisterMsg{key: key, reply: c} })
	if err != nil {
		return fmt.Errorf("unregister view %s: %w", key, err)
	}
	return nil
}

// Reset implements API (SPEC §1.4): every view and all base data are dropped in memory, every
// edge of every list_ref table is deleted; `_00_query` rows stay.
func (s *Service) Reset(ctx context.Context) error {
	if s.closing.Load() {
		return ErrShuttingDown
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	// Every view actor forwards the items of steps sent to it before it stops, then the writers
	// drop everything queued, then the tables are emptied.
	if err := s.resetMemory(ctx); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := membership.ClearEdges(ctx, s.db); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	s.log.Warn("reset: every view, all base data and every edge dropped")
	return nil
}

// DebugView implements API.
func (s *Service) DebugView(ctx context.Context, key string) (ViewDebug, bool) {
	if s.system == nil {
		return ViewDebug{}, false
	}
	key = engine.ViewKey(key)
	r, err := ask(ctx, s, s.coord, func(c chan debugReply) any { return &debugMsg{key: key, reply: c} })
	if err != nil || !r.ok {
		return ViewDebug{}, false
	}
	d := ViewDebug{
		ViewID: key, Format: r.format, SubqueryTables: r.subquery, ReferencedTables: r.referenced,
		Actor: ActorState{PID: r.pid.String(), MailboxLen: int(r.slot.queued.Load()), Restarts: int(r.slot.restarts.Load()), LastError: r.slot.lastError()},
	}
	if d.Format == "" {
		d.Format = "streaming"
	}
	// The published cache comes from the view actor; if it does not answer soon, the engine's
	// membership stands in.
	vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if v, err := ask(vctx, s, r.pid, func(c chan viewDebugInfo) any { return &viewDebugReq{reply: c} }); err == nil {
		d.Cache, d.LastHash, d.ContentGeneration = v.members, v.hash, v.generation
	} else {
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
	if s.system == nil {
		return empty
	}
	d, err := ask(ctx, s, s.coord, func(c chan DepsDebug) any { return &depsMsg{reply: c} })
	if err != nil {
		return empty
	}
	if d.DependencyMap == nil {
		d.DependencyMap = map[string][]string{}
	}
	if d.TablesInStore == nil {
		d.TablesInStore = []string{}
	}
	return d
}

// Info implements API. Table hashes are computed outside the coordinator, over a snapshot of
// the rows.
func (s *Service) Info(ctx context.Context) Info {
	info := Info{
		Entity: "ssp", ID: s.cfg.SSPID, Status: s.Status(), RefMode: string(s.refMode), Version: s.version,
		SurrealDBVersion: s.dbVersion.Load().(string), CircuitTables: map[string]int{}, CircuitHashes: map[string]string{},
	}
	if s.system == nil {
		return info
	}
	info.UptimeSeconds = int64(time.Since(s.startedAt).Seconds())
	r, err := ask(ctx, s, s.coord, func(c chan infoReply) any { return &infoMsg{reply: c} })
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

// Shutdown stops the service gracefully: new ingests and registrations are refused
// (ErrShuttingDown), accepted ingests finish their steps, view actors forward their last
// items, the writers write everything pending (after its `_00_rv` waits), the view metrics are
// flushed, and the actors stop. If ctx ends first, what is still pending is reported and
// abandoned.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.shutdown(ctx) })
	return s.stopErr
}

func (s *Service) shutdown(ctx context.Context) error {
	s.closing.Store(true)
	close(s.closingCh)
	s.bootCancel()
	s.startMu.Lock()
	started := s.started
	s.startMu.Unlock()
	if !started {
		s.cancel()
		return nil
	}
	err := s.drain(ctx)
	// Stop everything, drained or not; ending s.ctx aborts what is still running.
	root := s.system.Root
	s.cancel()
	for _, pid := range []*actor.PID{s.ttl, s.flusher, s.coord} {
		if werr := root.StopFuture(pid).Wait(); werr != nil {
			s.log.WithError(werr).WithField("actor", pid.Id).Warn("shutdown: stop actor")
		}
	}
	s.system.Shutdown()
	s.coordDispatch.close()
	close(s.stoppedCh)
	if err != nil {
		s.log.WithError(err).Error("SSP stopped without draining")
		return err
	}
	s.log.Info("SSP actors stopped")
	return nil
}

// drain finishes the accepted work: in-flight steps, the view actors' last items, every
// queued edge write, the view metrics.
func (s *Service) drain(ctx context.Context) error {
	select {
	case <-s.bootDone:
	case <-ctx.Done():
		return fmt.Errorf("shutdown: bootstrap still running: %w", ctx.Err())
	}
	rebooted := make(chan struct{})
	go func() { s.rebootMu.Lock(); close(rebooted) }()
	select {
	case <-rebooted:
	case <-ctx.Done():
		return fmt.Errorf("shutdown: re-bootstrap still running: %w", ctx.Err())
	}
	// Finish in-flight steps: take every ingest queue slot.
	for i := 0; i < cap(s.queue); i++ {
		select {
		case s.queue <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("shutdown: %d ingests still in flight: %w", len(s.queue), ctx.Err())
		}
	}
	locked := make(chan struct{})
	go func() { s.adminMu.Lock(); close(locked) }()
	select {
	case <-locked:
	case <-ctx.Done():
		return fmt.Errorf("shutdown: registrations still in flight: %w", ctx.Err())
	}
	root := s.system.Root
	if err := root.StopFuture(s.ttl).Wait(); err != nil {
		s.log.WithError(err).Warn("shutdown: stop ttl actor")
	}
	snap, err := ask(ctx, s, s.coord, func(c chan snapshot) any { return &snapshotMsg{reply: c} })
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// View actors forward every item of the steps already sent to them, then stop.
	for _, pid := range snap.views {
		if err := root.PoisonFuture(pid).Wait(); err != nil {
			s.log.WithError(err).WithField("actor", pid.Id).Warn("shutdown: stop view actor")
		}
	}
	// Writers write everything queued (after its _00_rv waits).
	for _, pid := range snap.writers {
		if _, err := ask(ctx, s, pid, func(c chan struct{}) any { return &drainMsg{done: c} }); err != nil {
			return fmt.Errorf("shutdown: %d edge items not written: %w", s.writerDepth.Load(), err)
		}
	}
	if _, err := ask(ctx, s, s.flusher, func(c chan error) any { return &flushNowMsg{reply: c} }); err != nil {
		s.log.WithError(err).Warn("shutdown: final metrics flush")
	}
	return nil
}
