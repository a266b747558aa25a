package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sp00ky/ssp/actors"
	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/integration/testscheduler"
)

// devSecret is the bearer token the dev scheduler sends to the SSPs when SPKY_AUTH_SECRET is
// unset (the SSPs then accept any token, but a request without one is refused).
const devSecret = "dev"

// checkClusterConfig refuses the settings `ssp dev --ssps` decides itself: the scheduler (its
// own), the SSPs' ids (ssp-1 … ssp-N) and advertised addresses (where each one listens).
func checkClusterConfig(cfg config.Config, args []string, lookup config.LookupFunc) error {
	given := func(env, flag string) bool {
		if _, ok := lookup(env); ok {
			return true
		}
		for _, a := range args {
			if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && name == flag {
				return true
			}
		}
		return false
	}
	var problems []string
	if cfg.SchedulerURL != "" {
		problems = append(problems, "--ssps starts its own scheduler: unset SPKY_SCHEDULER_URL (--scheduler-url)")
	}
	if given("SPKY_SSP_ID", "ssp-id") {
		problems = append(problems, "--ssps names its SSPs ssp-1 … ssp-N: unset SPKY_SSP_ID (--ssp-id)")
	}
	if cfg.AdvertiseAddr != "" {
		problems = append(problems, "--ssps advertises each SSP at the address it listens on: unset SPKY_SSP_ADVERTISE_ADDR (--ssp-advertise-addr)")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// devSSP is one SSP of `ssp dev --ssps`.
type devSSP struct {
	id  string
	srv *sspServer
}

// runDevCluster runs the test scheduler and opts.ssps SSPs behind it against the dev database
// of cfg until ctx ends, then stops them.
func runDevCluster(ctx context.Context, stop func(), cfg config.Config, opts devOptions, log *logrus.Logger, stdout io.Writer) error {
	secret := cfg.AuthSecret
	if secret == "" {
		secret = devSecret
	}
	schedPort := opts.schedPort // chosen by runDev, which let the dev database reach it
	sched, err := testscheduler.Start(ctx, testscheduler.Options{
		URL: cfg.DBWS, User: cfg.DBUser, Pass: cfg.DBPass, NS: cfg.DBNS, DB: cfg.DBName,
		Addr:         net.JoinHostPort("127.0.0.1", strconv.Itoa(schedPort)),
		Secret:       secret,
		PollInterval: 500 * time.Millisecond,
		HistoryLimit: 1000,
		// The database is in memory and ends with ssp dev (Ctrl-C reaches it too).
		KeepReplica: true,
		Log:         log.WithField("component", "testscheduler"),
	})
	if err != nil {
		return fmt.Errorf("start the test scheduler: %w", err)
	}
	defer func() {
		if err := sched.Close(); err != nil {
			log.WithError(err).Warn("stop the test scheduler")
		}
	}()

	addrs, err := devSSPAddrs(cfg.ListenAddr, opts.ssps, log)
	if err != nil {
		return err
	}
	var ssps []devSSP
	shutdown := sync.OnceValue(func() error { return shutdownDevSSPs(cfg, ssps, log) })
	defer func() { _ = shutdown() }()
	for i, addr := range addrs {
		c := cfg
		c.ListenAddr, c.SSPID, c.SchedulerURL = addr, "ssp-"+strconv.Itoa(i+1), sched.URL()
		l := config.NewLogger(c)
		l.AddHook(fieldHook{key: "ssp", val: c.SSPID})
		srv, err := startSSP(ctx, c, l)
		if err != nil {
			return fmt.Errorf("start SSP %s: %w", c.SSPID, err)
		}
		ssps = append(ssps, devSSP{id: c.SSPID, srv: srv})
	}
	if waitClusterReady(ctx, sched, ssps, log) {
		printClusterBanner(stdout, sched, ssps, cfg)
	}

	// Serve until a signal or an HTTP server's failure.
	failed := make(chan error, len(ssps))
	for _, s := range ssps {
		go func() {
			if err := <-s.srv.served; err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
				failed <- fmt.Errorf("SSP %s: serve HTTP: %w", s.id, err)
			}
		}()
	}
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("signal received: shutting down (a second signal exits at once)")
	case serveErr = <-failed:
		log.WithError(serveErr).Error("an SSP's HTTP server stopped: shutting down")
	}
	stop()
	return errors.Join(serveErr, shutdown())
}

// devSSPAddrs returns the listen addresses of n SSPs: listen's host with its port and the n-1
// after it (a taken port is replaced by a free one, with a warning), or port 0 for all.
func devSSPAddrs(listen string, n int, log logrus.FieldLogger) ([]string, error) {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("SPKY_SSP_LISTEN_ADDR %q: %w", listen, err)
	}
	base, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("SPKY_SSP_LISTEN_ADDR %q: port %q is not a number", listen, portText)
	}
	out := make([]string, n)
	for i := range out {
		port := 0
		if base != 0 {
			if port = base + i; port > 65535 || !hostPortFree(host, port) {
				log.Warnf("port %d for ssp-%d is taken or out of range; it takes a free port instead", port, i+1)
				port = 0
			}
		}
		out[i] = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return out, nil
}

// hostPortFree reports whether host:port can be listened on now.
func hostPortFree(host string, port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// waitClusterReady waits until the scheduler counts every SSP ready (registered, bootstrapped,
// replayed); false when one failed or ctx ended.
func waitClusterReady(ctx context.Context, sched *testscheduler.Scheduler, ssps []devSSP, log logrus.FieldLogger) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := 0
		for _, s := range ssps {
			if s.srv.service.Status() == actors.StatusFailed {
				log.WithField("ssp", s.id).Error("an SSP failed to start (see its log and /health); the others keep running")
				return false
			}
			if info, ok := sched.SSP(s.id); ok && info.Status == testscheduler.SSPReady {
				ready++
			}
		}
		if ready == len(ssps) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// shutdownDevSSPs stops the SSPs all at once, within SPKY_SHUTDOWN_TIMEOUT_SECS.
func shutdownDevSSPs(cfg config.Config, ssps []devSSP, log logrus.FieldLogger) error {
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make([]error, len(ssps))
	var wg sync.WaitGroup
	for i, s := range ssps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Shutdown(ctx); err != nil {
				errs[i] = fmt.Errorf("SSP %s: %w", s.id, err)
				log.WithField("ssp", s.id).WithError(err).Warn("SSP shutdown")
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// printClusterBanner prints where the scheduler and each SSP listen, and requests to try
// through the scheduler.
func printClusterBanner(w io.Writer, sched *testscheduler.Scheduler, ssps []devSSP, cfg config.Config) {
	token, authNote := "dev", "dev mode: the SSPs accept any bearer token; set SPKY_AUTH_SECRET to require one"
	if cfg.AuthSecret != "" {
		token, authNote = "$SPKY_AUTH_SECRET", "the SSPs require Authorization: Bearer <SPKY_AUTH_SECRET>; the scheduler sends it"
	}
	s := sched.URL()
	fmt.Fprintf(w, "\nSSP dev cluster is ready: the test scheduler and %d SSPs behind it.\n", len(ssps))
	fmt.Fprintf(w, "  Scheduler      %s   (no auth; %[1]s/info shows the SSPs and their views)\n", s)
	for _, p := range ssps {
		fmt.Fprintf(w, "  SSP %-10s %s   (%s/health, /info, /debug/scheduler)\n", p.id, p.srv.URL(), p.srv.URL())
	}
	fmt.Fprintf(w, "  SurrealDB      %s   (user %s, pass %s, namespace %s, database %s; in memory; the scheduler's replica is database %s)\n",
		cfg.DBWS, cfg.DBUser, cfg.DBPass, cfg.DBNS, cfg.DBName, sched.ReplicaDB())
	fmt.Fprintf(w, "  Auth           %s\n", authNote)
	first := ssps[0].srv.URL()
	fmt.Fprintf(w, `
Try it through the scheduler (it gives each view to one SSP and fans every ingest out to all):
  curl -s -X POST %[1]s/view/register -H 'Content-Type: application/json' \
    -d '{"id":"_00_query:demo","surql":"SELECT * FROM thread WHERE active = true","clientId":"me","ttl":"1h"}'
      # answers {"query_id":"_00_query:demo","ssp_id":"ssp-1",…}: the SSP that serves the view
  curl -s -X POST %[1]s/ingest -H 'Content-Type: application/json' \
    -d '{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"Hello","active":true}}'
  curl -s %[2]s/debug/view/demo -H "Authorization: Bearer %[3]s"   # on the SSP named by ssp_id
  curl -s %[1]s/info

%[4]s
Stop with Ctrl-C.
`, s, first, token, eventsHint(s, token))
}

// fieldHook adds a field to every entry of a logger that does not have it (the SSP's id, so
// that the logs of the SSPs of one process can be told apart).
type fieldHook struct{ key, val string }

func (h fieldHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h fieldHook) Fire(e *logrus.Entry) error {
	if _, ok := e.Data[h.key]; !ok {
		e.Data[h.key] = h.val
	}
	return nil
}
