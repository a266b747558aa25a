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

const devUsage = `Usage: ssp dev [--db-port N] [serve flags]

Starts the bundled dev SurrealDB (in memory; the first run installs its npm packages) and an SSP
connected to it, prints the URLs and a curl example, and runs until SIGINT/SIGTERM, which stops
both. Needs Node.js 20 and npm. The SSP listens on 127.0.0.1:8667 unless SPKY_SSP_LISTEN_ADDR or
--ssp-listen-addr says otherwise; the SPKY_DB_* settings are those of the dev database.

  --db-port N   port of the dev SurrealDB (default 8000; when taken, any free port; 0 = any)

Serve flags:
`

// defaultDevDBPort is the dev SurrealDB's port, SurrealDB's usual one.
const defaultDevDBPort = 8000

// runDev implements `ssp dev`: the dev SurrealDB plus `ssp serve` against it.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	port, rest, err := devFlags(args)
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
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := config.NewLogger(cfg)

	if port == defaultDevDBPort && !portFree(port) {
		log.Warnf("port %d is taken; the dev SurrealDB takes a free port instead (choose one with --db-port)", port)
		port = 0
	}
	log.Info("starting the dev SurrealDB (the first run installs its npm packages, about 40 MB)")
	db, err := devdb.Start(ctx, devdb.Options{Port: port, Log: logWriter{log}})
	if err != nil {
		return fmt.Errorf("start the dev SurrealDB: %w", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.WithError(err).Warn("stop the dev SurrealDB")
		}
	}()
	cfg.DBWS, cfg.DBUser, cfg.DBPass = db.URL(), db.User, db.Pass

	srv, err := startSSP(ctx, cfg, log)
	if err != nil {
		return err
	}
	if waitReady(ctx, srv.service) {
		printDevBanner(stdout, srv.URL(), cfg)
	}
	return srv.Wait(ctx, stop)
}

// devFlags takes --db-port out of args and returns the rest for the configuration.
func devFlags(args []string) (int, []string, error) {
	port := defaultDevDBPort
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "db-port" {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 == len(args) {
				return 0, nil, fmt.Errorf("flag --db-port needs a port number")
			}
			i++
			val = args[i]
		}
		p, err := strconv.Atoi(val)
		if err != nil || p < 0 || p > 65535 {
			return 0, nil, fmt.Errorf("flag --db-port %q is not a port number (0-65535)", val)
		}
		port = p
	}
	return port, rest, nil
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

Stop with Ctrl-C.
`, sspURL, authNote, cfg.DBWS, cfg.DBUser, cfg.DBPass, cfg.DBNS, cfg.DBName, h, token)
}

// logWriter forwards the dev SurrealDB's output (npm, server errors) to the log at debug level.
type logWriter struct{ log interface{ Debug(...any) } }

func (l logWriter) Write(p []byte) (int, error) {
	if s := strings.TrimSpace(string(p)); s != "" {
		l.log.Debug("devdb: " + s)
	}
	return len(p), nil
}
