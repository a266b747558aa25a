package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/config"
)

// Messages the parent sends to the link. The link accepts each by value or by pointer.
type (
	// Register asks for a new registration (a fresh snapshot): after a Resync, a table-hash
	// mismatch, or a RegisterFailed. A Register that arrives while a registration runs joins
	// it (one Registered answers both).
	Register struct{ Reason string }
	// StateReq asks for the link's State; the link answers *State with ctx.Respond.
	StateReq struct{}
)

// Messages the link sends to its parent (always as pointers: *ProbeReq, *Registered, …).
type (
	// ProbeReq asks the parent, before each heartbeat, whether the SSP is ready and how many
	// views it serves (a RequestFuture with LinkConfig.ProbeTimeout). The parent answers
	// ProbeReply (or *ProbeReply) with ctx.Respond; no heartbeat is sent unless Ready.
	ProbeReq struct{}
	// Registered: the scheduler accepted a registration (any 2xx; 202 from the real one).
	// The SSP now bootstraps from the snapshot SnapshotSeq through /proxy/query and, when
	// TableHashes is not empty, verifies its tables against it (SPEC §6.3). TableHashes is
	// nil when the answer had none, empty when it was `{}`.
	Registered struct {
		SnapshotSeq uint64
		TableHashes map[string]string
		Reason      string        // the registration's reason: "start" or Register.Reason
		Attempts    int           // POSTs it took
		Took        time.Duration // from its first attempt to the accepting answer
	}
	// RegisterFailed: a registration ended without success: the scheduler refused it (a 4xx
	// other than a retried one; errors.Is(Err, ErrRegisterRefused)) or it kept failing for
	// LinkConfig.RegisterMaxWait (errors.Is(Err, ErrRegisterGaveUp)). Err quotes the
	// scheduler's last answer. The link sends no heartbeat until a Register succeeds.
	RegisterFailed struct {
		Err      error
		Reason   string
		Attempts int
		Took     time.Duration
	}
	// Resync: a heartbeat was answered 404 (the scheduler does not know this SSP) or 409
	// (buffer overflow, resync requested). The link stops heartbeating; the parent answers
	// with Register and then re-bootstraps from the new snapshot (SPEC §6.5).
	Resync struct {
		Reason string // "heartbeat 404: <body>", "heartbeat 409: <reason>"
		Status int    // 404 or 409
		Clean  *bool  // the JSON 409's "clean"; nil for 404 and plain-text 409s
	}
)

// ProbeReply is the parent's answer to ProbeReq.
type ProbeReply struct {
	Ready bool // the SSP is ready (bootstrapped, serving)
	Views int  // registered views, sent as the heartbeat's "views"
}

// Errors of RegisterFailed.Err.
var (
	// ErrRegisterRefused: the scheduler answered a 4xx (other than 503 and 5xx, which are
	// retried), or an answer the link cannot read.
	ErrRegisterRefused = errors.New("scheduler refused the registration")
	// ErrRegisterGaveUp: every attempt within the wait budget failed.
	ErrRegisterGaveUp = errors.New("scheduler registration gave up")
)

// LinkStatus is the link's state.
type LinkStatus string

// The link's states.
const (
	LinkRegistering LinkStatus = "registering" // a registration runs (the first one from the start)
	LinkRegistered  LinkStatus = "registered"  // the last registration was accepted
	LinkFailed      LinkStatus = "failed"      // the last registration failed; waits for Register
)

// Heartbeat answers, as State and ssp_scheduler_heartbeats_total{answer} name them.
const (
	AnswerOK            = "ok"             // 2xx
	AnswerNotRegistered = "not_registered" // 404: Resync
	AnswerResync        = "resync"         // 409: Resync
	AnswerError         = "error"          // any other status or a transport error: warned, ignored
)

// Registration results, as RegistrationInfo and ssp_scheduler_registrations_total{result}
// name them. The metric counts attempts: every attempt is one of ok, retry (failed, tried
// again) or fatal (failed, the registration ends: refused, or the budget is spent).
const (
	ResultOK         = "ok"
	ResultRetry      = "retry"
	ResultFatal      = "fatal"
	ResultFailed     = "failed"      // RegistrationInfo.Result of a failed registration
	ResultInProgress = "in_progress" // RegistrationInfo.Result of the running registration
)

// Defaults of LinkConfig (scheduler-protocol.md "Registration retries", SPEC §6.5).
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultRegisterMaxWait   = 180 * time.Second
	DefaultRegisterTimeout   = 10 * time.Second
	DefaultHeartbeatTimeout  = 10 * time.Second
	DefaultProbeTimeout      = 2 * time.Second
	DefaultRetryMin          = time.Second
	DefaultRetryMax          = 10 * time.Second
)

// registrationsKept bounds State.Registrations.
const registrationsKept = 20

// maxAnswer bounds how much of a scheduler answer is read.
const maxAnswer = 1 << 20

// LinkConfig configures NewLink. Zero durations take the defaults above.
type LinkConfig struct {
	SchedulerURL string            // the scheduler's base URL (http or https)
	SSPID        string            // "ssp_id"
	AdvertiseURL string            // "url": where the scheduler reaches this SSP
	Version      string            // "version": the SSP's version
	Env          map[string]string // "env": non-secret settings (left out when empty)

	HeartbeatInterval time.Duration // between heartbeat ticks
	RegisterMaxWait   time.Duration // retry budget of a registration; a 503 starts it anew
	RegisterTimeout   time.Duration // per registration attempt
	HeartbeatTimeout  time.Duration // per heartbeat request
	ProbeTimeout      time.Duration // the parent's ProbeReply
	RetryMin          time.Duration // first retry delay; doubles up to RetryMax
	RetryMax          time.Duration

	Client  *http.Client          // nil: a client of the link's own (timeouts come from contexts)
	Log     logrus.FieldLogger    // nil: logrus' standard logger
	Metrics prometheus.Registerer // nil: the metrics are kept but not registered
	// OnReceive, a test hook (nil in production), runs at the start of every message the
	// link receives; a panic there crashes the link, which its supervisor restarts.
	OnReceive func(msg any)
}

// LinkConfigFrom fills a LinkConfig from the SSP's configuration: SPKY_SCHEDULER_URL,
// SPKY_SSP_ID, the advertised URL (cfg.AdvertiseURL(hostname)), the non-secret settings
// (cfg.SchedulerEnv()), HEARTBEAT_INTERVAL_MS and SPKY_SSP_REGISTER_MAX_WAIT_SECS. The caller
// adds the logger, the metrics registerer and anything else.
func LinkConfigFrom(cfg config.Config, version, hostname string) LinkConfig {
	return LinkConfig{
		SchedulerURL:      cfg.SchedulerURL,
		SSPID:             cfg.SSPID,
		AdvertiseURL:      cfg.AdvertiseURL(hostname),
		Version:           version,
		Env:               cfg.SchedulerEnv(),
		HeartbeatInterval: cfg.HeartbeatInterval,
		RegisterMaxWait:   cfg.RegisterMaxWait,
	}
}

func (c *LinkConfig) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&c.RegisterMaxWait, DefaultRegisterMaxWait)
	def(&c.RegisterTimeout, DefaultRegisterTimeout)
	def(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&c.ProbeTimeout, DefaultProbeTimeout)
	def(&c.RetryMin, DefaultRetryMin)
	def(&c.RetryMax, DefaultRetryMax)
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	c.SchedulerURL = strings.TrimRight(c.SchedulerURL, "/")
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
}

// check reports a configuration no registration can succeed with.
func (c *LinkConfig) check() error {
	u, err := url.Parse(c.SchedulerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: scheduler URL %q is not an http(s) URL", ErrRegisterRefused, c.SchedulerURL)
	}
	return nil
}

// State is the link's account of itself, for /debug/scheduler and /info.
type State struct {
	Link          LinkStatus `json:"link"`
	SSPID         string     `json:"ssp_id"`
	SchedulerURL  string     `json:"scheduler_url"`
	AdvertisedURL string     `json:"advertised_url"`
	// SnapshotSeq and TableHashes (a count) are those of the last accepted registration.
	SnapshotSeq uint64 `json:"snapshot_seq"`
	TableHashes int    `json:"table_hashes"`
	// Heartbeating: registered and no resync pending (each beat still needs the parent's
	// readiness). Resync is why heartbeats stopped until the next registration.
	Heartbeating  bool           `json:"heartbeating"`
	Resync        string         `json:"resync,omitempty"`
	LastHeartbeat *HeartbeatInfo `json:"last_heartbeat,omitempty"`
	// Heartbeats counts heartbeats by answer (ok, not_registered, resync, error).
	Heartbeats map[string]uint64 `json:"heartbeats"`
	// ConsecutiveHeartbeatFailures counts the heartbeats since the last ok one or the last
	// registration that were not answered ok.
	ConsecutiveHeartbeatFailures int `json:"consecutive_heartbeat_failures"`
	// Registrations are the last 20, oldest first; a running one is last.
	Registrations []RegistrationInfo `json:"registrations"`
	LastError     string             `json:"last_error,omitempty"`
	LastErrorAt   *time.Time         `json:"last_error_at,omitempty"`
}

// HeartbeatInfo describes one heartbeat and its answer.
type HeartbeatInfo struct {
	At          time.Time `json:"at"`
	AgeSeconds  float64   `json:"age_seconds"`
	Answer      string    `json:"answer"`            // ok, not_registered, resync, error
	Status      int       `json:"status,omitempty"`  // HTTP status; 0 after a transport error
	Message     string    `json:"message,omitempty"` // a refusal's body or the transport error
	Views       int       `json:"views"`
	CPUUsage    *float64  `json:"cpu_usage"`
	MemoryUsage *float64  `json:"memory_usage"`
}

// RegistrationInfo describes one registration.
type RegistrationInfo struct {
	Reason          string    `json:"reason"`
	Attempts        int       `json:"attempts"`
	DurationSeconds float64   `json:"duration_seconds"`
	Result          string    `json:"result"`                 // ok, failed, in_progress
	At              time.Time `json:"at"`                     // when it began
	SnapshotSeq     *uint64   `json:"snapshot_seq,omitempty"` // the accepted registration's
	Error           string    `json:"error,omitempty"`
}

// Messages of the link to itself.
type (
	registerAttempt struct{ gen uint64 }
	registerAnswer  struct {
		gen    uint64
		status int
		body   []byte
		err    error // transport error (no status)
	}
	heartbeatTick struct{}
	probeAnswer   struct {
		seq   uint64
		reply ProbeReply
		err   error
	}
	heartbeatAnswer struct {
		seq    uint64
		status int
		body   []byte
		err    error
	}
)

// registration is the registration in progress.
type registration struct {
	gen         uint64
	reason      string
	began       time.Time
	budgetFrom  time.Time // the wait budget runs from here (a 503 moves it)
	attempts    int
	delay       time.Duration // the last retry delay
	inFlight    bool          // an attempt's POST runs
	timer       *time.Timer   // the next attempt's registerAttempt
	info        int           // index in linkState.history
	lastAnswer  string        // the last failed attempt's answer, for the error
	coalescedBy []string      // reasons of Register messages that joined it
}

// heartbeatBeat is the heartbeat in progress (probe, then POST).
type heartbeatBeat struct {
	seq    uint64
	regGen uint64 // the registration it belongs to
	at     time.Time
	views  int
	cpu    *float64
	mem    *float64
}

// linkState is the link's state. NewLink creates it with the producer, so it outlives restarts
// of the actor (protoactor calls the producer again); only the running incarnation touches it.
// Goroutines the link starts (HTTP requests, future waits, timers) only send it messages.
type linkState struct {
	cfg LinkConfig
	log logrus.FieldLogger
	m   *linkMetrics

	sys     *actor.ActorSystem
	self    *actor.PID
	ctx     context.Context // ends when the link stops; bounds every request
	cancel  context.CancelFunc
	started bool
	// current is the message being handled. When an incarnation fails, it is the message
	// that was lost with it; the next incarnation makes up for it.
	current any

	status      LinkStatus
	regGen      uint64 // registrations begun
	reg         *registration
	snapshotSeq uint64
	hashes      int
	resync      string

	hbSeq       uint64
	beat        *heartbeatBeat // nil: no heartbeat in progress
	lastSample  procSample
	last        *HeartbeatInfo
	beats       map[string]uint64
	consecutive int

	history []RegistrationInfo
	lastErr string
	errAt   time.Time
}

// linkActor is one incarnation of the link.
type linkActor struct {
	st       *linkState
	stopTick func()
}

// NewLink returns the producer of the scheduler link actor (SPEC §6.1, §6.5), a child of the
// SSP's root in scheduler mode. On its first start it registers with the scheduler
// (POST /ssp/register, retried with backoff within RegisterMaxWait) and reports Registered or
// RegisterFailed to its parent; it registers again on Register. While registered, every
// HeartbeatInterval it asks its parent ProbeReq and, when the SSP is ready, heartbeats
// (POST /ssp/heartbeat with the process's real CPU and memory figures); a 404 or 409 answer
// becomes Resync to the parent and stops the heartbeats until the next registration. It
// answers StateReq with *State. No request ever blocks its mailbox.
//
// Call NewLink once per link: its state (registration, counters) lives with the producer and
// survives restarts of the actor, so a restarted link keeps its registration and goes on
// heartbeating without registering again.
func NewLink(cfg LinkConfig) actor.Producer {
	cfg.fill()
	st := &linkState{
		cfg:   cfg,
		log:   cfg.Log.WithFields(logrus.Fields{"component": "scheduler-link", "ssp_id": cfg.SSPID, "scheduler": cfg.SchedulerURL}),
		m:     newLinkMetrics(cfg.Metrics, cfg.Log),
		beats: map[string]uint64{},
	}
	for _, a := range []string{AnswerOK, AnswerNotRegistered, AnswerResync, AnswerError} {
		st.beats[a] = 0
	}
	return func() actor.Actor { return &linkActor{st: st} }
}

// Receive implements actor.Actor.
func (a *linkActor) Receive(ctx actor.Context) {
	st := a.st
	msg := ctx.Message()
	lifecycle := false
	switch msg.(type) {
	case *actor.Started, *actor.Restarting, *actor.Stopping, *actor.Stopped:
		lifecycle = true // st.current keeps the message a failed incarnation lost
	default:
		st.current = msg
	}
	if st.cfg.OnReceive != nil {
		st.cfg.OnReceive(msg)
	}
	switch m := msg.(type) {
	case *actor.Started:
		a.started(ctx)
	case *actor.Restarting:
		a.stopTicker()
	case *actor.Stopping:
		a.stopTicker()
		st.stop()
	case *registerAttempt:
		st.attempt(m.gen)
	case *registerAnswer:
		st.onRegisterAnswer(ctx, m)
	case *heartbeatTick:
		st.tick(ctx)
	case *probeAnswer:
		st.onProbe(m)
	case *heartbeatAnswer:
		st.onHeartbeat(ctx, m)
	case Register:
		st.register(ctx, m.Reason)
	case *Register:
		st.register(ctx, m.Reason)
	case StateReq, *StateReq:
		ctx.Respond(st.state())
	}
	if !lifecycle {
		st.current = nil
	}
}

// started begins the link's work (first start) or resumes it (restart).
func (a *linkActor) started(ctx actor.Context) {
	st := a.st
	if !st.started {
		st.started = true
		st.sys, st.self = ctx.ActorSystem(), ctx.Self()
		st.ctx, st.cancel = context.WithCancel(context.Background())
		st.lastSample = sampleProc()
		st.log.WithFields(logrus.Fields{"url": st.cfg.AdvertiseURL, "heartbeat_interval": st.cfg.HeartbeatInterval.String(),
			"register_max_wait": st.cfg.RegisterMaxWait.String()}).Info("scheduler link started")
		st.register(ctx, "start")
	} else {
		st.recoverLost(ctx)
	}
	a.startTicker()
}

func (a *linkActor) startTicker() {
	st := a.st
	t := time.NewTicker(st.cfg.HeartbeatInterval)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				st.sys.Root.Send(st.self, &heartbeatTick{})
			case <-quit:
				return
			}
		}
	}()
	a.stopTick = func() { t.Stop(); close(quit) }
}

func (a *linkActor) stopTicker() {
	if a.stopTick != nil {
		a.stopTick()
		a.stopTick = nil
	}
}

// recoverLost makes up for the message the failed incarnation was handling, which protoactor
// does not deliver again: a lost registration answer or attempt starts a new attempt, a lost
// probe or heartbeat answer frees the heartbeat, a lost Register is carried out. The rest
// (ticks, state requests) can be lost.
func (st *linkState) recoverLost(ctx actor.Context) {
	lost := st.current
	st.current = nil
	log := st.log.WithFields(logrus.Fields{"status": st.status, "lost_message": fmt.Sprintf("%T", lost)})
	switch m := lost.(type) {
	case *registerAnswer:
		if st.reg != nil && st.reg.gen == m.gen {
			st.reg.inFlight = false
			log.Warn("scheduler link restarted while reading a registration answer; trying again")
			st.attempt(m.gen)
			return
		}
	case *registerAttempt:
		if st.reg != nil && st.reg.gen == m.gen && !st.reg.inFlight {
			log.Warn("scheduler link restarted before a registration attempt; trying now")
			st.attempt(m.gen)
			return
		}
	case *probeAnswer:
		if st.beat != nil && st.beat.seq == m.seq {
			st.beat = nil
		}
	case *heartbeatAnswer:
		if st.beat != nil && st.beat.seq == m.seq {
			st.beat = nil
		}
	case Register:
		log.Warn("scheduler link restarted while taking a Register; carrying it out")
		st.register(ctx, m.Reason)
		return
	case *Register:
		log.Warn("scheduler link restarted while taking a Register; carrying it out")
		st.register(ctx, m.Reason)
		return
	}
	log.Warn("scheduler link restarted; it keeps its registration")
}

// stop ends everything the link started: requests in flight, the retry timer.
func (st *linkState) stop() {
	if st.reg != nil && st.reg.timer != nil {
		st.reg.timer.Stop()
	}
	if st.cancel != nil {
		st.cancel()
	}
	st.cfg.Client.CloseIdleConnections()
	st.log.WithField("status", st.status).Info("scheduler link stopped")
}

// --- registration ---

// register begins a registration, or joins the running one.
func (st *linkState) register(ctx actor.Context, reason string) {
	if reason == "" {
		reason = "requested"
	}
	if st.reg != nil {
		st.reg.coalescedBy = append(st.reg.coalescedBy, reason)
		st.log.WithFields(logrus.Fields{"reason": reason, "running": st.reg.reason}).
			Info("scheduler registration requested while one runs; it answers both")
		return
	}
	if err := st.cfg.check(); err != nil { // the configuration cannot change: every registration fails
		st.regGen++
		st.record(RegistrationInfo{Reason: reason, Result: ResultFailed, At: time.Now(), Error: err.Error()})
		st.status = LinkFailed
		st.fail(err)
		st.log.WithField("reason", reason).WithError(err).Error("scheduler link: registration failed")
		ctx.Send(ctx.Parent(), &RegisterFailed{Err: err, Reason: reason})
		return
	}
	now := time.Now()
	st.regGen++
	st.reg = &registration{gen: st.regGen, reason: reason, began: now, budgetFrom: now}
	st.reg.info = st.record(RegistrationInfo{Reason: reason, Result: ResultInProgress, At: now})
	st.log.WithFields(logrus.Fields{"reason": reason, "from": st.status, "url": st.cfg.AdvertiseURL}).
		Info("scheduler link: registering")
	st.status = LinkRegistering
	st.attempt(st.reg.gen)
}

// attempt POSTs /ssp/register in a goroutine, which answers with registerAnswer.
func (st *linkState) attempt(gen uint64) {
	reg := st.reg
	if reg == nil || reg.gen != gen || reg.inFlight {
		return
	}
	reg.timer = nil
	reg.attempts++
	reg.inFlight = true
	st.history[reg.info].Attempts = reg.attempts
	body, err := json.Marshal(registerBody{SSPID: st.cfg.SSPID, URL: st.cfg.AdvertiseURL, Version: st.cfg.Version, Env: st.cfg.Env})
	if err != nil { // a map[string]string always encodes
		panic(fmt.Sprintf("encode registration body: %v", err))
	}
	st.log.WithFields(logrus.Fields{"attempt": reg.attempts, "reason": reg.reason}).Debug("scheduler registration attempt")
	target := st.cfg.SchedulerURL + "/ssp/register"
	go func() {
		status, answer, err := st.post(target, body, st.cfg.RegisterTimeout)
		st.sys.Root.Send(st.self, &registerAnswer{gen: gen, status: status, body: answer, err: err})
	}()
}

type registerBody struct {
	SSPID   string            `json:"ssp_id"`
	URL     string            `json:"url"`
	Version string            `json:"version"`
	Env     map[string]string `json:"env,omitempty"`
}

// accepted is the 2xx answer of /ssp/register.
type accepted struct {
	SnapshotSeq *uint64           `json:"snapshot_seq"`
	TableHashes map[string]string `json:"table_hashes"`
}

// onRegisterAnswer ends the attempt: success, a retry after the backoff, or failure.
func (st *linkState) onRegisterAnswer(ctx actor.Context, m *registerAnswer) {
	reg := st.reg
	if reg == nil || reg.gen != m.gen {
		return // an attempt of a registration that ended (a restart made a new attempt)
	}
	reg.inFlight = false
	target := st.cfg.SchedulerURL + "/ssp/register"
	switch {
	case m.err == nil && m.status >= 200 && m.status <= 299:
		var a accepted
		err := json.Unmarshal(m.body, &a)
		if err == nil && a.SnapshotSeq == nil {
			err = errors.New("no snapshot_seq")
		}
		if err != nil {
			st.m.registrations.WithLabelValues(ResultFatal).Inc()
			st.registrationFailed(ctx, fmt.Errorf("%w: POST %s answered %d with an unreadable body (%v): %s",
				ErrRegisterRefused, target, m.status, err, quote(m.body)))
			return
		}
		st.m.registrations.WithLabelValues(ResultOK).Inc()
		st.registered(ctx, *a.SnapshotSeq, a.TableHashes)
		return
	case m.err == nil && m.status >= 400 && m.status <= 499:
		st.m.registrations.WithLabelValues(ResultFatal).Inc()
		st.registrationFailed(ctx, fmt.Errorf("%w: POST %s answered %d %s: %s",
			ErrRegisterRefused, target, m.status, http.StatusText(m.status), quote(m.body)))
		return
	case m.err == nil && (m.status < 500 || m.status > 599):
		st.m.registrations.WithLabelValues(ResultFatal).Inc()
		st.registrationFailed(ctx, fmt.Errorf("%w: POST %s answered the unexpected status %d: %s",
			ErrRegisterRefused, target, m.status, quote(m.body)))
		return
	}
	// Retried: a transport error or a 5xx; a 503 (the scheduler is cloning) restarts the budget.
	now := time.Now()
	if m.err != nil {
		reg.lastAnswer = m.err.Error()
	} else {
		reg.lastAnswer = fmt.Sprintf("%d %s: %s", m.status, http.StatusText(m.status), quote(m.body))
	}
	if m.status == http.StatusServiceUnavailable {
		reg.budgetFrom = now
	}
	reg.delay = min(max(2*reg.delay, st.cfg.RetryMin), st.cfg.RetryMax)
	left := st.cfg.RegisterMaxWait - now.Sub(reg.budgetFrom)
	if left <= 0 {
		st.m.registrations.WithLabelValues(ResultFatal).Inc()
		st.registrationFailed(ctx, fmt.Errorf("%w after %d attempts in %s (wait budget %s, SPKY_SSP_REGISTER_MAX_WAIT_SECS); last answer: %s",
			ErrRegisterGaveUp, reg.attempts, now.Sub(reg.began).Round(time.Millisecond), st.cfg.RegisterMaxWait, reg.lastAnswer))
		return
	}
	st.m.registrations.WithLabelValues(ResultRetry).Inc()
	delay := min(reg.delay, left)
	st.noteErr(fmt.Sprintf("registration attempt %d: %s", reg.attempts, reg.lastAnswer))
	st.log.WithFields(logrus.Fields{"attempt": reg.attempts, "answer": reg.lastAnswer, "retry_in": delay.String(),
		"budget_left": left.Round(time.Millisecond).String(), "reason": reg.reason}).Warn("scheduler registration attempt failed; retrying")
	gen := reg.gen
	reg.timer = time.AfterFunc(delay, func() { st.sys.Root.Send(st.self, &registerAttempt{gen: gen}) })
}

// registered ends the running registration with success.
func (st *linkState) registered(ctx actor.Context, seq uint64, hashes map[string]string) {
	reg := st.reg
	st.reg = nil
	took := time.Since(reg.began)
	st.m.regDuration.Observe(took.Seconds())
	info := &st.history[reg.info]
	info.Result, info.DurationSeconds, info.SnapshotSeq = ResultOK, took.Seconds(), &seq
	st.status, st.snapshotSeq, st.hashes, st.resync, st.consecutive = LinkRegistered, seq, len(hashes), "", 0
	st.log.WithFields(logrus.Fields{"reason": reg.reason, "snapshot_seq": seq, "table_hashes": len(hashes),
		"attempts": reg.attempts, "took": took.Round(time.Millisecond).String(), "joined": reg.coalescedBy}).
		Info("scheduler link: registered")
	ctx.Send(ctx.Parent(), &Registered{SnapshotSeq: seq, TableHashes: hashes, Reason: reg.reason, Attempts: reg.attempts, Took: took})
}

// registrationFailed ends the running registration with err.
func (st *linkState) registrationFailed(ctx actor.Context, err error) {
	reg := st.reg
	st.reg = nil
	took := time.Since(reg.began)
	st.m.regDuration.Observe(took.Seconds())
	info := &st.history[reg.info]
	info.Result, info.DurationSeconds, info.Error = ResultFailed, took.Seconds(), err.Error()
	st.status = LinkFailed
	st.fail(err)
	st.log.WithFields(logrus.Fields{"reason": reg.reason, "attempts": reg.attempts, "took": took.Round(time.Millisecond).String()}).
		WithError(err).Error("scheduler link: registration failed")
	ctx.Send(ctx.Parent(), &RegisterFailed{Err: err, Reason: reg.reason, Attempts: reg.attempts, Took: took})
}

// --- heartbeat ---

// heartbeating reports whether heartbeats are due: registered, no registration running and no
// resync pending.
func (st *linkState) heartbeating() bool {
	return st.status == LinkRegistered && st.reg == nil && st.resync == ""
}

// tick begins a heartbeat: it asks the parent whether the SSP is ready.
func (st *linkState) tick(ctx actor.Context) {
	if !st.heartbeating() || st.beat != nil {
		return
	}
	st.hbSeq++
	seq := st.hbSeq
	st.beat = &heartbeatBeat{seq: seq, regGen: st.regGen}
	fut := ctx.RequestFuture(ctx.Parent(), &ProbeReq{}, st.cfg.ProbeTimeout)
	go func() {
		res, err := fut.Result()
		pa := &probeAnswer{seq: seq, err: err}
		switch r := res.(type) {
		case ProbeReply:
			pa.reply = r
		case *ProbeReply:
			pa.reply = *r
		default:
			if err == nil {
				pa.err = fmt.Errorf("the parent answered ProbeReq with %T", res)
			}
		}
		st.sys.Root.Send(st.self, pa)
	}()
}

// onProbe sends the heartbeat when the parent says the SSP is ready.
func (st *linkState) onProbe(m *probeAnswer) {
	b := st.beat
	if b == nil || b.seq != m.seq {
		return
	}
	switch {
	case m.err != nil:
		st.beat = nil
		st.log.WithError(m.err).Warn("scheduler heartbeat skipped: the SSP did not answer the readiness probe")
		return
	case !m.reply.Ready, !st.heartbeating() || b.regGen != st.regGen:
		st.beat = nil
		return
	}
	sample := sampleProc()
	b.at, b.views, b.cpu, b.mem = sample.at, m.reply.Views, cpuPercent(st.lastSample, sample), rssMiB(sample)
	st.lastSample = sample
	body, err := json.Marshal(heartbeatBody{SSPID: st.cfg.SSPID, Timestamp: sample.at.Unix(), Views: b.views,
		CPUUsage: b.cpu, MemoryUsage: b.mem, Version: st.cfg.Version})
	if err != nil { // only numbers and strings
		panic(fmt.Sprintf("encode heartbeat body: %v", err))
	}
	target, seq := st.cfg.SchedulerURL+"/ssp/heartbeat", b.seq
	go func() {
		status, answer, err := st.post(target, body, st.cfg.HeartbeatTimeout)
		st.sys.Root.Send(st.self, &heartbeatAnswer{seq: seq, status: status, body: answer, err: err})
	}()
}

type heartbeatBody struct {
	SSPID       string   `json:"ssp_id"`
	Timestamp   int64    `json:"timestamp"`
	Views       int      `json:"views"`
	CPUUsage    *float64 `json:"cpu_usage"`
	MemoryUsage *float64 `json:"memory_usage"`
	Version     string   `json:"version"`
}

// conflictBody is the JSON form of a 409 answer (newer schedulers).
type conflictBody struct {
	Reason *string `json:"reason"`
	Clean  *bool   `json:"clean"`
}

// onHeartbeat reads a heartbeat's answer: 2xx goes on; 404 and 409 ask the parent to resync
// and stop the heartbeats until the next registration; anything else is warned about.
func (st *linkState) onHeartbeat(ctx actor.Context, m *heartbeatAnswer) {
	b := st.beat
	if b == nil || b.seq != m.seq {
		return
	}
	st.beat = nil
	info := &HeartbeatInfo{At: b.at, Status: m.status, Views: b.views, CPUUsage: b.cpu, MemoryUsage: b.mem}
	log := st.log.WithFields(logrus.Fields{"status": m.status, "views": b.views})
	current := b.regGen == st.regGen && st.heartbeating()
	var resync *Resync
	switch {
	case m.err != nil:
		info.Answer, info.Message = AnswerError, m.err.Error()
	case m.status >= 200 && m.status <= 299:
		info.Answer = AnswerOK
	case m.status == http.StatusNotFound:
		info.Answer, info.Message = AnswerNotRegistered, text(m.body)
		resync = &Resync{Reason: "heartbeat 404: " + orDefault(info.Message, "SSP not registered"), Status: m.status}
	case m.status == http.StatusConflict:
		info.Answer = AnswerResync
		reason, clean := text(m.body), (*bool)(nil)
		var c conflictBody
		if json.Unmarshal(m.body, &c) == nil && c.Reason != nil {
			reason, clean = *c.Reason, c.Clean
		}
		info.Message = reason
		resync = &Resync{Reason: "heartbeat 409: " + orDefault(reason, "resync requested"), Status: m.status, Clean: clean}
	default:
		info.Answer, info.Message = AnswerError, text(m.body)
	}
	st.last = info
	st.beats[info.Answer]++
	st.m.heartbeats.WithLabelValues(info.Answer).Inc()
	if info.Answer == AnswerOK {
		if st.consecutive > 0 {
			log.WithField("failures", st.consecutive).Info("scheduler heartbeats answered again")
		}
		st.consecutive = 0
		log.Debug("scheduler heartbeat ok")
		return
	}
	st.consecutive++
	st.noteErr(fmt.Sprintf("heartbeat: %s", orDefault(info.Message, fmt.Sprintf("status %d", m.status))))
	if resync == nil || !current {
		log.WithFields(logrus.Fields{"answer": info.Answer, "message": info.Message, "consecutive": st.consecutive}).
			Warn("scheduler heartbeat failed; going on")
		return
	}
	st.resync = resync.Reason
	log.WithFields(logrus.Fields{"answer": info.Answer, "reason": resync.Reason}).
		Warn("scheduler link: resync needed; heartbeats stop until the SSP registers again")
	ctx.Send(ctx.Parent(), resync)
}

// --- shared helpers ---

// post sends a JSON body and reads the answer (at most maxAnswer bytes) within timeout. A
// transport error has status 0.
func (st *linkState) post(target string, body []byte, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(st.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", target, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := st.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", target, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: read the %d answer: %w", target, resp.StatusCode, err)
	}
	return resp.StatusCode, answer, nil
}

// record appends a registration to the history (the last registrationsKept) and returns its
// index.
func (st *linkState) record(r RegistrationInfo) int {
	if len(st.history) >= registrationsKept {
		drop := len(st.history) - registrationsKept + 1
		st.history = append(st.history[:0], st.history[drop:]...)
		if st.reg != nil {
			st.reg.info -= drop
		}
	}
	st.history = append(st.history, r)
	return len(st.history) - 1
}

func (st *linkState) fail(err error) { st.noteErr(err.Error()) }

func (st *linkState) noteErr(msg string) {
	st.lastErr, st.errAt = msg, time.Now()
}

// state is the State now.
func (st *linkState) state() *State {
	now := time.Now()
	s := &State{
		Link: st.status, SSPID: st.cfg.SSPID, SchedulerURL: st.cfg.SchedulerURL, AdvertisedURL: st.cfg.AdvertiseURL,
		SnapshotSeq: st.snapshotSeq, TableHashes: st.hashes, Heartbeating: st.heartbeating(), Resync: st.resync,
		Heartbeats: make(map[string]uint64, len(st.beats)), ConsecutiveHeartbeatFailures: st.consecutive,
		Registrations: append([]RegistrationInfo{}, st.history...), LastError: st.lastErr,
	}
	for k, v := range st.beats {
		s.Heartbeats[k] = v
	}
	if st.last != nil {
		l := *st.last
		l.AgeSeconds = now.Sub(l.At).Seconds()
		s.LastHeartbeat = &l
	}
	if st.reg != nil {
		s.Registrations[st.reg.info].DurationSeconds = now.Sub(st.reg.began).Seconds()
	}
	if !st.errAt.IsZero() {
		at := st.errAt
		s.LastErrorAt = &at
	}
	return s
}

// text is an answer body as one trimmed line of at most 300 bytes.
func text(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:297], "") + "..."
	}
	return s
}

// quote is an answer body for an error message: quoted, or "(empty body)".
func quote(b []byte) string {
	if s := text(b); s != "" {
		return fmt.Sprintf("%q", s)
	}
	return "(empty body)"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// linkMetrics are the link's Prometheus collectors.
type linkMetrics struct {
	heartbeats    *prometheus.CounterVec // ssp_scheduler_heartbeats_total{answer}
	registrations *prometheus.CounterVec // ssp_scheduler_registrations_total{result}
	regDuration   prometheus.Histogram   // ssp_scheduler_registration_duration_seconds
}

// newLinkMetrics builds the collectors and registers them on reg (when not nil); a collector
// registered already (another link on the same registry) is shared.
func newLinkMetrics(reg prometheus.Registerer, log logrus.FieldLogger) *linkMetrics {
	m := &linkMetrics{
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_scheduler_heartbeats_total",
			Help: "Heartbeats sent to the scheduler, by answer: ok, not_registered (404), resync (409), error (any other answer or a transport error).",
		}, []string{"answer"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_scheduler_registrations_total",
			Help: "Registration attempts at the scheduler, by result: ok, retry (failed and tried again), fatal (refused, or the last attempt of a spent wait budget).",
		}, []string{"result"}),
		regDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ssp_scheduler_registration_duration_seconds",
			Help:    "Duration of scheduler registrations, from the first attempt to the accepting answer or the failure.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
	}
	if reg != nil {
		m.heartbeats = registerOrShare(reg, m.heartbeats, log)
		m.registrations = registerOrShare(reg, m.registrations, log)
		m.regDuration = registerOrShare(reg, m.regDuration, log)
	}
	for _, a := range []string{AnswerOK, AnswerNotRegistered, AnswerResync, AnswerError} {
		m.heartbeats.WithLabelValues(a)
	}
	for _, r := range []string{ResultOK, ResultRetry, ResultFatal} {
		m.registrations.WithLabelValues(r)
	}
	return m
}

func registerOrShare[C prometheus.Collector](reg prometheus.Registerer, c C, log logrus.FieldLogger) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.WithError(err).Warn("scheduler link metrics not registered")
	return c
}
