package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	nethttp "net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// auth checks `Authorization: Bearer <token>`: with a secret the token must equal it (compared
// in constant time, over fixed-size digests so that not even the length leaks); without one any
// non-empty token passes (dev mode).
func (s *server) auth(c *gin.Context) {
	h := c.GetHeader("Authorization")
	if h == "" {
		s.unauthorized(c, "missing Authorization header; send 'Authorization: Bearer <SPKY_AUTH_SECRET>'")
		return
	}
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		s.unauthorized(c, "Authorization header must use the Bearer scheme: 'Authorization: Bearer <SPKY_AUTH_SECRET>'")
		return
	}
	token = strings.TrimSpace(token)
	if token == "" {
		s.unauthorized(c, "empty bearer token; send 'Authorization: Bearer <SPKY_AUTH_SECRET>'")
		return
	}
	if s.opts.AuthSecret == "" {
		return
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], s.secretDigest[:]) != 1 {
		s.unauthorized(c, "invalid bearer token: it does not match SPKY_AUTH_SECRET")
	}
}

func (s *server) unauthorized(c *gin.Context, msg string) {
	c.Header("WWW-Authenticate", `Bearer realm="ssp"`)
	abort(c, nethttp.StatusUnauthorized, "UNAUTHORIZED", msg)
}

// recover turns a panic of a later handler into a logged 500 JSON answer. The aborted-request
// sentinel of net/http is passed on.
func (s *server) recover(c *gin.Context) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if err, ok := p.(error); ok && errors.Is(err, nethttp.ErrAbortHandler) {
			panic(p)
		}
		s.opts.Log.WithFields(logrus.Fields{
			"method": c.Request.Method,
			"path":   c.Request.URL.Path,
			"panic":  fmt.Sprint(p),
			"stack":  string(debug.Stack()),
		}).Error("HTTP handler panicked")
		if c.Writer.Written() {
			c.Abort()
			return
		}
		abort(c, nethttp.StatusInternalServerError, "INTERNAL", fmt.Sprintf("internal error in %s %s: %v",
			c.Request.Method, c.Request.URL.Path, p))
	}()
	c.Next()
}

// observe logs every request at debug level and counts it in the HTTP metrics.
func (s *server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	latency := time.Since(start)
	status := c.Writer.Status()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.metrics.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(status)).Inc()
	s.metrics.latency.WithLabelValues(route).Observe(latency.Seconds())
	if l, ok := s.opts.Log.(*logrus.Logger); ok && !l.IsLevelEnabled(logrus.DebugLevel) {
		return
	}
	s.opts.Log.WithFields(logrus.Fields{
		"method":  c.Request.Method,
		"path":    c.Request.URL.Path,
		"status":  status,
		"latency": latency.String(),
	}).Debug("http request")
}

// httpMetrics are the HTTP layer's own Prometheus metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newHTTPMetrics registers the metrics in reg, reusing ones a previous handler registered there.
func newHTTPMetrics(reg prometheus.Registerer, log logrus.FieldLogger) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssp_http_requests_total",
			Help: "HTTP requests answered, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ssp_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	if c, ok := register(reg, m.requests, log).(*prometheus.CounterVec); ok {
		m.requests = c
	}
	if h, ok := register(reg, m.latency, log).(*prometheus.HistogramVec); ok {
		m.latency = h
	}
	return m
}

// register registers c in reg and returns it, or the equal collector registered before.
func register(reg prometheus.Registerer, c prometheus.Collector, log logrus.FieldLogger) prometheus.Collector {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return are.ExistingCollector
	}
	log.WithError(err).Warn("cannot register an HTTP metric; it will not be exported")
	return c
}
