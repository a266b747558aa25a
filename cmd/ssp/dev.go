package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sp00ky/ssp/actors"
	"github.com/sp00ky/ssp/config"
	"github.com/sp00ky/ssp/integration/devdb"
)

const devUsage = `Usage: ssp dev [--db-port N] [--ssps N [--scheduler-port N]] [serve flags]

Starts the bundled dev SurrealDB (in memory; the first run installs its npm packages) and an SSP
connected to it, prints the URLs and a curl example, and runs until SIGINT/SIGTERM, which stops
both. Needs Node.js 20 and npm. The SSP listens on 127.0.0.1:8667 unless SPKY_SSP_LISTEN_ADDR or
--ssp-listen-addr says otherwise; the SPKY_DB_* settings are those of the dev database.

With --ssps N it runs scheduler mode instead: a test double of the Sp00ky scheduler (package
integration/testscheduler) on 127.0.0.1:9667 and N SSPs behind it, ssp-1 … ssp-N, listening on
the SSP port and the N-1 ports after it. Register views and ingest through the scheduler: it
assigns each view to one SSP and fans every ingest out to all of them. Nothing is installed in
the database (no events): ingest with curl, or add Sp00ky's events posting to the scheduler.
The SSPs run in this process, so each one's heartbeat reports the whole process's CPU and RSS.

  --db-port N          port of the dev SurrealDB (default 8000; when taken, any free port; 0 = any)
  --ssps N             scheduler mode with N SSPs (1-32; default 0: one SSP, standalone)
  --scheduler-port N   port of the test scheduler with --ssps (default 9667; when taken, any free
                       port; 0 = any)

Serve flags:
`

// Default ports of `ssp dev`: SurrealDB's and the Sp00ky scheduler's usual ones.
const (
	defaultDevDBPort     = 8000
	defaultSchedulerPort = 9667
)

// maxDevSSPs bounds --ssps.
const maxDevSSPs = 32

// devOptions are the flags of `ssp dev` that are not serve settings.
type devOptions struct {
	dbPort    int
	ssps      int // 0: standalone
	schedPort int
}

// runDev implements `ssp dev`: the dev SurrealDB plus `ssp serve` against it, or with --ssps
// the test scheduler and N SSPs behind it.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, rest, err := devFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "ssp dev: %v\n\n%s", err, devUsage)
		return errUsage
	}
	lookup := func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			return v, true
		}
		if name == "SPKY_SSP_LISTEN_ADDR" {
			return "127.0.0.1:8667", true
		}
		return "", false
	}
	// Validate the settings before the (slow on first run) database start.
	cfg, err := loadServeConfig(rest, lookup, stdout, stderr, devUsage)
	if err != nil {
		return err
	}
	if opts.ssps > 0 {
		if err := checkClusterConfig(cfg, rest, lookup); err != nil {
			fmt.Fprintf(stderr, "ssp dev: %v\n\nRun with -h for the flags.\n", err)
			return errUsage
		}
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := config.NewLogger(cfg)

	port := opts.dbPort
	if port == defaultDevDBPort && !portFree(port) {
		log.Warnf("port %d is taken; the dev SurrealDB takes a free port instead (choose one with --db-port)", port)
		port = 0
	}
	if opts.ssps > 0 && opts.schedPort == defaultSchedulerPort && !portFree(opts.schedPort) {
		log.Warnf("port %d is taken; the test scheduler takes a free port instead (choose one with --scheduler-port)", opts.schedPort)
		opts.schedPort = 0
	}
	if opts.ssps > 0 && opts.schedPort == 0 {
		if opts.schedPort, err = freePort(); err != nil {
			return fmt.Errorf("pick a port for the test scheduler: %w", err)
		}
	}
	// The dev database may reach the address Sp00ky's table events post to (the SSP, or the
	// scheduler in front of the SSPs) and nothing else, as `surreal start --allow-net <target>`.
	ingestAddr := cfg.ListenAddr
	if opts.ssps > 0 {
		ingestAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.schedPort))
	}
	targets := netTargets(ingestAddr)
	if len(targets) == 0 {
		log.Warnf("the SSP listens on %s (no fixed port): the dev database cannot reach it, so table events cannot post to /ingest", ingestAddr)
	}
	log.Info("starting the dev SurrealDB (the first run installs its npm packages, about 40 MB)")
	db, err := devdb.Start(ctx, devdb.Options{Port: port, Log: logWriter{log}, NetTargets: targets})
	if err != nil {
		return fmt.Errorf("start the dev SurrealDB: %w", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.WithError(err).Warn("stop the dev SurrealDB")
		}
	}()
	cfg.DBWS, cfg.DBUser, cfg.DBPass = db.URL(), db.User, db.Pass
	if opts.ssps > 0 {
		return runDevCluster(ctx, stop, cfg, opts, log, stdout)
	}

	srv, err := startSSP(ctx, cfg, log)
	if err != nil {
		return err
	}
	if waitReady(ctx, srv.service) {
		printDevBanner(stdout, srv.URL(), cfg)
	}
	return srv.Wait(ctx, stop)
}

// devFlags takes --db-port, --ssps and --scheduler-port out of args and returns the rest for
// the configuration.
func devFlags(args []string) (devOptions, []string, error) {
	opts := devOptions{dbPort: defaultDevDBPort, schedPort: defaultSchedulerPort}
	schedSet := false
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "db-port" && name != "ssps" && name != "scheduler-port") {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 == len(args) {
				return opts, nil, fmt.Errorf("flag --%s needs a number", name)
			}
			i++
			val = args[i]
		}
		n, err := strconv.Atoi(val)
		switch name {
		case "ssps":
			if err != nil || n < 0 || n > maxDevSSPs {
				return opts, nil, fmt.Errorf("flag --ssps %q is not a number of SSPs (0-%d)", val, maxDevSSPs)
			}
			opts.ssps = n
		default:
			if err != nil || n < 0 || n > 65535 {
				return opts, nil, fmt.Errorf("flag --%s %q is not a port number (0-65535)", name, val)
			}
			if name == "db-port" {
				opts.dbPort = n
			} else {
				opts.schedPort, schedSet = n, true
			}
		}
	}
	if schedSet && opts.ssps == 0 {
		return opts, nil, fmt.Errorf("flag --scheduler-port needs --ssps (the scheduler runs only with SSPs behind it)")
	}
	return opts, rest, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// netTargets are the network targets through which the dev database reaches addr (host:port):
// the loopback names and, when addr names a host, that host; none without a fixed port.
func netTargets(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" || port == "" {
		return nil
	}
	out := []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("localhost", port)}
	if ip := net.ParseIP(host); host != "" && host != "localhost" && (ip == nil || !ip.IsUnspecified() && !ip.IsLoopback()) {
		out = append(out, net.JoinHostPort(host, port))
	}
	return out
}

// portFree reports whether 127.0.0.1:port can be listened on now.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// waitReady waits until the service has bootstrapped; false if it failed or ctx ended.
func waitReady(ctx context.Context, svc *actors.Service) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		switch svc.Status() {
		case actors.StatusReady:
			return true
		case actors.StatusFailed:
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// printDevBanner prints where everything runs and a first request to try.
func printDevBanner(w io.Writer, sspURL string, cfg config.Config) {
	token := "dev"
	authNote := "dev mode: any bearer token is accepted; set SPKY_AUTH_SECRET to require one"
	if cfg.AuthSecret != "" {
		token = "$SPKY_AUTH_SECRET"
		authNote = "send Authorization: Bearer <SPKY_AUTH_SECRET>"
	}
	h := fmt.Sprintf("-H 'Content-Type: application/json' -H \"Authorization: Bearer %s\"", token)
	fmt.Fprintf(w, `
SSP dev environment is ready.
  SSP HTTP API   %[1]s   (%[2]s)
  SurrealDB      %[3]s   (user %[4]s, pass %[5]s, namespace %[6]s, database %[7]s; in memory)
  Health, info   %[1]s/health   %[1]s/info   %[1]s/metrics

Try it (register a view, ingest a row, look at the view):
  curl -s -X POST %[1]s/view/register %[8]s \
    -d '{"id":"_00_query:demo","surql":"SELECT * FROM thread WHERE active = true","clientId":"me","ttl":"1h"}'
  curl -s -X POST %[1]s/ingest %[8]s \
    -d '{"table":"thread","op":"CREATE","id":"thread:1","record":{"title":"Hello","active":true}}'
  curl -s %[1]s/debug/view/demo -H "Authorization: Bearer %[9]s"

%[10]s
Stop with Ctrl-C.
`, sspURL, authNote, cfg.DBWS, cfg.DBUser, cfg.DBPass, cfg.DBNS, cfg.DBName, h, token, eventsHint(sspURL, token))
}

// eventsHint tells how to make a Sp00ky app's writes reach the SSP at ingestURL: Sp00ky's table
// events, which the dev database is allowed to send there.
func eventsHint(ingestURL, token string) string {
	return fmt.Sprintf(`Point a Sp00ky app at it: the dev database may reach %[1]s (and nothing else), so Sp00ky's
table events can post every change to /ingest. The Sp00ky CLI generates them from your schema
with this URL and token; by hand, for a table thread, they are:
  DEFINE EVENT _00_thread_mutation ON TABLE thread WHEN $before != $after AND $event != "DELETE" THEN
    http::post('%[1]s/ingest', { table: 'thread', op: $event, id: <string>$after.id, record: $after },
      { Authorization: 'Bearer %[2]s' });
  DEFINE EVENT _00_thread_delete ON TABLE thread WHEN $event = "DELETE" THEN
    http::post('%[1]s/ingest', { table: 'thread', op: 'DELETE', id: <string>$before.id, record: $before },
      { Authorization: 'Bearer %[2]s' });
`, ingestURL, token)
}

// logWriter forwards the dev SurrealDB's output (npm, server errors) to the log at debug level.
type logWriter struct{ log interface{ Debug(...any) } }

func (l logWriter) Write(p []byte) (int, error) {
	if s := strings.TrimSpace(string(p)); s != "" {
		l.log.Debug("devdb: " + s)
	}
	return len(p), nil
}
