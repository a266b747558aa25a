// Package conn is the SSP's connection to SurrealDB: it dials through the official Go SDK
// (github.com/surrealdb/surrealdb.go), signs in, selects the namespace and database, reconnects
// when the connection breaks, retries transient failures (connection lost, "transaction
// conflict") with bounded backoff, and converts every statement's result into the SSP's value
// model (value.Value), keeping NONE and NULL apart.
//
// # Retry policy
//
// conn is the SSP's one retry layer. Query, Dial and Version retry transient failures — a lost
// or timed-out connection (re-established before the next attempt) and a statement failing
// with a transaction conflict — with backoff, within a budget per call: at most
// Config.MaxAttempts attempts and at most Config.RetryDeadline of total time (and never past
// ctx's own deadline). Anything else (a parse error, a permission problem, a failed statement
// that is not a conflict) is returned at once.
//
// Nobody above conn loops on a failed query. A caller that must never lose work (the list_ref
// writer actor) keeps the work pending and submits it again with its next flush, which its work
// queue schedules on its own backoff timer: that is the next round of its queue, not a nested
// retry. Reads that fail are reported upward; the bootstrap's attempts are whole attempts of
// the bootstrap (see package actors), not retries of a query.
//
// Record ids and other values are always passed as bound query variables: ToDB turns a
// value.Value into the SDK type SurrealDB expects (models.RecordID, models.CustomDateTime,
// models.CustomDuration, …), and Query applies it to any value.Value found in vars.
package conn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/sirupsen/logrus"
	surrealdb "github.com/surrealdb/surrealdb.go"
	"github.com/surrealdb/surrealdb.go/pkg/connection"
	sdkhttp "github.com/surrealdb/surrealdb.go/pkg/connection/http"

	"github.com/sp00ky/ssp/surreal/value"
)

// Defaults of Config's retry and timeout settings.
const (
	DefaultAttemptTimeout = 30 * time.Second
	DefaultMaxAttempts    = 6
	DefaultRetryDeadline  = 15 * time.Second
	DefaultBaseBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff     = 2 * time.Second
)

// Config says where and how to connect.
type Config struct {
	// URL is the SurrealDB endpoint, e.g. ws://127.0.0.1:8000 (ws, wss, http or https).
	URL string
	// User and Pass are the root (system) user's credentials.
	User, Pass string
	// NS and DB select the namespace and database.
	NS, DB string

	// AttemptTimeout bounds one attempt — dialing if there is no connection, and the round
	// trip (DefaultAttemptTimeout if zero); it is shortened to what is left of the call's
	// RetryDeadline. An attempt that times out is treated as a lost connection: the connection
	// is re-established.
	AttemptTimeout time.Duration
	// MaxAttempts bounds how often one call (Query, Dial, Version) tries when it fails
	// transiently (DefaultMaxAttempts if zero).
	MaxAttempts int
	// RetryDeadline bounds the total time of one call, every attempt and backoff included
	// (DefaultRetryDeadline if zero): no attempt starts or runs past it.
	RetryDeadline time.Duration
	// BaseBackoff is the wait after the first failed attempt; it doubles per attempt up to
	// MaxBackoff (DefaultBaseBackoff and DefaultMaxBackoff if zero).
	BaseBackoff, MaxBackoff time.Duration
	// Log receives retry and reconnect warnings (logrus' standard logger if nil).
	Log logrus.FieldLogger
}

func (c *Config) fill() {
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RetryDeadline <= 0 {
		c.RetryDeadline = DefaultRetryDeadline
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.BaseBackoff {
		c.MaxBackoff = c.BaseBackoff
	}
	if c.Log == nil {
		c.Log = logrus.StandardLogger()
	}
}

// Conn is a SurrealDB connection that re-establishes itself after failures. It is safe for
// concurrent use.
type Conn struct {
	cfg Config

	mu      sync.Mutex
	cur     *link         // nil while disconnected
	dialing chan struct{} // non-nil while a call dials; closed when that dial ends
	closed  bool
}

// link is one SDK connection. It is closed once it is dead (broken or replaced) and no call
// uses it any more: the SDK panics when a closed connection is used.
type link struct {
	db    *surrealdb.DB
	ws    *wsConn // db's transport when it is a WebSocket (queries skip the SDK's encoder)
	users int
	dead  bool
	// ctx ends when the link is retired, so that calls still waiting on it give up at once
	// instead of waiting for their timeout (the SDK does not fail them itself).
	ctx    context.Context
	cancel context.CancelFunc
}

// Result is one statement's outcome: its value (NONE for statements that return nothing) or,
// when the statement failed, Err (a *StatementError).
type Result struct {
	Value value.Value
	Err   error
}

// StatementError is a statement that SurrealDB executed and reported as failed.
type StatementError struct {
	// Index is the statement's position in the query (0-based, as SurrealDB counts results).
	Index int
	// Message is SurrealDB's error text.
	Message string
}

// Error returns the statement's position and SurrealDB's message.
func (e *StatementError) Error() string {
	return fmt.Sprintf("statement %d: %s", e.Index, e.Message)
}

// StatementErr returns the errors of the failed statements among rs joined into one, or nil.
func StatementErr(rs []Result) error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

// ErrClosed is returned by a Conn after Close.
var ErrClosed = errors.New("surrealdb connection closed")

// Dial connects to SurrealDB, signs in and selects the namespace and database. Transport
// failures are retried like queries (within Config.MaxAttempts and Config.RetryDeadline, with
// backoff); a rejected sign-in or use is returned at once.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg.fill()
	if cfg.URL == "" {
		return nil, errors.New("dial surrealdb: empty URL")
	}
	c := &Conn{cfg: cfg}
	err := c.retry(ctx, cfg.MaxAttempts, "dial", func(deadline time.Time) error {
		l, err := c.acquire(ctx, deadline)
		if err != nil {
			if isTransport(ctx, err) {
				return markRetry(err)
			}
			return err
		}
		c.release(l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Conn) dial(ctx context.Context, deadline time.Time) (*surrealdb.DB, *wsConn, error) {
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	db, ws, err := open(dctx, c.cfg.URL, c.cfg.Log)
	if err != nil {
		return nil, nil, fmt.Errorf("dial surrealdb %s: %w", c.cfg.URL, err)
	}
	fail := func(step string, err error) (*surrealdb.DB, *wsConn, error) {
		closeAsync(db)
		return nil, nil, fmt.Errorf("dial surrealdb %s: %s: %w", c.cfg.URL, step, err)
	}
	if c.cfg.User != "" || c.cfg.Pass != "" {
		if _, err := db.SignIn(dctx, surrealdb.Auth{Username: c.cfg.User, Password: c.cfg.Pass}); err != nil {
			return fail("sign in as "+c.cfg.User, err)
		}
	}
	if c.cfg.NS != "" || c.cfg.DB != "" {
		if err := db.Use(dctx, c.cfg.NS, c.cfg.DB); err != nil {
			return fail(fmt.Sprintf("use %s/%s", c.cfg.NS, c.cfg.DB), err)
		}
	}
	return db, ws, nil
}

// acquire returns the live SDK connection, dialing one (until deadline) if there is none, and
// counts the caller as a user: release it after use. While another call dials, acquire waits
// for that dial (until deadline, or ctx's end), then takes its connection or, if it failed,
// dials itself; c.mu is never held across a dial.
func (c *Conn) acquire(ctx context.Context, deadline time.Time) (*link, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if l := c.cur; l != nil {
			l.users++
			c.mu.Unlock()
			return l, nil
		}
		if wait := c.dialing; wait != nil {
			c.mu.Unlock()
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-wait:
				t.Stop()
				continue
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
				return nil, fmt.Errorf("dial surrealdb %s: timed out waiting for another call's dial", c.cfg.URL)
			}
		}
		done := make(chan struct{})
		c.dialing = done
		c.mu.Unlock()
		db, ws, err := c.dial(ctx, deadline)
		c.mu.Lock()
		c.dialing = nil
		close(done)
		switch {
		case err != nil:
		case c.closed:
			closeAsync(db)
			err = ErrClosed
		default:
			lctx, cancel := context.WithCancel(context.Background())
			c.cur = &link{db: db, ws: ws, users: 1, ctx: lctx, cancel: cancel}
		}
		l := c.cur
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return l, nil
	}
}

// release ends one use of l, closing it if it is dead and unused.
func (c *Conn) release(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l.users--
	if l.dead && l.users == 0 {
		closeAsync(l.db)
	}
}

// markBroken retires l so that the next call dials anew.
func (c *Conn) markBroken(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == l {
		c.cur = nil
	}
	l.dead = true
	l.cancel()
}

// open connects the SDK to rawURL. WebSocket URLs use wsConn as transport (see there why not
// the SDK's own WebSocket engines), returned as ws too (nil over HTTP).
func open(ctx context.Context, rawURL string, log logrus.FieldLogger) (db *surrealdb.DB, ws *wsConn, err error) {
	u, err := url.ParseRequestURI(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid URL %q: %w", rawURL, err)
	}
	conf := connection.NewConfig(u)
	conf.Logger = sdkLogger{log}
	if err := conf.Validate(); err != nil {
		return nil, nil, fmt.Errorf("invalid connection config for %q: %w", rawURL, err)
	}
	var con connection.Connection
	switch u.Scheme {
	case "ws", "wss":
		ws = newWSConn(conf)
		con = ws
	case "http", "https":
		con = sdkhttp.New(conf)
	default:
		return nil, nil, fmt.Errorf("invalid URL %q: scheme must be ws, wss, http or https", rawURL)
	}
	db, err = surrealdb.FromConnection(ctx, con)
	return db, ws, err
}

// sdkLogger routes the SDK's own log lines to logrus at debug level (failures reach the
// caller as errors and are logged there).
type sdkLogger struct{ log logrus.FieldLogger }

func (l sdkLogger) Error(msg string, args ...any) { l.log.WithField("sdk", args).Debug(msg) }
func (l sdkLogger) Warn(msg string, args ...any)  { l.log.WithField("sdk", args).Debug(msg) }
func (l sdkLogger) Info(msg string, args ...any)  { l.log.WithField("sdk", args).Debug(msg) }
func (l sdkLogger) Debug(msg string, args ...any) { l.log.WithField("sdk", args).Debug(msg) }

func closeAsync(db *surrealdb.DB) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = db.Close(ctx)
	}()
}

// Close closes the connection (once no call uses it any more); later calls fail with
// ErrClosed.
func (c *Conn) Close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	l := c.cur
	c.cur = nil
	if l == nil {
		return nil
	}
	l.dead = true
	if l.users > 0 {
		l.cancel()
		return nil
	}
	l.cancel()
	if err := l.db.Close(ctx); err != nil {
		return fmt.Errorf("close surrealdb connection: %w", err)
	}
	return nil
}

// Query runs surql with vars bound and returns each statement's result. Values of type
// value.Value in vars are sent as ToDB converts them, a CBORAppender as it encodes itself (in
// the call, before it returns). A failed statement is reported in its Result
// (the returned error stays nil); the error is for failures of the whole query (a parse error,
// a lost connection after all retries, ctx ending).
//
// Transient failures are retried with backoff within the call's budget (Config.MaxAttempts
// attempts, Config.RetryDeadline of time, ctx's deadline; see the package comment): a lost or
// timed out connection (re-established first) and a statement failing with a transaction
// conflict. A conflict still there when the budget is spent is returned in its Result. The
// whole query is re-sent, so retried queries must be idempotent or one transaction — which
// every query of the SSP is (UPSERT/DELETE by id, DEFINE … OVERWRITE, BEGIN … COMMIT). Use
// QueryOnce for anything else.
func (c *Conn) Query(ctx context.Context, surql string, vars map[string]any) ([]Result, error) {
	return c.query(ctx, surql, vars, c.cfg.MaxAttempts)
}

// QueryOnce is Query without retries: one attempt, whatever happens. A lost connection is
// still re-established on the next call.
func (c *Conn) QueryOnce(ctx context.Context, surql string, vars map[string]any) ([]Result, error) {
	return c.query(ctx, surql, vars, 1)
}

func (c *Conn) query(ctx context.Context, surql string, vars map[string]any, attempts int) ([]Result, error) {
	var rs []Result
	err := c.retry(ctx, attempts, "query "+abbreviate(surql), func(deadline time.Time) error {
		var err error
		if rs, err = c.attempt(ctx, deadline, surql, vars); err != nil {
			rs = nil
			return err
		}
		if conflict := firstConflict(rs); conflict != nil {
			return markRetry(conflict)
		}
		return nil
	})
	if err != nil {
		if rs != nil && errors.Is(err, errRetry) {
			return rs, nil // the budget ran out on a conflict: its statement reports it
		}
		return nil, fmt.Errorf("query %s: %w", abbreviate(surql), err)
	}
	return rs, nil
}

// retry runs try until it succeeds, fails with an error that is not transient (not wrapping
// errRetry), or the call's budget is spent: attempts tries, Config.RetryDeadline from now, ctx.
// try gets its attempt's deadline: Config.AttemptTimeout from now, or the end of the budget if
// that comes first. When the budget is spent, the last attempt's error is returned (still
// wrapping errRetry), saying how many attempts were made.
func (c *Conn) retry(ctx context.Context, attempts int, what string, try func(deadline time.Time) error) error {
	start := time.Now()
	deadline := start.Add(c.cfg.RetryDeadline)
	for attempt := 1; ; attempt++ {
		err := try(time.Now().Add(min(c.cfg.AttemptTimeout, time.Until(deadline))))
		if err == nil || !errors.Is(err, errRetry) {
			return err
		}
		left := time.Until(deadline)
		switch {
		case attempts == 1:
			return err
		case attempt >= attempts:
			return fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt, time.Since(start).Round(time.Millisecond))
		case left <= 0:
			return fmt.Errorf("%w (gave up after %d attempts: retry deadline %s)", err, attempt, c.cfg.RetryDeadline)
		}
		c.cfg.Log.WithFields(logrus.Fields{"attempt": attempt, "op": what}).WithError(err).
			Warn("surrealdb call failed transiently, retrying")
		if werr := Sleep(ctx, min(Backoff(c.cfg.BaseBackoff, c.cfg.MaxBackoff, attempt), left)); werr != nil {
			return fmt.Errorf("%w (last error: %v)", werr, err)
		}
		if time.Until(deadline) <= 0 {
			return fmt.Errorf("%w (gave up after %d attempts: retry deadline %s)", err, attempt, c.cfg.RetryDeadline)
		}
	}
}

// errRetry marks errors of one attempt that are worth another.
var errRetry = errors.New("transient")

type retryable struct{ err error }

func (r retryable) Error() string   { return r.err.Error() }
func (r retryable) Unwrap() []error { return []error{r.err, errRetry} }
func markRetry(err error) error     { return retryable{err} }

func firstConflict(rs []Result) error {
	for _, r := range rs {
		if r.Err != nil && IsConflict(r.Err) {
			return r.Err
		}
	}
	return nil
}

// attempt runs the query once, until deadline. Errors wrapping errRetry are transient.
func (c *Conn) attempt(ctx context.Context, deadline time.Time, surql string, vars map[string]any) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := c.acquire(ctx, deadline)
	if err != nil {
		if isTransport(ctx, err) {
			return nil, markRetry(err)
		}
		return nil, err
	}
	defer c.release(l)
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	defer context.AfterFunc(l.ctx, cancel)()
	var res []surrealdb.QueryResult[cbor.RawMessage]
	sent := false
	if l.ws != nil {
		res, sent, err = l.ws.query(actx, surql, vars)
	}
	if !sent {
		var p *[]surrealdb.QueryResult[cbor.RawMessage]
		if p, err = sdkQuery(actx, l.db, surql, bindVars(vars)); p != nil {
			res = *p
		}
	}
	if res != nil {
		// Statements ran; err (if any) only joins their errors, which Results carry.
		return decodeResults(res)
	}
	var rpcErr *surrealdb.RPCError
	switch {
	case err == nil:
		c.markBroken(l)
		return nil, markRetry(errors.New("surrealdb returned no results"))
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &rpcErr):
		// SurrealDB answered: a parse error, a permission problem… Only conflicts are transient.
		if IsConflict(err) {
			return nil, markRetry(err)
		}
		return nil, err
	default:
		// Transport failure or timeout: the connection is in doubt, re-establish it.
		c.markBroken(l)
		return nil, markRetry(err)
	}
}

// sdkQuery calls the SDK, turning a panic inside it (it dereferences a nil response when the
// connection closed underneath) into an error.
func sdkQuery(ctx context.Context, db *surrealdb.DB, surql string, vars map[string]any) (res *[]surrealdb.QueryResult[cbor.RawMessage], err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("surrealdb connection failed: %v", p)
		}
	}()
	return surrealdb.Query[cbor.RawMessage](ctx, db, surql, vars)
}

func decodeResults(res []surrealdb.QueryResult[cbor.RawMessage]) ([]Result, error) {
	out := make([]Result, len(res))
	for i, r := range res {
		if r.Status != "OK" || r.Error != nil {
			msg := r.Status
			if r.Error != nil {
				msg = r.Error.Message
			}
			out[i] = Result{Err: &StatementError{Index: i, Message: msg}}
			continue
		}
		v, err := Decode(r.Result)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		out[i] = Result{Value: v}
	}
	return out, nil
}

// Version returns SurrealDB's version string (e.g. "3.0.2"), for /info. Transient failures
// are retried like queries.
func (c *Conn) Version(ctx context.Context) (string, error) {
	var v string
	err := c.retry(ctx, c.cfg.MaxAttempts, "version", func(deadline time.Time) error {
		var err error
		v, err = c.versionOnce(ctx, deadline)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("surrealdb version: %w", err)
	}
	return v, nil
}

// Ping makes one round trip to SurrealDB (it asks for its version), dialing if there is no
// connection, without retrying, within AttemptTimeout or ctx's deadline, whichever is sooner:
// a health probe wants to know whether the database answers now.
func (c *Conn) Ping(ctx context.Context) error {
	deadline := time.Now().Add(c.cfg.AttemptTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if _, err := c.versionOnce(ctx, deadline); err != nil {
		return fmt.Errorf("surrealdb ping: %w", err)
	}
	return nil
}

func (c *Conn) versionOnce(ctx context.Context, deadline time.Time) (v string, err error) {
	l, err := c.acquire(ctx, deadline)
	if err != nil {
		if isTransport(ctx, err) {
			return "", markRetry(err)
		}
		return "", err
	}
	defer c.release(l)
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	defer context.AfterFunc(l.ctx, cancel)()
	defer func() {
		if p := recover(); p != nil {
			c.markBroken(l)
			v, err = "", markRetry(fmt.Errorf("surrealdb connection failed: %v", p))
		}
	}()
	vd, err := l.db.Version(actx)
	if err == nil {
		return strings.TrimPrefix(vd.Version, "surrealdb-"), nil
	}
	var rpcErr *surrealdb.RPCError
	if ctx.Err() != nil || errors.As(err, &rpcErr) {
		return "", err
	}
	c.markBroken(l)
	return "", markRetry(err)
}

// IsConflict reports whether err is SurrealDB's retryable transaction conflict.
func IsConflict(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "conflict") &&
		(strings.Contains(msg, "transaction") || strings.Contains(msg, "retried"))
}

// isTransport reports whether err (from dialing or sending) is a transport problem rather than
// an answer of SurrealDB.
func isTransport(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, ErrClosed) {
		return false
	}
	var rpcErr *surrealdb.RPCError
	return !errors.As(err, &rpcErr)
}

// Backoff is the delay before retry number attempt (1-based): base doubled per earlier attempt,
// capped at limit.
func Backoff(base, limit time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Sleep waits for d or until ctx is done, whichever comes first; it returns ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// abbreviate shortens a query for logs and errors.
func abbreviate(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 120 {
		return q[:117] + "..."
	}
	return q
}
