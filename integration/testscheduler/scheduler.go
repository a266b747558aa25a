package testscheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/surreal/conn"
)

// Defaults of Options, the real scheduler's.
const (
	DefaultUpdateInterval   = 300 * time.Second
	DefaultPollInterval     = 3 * time.Second
	DefaultBootstrapTimeout = 120 * time.Second
	DefaultHeartbeatTimeout = 30 * time.Second
	DefaultBufferMax        = 10_000
	DefaultRequestTimeout   = 30 * time.Second
)

// Options configures Start. URL, NS and DB are required.
type Options struct {
	// URL, User, Pass, NS and DB name the source SurrealDB database (ws://… or http://…).
	URL, User, Pass, NS, DB string
	// ReplicaDB names the replica database in namespace NS (default `<DB>_replica_<port>`). It is
	// removed and defined anew at start, and removed at Close unless KeepReplica is set.
	ReplicaDB   string
	KeepReplica bool
	// Addr is the listen address (default 127.0.0.1:0, a free port).
	Addr string
	// Secret, when set, is sent as `Authorization: Bearer <Secret>` on every POST to an SSP.
	Secret string
	// UpdateInterval is the period of the replica updater (DefaultUpdateInterval if zero;
	// negative: never, only ApplyNow moves the replica).
	UpdateInterval time.Duration
	// PollInterval is the period of the `GET {ssp}/health` polls after a registration.
	PollInterval time.Duration
	// BootstrapTimeout bounds the health polling; an SSP not ready by then is dropped.
	BootstrapTimeout time.Duration
	// HeartbeatTimeout removes a ready SSP silent for longer.
	HeartbeatTimeout time.Duration
	// BufferMax is the per-SSP buffer's capacity; one more event clears it and flags the SSP.
	BufferMax int
	// RequestTimeout bounds every scheduler → SSP request.
	RequestTimeout time.Duration
	// HoldCloning keeps the scheduler in `cloning` (503 on /ingest and /ssp/register) until
	// ReleaseCloning; the clone reads the source after the release. Start then returns at once.
	HoldCloning bool
	// VerifyCircuitHashes makes the scheduler compare an SSP's /info `circuit_hashes` with its own
	// after the replay, as newer schedulers do, and flag the SSP on a mismatch.
	VerifyCircuitHashes bool
	// ConflictJSON answers 409 heartbeats with JSON `{"reason","clean"}` (newer schedulers)
	// instead of plain text (older ones).
	ConflictJSON bool
	// HistoryLimit, when positive, bounds what the scheduler keeps for inspection: the last
	// HistoryLimit events of Log, and per SSP of Requests and Heartbeats (for long `ssp dev`
	// sessions). Zero keeps everything.
	HistoryLimit int
	// Defects reproduces known defects of the real scheduler.
	Defects Defects
	// Log receives the scheduler's log (logrus' standard logger if nil).
	Log logrus.FieldLogger
}

// Defects are upstream defects the scheduler reproduces when switched on (all off by default).
type Defects struct {
	// FrozenAfterAbort leaves the replica frozen after a bootstrap that failed or timed out,
	// until some later bootstrap completes.
	FrozenAfterAbort bool
	// ReRegisterMoves sends a view registered again to another ready SSP (by the strategy, the
	// one it is on excluded) instead of keeping it where it is.
	ReRegisterMoves bool
	// InfoObject answers /proxy/query results that are not arrays (INFO FOR DB) as they are,
	// instead of as a one-element array.
	InfoObject bool
	// UpdateMerges applies UPDATE events to the replica as a merge (fields missing from the
	// record survive) instead of replacing the row.
	UpdateMerges bool
}

// Status is the scheduler's status.
type Status string

// The scheduler's statuses.
const (
	StatusCloning  Status = "cloning"
	StatusReady    Status = "ready"
	StatusFrozen   Status = "frozen"
	StatusUpdating Status = "updating"
)

// SSPStatus is an SSP's status in the pool.
type SSPStatus string

// The statuses of an SSP in the pool.
const (
	SSPBootstrapping SSPStatus = "bootstrapping"
	SSPReplaying     SSPStatus = "replaying"
	SSPReady         SSPStatus = "ready"
)

// Event is one accepted ingest.
type Event struct {
	Seq   uint64
	Table string
	Op    string // as sent (any case)
	ID    string
	// JobAssignee is the SSP picked for the event ("" when none was ready).
	JobAssignee string
	// Body is what SSPs are sent: the ingest body with `job_assignee` set when there is one.
	Body     json.RawMessage
	Received time.Time
}

// conflict is why an SSP's heartbeats get 409.
type conflict struct {
	reason string
	clean  bool
}

// Conflict reasons the scheduler sets itself.
const (
	ReasonOverflow = "Buffer overflow detected. SSP needs to re-bootstrap."
	ReasonMismatch = "Table hash mismatch after replay. SSP needs to re-bootstrap."
)

// sspState is one SSP of the pool. Guarded by Scheduler.mu.
type sspState struct {
	id, url, version string
	env              json.RawMessage
	status           SSPStatus
	snapshotSeq      uint64
	buffer           []*Event
	reportedViews    int
	cpu, mem         *float64
	lastHeartbeat    time.Time
	registeredAt     time.Time
	flag             *conflict
	verified         *bool
	mismatches       []string
	gen              uint64
	cancel           context.CancelFunc
}

// view is one assigned view. Guarded by Scheduler.mu.
type view struct {
	id         string // as first sent
	ssp        string
	body       []byte // the last registration body forwarded
	assignedAt time.Time
}

// Scheduler is a running test scheduler. Close it when done.
type Scheduler struct {
	opts      Options
	log       logrus.FieldLogger
	src, rep  *conn.Conn
	replicaDB string
	client    *http.Client
	transport *http.Transport
	srv       *http.Server
	url       string

	ctx    context.Context
	cancel context.CancelFunc
	// wg counts background tasks and requests being served; lifeMu and closing keep new ones
	// from starting once Close waits for them.
	wg      sync.WaitGroup
	lifeMu  sync.Mutex
	closing bool

	release     chan struct{}
	releaseOnce sync.Once
	cloned      chan struct{}
	cloneErr    error // set before cloned is closed

	// ingestMu serialises ingests (seq assignment and fan-out), so that every SSP receives them
	// in seq order, and lets the replay's verification see a quiet pool.
	ingestMu sync.Mutex
	// replicaMu: the updater and the clone write the replica under the write lock; proxy queries,
	// table hashes and registrations read it under the read lock.
	replicaMu sync.RWMutex

	mu          sync.Mutex
	cloning     bool
	updating    bool
	stuckFrozen bool
	counter     uint64
	snapshotSeq uint64
	events      []*Event
	global      []*Event
	ssps        map[string]*sspState
	gen         uint64
	views       map[string]*view // by view key
	requests    map[string][]Request
	heartbeats  map[string][]Heartbeat
	sw          switches
	closeOnce   sync.Once
	closeErr    error
}

var safeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (o *Options) fill() error {
	if o.URL == "" || o.NS == "" || o.DB == "" {
		return errors.New("options URL, NS and DB are required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.UpdateInterval == 0 {
		o.UpdateInterval = DefaultUpdateInterval
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.BootstrapTimeout <= 0 {
		o.BootstrapTimeout = DefaultBootstrapTimeout
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if o.BufferMax <= 0 {
		o.BufferMax = DefaultBufferMax
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
	return nil
}

// Start connects to the source database, prepares the replica database, listens, and starts
// cloning. Unless Options.HoldCloning is set it returns once the clone is done (ctx bounds that
// wait and the connections' set-up); the scheduler then runs until Close.
func Start(ctx context.Context, opts Options) (*Scheduler, error) {
	if err := opts.fill(); err != nil {
		return nil, fmt.Errorf("start test scheduler: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("start test scheduler: listen on %s: %w", opts.Addr, err)
	}
	replicaDB := opts.ReplicaDB
	if replicaDB == "" {
		replicaDB = fmt.Sprintf("%s_replica_%d", opts.DB, ln.Addr().(*net.TCPAddr).Port)
	}
	if !safeName.MatchString(replicaDB) || replicaDB == opts.DB {
		_ = ln.Close()
		return nil, fmt.Errorf("start test scheduler: replica database %q must be an identifier other than the source database", replicaDB)
	}
	log := opts.Log.WithFields(logrus.Fields{"component": "testscheduler", "addr": ln.Addr().String()})
	s := &Scheduler{
		opts:       opts,
		log:        log,
		replicaDB:  replicaDB,
		url:        "http://" + ln.Addr().String(),
		release:    make(chan struct{}),
		cloned:     make(chan struct{}),
		cloning:    true,
		ssps:       map[string]*sspState{},
		views:      map[string]*view{},
		requests:   map[string][]Request{},
		heartbeats: map[string][]Heartbeat{},
		sw:         newSwitches(opts),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.client = &http.Client{Timeout: opts.RequestTimeout, Transport: s.transport}

	fail := func(err error) (*Scheduler, error) {
		_ = ln.Close()
		_ = s.Close()
		return nil, fmt.Errorf("start test scheduler: %w", err)
	}
	cfg := conn.Config{URL: opts.URL, User: opts.User, Pass: opts.Pass, NS: opts.NS, DB: opts.DB, Log: log}
	if s.src, err = conn.Dial(ctx, cfg); err != nil {
		return fail(fmt.Errorf("source database: %w", err))
	}
	rs, err := s.src.Query(ctx, fmt.Sprintf("REMOVE DATABASE IF EXISTS `%s`; DEFINE DATABASE `%s`", replicaDB, replicaDB), nil)
	if err == nil {
		err = conn.StatementErr(rs)
	}
	if err != nil {
		return fail(fmt.Errorf("prepare replica database %s: %w", replicaDB, err))
	}
	cfg.DB = replicaDB
	if s.rep, err = conn.Dial(ctx, cfg); err != nil {
		return fail(fmt.Errorf("replica database: %w", err))
	}

	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	s.goBackground(func(context.Context) {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.WithError(err).Error("http server stopped")
		}
	})
	if !opts.HoldCloning {
		s.ReleaseCloning()
	}
	s.goBackground(s.cloneLoop)
	s.goBackground(s.updaterLoop)
	s.goBackground(s.reaperLoop)
	log.WithFields(logrus.Fields{"source": opts.NS + "/" + opts.DB, "replica": opts.NS + "/" + replicaDB}).Info("test scheduler listening")
	if opts.HoldCloning {
		return s, nil
	}
	if err := s.WaitCloned(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// enter counts one more task for Close to wait for, unless Close has begun.
func (s *Scheduler) enter() bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

// goBackground runs f in a goroutine that Close cancels and waits for. It reports false (and
// does not run f) once Close has begun.
func (s *Scheduler) goBackground(f func(context.Context)) bool {
	if !s.enter() {
		return false
	}
	go func() {
		defer s.wg.Done()
		f(s.ctx)
	}()
	return true
}

// URL returns the scheduler's base URL, http://host:port.
func (s *Scheduler) URL() string { return s.url }

// ReplicaDB returns the name of the replica database (in the source's namespace).
func (s *Scheduler) ReplicaDB() string { return s.replicaDB }

// ReleaseCloning lets a clone held by Options.HoldCloning start. Calling it again is a no-op.
func (s *Scheduler) ReleaseCloning() {
	s.releaseOnce.Do(func() { close(s.release) })
}

// WaitCloned waits until the clone is done and returns its error, or ctx's.
func (s *Scheduler) WaitCloned(ctx context.Context) error {
	select {
	case <-s.cloned:
		return s.cloneErr
	case <-ctx.Done():
		return fmt.Errorf("wait for the clone: %w", ctx.Err())
	}
}

func (s *Scheduler) cloneLoop(ctx context.Context) {
	select {
	case <-s.release:
	case <-ctx.Done():
		s.cloneErr = ctx.Err()
		close(s.cloned)
		return
	}
	err := s.clone(ctx)
	if err != nil {
		s.log.WithError(err).Error("clone failed; the scheduler stays in cloning")
	} else {
		s.mu.Lock()
		s.cloning = false
		s.mu.Unlock()
	}
	s.cloneErr = err
	close(s.cloned)
}

func (s *Scheduler) updaterLoop(ctx context.Context) {
	if s.opts.UpdateInterval < 0 {
		return
	}
	t := time.NewTicker(s.opts.UpdateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.ApplyNow(ctx); err != nil && !errors.Is(err, ErrFrozen) && !errors.Is(err, ErrCloning) && ctx.Err() == nil {
				s.log.WithError(err).Warn("replica update failed")
			}
		}
	}
}

func (s *Scheduler) reaperLoop(ctx context.Context) {
	every := min(max(s.opts.HeartbeatTimeout/4, 5*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.reap(time.Now())
		}
	}
}

// reap removes ready SSPs whose last heartbeat is older than the heartbeat timeout.
func (s *Scheduler) reap(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.sortedIDs() {
		p := s.ssps[id]
		if p.status == SSPReady && now.Sub(p.lastHeartbeat) > s.opts.HeartbeatTimeout {
			s.log.WithFields(logrus.Fields{"ssp_id": id, "silent_for": now.Sub(p.lastHeartbeat).String()}).
				Warn("SSP missed its heartbeats; removed, its views left unassigned")
			s.removeLocked(id)
		}
	}
}

// removeLocked drops an SSP from the pool with its assignments. s.mu must be held.
func (s *Scheduler) removeLocked(id string) {
	p := s.ssps[id]
	if p == nil {
		return
	}
	if p.cancel != nil {
		p.cancel()
	}
	delete(s.ssps, id)
	for key, v := range s.views {
		if v.ssp == id {
			delete(s.views, key)
		}
	}
}

// sortedIDs returns the pool's SSP ids in order. s.mu must be held.
func (s *Scheduler) sortedIDs() []string {
	ids := make([]string, 0, len(s.ssps))
	for id := range s.ssps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// frozenLocked reports whether the replica is frozen: an SSP bootstraps or replays, or an
// aborted bootstrap left it frozen (Defects.FrozenAfterAbort). s.mu must be held.
func (s *Scheduler) frozenLocked() bool {
	if s.stuckFrozen {
		return true
	}
	for _, p := range s.ssps {
		if p.status != SSPReady {
			return true
		}
	}
	return false
}

func (s *Scheduler) statusLocked() Status {
	switch {
	case s.cloning:
		return StatusCloning
	case s.updating:
		return StatusUpdating
	case s.frozenLocked():
		return StatusFrozen
	}
	return StatusReady
}

// Close stops the server and every background task, removes the replica database (unless
// Options.KeepReplica) and closes the connections. It is safe to call more than once.
func (s *Scheduler) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		s.lifeMu.Lock()
		s.closing = true
		s.lifeMu.Unlock()
		s.ReleaseCloning()
		// In-flight requests to SSPs, bootstraps and the clone end with the context; closing the
		// server drops every connection (a test double need not drain ingests gracefully).
		s.cancel()
		if s.srv != nil {
			if err := s.srv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close http server: %w", err))
			}
		}
		s.wg.Wait()
		s.transport.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if s.rep != nil {
			_ = s.rep.Close(ctx)
		}
		if s.src != nil {
			if !s.opts.KeepReplica {
				rs, err := s.src.Query(ctx, fmt.Sprintf("REMOVE DATABASE IF EXISTS `%s`", s.replicaDB), nil)
				if err == nil {
					err = conn.StatementErr(rs)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("remove replica database %s: %w", s.replicaDB, err))
				}
			}
			_ = s.src.Close(ctx)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
