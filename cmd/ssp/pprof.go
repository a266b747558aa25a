package main

import (
	"fmt"
	"net"
	nethttp "net/http"
	"net/http/pprof"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
)

// pprofEnv names the environment variable that, when set to host:port, makes `ssp serve` and
// `ssp dev` serve net/http/pprof on a separate debug listener (keep it on loopback: it has no
// authentication).
const pprofEnv = "SPKY_PPROF_ADDR"

// startPprof serves the net/http/pprof handlers on addr; close the returned server when done.
func startPprof(addr string, log logrus.FieldLogger) (*nethttp.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, pprofEnv, err)
	}
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &nethttp.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.WithField("addr", ln.Addr().String()).Warn("pprof debug listener is on (no authentication)")
	return srv, nil
}

// registerRuntimeCollectors adds the Go runtime (heap, live heap after GC, goroutines, GC) and
// process (RSS, CPU seconds) metrics to reg, for /metrics and `ssp-bench load`.
func registerRuntimeCollectors(reg prometheus.Registerer) error {
	goc := collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}))
	for _, c := range []prometheus.Collector{goc, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register runtime metrics: %w", err)
		}
	}
	return nil
}
