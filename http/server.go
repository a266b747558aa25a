package http

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	nethttp "net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/actors"
	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/surreal/engine"
	"github.com/sp00ky/ssp/surreal/ingest"
)

// Options configures New. The zero value works: no auth secret (dev mode: any non-empty bearer
// token is accepted), 8 MiB body limit, logs discarded, an empty /metrics.
type Options struct {
	// AuthSecret is SPKY_AUTH_SECRET; empty accepts any non-empty bearer token (dev only).
	AuthSecret string
	// BodyLimit caps request bodies in bytes (config.DefaultBodyLimit when <= 0).
	BodyLimit int64
	// Log receives request logs (debug), /log messages, panics and internal errors.
	Log logrus.FieldLogger
	// Registry is served on /metrics; the HTTP metrics (ssp_http_*) are registered in it.
	Registry *prometheus.Registry
	// Version is reported by /version.
	Version string
	// Now returns the current time (time.Now when nil); lastActiveAt defaults to it.
	Now func() time.Time
}

var releaseMode sync.Once

// New returns the SSP's HTTP handler serving api. It never panics on a request: a panicking
// handler answers 500 JSON and is logged.
func New(api actors.API, opts Options) nethttp.Handler {
	releaseMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = config.DefaultBodyLimit
	}
	if opts.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		opts.Log = l
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	s := &server{api: api, opts: opts, metrics: newHTTPMetrics(opts.Registry, opts.Log),
		secretDigest: sha256.Sum256([]byte(opts.AuthSecret))}

	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(s.observe, s.recover, s.limitBody)
	r.NoRoute(func(c *gin.Context) {
		abort(c, nethttp.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no route %s %s; the routes are /ingest, /view/register, "+
			"/view/unregister, /reset, /log, /job/retry, /job/kill, /debug/view/:view_id, /debug/deps, /debug/actors, /debug/scheduler, "+
			"/debug/jobs, /health, /version, /info, /metrics",
			c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		abort(c, nethttp.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", fmt.Sprintf("%s is not allowed on %s; allowed: %s",
			c.Request.Method, c.Request.URL.Path, c.Writer.Header().Get("Allow")))
	})

	public := r.Group("", cors)
	public.GET("/health", s.health)
	public.GET("/version", s.version)
	public.GET("/info", s.info)
	public.GET("/metrics", gin.WrapH(promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{})))

	authed := r.Group("", s.auth)
	// /ingest is gated by the service itself (its coordinator refuses ingests unless the SSP
	// is ready), which spares the hot path a status round trip.
	authed.POST("/ingest", s.jsonBody, s.ingest)
	authed.POST("/view/register", s.ready, s.jsonBody, s.register)
	authed.POST("/view/unregister", s.ready, s.jsonBody, s.unregister)
	authed.POST("/reset", s.noBody, s.reset)
	authed.POST("/log", s.jsonBody, s.log)
	authed.GET("/debug/view/:view_id", s.debugView)
	authed.GET("/debug/deps", s.debugDeps)
	authed.GET("/debug/actors", s.debugActors)
	authed.GET("/debug/scheduler", s.debugScheduler)
	// Job tables (SPEC §8): operator control and state. Not gated on Ready: they act on the
	// job rows in the database, which a bootstrap does not touch.
	authed.POST("/job/retry", s.jsonBody, s.jobRetry)
	authed.POST("/job/kill", s.jsonBody, s.jobKill)
	authed.GET("/debug/jobs", s.debugJobs)
	return r
}

type server struct {
	api          actors.API
	opts         Options
	metrics      *httpMetrics
	secretDigest [sha256.Size]byte // of opts.AuthSecret, compared in constant time
}

// errorBody is every error answer.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func abort(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, errorBody{Code: code, Message: message})
}

func badRequest(c *gin.Context, format string, args ...any) {
	abort(c, nethttp.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf(format, args...))
}

// cors marks public routes readable from any origin.
func cors(c *gin.Context) {
	c.Header("Access-Control-Allow-Origin", "*")
}

// notReady answers the 503 of the Ready gate for status st.
func notReady(c *gin.Context, st actors.Status) {
	if st == "" || st == actors.StatusReady {
		st = actors.StatusBootstrapping
	}
	abort(c, nethttp.StatusServiceUnavailable, "SSP_NOT_READY", "SSP is "+string(st))
}

// ready is the Ready gate of /ingest and /view/*.
func (s *server) ready(c *gin.Context) {
	if st := s.api.Status(); st != actors.StatusReady {
		notReady(c, st)
	}
}

// limitBody applies SPKY_BODY_LIMIT to every route before anything else runs: a body announced
// larger is answered 413 at once, and no route can read more than the limit.
func (s *server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.opts.BodyLimit {
		tooLarge(c, s.opts.BodyLimit)
		return
	}
	c.Request.Body = nethttp.MaxBytesReader(c.Writer, c.Request.Body, s.opts.BodyLimit)
}

// noBody reads and drops the body of a route that takes none (/reset), so that one over the
// limit is answered 413 before the route acts, whatever its length header said.
func (s *server) noBody(c *gin.Context) {
	if _, err := io.Copy(io.Discard, c.Request.Body); err != nil {
		var mbe *nethttp.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge(c, s.opts.BodyLimit)
			return
		}
		badRequest(c, "cannot read the request body: %v", err)
	}
}

// jsonBody checks the content type and reads the body (at most BodyLimit bytes) into the context.
func (s *server) jsonBody(c *gin.Context) {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			abort(c, nethttp.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
				fmt.Sprintf("Content-Type must be application/json, got %q (send -H 'Content-Type: application/json')", ct))
			return
		}
	}
	limit := s.opts.BodyLimit // limitBody refused a longer announced body already
	var body []byte
	var err error
	if n := c.Request.ContentLength; n > 0 {
		// The usual case: read exactly the announced length in one allocation (net/http's
		// body reader ends at Content-Length, which is within the limit).
		body = make([]byte, n)
		_, err = io.ReadFull(c.Request.Body, body)
	} else {
		body, err = io.ReadAll(c.Request.Body) // bounded by limitBody
	}
	if err != nil {
		var mbe *nethttp.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge(c, limit)
			return
		}
		badRequest(c, "cannot read the request body: %v", err)
		return
	}
	c.Set(bodyKey, body)
}

const bodyKey = "ssp.body"

func tooLarge(c *gin.Context, limit int64) {
	abort(c, nethttp.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE",
		fmt.Sprintf("request body is larger than the limit of %d bytes (SPKY_BODY_LIMIT)", limit))
}

func body(c *gin.Context) []byte {
	b, _ := c.Get(bodyKey)
	out, _ := b.([]byte)
	return out
}

// fail maps an error of the actor system to its answer.
func (s *server) fail(c *gin.Context, what string, err error) {
	switch {
	case errors.Is(err, actors.ErrInvalid):
		badRequest(c, "%s", strings.TrimPrefix(err.Error(), actors.ErrInvalid.Error()+": "))
	case errors.Is(err, actors.ErrNotFound):
		abort(c, nethttp.StatusNotFound, "NOT_FOUND", strings.TrimPrefix(err.Error(), actors.ErrNotFound.Error()+": "))
	case errors.Is(err, actors.ErrConflict):
		abort(c, nethttp.StatusConflict, "CONFLICT", strings.TrimPrefix(err.Error(), actors.ErrConflict.Error()+": "))
	case errors.Is(err, actors.ErrNotReady):
		if st := s.api.Status(); st != actors.StatusReady {
			notReady(c, st)
			return
		}
		// Ready, yet refused: the SSP is shutting down.
		abort(c, nethttp.StatusServiceUnavailable, "SSP_NOT_READY", err.Error())
	case errors.Is(err, actors.ErrBusy), errors.Is(err, context.DeadlineExceeded):
		c.Header("Retry-After", "1")
		abort(c, nethttp.StatusServiceUnavailable, "SSP_BUSY", fmt.Sprintf("%s: %v; retry after 1 s", what, err))
	case errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		abort(c, nethttp.StatusServiceUnavailable, "CANCELLED", what+": request cancelled by the client")
	default:
		s.opts.Log.WithError(err).WithField("route", c.FullPath()).Error(what + " failed")
		abort(c, nethttp.StatusInternalServerError, "INTERNAL", fmt.Sprintf("%s failed: %v", what, err))
	}
}

func (s *server) health(c *gin.Context) {
	st, detail := s.api.StatusDetail()
	if st != actors.StatusReady {
		if st == "" {
			st = actors.StatusBootstrapping
		}
		body := gin.H{"status": st}
		if st == actors.StatusFailed && detail != "" {
			body["detail"] = detail // why: the scheduler's refusal, the tables that do not match, …
		}
		c.PureJSON(nethttp.StatusServiceUnavailable, body)
		return
	}
	h := s.api.Health(c.Request.Context())
	body := gin.H{"status": st, "views": h.Views, "tables": h.Tables, "db": h.DB.Status, "edge_backlog": h.EdgeBacklog}
	if h.DB.Status == "down" {
		// Still 200: the SSP serves registrations and ingests; the edge rows wait (the
		// backlog says how much) and are written once the database answers.
		body["db_down_seconds"] = h.DB.DownSeconds
		body["db_error"] = h.DB.LastError
	}
	c.PureJSON(nethttp.StatusOK, body)
}

func (s *server) version(c *gin.Context) {
	c.PureJSON(nethttp.StatusOK, gin.H{"version": s.opts.Version, "mode": "streaming"})
}

func (s *server) info(c *gin.Context) {
	in := s.api.Info(c.Request.Context())
	if in.CircuitTables == nil {
		in.CircuitTables = map[string]int{}
	}
	if in.CircuitHashes == nil {
		in.CircuitHashes = map[string]string{}
	}
	c.PureJSON(nethttp.StatusOK, []actors.Info{in})
}

func (s *server) ingest(c *gin.Context) {
	in, err := ingest.Decode(body(c))
	if err != nil {
		badRequest(c, "%v", err)
		return
	}
	if err := s.api.Ingest(c.Request.Context(), in.Change, in.JobAssignee); err != nil {
		s.fail(c, "ingest "+in.Change.Op.String()+" "+in.Change.Table, err)
		return
	}
	c.Status(nethttp.StatusOK)
}

func (s *server) register(c *gin.Context) {
	req, err := parseRegister(body(c), s.opts.Now())
	if err != nil {
		badRequest(c, "%v", err)
		return
	}
	res, err := s.api.Register(c.Request.Context(), req)
	if err != nil {
		s.fail(c, "register view "+req.Key, err)
		return
	}
	if res.Records == nil {
		res.Records = []engine.Member{}
	}
	c.PureJSON(nethttp.StatusOK, res)
}

func (s *server) unregister(c *gin.Context) {
	key, err := parseUnregister(body(c))
	if err != nil {
		badRequest(c, "%v", err)
		return
	}
	if err := s.api.Unregister(c.Request.Context(), key); err != nil {
		s.fail(c, "unregister view "+key, err)
		return
	}
	c.Status(nethttp.StatusOK)
}

func (s *server) reset(c *gin.Context) {
	if err := s.api.Reset(c.Request.Context()); err != nil {
		s.fail(c, "reset", err)
		return
	}
	c.Status(nethttp.StatusOK)
}

func (s *server) log(c *gin.Context) {
	m, err := parseLog(body(c))
	if err != nil {
		badRequest(c, "%v", err)
		return
	}
	entry := s.opts.Log.WithField("remote", true)
	if m.data != "" {
		entry = entry.WithField("data", m.data)
	}
	entry.Log(m.level, m.message)
	c.Status(nethttp.StatusOK)
}

func (s *server) debugView(c *gin.Context) {
	id := c.Param("view_id")
	key := engine.ViewKey(id)
	d, ok := s.api.DebugView(c.Request.Context(), key)
	if !ok {
		abort(c, nethttp.StatusNotFound, "NOT_FOUND", fmt.Sprintf("view %q (key %q) is not registered", id, key))
		return
	}
	if d.Cache == nil {
		d.Cache = []engine.Member{}
	}
	if d.SubqueryTables == nil {
		d.SubqueryTables = []string{}
	}
	if d.ReferencedTables == nil {
		d.ReferencedTables = []string{}
	}
	if d.SubqueryCache == nil {
		d.SubqueryCache = map[string][]string{}
	}
	c.PureJSON(nethttp.StatusOK, d)
}

func (s *server) debugDeps(c *gin.Context) {
	d := s.api.DebugDeps(c.Request.Context())
	if d.DependencyMap == nil {
		d.DependencyMap = map[string][]string{}
	}
	if d.TablesInStore == nil {
		d.TablesInStore = []string{}
	}
	c.PureJSON(nethttp.StatusOK, d)
}

// debugActors answers the live actor tree: each actor's kind, name, pid, mailbox depth,
// restarts, last failure and the state summary it gave itself.
func (s *server) debugActors(c *gin.Context) {
	tree, err := s.api.DebugActors(c.Request.Context())
	if err != nil {
		s.fail(c, "debug actors", err)
		return
	}
	c.PureJSON(nethttp.StatusOK, tree)
}

// debugScheduler answers the scheduler link's state (scheduler mode): registration, snapshot,
// heartbeats and their answers, re-registrations with their reasons and durations.
func (s *server) debugScheduler(c *gin.Context) {
	st, err := s.api.DebugScheduler(c.Request.Context())
	if errors.Is(err, actors.ErrStandalone) {
		abort(c, nethttp.StatusNotFound, "NOT_FOUND", err.Error())
		return
	}
	if err != nil {
		s.fail(c, "debug scheduler", err)
		return
	}
	c.PureJSON(nethttp.StatusOK, st)
}

// jobRetry answers POST /job/retry {"id"}: a failed job becomes pending again (its errors
// kept); 404 for an unknown job or table, 409 when the job has not failed.
func (s *server) jobRetry(c *gin.Context) { s.jobAction(c, "/job/retry", s.api.RetryJob) }

// jobKill answers POST /job/kill {"id"}: a request of the job in flight on this SSP is
// cancelled and the job fails with reason "killed" (a pending job fails at once); 404 for an
// unknown job or table, 409 when it ended already or runs on another SSP.
func (s *server) jobKill(c *gin.Context) { s.jobAction(c, "/job/kill", s.api.KillJob) }

func (s *server) jobAction(c *gin.Context, route string, act func(context.Context, string) (actors.JobAction, error)) {
	id, err := parseJobID(body(c), route)
	if err != nil {
		badRequest(c, "%v", err)
		return
	}
	res, err := act(c.Request.Context(), id)
	if err != nil {
		s.fail(c, route+" "+id, err)
		return
	}
	c.PureJSON(nethttp.StatusOK, res)
}

// debugJobs answers the job tables' state: queue depth, runs in progress, recent outcomes and
// settings (no secret).
func (s *server) debugJobs(c *gin.Context) {
	d, err := s.api.DebugJobs(c.Request.Context())
	if err != nil {
		s.fail(c, "debug jobs", err)
		return
	}
	c.PureJSON(nethttp.StatusOK, d)
}
