package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/actors"
	"github.com/sp00ky/ssp/config"
	ssphttp "github.com/sp00ky/ssp/http"
	"github.com/sp00ky/ssp/scheduler"
	"github.com/sp00ky/ssp/surreal/conn"
)

const serveUsage = `Usage: ssp serve [flags]

Runs the SSP: connects to SurrealDB, bootstraps every table and registered view, and serves the
HTTP API. Every flag has an environment variable (and a sp00ky.yml key); flag > env > file >
default. SIGTERM or SIGINT shuts down gracefully: stop claiming jobs and let the running ones
end (within half the shutdown timeout; later ones are released, pending again), stop accepting
requests, finish in-flight steps, write every pending edge.

Environment only: SPKY_PPROF_ADDR=host:port serves Go's net/http/pprof profiles on a separate
debug listener (no authentication: keep it on loopback, e.g. 127.0.0.1:6060).

Flags:
`

// runServe implements `ssp serve [flags]`: configuration errors exit 2 naming the variables;
// a signal ends the service gracefully (exit 0).
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadServeConfig(args, os.LookupEnv, stdout, stderr, serveUsage)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := config.NewLogger(cfg)
	srv, err := startSSP(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "SSP listening on %s (health: %s/health)\n", srv.URL(), srv.URL())
	return srv.Wait(ctx, stop)
}

// loadServeConfig loads the configuration of serve and dev. Help prints the usage and returns
// flag.ErrHelp; invalid settings are printed, one per line, and return errUsage.
func loadServeConfig(args []string, lookup config.LookupFunc, stdout, stderr io.Writer, usage string) (config.Config, error) {
	cfg, err := config.Load(args, lookup)
	switch {
	case errors.Is(err, config.ErrHelp):
		fmt.Fprint(stdout, usage+config.Usage())
		return cfg, flag.ErrHelp
	case err != nil:
		fmt.Fprintf(stderr, "ssp: %v\n\nRun with -h for the flags and their variables.\n", err)
		return cfg, errUsage
	}
	return cfg, nil
}

// sspServer is a running SSP: the SurrealDB connection, the actor system and the HTTP server.
type sspServer struct {
	cfg     config.Config
	log     *logrus.Logger
	db      *conn.Conn
	service *actors.Service
	http    *nethttp.Server
	ln      net.Listener
	served  chan error      // the HTTP server's end
	pprof   *nethttp.Server // debug listener (SPKY_PPROF_ADDR), or nil
}

// startSSP connects to SurrealDB, starts the actor system (which bootstraps in the background)
// and begins serving HTTP on cfg.ListenAddr. Close it with Shutdown.
func startSSP(ctx context.Context, cfg config.Config, log *logrus.Logger) (*sspServer, error) {
	if cfg.AuthSecret == "" {
		log.Warn("dev mode: SPKY_AUTH_SECRET is not set, so any bearer token is accepted; set it in production")
	}
	log.WithFields(logrus.Fields(cfg.Redacted())).WithField("version", version).Info("starting SSP")

	db, err := conn.Dial(ctx, conn.Config{URL: cfg.DBWS, User: cfg.DBUser, Pass: cfg.DBPass, NS: cfg.DBNS, DB: cfg.DBName, Log: log})
	if err != nil {
		return nil, fmt.Errorf("connect to SurrealDB at %s (SPKY_DB_WS) as %s, ns %s, db %s: %w", cfg.DBWS, cfg.DBUser, cfg.DBNS, cfg.DBName, err)
	}
	reg := prometheus.NewRegistry()
	if err := registerRuntimeCollectors(reg); err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen on %s (SPKY_SSP_LISTEN_ADDR): %w", cfg.ListenAddr, err)
	}
	deps := actors.Deps{Config: cfg, Log: log, DB: db, Registry: reg, Version: version}
	if cfg.SchedulerURL != "" {
		// The scheduler reaches this SSP at SPKY_SSP_ADVERTISE_ADDR, else at the address it
		// listens on (the port it got, with an unspecified host replaced by the hostname).
		bound := cfg
		bound.ListenAddr = ln.Addr().String()
		hostname, _ := os.Hostname()
		link := scheduler.LinkConfigFrom(bound, version, hostname)
		deps.Scheduler = &link
		log.WithFields(logrus.Fields{"scheduler": cfg.SchedulerURL, "ssp_id": cfg.SSPID, "url": link.AdvertiseURL}).Info("scheduler mode")
	}
	svc, err := actors.New(deps)
	if err != nil {
		_ = ln.Close()
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("create the actor system: %w", err)
	}
	if err := svc.Start(ctx); err != nil {
		_ = ln.Close()
		_ = db.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start the actor system: %w", err)
	}
	handler := ssphttp.New(svc, ssphttp.Options{
		AuthSecret: cfg.AuthSecret,
		BodyLimit:  cfg.BodyLimit,
		Log:        log,
		Registry:   reg,
		Version:    version,
	})
	s := &sspServer{
		cfg: cfg, log: log, db: db, service: svc, ln: ln, served: make(chan error, 1),
		http: &nethttp.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
	}
	if addr := os.Getenv(pprofEnv); addr != "" {
		if s.pprof, err = startPprof(addr, log); err != nil {
			log.WithError(err).Warn("pprof debug listener not started")
		}
	}
	go func() { s.served <- s.http.Serve(ln) }()
	log.WithField("addr", ln.Addr().String()).Info("HTTP API listening")
	return s, nil
}

// URL is the base URL of the HTTP API as reached from this machine.
func (s *sspServer) URL() string {
	addr := s.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Wait serves until ctx ends (a signal) or the HTTP server fails, then shuts down within
// SPKY_SHUTDOWN_TIMEOUT_SECS. stop, if not nil, is called first so that a second signal ends
// the process at once.
func (s *sspServer) Wait(ctx context.Context, stop func()) error {
	var serveErr error
	select {
	case <-ctx.Done():
		s.log.Info("signal received: shutting down (a second signal exits at once)")
	case serveErr = <-s.served:
		s.log.WithError(serveErr).Error("HTTP server stopped")
	}
	if stop != nil {
		stop()
	}
	timeout := s.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.Shutdown(sctx)
	if serveErr != nil && !errors.Is(serveErr, nethttp.ErrServerClosed) {
		return errors.Join(fmt.Errorf("serve HTTP: %w", serveErr), err)
	}
	return err
}

// Shutdown lets the job runs end first (their outcome writes fire the job rows' events, which
// post to this SSP's /ingest, so the HTTP server still serves meanwhile), then stops accepting
// requests and waits for those in flight, drains the actor system (in-flight steps, pending
// edge writes, view metrics) and closes the connection.
func (s *sspServer) Shutdown(ctx context.Context) error {
	var errs []error
	if err := s.service.DrainJobs(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop HTTP server: %w", err))
	}
	if s.pprof != nil {
		_ = s.pprof.Close()
	}
	if err := s.service.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("drain the actor system: %w", err))
	}
	if err := s.db.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close the SurrealDB connection: %w", err))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.log.Info("SSP stopped")
	return nil
}
